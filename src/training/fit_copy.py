"""
Fits the neighbour copy of a RETRO decoder (model.py, "neighbour copy") on *fitting* text and writes its table into
the decoder's config.json (config.neighbour_copy). The decoder's weights do not change.

    /usr/bin/python3 src/training/fit_copy.py src/training/config/retrofit_cpu.py --fc_model=runs/fitg/qa/model_ckpt \\
        [--fc_windows=256 --fc_out=runs/fitg/eval/copy-fit.json --lm_neighbour_min_match=0.125 --lm_neighbour_tail=4]

On the fitting windows (eval_retro.fitting_windows: validation-spans, fitting documents only, no held-out entry; for a
decoder trained on the train split, windows of that split, no held-out entry: fitting_data) the decoder reads its neighbours through the gate the config sets, as it will in service. At every position of chunks
1.. the copy looks for the longest run ending there that a retrieved neighbour of the chunk before holds with a token
after it (neighbour_copy_proposals). Each (match bucket, read or not) gets the lambda in [0, 0.99] that minimises the
mixture's loss over its positions: (1 - lam) p + lam [target = proposal], p the decoder's own probability of the
target. Prints, per bucket, the positions, the share whose proposal is the target and lambda; then the fitting BPB
closed-book, with retrieval, and with retrieval and the copy. About five minutes on one core for 256 windows.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import train_retro  # noqa: E402
from common import autocast, configure, hardware, held_out_documents, load_decoder, load_tokens, write_json  # noqa: E402
from eval_retro import fitting_windows, open_run  # noqa: E402
from model import (NEIGHBOUR_COPY_EDGES, neighbour_copy_lambda, neighbour_copy_nll, neighbour_copy_proposals,  # noqa: E402
                   neighbour_copy_table)

DEFAULTS = dict(fc_model="", fc_windows=256, fc_max_match=32, fc_out="", fc_write=True)

GRID = np.concatenate([np.linspace(0.0, 0.95, 96), [0.96, 0.97, 0.98, 0.99]])


def fit_lambda(p, hit):
    """The lambda of GRID that minimises -sum log((1 - lam) p + lam hit); 0 for no positions."""
    if len(p) == 0:
        return 0.0
    costs = [-np.log((1.0 - g) * p + g * hit).sum() for g in GRID]
    return float(GRID[int(np.argmin(costs))])


def fit_table(p, hit, match, from_read, max_match, edges=NEIGHBOUR_COPY_EDGES):
    """Per-position decoder probability of the target p, whether the proposal is the target, match L and read flag
    -> (table, rows): one lambda per (bucket, read)."""
    bucket = np.searchsorted(np.asarray(edges), match, side="right") - 1
    lam = {True: [], False: []}
    rows = []
    for read in (True, False):
        for i, lo in enumerate(edges):
            sel = (bucket == i) & (from_read == read)
            g = fit_lambda(p[sel], hit[sel])
            lam[read].append(g)
            hi = edges[i + 1] - 1 if i + 1 < len(edges) else max_match
            rows.append({"read": read, "match": [int(lo), int(hi)], "positions": int(sel.sum()),
                         "precision": float(hit[sel].mean()) if sel.any() else None, "lambda": g})
    return neighbour_copy_table(lam[True], lam[False], max_match, edges), rows


@torch.no_grad()
def collect(model, data, token_bytes, T, windows, device, dtype, max_match, batch=8):
    """Per position of chunks 1.. of the fitting windows: closed-book and retrieval nats, the target, the copy's
    proposal, match and read flag, the target's bytes."""
    model.eval()
    m, U = data.m, T // data.m
    starts = train_retro.window_starts(data, T, windows, 0)
    raw = data.ungated()
    out = {k: [] for k in ("ce_c", "ce_r", "y", "prop", "match", "read", "bytes")}
    for s in range(0, len(starts), batch):
        x, y, nb = data.batch(starts[s:s + batch], T, device)
        with autocast(device, dtype):
            ce_c = F.cross_entropy(model(x).float().transpose(1, 2), y.long(), reduction="none").cpu().numpy()
            ce_r = F.cross_entropy(model(x, nb).float().transpose(1, 2), y.long(), reduction="none").cpu().numpy()
        read = nb.cpu().numpy()[..., 0] >= 0
        nb_raw = np.stack([raw.neighbours(np.arange(int(c), int(c) + U)) for c in starts[s:s + batch]])
        x_np, y_np = x.cpu().numpy(), y.cpu().numpy()
        for b in range(len(x)):
            prop, L, fr = neighbour_copy_proposals(x_np[b], nb_raw[b], read[b], m, max_match, positions=range(m - 1, T))
            sl = slice(m - 1, T)
            for k, v in (("ce_c", ce_c[b]), ("ce_r", ce_r[b]), ("y", y_np[b]), ("prop", prop), ("match", L),
                         ("read", fr), ("bytes", token_bytes[y_np[b]])):
                out[k].append(v[sl])
    return {k: np.concatenate(v) for k, v in out.items()}, len(starts)


def fitting_data(cfg, fit, T):
    """The windows the table is fitted on: the fitting part's (validation-spans, validation-tail), or, for a decoder
    trained on the train split (lm_fit_split "train", the GPU configurations), non-overlapping windows of that split
    that touch no held-out dictionary entry. Never the evaluation part."""
    if getattr(fit, "starts_allowed", None) is None:
        path = os.path.join(cfg["out_dir"], "tokens", "train.safetensors")
        allowed = train_retro.starts_clear_of_held_out(fit, np.asarray(load_tokens(path)["doc_offsets"]),
                                                        held_out_documents(path), 0, T)
        fit = fit.part(0, len(fit.tokens) // fit.m)
        fit.starts_allowed = allowed
    return fitting_windows(fit, T)


def run(cfg):
    device, tok, fit, _ = open_run(cfg, "fc_model")
    T = cfg["lm_seq_len"]
    data = fitting_data(cfg, fit, T)
    model = load_decoder(cfg["fc_model"]).to(device)
    t0 = time.time()
    d, n_windows = collect(model, data, tok.token_byte_lengths(), T, cfg["fc_windows"], device, cfg["dtype"],
                           cfg["fc_max_match"])
    p, hit = np.exp(-d["ce_r"]), d["prop"] == d["y"]
    table, rows = fit_table(p, hit, d["match"], d["read"], cfg["fc_max_match"])
    mix = neighbour_copy_nll(d["ce_r"], d["y"], d["prop"], neighbour_copy_lambda(table, d["match"], d["read"]))
    bpb = {k: train_retro.bpb(v.sum(), d["bytes"].sum()) for k, v in (("closed", d["ce_c"]), ("retrieval", d["ce_r"]),
                                                                      ("copy", mix))}
    for r in rows:
        prec = "-" if r["precision"] is None else f"{r['precision']:.3f}"
        print(f"{'read' if r['read'] else 'unread'} L {r['match'][0]}..{r['match'][1]}: {r['positions']} positions, "
              f"proposal right {prec}, lambda {r['lambda']:.2f}")
    print(f"fitting chunks 1..: BPB closed-book {bpb['closed']:.4f}, retrieval {bpb['retrieval']:.4f} "
          f"({1 - bpb['retrieval'] / bpb['closed']:+.2%}), with the copy {bpb['copy']:.4f} "
          f"({1 - bpb['copy'] / bpb['closed']:+.2%})")
    out = {"model": cfg["fc_model"], "windows": n_windows, "positions": int(len(p)), "table": table, "buckets": rows,
           "bpb_fitting_chunks_1_on": bpb, "neighbour_min_match": data.min_match, "neighbour_tail": data.tail,
           "wall_seconds": round(time.time() - t0, 1), "hardware": hardware()}
    if cfg["fc_write"]:
        print(f"wrote neighbour_copy into {write_table(cfg['fc_model'], table)}")
    if cfg["fc_out"]:
        os.makedirs(os.path.dirname(os.path.abspath(cfg["fc_out"])), exist_ok=True)
        write_json(cfg["fc_out"], out)
    return out


def write_table(folder, table):
    """Sets config.neighbour_copy of the decoder in `folder`: an exported folder's config.json, or a stage
    checkpoint's index.json (save_model: the config in its meta)."""
    import json

    from model import retro_config_from_dict
    index = os.path.join(folder, "index.json")
    path = index if os.path.exists(index) else os.path.join(folder, "config.json")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    config = doc["meta"]["config"] if path == index else doc
    config["neighbour_copy"] = table
    retro_config_from_dict(config).validate()
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    run(configure({**train_retro.DEFAULTS, **DEFAULTS}, sys.argv[1:]))
