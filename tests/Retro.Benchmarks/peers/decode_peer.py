"""PyTorch peer of the `decode` benchmark: src/training/model.py's Retro, one token per step with its KV cache.

Usage (the C# suite runs it as a child process with Debian's /usr/bin/python3):
    decode_peer.py --model DIR --inputs FILE --out FILE [--repeats N] [--threads 2]

--inputs is a safetensors file with `tokens` (T,) I32, `neighbours` (U, k, r) I32 (row u = neighbours given when chunk
u completes) and `checks` (c,) I32 (positions whose logits are written to --out as `logits` (c, V) F32).
Prints one JSON line: {"tok_s": [per repeat], "tokens": T, "threads": n, "torch": version}.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "src", "training"))

import torch  # noqa: E402

from model import Retro  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402


def decode(model, tokens, neighbours, checks=None):
    """Feeds tokens one at a time; neighbours of chunk u are given when its last token is fed."""
    m = model.config.chunk_size
    cache = model.init_cache()
    out = {}
    for p in range(tokens.numel()):
        nb = None
        if (p + 1) % m == 0:
            u = (p + 1) // m - 1
            if u < neighbours.size(0):
                nb = neighbours[u][None]  # (1, k, r)
        logits = model.step(tokens[p:p + 1], cache, nb)
        if checks is not None and p in checks:
            out[p] = logits[0].clone()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = Retro.from_folder(args.model).eval()
    inputs = load_file(args.inputs)
    tokens = inputs["tokens"].long()
    neighbours = inputs["neighbours"].long()
    checks = [int(p) for p in inputs["checks"]]

    rates = []
    with torch.inference_mode():
        got = decode(model, tokens, neighbours, set(checks))  # warm-up, and the outputs to compare
        save_file({"logits": torch.stack([got[p] for p in checks]).float().contiguous()}, args.out)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            decode(model, tokens, neighbours)
            rates.append(tokens.numel() / (time.perf_counter() - t0))
    print(json.dumps({"tok_s": rates, "tokens": tokens.numel(), "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
