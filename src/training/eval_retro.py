"""
Bits per byte of a trained RETRO decoder, closed-book vs retrieval, with the leakage breakdown and the oracle test,
on the evaluation part of the validation split (train_retro.py's evaluate() and oracle(), the figures of its
metrics.json), for any decoder: an exported folder (config.json + model.safetensors) or a model_ckpt folder.

    /usr/bin/python3 src/training/eval_retro.py config/retrofit_cpu.py --eval_model=models/retro \\
        [--eval_out=runs/fit/eval/retro.json --lm_final_eval_windows=256 ...]

Reads <out_dir>/tokenizer.json, tokens/ and neighbours/ as train_retro.py does; with lm_fit_split
"validation-tail" or "validation-spans" only its evaluation windows are read (the head of the split, or windows spread
over every third span of documents). Prints the figures and writes them
as JSON to eval_out.

The neighbour gate (train_retro.neighbour_match; lm_neighbour_min_match reads only neighbours that repeat that share
of their chunk) is chosen on fitting text, never on the evaluation part:

    /usr/bin/python3 src/training/eval_retro.py config/retrofit_cpu.py --eval_model=models/retro \
        --eval_part=fitting --eval_gates=0,0.125,0.25,0.5 --eval_out=runs/fit/eval/gates-fitting.json

and so is its tail test (train_retro.neighbour_has_tail, lm_neighbour_tail: the neighbour must hold the chunk's last
tokens), as match:tail pairs: --eval_gates=0.125,0.125:2,0.125:4,0.125:8.

eval_part "fitting": non-overlapping windows of the fitting part (validation-spans: fitting documents only, no
held-out entry), spread evenly. eval_gates: one row per gate (closed-book computed once): BPB with retrieval, the
share of neighbours gated, and the leakage breakdown as evaluate() gives it (overlaps of the retrieved neighbours,
read or not).
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import train_retro  # noqa: E402
from common import (BpeTokenizer, autocast, configure, hardware, load_decoder, load_tokens, pick_device,  # noqa: E402
                    write_json)

DEFAULTS = dict(eval_model="", eval_out="", eval_part="evaluation", eval_gates=None)  # and every key of train_retro.py


def parse_gates(spec):
    """--eval_gates -> [(min_match, tail)]: a number (the match share, no tail test), or "match:tail" (e.g.
    0,0.125,0.125:4 is three rows: no gate, the match alone, the match and a 4-token tail)."""
    items = spec if isinstance(spec, (list, tuple)) else str(spec).split(",")
    out = []
    for item in items:
        match, _, tail = str(item).strip().partition(":")
        try:
            g = (float(match), int(tail) if tail else 0)
        except ValueError:
            raise SystemExit(f"--eval_gates: expected numbers or match:tail pairs, got {item!r}") from None
        if not 0 <= g[0] <= 1 or g[1] < 0:
            raise SystemExit(f"--eval_gates: a match share is in [0, 1] and a tail >= 0, got {item!r}")
        out.append(g)
    return out


def fitting_windows(fit, T):
    """Non-overlapping windows among the fitting part's allowed starts (greedy, in order), as evaluation starts."""
    allowed = getattr(fit, "starts_allowed", None)
    if allowed is None:
        raise SystemExit("eval_part=fitting needs lm_fit_split 'validation-spans' or 'validation-tail'")
    U, picked, nxt = T // fit.m, [], -1
    for c in np.asarray(allowed):
        if c >= nxt:
            picked.append(int(c))
            nxt = c + U
    d = fit.part(0, len(fit.tokens) // fit.m)
    d.eval_starts = np.asarray(picked, np.int64)
    return d


@torch.no_grad()
def gate_sweep(model, data, token_bytes, T, windows, device, dtype, gates, batch=8):
    """Per gate: BPB with retrieval through the gate vs closed-book (computed once), on the same windows; the
    breakdown rows measure the retrieved neighbours' overlap (read or not)."""
    model.eval()
    m, U = data.m, T // data.m
    starts = train_retro.window_starts(data, T, windows, 0)
    raw, raw_gate = data.ungated(), (data.min_match, data.tail)
    per = {"closed": [], "bytes": [], "overlap": []}  # target chunks 1..U-1 (the breakdown's)
    # gates: (min_match, tail) pairs; tot: every position (the overall BPB, as evaluate())
    tot = {"closed": 0.0, "bytes": 0, **{g: 0.0 for g in gates}}
    ret = {g: [] for g in gates}
    kept = {g: [0, 0] for g in gates}
    for s in range(0, len(starts), batch):
        x, y, nb = raw.batch(starts[s:s + batch], T, device)
        with autocast(device, dtype):
            ce_c = F.cross_entropy(model(x).float().transpose(1, 2), y.long(), reduction="none").cpu().numpy()
        yb = token_bytes[y.cpu().numpy()]
        tot["closed"] += ce_c.sum()
        tot["bytes"] += int(yb.sum())
        nb_np, y_np = nb.cpu().numpy(), y.cpu().numpy()
        for b in range(len(x)):
            for u in range(1, U):
                sl = slice(u * m - 1, u * m + m - 1)
                per["closed"].append(ce_c[b, sl].sum())
                per["bytes"].append(yb[b, sl].sum())
                per["overlap"].append(train_retro.chunk_overlap(y_np[b, sl], nb_np[b, u - 1]))
        for g in gates:
            data.min_match, data.tail = g
            _, _, nb_g = data.batch(starts[s:s + batch], T, device)
            kept[g][0] += int((nb_g[..., 0] >= 0).sum())
            kept[g][1] += int((nb[..., 0] >= 0).sum())
            with autocast(device, dtype):
                ce_r = F.cross_entropy(model(x, nb_g).float().transpose(1, 2), y.long(), reduction="none").cpu().numpy()
            tot[g] += ce_r.sum()
            ret[g].extend(ce_r[b, u * m - 1:u * m + m - 1].sum() for b in range(len(x)) for u in range(1, U))
    data.min_match, data.tail = raw_gate
    rows = []
    for g in gates:
        row = {"gate": g[0], "tail": g[1], "neighbours_gated": 1 - kept[g][0] / max(1, kept[g][1]),
               "bpb_closed_book": train_retro.bpb(tot["closed"], tot["bytes"]),
               "bpb_retrieval": train_retro.bpb(tot[g], tot["bytes"])}
        row["relative_reduction"] = 1 - row["bpb_retrieval"] / row["bpb_closed_book"]
        row["leakage"] = train_retro.breakdown(per["closed"], ret[g], per["bytes"], per["overlap"])
        row["leakage_above"] = train_retro.breakdown_above(per["closed"], ret[g], per["bytes"], per["overlap"])
        rows.append(row)
    return {"windows": int(len(starts)), "chunks": len(per["closed"]), "gates": rows}


def open_run(cfg, model_key):
    """(device, tokenizer, fitting data, evaluation data) of cfg's run, for the decoder folder cfg[model_key]
    (required)."""
    if not cfg[model_key]:
        raise SystemExit(f"--{model_key} is required (an exported RETRO folder or a model_ckpt folder)")
    device = pick_device(cfg["device"])
    tok = BpeTokenizer.load(os.path.join(cfg["out_dir"], "tokenizer.json"))
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    return (device, tok) + tuple(train_retro.fit_and_eval_data(cfg, db))


def run(cfg):
    device, tok, fit, val = open_run(cfg, "eval_model")
    if cfg["eval_part"] not in ("evaluation", "fitting"):
        raise SystemExit(f"eval_part must be 'evaluation' or 'fitting', got {cfg['eval_part']!r}")
    T = cfg["lm_seq_len"]
    if cfg["eval_part"] == "fitting":
        val = fitting_windows(fit, T)
    model = load_decoder(cfg["eval_model"]).to(device)
    t0 = time.time()
    if cfg["eval_gates"] is not None:
        gates = parse_gates(cfg["eval_gates"])
        ev = gate_sweep(model, val, tok.token_byte_lengths(), T, cfg["lm_final_eval_windows"], device, cfg["dtype"],
                        gates)
        ev.update({"model": cfg["eval_model"], "lm_fit_split": cfg["lm_fit_split"], "eval_part": cfg["eval_part"],
                   "seq_len": T, "wall_seconds": round(time.time() - t0, 1), "hardware": hardware()})
        for row in ev["gates"]:
            print(json.dumps(row))
        if cfg["eval_out"]:
            os.makedirs(os.path.dirname(os.path.abspath(cfg["eval_out"])), exist_ok=True)
            write_json(cfg["eval_out"], ev)
        return ev
    ev = train_retro.evaluate(model, val, tok.token_byte_lengths(), T, cfg["lm_final_eval_windows"], device,
                              cfg["dtype"])
    if cfg["lm_oracle_windows"]:
        ev.update(train_retro.oracle(model, val, T, cfg["lm_oracle_windows"], device, cfg["dtype"]))
    ev.update({"model": cfg["eval_model"], "lm_fit_split": cfg["lm_fit_split"], "eval_part": cfg["eval_part"], "seq_len": T,
               "wall_seconds": round(time.time() - t0, 1), "hardware": hardware()})
    print(json.dumps({k: v for k, v in ev.items() if not k.startswith("leakage")}, indent=1))
    for row in ev["leakage"] + ev["leakage_above"]:
        print(row)
    if "copy" in ev:
        print(f"with the neighbour copy: BPB with retrieval {ev['copy']['bpb_retrieval']:.4f} "
              f"({ev['copy']['bpb_relative_reduction']:+.2%} against closed-book)")
        for row in ev["copy"]["leakage"] + ev["copy"]["leakage_above"]:
            print(row)
    if cfg["eval_out"]:
        os.makedirs(os.path.dirname(os.path.abspath(cfg["eval_out"])), exist_ok=True)
        write_json(cfg["eval_out"], ev)
    return ev


if __name__ == "__main__":
    run(configure({**train_retro.DEFAULTS, **DEFAULTS}, sys.argv[1:]))
