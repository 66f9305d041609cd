"""
The neighbour gate without a model: which neighbours each gate reads, by how much they overlap the chunk they would
condition. On a sample of the *fitting* chunks (validation-spans: fitting documents only, no held-out entry), every
retrieved neighbour of chunk u is scored by the gate (train_retro.neighbour_read: the match with chunk u and the tail
test) and by its overlap with chunk u+1 (train_retro.chunk_overlap: the leakage breakdown's measure). A good gate
reads nearly every neighbour that overlaps > 1/2 (the ones the decoder copies from) and few that overlap <= 1/8
(the ones that cost bits). This is how the gate's tail was chosen before the evaluation part was read
(docs/training.md, "A tail on the gate"):

    /usr/bin/python3 src/training/gate_check.py src/training/config/retrofit_cpu.py \\
        --gc_gates=0.125,0.125:2,0.125:3,0.125:4,0.125:8 --gc_chunks=2000 --gc_out=runs/fit/eval/gate-check.json

gc_gates: match:tail pairs as eval_retro.py's --eval_gates (a bare number is the match alone). Reads
<out_dir>/tokens and <out_dir>/neighbours as train_retro.py does. About a minute on one core.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import train_retro  # noqa: E402
from common import configure, load_tokens, write_json  # noqa: E402
from eval_retro import parse_gates  # noqa: E402

DEFAULTS = dict(gc_gates="0.125,0.125:2,0.125:3,0.125:4,0.125:8", gc_chunks=2000, gc_seed=0, gc_out="")


def separation(chunks, next_chunks, neighbours, gates):
    """chunks, next_chunks (C, m): chunk u and chunk u+1; neighbours (C, k, r) int, -1 padded (chunk u's retrieved
    neighbours). -> {"neighbours", "above_half", "at_most_eighth", "gates": [{gate, tail, read, read_above_half,
    read_at_most_eighth}]}, the read shares as fractions of the neighbours in each overlap class."""
    overlap, rows = [], []
    for c in range(len(chunks)):
        for nb in neighbours[c]:
            if nb[0] < 0:
                continue
            overlap.append(train_retro.chunk_overlap(next_chunks[c], nb[None]))
            rows.append((c, nb))
    overlap = np.asarray(overlap, float)
    above, low = overlap > 0.5, overlap <= 0.125
    out = {"neighbours": len(rows), "above_half": int(above.sum()), "at_most_eighth": int(low.sum()), "gates": []}
    for match, tail in gates:
        read = np.array([train_retro.neighbour_read(chunks[c], nb, match, tail) for c, nb in rows], bool)
        share = (lambda sel: float(read[sel].mean()) if sel.any() else float("nan"))
        out["gates"].append({"gate": match, "tail": tail, "read": share(np.ones(len(read), bool)),
                             "read_above_half": share(above), "read_at_most_eighth": share(low)})
    return out


def run(cfg):
    if cfg["lm_fit_split"] != "validation-spans":
        raise SystemExit("gate_check.py samples the fitting part of lm_fit_split 'validation-spans'")
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    fit, _ = train_retro.fit_and_eval_data(cfg, db)
    m, U = fit.m, cfg["lm_seq_len"] // fit.m
    # chunk u of a fitting window and the chunk u+1 it conditions, both inside the window
    chunk_ids = np.unique((fit.starts_allowed[:, None] + np.arange(U - 1)[None]).reshape(-1))
    rng = np.random.default_rng(cfg["gc_seed"])
    chunk_ids = np.sort(rng.choice(chunk_ids, min(cfg["gc_chunks"], len(chunk_ids)), replace=False))
    raw = fit.ungated()
    chunks = np.stack([fit.tokens[c * m:(c + 1) * m] for c in chunk_ids])
    nexts = np.stack([fit.tokens[(c + 1) * m:(c + 2) * m] for c in chunk_ids])
    out = separation(chunks, nexts, raw.neighbours(chunk_ids), parse_gates(cfg["gc_gates"]))
    out.update({"chunks": int(len(chunk_ids)), "part": "fitting", "seed": cfg["gc_seed"]})
    print(f"{out['neighbours']} neighbours of {out['chunks']} fitting chunks: {out['above_half']} overlap chunk u+1 "
          f"by > 1/2, {out['at_most_eighth']} by <= 1/8")
    for g in out["gates"]:
        print(f"match {g['gate']:g} tail {g['tail']}: reads {100 * g['read']:.1f} % of the neighbours, "
              f"{100 * g['read_above_half']:.1f} % of those > 1/2, {100 * g['read_at_most_eighth']:.1f} % of those <= 1/8")
    if cfg["gc_out"]:
        write_json(cfg["gc_out"], out)
    return out


if __name__ == "__main__":
    run(configure({**train_retro.DEFAULTS, **DEFAULTS}, sys.argv[1:]))
