"""PyTorch peer of the `embed` benchmark: src/training/model.py's Bert bi-encoder on the same weights and inputs.

Usage (the C# suite runs it as a child process with Debian's /usr/bin/python3):
    embed_peer.py --model DIR --inputs FILE --out FILE [--warmup N] [--repeats N] [--threads 2]

--inputs is a safetensors file with `input_ids`, `attention_mask`, `token_type_ids` (B, L) I32. The embeddings of the
last repeat are written to --out as `embeddings` (B, H) F32. Prints one JSON line:
{"seconds": [per repeat], "cpu_seconds": total process CPU time of the repeats, "batch": B, "length": L, "threads": n,
"torch": version, "blas": [mapped BLAS libraries]}.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "src", "training"))

import torch  # noqa: E402

from model import Bert  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402


def loaded_blas():
    """Path of the BLAS library this process mapped (Debian's torch uses whatever libblas.so.3 resolves to:
    netlib's reference BLAS, ~50x slower, unless OpenBLAS is installed or on LD_LIBRARY_PATH)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted(paths)
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = Bert.from_folder(args.model).eval()
    inputs = load_file(args.inputs)
    ids = inputs["input_ids"].long()
    mask = inputs["attention_mask"].long()
    types = inputs["token_type_ids"].long()

    seconds = []
    with torch.inference_mode():
        for _ in range(args.warmup):
            model.embed(ids, mask, types)
        cpu0 = time.process_time()
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            e = model.embed(ids, mask, types)
            seconds.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu0
    save_file({"embeddings": e.float().contiguous()}, args.out)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "batch": ids.shape[0], "length": ids.shape[1],
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "blas": loaded_blas()}))


if __name__ == "__main__":
    main()
