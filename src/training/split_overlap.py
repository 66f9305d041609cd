"""
How much of the validation split its retrieved neighbours could supply, by part and by source: for every chunk u+1,
the overlap with the neighbours of chunk u (train_retro.chunk_overlap: the longest common token span / chunk_size, as
in the leakage breakdown), summarised for the evaluation and fitting windows of lm_fit_split and for each source.
Uses no model: it says where retrieval can help before anything is trained or measured.

    /usr/bin/python3 src/training/split_overlap.py src/training/config/retrofit_cpu.py [--lm_fit_split=validation-tail]
"""

import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_retro  # noqa: E402
from common import configure, load_tokens  # noqa: E402

THRESHOLDS = (0.125, 0.25, 0.5, 0.75)


def chunk_overlaps(val):
    """(C,) overlap of chunk c with the neighbours of chunk c - 1 (0 for chunk 0)."""
    m = val.m
    C = len(val.tokens) // m
    nb = val.neighbours(np.arange(C))
    out = np.zeros(C)
    for c in range(1, C):
        out[c] = train_retro.chunk_overlap(val.tokens[c * m:(c + 1) * m], nb[c - 1])
    return out


def row(name, ov):
    cells = [f"{np.mean(ov > a):.3f} ({int((ov > a).sum())})" if len(ov) else "-" for a in THRESHOLDS]
    return f"| {name} | {len(ov)} | " + " | ".join(cells) + " |"


def target_chunks(starts, U):
    """The chunks a window predicts with neighbours: 1 .. U-1 of each window (distinct)."""
    if len(starts) == 0:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate([np.arange(c + 1, c + U) for c in starts]))


def main(argv):
    cfg = configure(dict(train_retro.DEFAULTS), argv)
    m, T = cfg["chunk_size"], cfg["lm_seq_len"]
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    fit, ev = train_retro.fit_and_eval_data(cfg, db)
    val = train_retro.load_split(cfg, "validation", db)
    ov = chunk_overlaps(val)
    U = T // m
    path = os.path.join(cfg["out_dir"], "tokens", "validation.safetensors")
    offs = np.asarray(load_tokens(path)["doc_offsets"])
    with gzip.open(path.replace(".safetensors", ".docs.jsonl.gz"), "rt", encoding="utf-8") as f:
        sources = np.array([json.loads(line).get("source", "") for line in f])
    C = len(ov)
    src = sources[np.minimum(np.searchsorted(offs, np.arange(C) * m, side="right") - 1, len(sources) - 1)]
    # evaluation windows as the final evaluation scores them; fitting windows in the validation grid
    ev_starts = train_retro.window_starts(ev, T, cfg["lm_final_eval_windows"], 0)
    fit_offset = len(val.tokens) // m - len(fit.tokens) // m  # the tail's part starts later in the split
    allowed = getattr(fit, "starts_allowed", None)
    fit_starts = (np.arange(fit.max_start(T) + 1) if allowed is None else allowed) + fit_offset
    ev_chunks = target_chunks(ev_starts, U)  # both evaluation parts start at chunk 0 of the split
    fit_chunks = target_chunks(fit_starts, U) if cfg["lm_fit_split"] != "train" else np.zeros(0, np.int64)
    print(f"lm_fit_split {cfg['lm_fit_split']}: share of chunks overlapping the neighbours of the chunk before by "
          f"more than a fraction (count)\n")
    print("| chunks | count | > 1/8 | > 1/4 | > 1/2 | > 3/4 |\n|---|---:|---:|---:|---:|---:|")
    print(row("whole validation split", ov[1:]))
    print(row(f"evaluation windows' targets ({len(ev_starts)} windows)", ov[ev_chunks]))
    if len(fit_chunks):
        print(row("fitting windows' targets", ov[fit_chunks]))
    for s in sorted(set(src)):
        sel = src == s
        sel[0] = False
        print(row(f"source {s}", ov[sel]))
    share = {s: round(float(np.mean(src[ev_chunks] == s)), 3) for s in sorted(set(src[ev_chunks]))}
    print(f"\nevaluation windows' targets by source: {share}")


if __name__ == "__main__":
    main(sys.argv[1:])
