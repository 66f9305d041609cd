"""
The decision figures of docs/training.md ("Reading again after QA"): how well a decoder reads its neighbours and
answers, measured on data that holds no held-out entry, so that choosing between decoders tunes nothing on the
evaluation material. eval_retro.py's figures (which include held-out entries' chunks) are reported only after.

    /usr/bin/python3 src/training/reading_check.py src/training/config/retrofit_cpu.py \
        --check_models=runs/fit/qa-body/model_ckpt,runs/fit/qa/model_ckpt [--check_windows=16 --check_out=x.json]

For each model (a folder written by save_model/save_sharded, e.g. a stage's model_ckpt, or an exported folder):
- the QA stage's validation answer loss (train_qa.py: the last qa_val_lines lines of each dataset of qa_data, training
  entries kept out of QA training), closed-book and with the passage laid out as the service lays it out;
- the reading proxy on check_windows evaluation windows of the validation split whose documents hold no held-out
  entry (lm_fit_split "validation-spans": spread evenly over the evaluation spans' windows; otherwise the first ones of
  the head, at stride lm_seq_len + neighbour_len, as the figures of 2026-12-06 were made: --lm_fit_split=validation-tail): the mean loss on every target from position
  chunk_size - 1 on, closed-book and with nb_k neighbours per chunk drawn at random from the training split
  ("random", reported as the change against closed-book), with neighbour 0 replaced by the true continuation
  ("oracle", chunk u + chunk u+1 as RETRO stores a neighbour; the ratio to closed-book) or by the window's own stream
  at a random offset of up to lm_shift_max tokens ("shift").
The random draws are seeded (check_seed), so every model sees the same neighbours.
"""

import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import configure, held_out_documents, load_decoder, load_tokens, write_json  # noqa: E402

DEFAULTS = dict(
    out_dir="runs/tiny", chunk_size=64, neighbour_len=128, nb_k=2, lm_seq_len=512, lm_shift_max=48,
    check_models="", check_windows=16, check_seed=0, check_threads=0, check_batch=8, check_out="", check_qa=True,
    lm_fit_split="train",
)


def spans_windows(val_tokens, n, m, T, r):
    """lm_fit_split "validation-spans": n of the evaluation windows of train_retro.split_by_spans (token starts),
    spread evenly over those whose documents hold no held-out entry."""
    import train_retro
    ev, _ = train_retro.split_by_spans(val_tokens["doc_offsets"], val_tokens["held"], len(val_tokens["tokens"]), m, T, r)
    clean = np.asarray([int(s0) for s0 in ev * m if not touches_held(val_tokens, s0, T + r - 1)], np.int64)
    if len(clean) > n:
        clean = clean[np.unique(np.linspace(0, len(clean) - 1, n).round().astype(np.int64))]
    return clean


def touches_held(val_tokens, s0, length):
    """Whether tokens s0 .. s0 + length (the end inclusive, as the head windows were checked) touch a held-out entry."""
    offs = np.asarray(val_tokens["doc_offsets"])
    d0 = np.searchsorted(offs, s0, side="right") - 1
    d1 = np.searchsorted(offs, s0 + length, side="right") - 1
    return bool(val_tokens["held"][d0:d1 + 1].any())


def clean_windows(val_tokens, n, T, r):
    """Starts of the first n windows of the split's head at stride T + r (inside the tail split's evaluation part)
    whose documents, over the window and the continuation its last chunk's neighbour would hold, include no held-out
    entry."""
    starts = []
    for s0 in np.arange(len(val_tokens["tokens"]) // (T + r)) * (T + r):
        if not touches_held(val_tokens, s0, T + r):
            starts.append(int(s0))
        if len(starts) == n:
            break
    return np.asarray(starts, dtype=np.int64)


def proxy_sets(vt, dbt, starts, cfg, rng):
    """{kind: (x, y, neighbours)} for kind in random / oracle / shift; neighbours (B, U, k, r)."""
    m, r, T, k = cfg["chunk_size"], cfg["neighbour_len"], cfg["lm_seq_len"], cfg["nb_k"]
    U = T // m
    n_db = (len(dbt) - r) // m
    sets = {}
    for kind in ("random", "oracle", "shift"):
        xs, ys, nbs = [], [], []
        for s in starts:
            seq = vt[s:s + T + r].astype(np.int64)
            xs.append(seq[:T])
            ys.append(seq[1:T + 1])
            nb = np.stack([np.stack([dbt[i * m:i * m + r] for i in rng.integers(0, n_db, k)]) for _ in range(U)])
            for u in range(U):
                if kind == "oracle":
                    nb[u, 0] = seq[u * m:u * m + r]
                elif kind == "shift":
                    off = int(rng.integers(-cfg["lm_shift_max"], cfg["lm_shift_max"] + 1))
                    a = max(0, min(u * m + off, T))
                    nb[u, 0] = seq[a:a + r]
            nbs.append(nb)
        sets[kind] = (torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys)), torch.tensor(np.stack(nbs)))
    return sets


@torch.no_grad()
def proxy_losses(model, sets, m, batch):
    """Mean loss (nats/token) on targets from position m - 1 on: closed-book and per neighbour kind."""
    model.eval()

    def ce(logits, y):
        return float(F.cross_entropy(logits.transpose(1, 2), y, reduction="none")[:, m - 1:].mean())

    x, y, _ = sets["random"]
    out = {"closed": ce(torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)]), y)}
    for kind, (x, y, nb) in sets.items():
        out[kind] = ce(torch.cat([model(x[i:i + batch], nb[i:i + batch]) for i in range(0, len(x), batch)]), y)
    return out


def qa_validation(cfg_paths, overrides):
    """(train_qa config, encoded validation lines builder) or None when the config names no qa_data file."""
    import train_qa
    from common import BpeTokenizer
    qcfg = configure(dict(train_qa.DEFAULTS), cfg_paths + overrides)
    if not qcfg["qa_data"] or not os.path.exists(qcfg["qa_data"]):
        return None
    lines = train_qa.read_lines(qcfg["qa_data"])
    train_qa.check_held_out(lines)
    if qcfg["qa_target"] == "passage":
        tok = BpeTokenizer.load(os.path.join(qcfg["out_dir"], "tokenizer.json"))
        lines = train_qa.passage_lines(lines, tok.decode, qcfg["neighbour_len"] - qcfg["chunk_size"])
    _, val_lines = train_qa.split_lines(lines, qcfg["qa_val_lines"])
    return qcfg, val_lines


def main(argv):
    cfg_paths = [a for a in argv if not a.startswith("--")]
    overrides = [a for a in argv if a.startswith("--") and not a.startswith("--check_")]
    cfg = configure(dict(DEFAULTS), argv)
    models = [p for p in cfg["check_models"].split(",") if p]
    if not models:
        raise SystemExit("reading_check: give --check_models=folder[,folder...]")
    for folder in models:
        if not os.path.isdir(folder):
            raise SystemExit(f"reading_check: no model folder {folder!r}")
    if cfg["check_threads"]:
        torch.set_num_threads(cfg["check_threads"])
    torch.manual_seed(0)
    m, r, T = cfg["chunk_size"], cfg["neighbour_len"], cfg["lm_seq_len"]
    val_path = os.path.join(cfg["out_dir"], "tokens", "validation.safetensors")
    val = load_tokens(val_path)
    val["held"] = held_out_documents(val_path)
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    if cfg["lm_fit_split"] == "validation-spans":
        starts = spans_windows(val, cfg["check_windows"], m, T, r)
    else:
        starts = clean_windows(val, cfg["check_windows"], T, r)
    if len(starts) == 0:
        raise SystemExit("reading_check: no evaluation window of the validation split is free of held-out entries")
    sets = proxy_sets(np.asarray(val["tokens"]), np.asarray(db["tokens"]), starts, cfg,
                      np.random.default_rng(cfg["check_seed"]))
    qa = qa_validation(cfg_paths, overrides) if cfg["check_qa"] else None
    results = []
    for folder in models:
        t0 = time.time()
        model = load_decoder(folder).eval()
        res = {"model": folder, "windows": int(len(starts))}
        if qa is not None:
            import train_qa
            qcfg, val_lines = qa
            c = model.config
            data, _ = train_qa.encode_all(val_lines, qcfg, c.pad_token_id, c.eos_token_id)
            with torch.no_grad():
                ev = train_qa.answer_loss(model, data, "cpu", "float32")
            res["qa_val_answer_loss_closed_book"] = ev["closed"]
            res["qa_val_answer_loss_retrieval"] = ev["retrieval"]
        p = proxy_losses(model, sets, m, cfg["check_batch"])
        res.update(proxy_closed=p["closed"], proxy_random=p["random"], proxy_oracle=p["oracle"],
                   proxy_shift=p["shift"], random_change=p["random"] / p["closed"] - 1,
                   oracle_ratio=p["oracle"] / p["closed"], shift_ratio=p["shift"] / p["closed"],
                   wall_seconds=round(time.time() - t0, 1))
        qa_txt = (f"QA val answer loss closed {res['qa_val_answer_loss_closed_book']:.4f} "
                  f"passage {res['qa_val_answer_loss_retrieval']:.4f} | " if qa is not None else "")
        print(f"{folder}: {qa_txt}proxy closed {p['closed']:.4f} random {res['random_change']:+.2%} "
              f"oracle {res['oracle_ratio']:.3f} shift {res['shift_ratio']:.3f} ({res['wall_seconds']} s)", flush=True)
        results.append(res)
    if cfg["check_out"]:
        write_json(cfg["check_out"], {"windows": int(len(starts)), "seed": cfg["check_seed"], "models": results})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
