"""
Question answering for the RETRO decoder, in the service's prompt format, with the product's own neighbours.

    /usr/bin/python3 src/training/train_qa.py config/retrofit_cpu.py [--qa_steps=... --key=value ...]

Input: the lines `Retro.Eval qa-data` writes (one JSON object per question: question_tokens, answer_tokens, neighbours
= the token ids of the neighbours the product's retriever returned for the question, dataset, id, gold). A line becomes
one sequence exactly as the service builds it (RetroGenerator): the question left-padded with pad_token_id to a whole
chunk, then the answer tokens and <|endoftext|>; chunk 0's neighbours are the retrieved ones, so every answer token is
predicted with them in chunked cross-attention. The loss is taken on the answer tokens and the end token only. Each
batch mixes in LM windows of the training corpus with their neighbours (qa_lm_mix of the rows) so the decoder keeps
its language model; each QA row's neighbours are dropped with probability qa_neighbour_dropout (closed-book stays in
distribution).

Held out: a definitions line whose url's SHA-1 (hex) ends in 0, or a SQuAD line from a held-out article
(pairs.squad_split), stops the run before any training (they are evaluation material only). The last
qa_val_lines of every dataset are kept apart as the validation set (answer loss closed-book vs retrieval).

Starts from qa_init_from: an exported RETRO folder, or a model_ckpt folder of train_retro.py. Writes <out_dir>/qa/:
ckpt/ (resumable), model_ckpt/ (the final model, as train_retro.py writes it, for export.py --stage qa), loss.csv,
loss.png, metrics.json.
"""

import json
import math
import os
import re
import sys
import time
from urllib.parse import unquote

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (DICTIONARY_SOURCES, LossLog, adamw, autocast, configure, cosine_lr, hardware,  # noqa: E402
                    held_out_definition, load_decoder, load_sharded, load_tokens, pick_device,
                    restore_training_state, save_model, save_sharded, seed_all, training_state, write_json)
from model import drop_neighbours  # noqa: E402

DEFAULTS = dict(
    out_dir="runs/tiny", device="auto", dtype="bfloat16", seed=1337, chunk_size=64, neighbour_len=128, nb_k=2,
    qa_data="", qa_init_from="", qa_train="all", qa_steps=1000, qa_batch=16, qa_lr=3e-4, qa_body_lr_ratio=0.3,
    qa_warmup=50, qa_min_lr_ratio=0.1, qa_weight_decay=0.1, qa_grad_clip=1.0, qa_neighbour_dropout=0.1,
    qa_lm_mix=0.25, qa_lm_seq_len=256, qa_max_question_tokens=64, qa_max_answer_tokens=63, qa_val_lines=100,
    qa_eval_every=200, qa_log_every=10, qa_ckpt_every=200, qa_resume=False, qa_max_steps_this_run=None,
    qa_neighbours=1, qa_layout="answer", qa_lm_split="train", lm_fit_split="train", lm_seq_len=512,
    lm_final_eval_windows=1024, qa_target="answer", qa_lm_shift_oracle_frac=0.0, lm_shift_max=48,
    lm_neighbour_min_match=0.0, lm_neighbour_tail=0,
)
# lm_neighbour_min_match, lm_neighbour_tail: the neighbour gate on the LM rows (train_retro.neighbour_read; 0 = every
#   neighbour read).
#   A question's own passage is never gated, in training as in the service.
# qa_lm_shift_oracle_frac: in the LM rows, the probability per chunk that neighbour 0 is the window's own stream at a
#   random offset (train_retro's lm_shift_oracle_frac): real neighbours seldom overlap, so without such rows the body
#   learns only to discount what CCA reads, including the content-addressed reading of the induction layers.
# qa_target: "answer" (the line's reference answer) or "passage": for definition lines whose best neighbour is the
#   first chunk of a relevant entry, the answer is that passage's own text from its start (the headword line, then
#   the definition) to the end of its first sentence, token for token as the neighbour holds it, then the end token
#   (no end token when the sentence runs past the neighbour's visible part); other lines are left out. The answer is
#   then aligned with the passage in the "answer" layout, so the decoder learns to read it out and to stop, which a
#   reference answer that drops the entry's markup ({links}, <tags>, "1. noun:") and starts mid-passage cannot teach
#   CCA's position-aligned reading (docs/training.md).
# qa_train: "all" (every parameter; the body at qa_body_lr_ratio of the learning rate), "retrofit" (CCA + encoder) or
#   "body" (the decoder body and embeddings at qa_lr; CCA and the encoder frozen as they come).
# qa_neighbours: neighbours per question (the first ones of the line, best first).
# qa_layout: how a question's neighbour is laid out for the encoder, as the service does (RetroGenerator):
#   "answer" = the question's own chunk, then the retrieved chunk and its continuation, cut to neighbour_len: the
#   passage stands where RETRO puts a neighbour's continuation, i.e. aligned with the answer the decoder writes
#   (docs/model-format.md, "Question neighbours"); "chunk" = the retrieved chunk and its continuation (the layout of
#   every other chunk).
# qa_lm_split: the LM rows' windows: "train", or "fit": train_retro's RETRO-fitting windows (lm_fit_split, e.g.
#   "validation-spans": text the body has not memorised, so that reading the neighbours pays).


# -----------------------------------------------------------------------------
# data


def check_held_out(lines):
    """SystemExit when a line is evaluation material: a held-out definition entry or a held-out SQuAD article."""
    from pairs import squad_articles, squad_split
    held_articles = set()
    try:
        held_articles = set(squad_split(squad_articles())["heldout_articles"])
    except OSError:
        pass  # no SQuAD file here: only definition lines can be checked
    for ln in lines:
        gold = ln.get("gold") or ""
        if gold.partition(":")[0] in DICTIONARY_SOURCES and held_out_definition(gold):
            raise SystemExit(f"qa data holds the held-out definition entry {gold!r} ({ln.get('dataset')}); "
                             "build it with split 'train' (Retro.Eval qa-data)")
        if gold.startswith("squad:") and gold[len("squad:"):].rsplit("#", 1)[0] in held_articles:
            raise SystemExit(f"qa data holds a question of the held-out SQuAD article {gold!r}")


def read_lines(paths):
    lines = []
    for path in [p for p in paths.split(",") if p]:
        with open(path, encoding="utf-8") as f:
            lines += [json.loads(x) for x in f if x.strip()]
    return lines


def split_lines(lines, val_per_dataset):
    """(train, validation): the last val_per_dataset lines of each dataset are validation."""
    by = {}
    for ln in lines:
        by.setdefault(ln["dataset"], []).append(ln)
    train, val = [], []
    for rows in by.values():
        cut = max(0, len(rows) - val_per_dataset)
        train += rows[:cut]
        val += rows[cut:]
    return train, val


def question_neighbour(question_chunk, neighbour, r, layout="answer"):
    """A question chunk's neighbour as the encoder reads it (qa_layout): "answer" = the question chunk (m tokens,
    left-padded), then the neighbour (chunk + continuation), cut to r; "chunk" = the neighbour cut to r."""
    toks = list(question_chunk) + list(neighbour) if layout == "answer" else list(neighbour)
    if layout not in ("answer", "chunk"):
        raise SystemExit(f"qa_layout must be 'answer' or 'chunk', got {layout!r}")
    return toks[:r]


def headword(url):
    """The headword of a dictionary entry's url ("foldoc:control%20code" -> "control code", "wordnet:rock_pigeon"
    -> "rock pigeon"), or None for other urls."""
    source, _, key = (url or "").partition(":")
    if source not in DICTIONARY_SOURCES or not key:
        return None
    return unquote(key).replace("_", " ").strip()


# A sentence ends at . ! ? after a letter or a closing bracket/quote, before whitespace or the end; or at a blank line,
# a numbered sense ("\n2.") or an example ('; "...'), once the definition has begun (passage_answer).
_SENTENCE_END = re.compile(r"(?<=[A-Za-z\)\]\}\"'])[.!?](?=\s|$)|\n\s*\n|\n(?=\d+\.)|;(?=\s*\")")
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "al", "u.s", "u.k", "mr", "mrs", "dr", "st", "approx", "esp", "incl",
                  "fig", "no", "vol", "ed", "eds", "jr", "sr"}


def _abbreviation(text, match):
    """Whether a sentence-end match is the period of an abbreviation: a one-letter word ("n." and "v." of the Jargon
    File's parts of speech, initials) or a listed one ("e.g.", "etc.")."""
    if text[match.start()] != ".":
        return False
    words = text[:match.start()].split()
    word = words[-1].lstrip("({[\"'") if words else ""
    return sum(ch.isalpha() for ch in word) <= 1 or word.lower() in _ABBREVIATIONS


def _words(text):
    """Words of two letters or more: a definition has begun once there are three (the Jargon File puts a
    pronunciation and "n." on a line of their own before it)."""
    return len(re.findall(r"[A-Za-z]{2,}", text))


def passage_answer(ln, decode, visible):
    """The "passage" target of a line (qa_target): (answer tokens, ended) or None when the best neighbour is not the
    first chunk of a relevant entry. visible = how many of the neighbour's tokens the answer layout shows (r - m)."""
    docs, relevant = ln.get("neighbour_docs") or [], set(ln.get("relevant_docs") or [ln.get("gold")])
    if not docs or docs[0] not in relevant or not ln.get("neighbours"):
        return None
    word = headword(docs[0])
    toks = list(ln["neighbours"][0])[:visible]
    text = decode(toks)
    if not word or not text.lower().startswith(word.lower()):
        return None  # not the entry's first chunk
    body = len(word)
    while body < len(text) and text[body].isspace():
        body += 1  # the definition begins after the headword line
    match = next((mt for mt in _SENTENCE_END.finditer(text, body)
                  if not _abbreviation(text, mt) and _words(text[body:mt.start()]) >= 3), None)
    if match is None:
        return toks, len(ln["neighbours"][0]) < visible  # a neighbour shorter than that is its entry's end
    cut = match.end() if text[match.start()] in ".!?" else match.start()
    for i in range(1, len(toks) + 1):  # the fewest tokens that hold the sentence
        if len(decode(toks[:i])) >= cut:
            return toks[:i], True
    return toks, False


def encode_line(ln, m, r, k, pad_id, eos_id, max_q, max_a, layout="answer"):
    """One line -> (x (2m,), y (2m,) with -1 where no loss, neighbours (2, k, r) with -1 padding), or None when the
    question is too long. The answer is cut to max_a tokens (then no end token: the model learns to go on), and has
    none either when it is a passage answer that runs past the neighbour's visible part (passage_answer_ended)."""
    q, a = list(ln["question_tokens"]), list(ln["answer_tokens"])
    if not q or len(q) > max_q or len(q) > m or not a:
        return None
    end = [eos_id] if len(a) <= max_a and ln.get("passage_answer_ended", True) else []
    a = a[:max_a]
    seq = [pad_id] * (m - len(q)) + q + a + end  # question fills chunk 0, the answer starts at position m
    n = 2 * m
    x = np.full(n, pad_id, np.int64)
    y = np.full(n, -1, np.int64)
    seq = seq[:n + 1]
    x[:min(n, len(seq))] = seq[:n]
    tgt = seq[1:]
    y[m - 1:m - 1 + len(a) + len(end)] = tgt[m - 1:m - 1 + len(a) + len(end)]
    nb = np.full((2, k, r), -1, np.int64)
    for j, toks in enumerate(ln["neighbours"][:k]):
        toks = question_neighbour(x[:m], toks, r, layout)
        nb[0, j, :len(toks)] = toks
    return x, y, nb


def passage_lines(lines, decode, visible):
    """qa_target "passage": the definition lines whose answer becomes their best passage's first sentence."""
    out = []
    for ln in lines:
        if not ln.get("dataset", "").startswith("definitions"):
            continue
        got = passage_answer(ln, decode, visible)
        if got is not None:
            toks, ended = got
            out.append({**ln, "answer_tokens": toks, "passage_answer_ended": ended})
    return out


def encode_all(lines, cfg, pad_id, eos_id):
    m, r, k = cfg["chunk_size"], cfg["neighbour_len"], cfg["qa_neighbours"]
    out = [encode_line(ln, m, r, k, pad_id, eos_id, cfg["qa_max_question_tokens"], cfg["qa_max_answer_tokens"],
                       cfg["qa_layout"]) for ln in lines]
    kept = [o for o in out if o is not None]
    if not kept:
        raise SystemExit("no usable QA lines")
    return tuple(np.stack(a) for a in zip(*kept)), len(out) - len(kept)


# -----------------------------------------------------------------------------
# model




def param_groups(model, cfg):
    """AdamW groups: CCA + encoder at qa_lr, the body at qa_lr * qa_body_lr_ratio ("all") or frozen ("retrofit");
    weight decay on matrices only."""
    if cfg["qa_train"] not in ("all", "retrofit", "body"):
        raise SystemExit(f"qa_train must be 'all', 'retrofit' or 'body', got {cfg['qa_train']!r}")
    groups = {}
    for name, p in model.named_parameters():
        new = ".cca" in name or name.startswith("encoder.")
        p.requires_grad_({"all": True, "retrofit": new, "body": not new}[cfg["qa_train"]])
        if not p.requires_grad:
            continue
        key = ("new" if new else "body", p.dim() >= 2)
        groups.setdefault(key, []).append(p)
    return [{"params": ps, "weight_decay": cfg["qa_weight_decay"] if decay else 0.0,
             "lr_scale": 1.0 if kind == "new" or cfg["qa_train"] == "body" else cfg["qa_body_lr_ratio"]}
            for (kind, decay), ps in groups.items()]


@torch.no_grad()
def answer_loss(model, data, device, dtype, batch=32):
    """Mean loss (nats/token) on the answer and end tokens, closed-book and with the retrieved neighbours."""
    was = model.training
    model.eval()
    x_all, y_all, nb_all = data
    tot = {"closed": 0.0, "retrieval": 0.0}
    count = 0
    for s in range(0, len(x_all), batch):
        x, y, nb = (torch.from_numpy(a[s:s + batch]).to(device) for a in (x_all, y_all, nb_all))
        with autocast(device, dtype):
            for mode, n in (("closed", None), ("retrieval", nb)):
                logits = model(x, n)
                tot[mode] += float(F.cross_entropy(logits.float().transpose(1, 2), y, ignore_index=-1,
                                                   reduction="sum"))
        count += int((y >= 0).sum())
    model.train(was)
    return {k: v / max(1, count) for k, v in tot.items()}


# -----------------------------------------------------------------------------
# training

def lm_rows_data(cfg):
    """The LM rows' data (train_retro.Data): the train split or the RETRO-fitting windows, read through the neighbour
    gate (lm_neighbour_min_match, lm_neighbour_tail) as the RETRO stage and the service read them."""
    import train_retro
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    if cfg["qa_lm_split"] == "train":
        return train_retro.load_split(cfg, "train", db)
    if cfg["qa_lm_split"] == "fit":
        return train_retro.fit_and_eval_data({**train_retro.DEFAULTS, **cfg}, db)[0]
    raise SystemExit(f"qa_lm_split must be 'train' or 'fit', got {cfg['qa_lm_split']!r}")


def train(cfg):
    seed_all(cfg["seed"])
    device = pick_device(cfg["device"])
    out = os.path.join(cfg["out_dir"], "qa")
    ckpt = os.path.join(out, "ckpt")
    os.makedirs(out, exist_ok=True)
    if not cfg["qa_init_from"]:
        raise SystemExit("qa_init_from is required (an exported RETRO folder or a model_ckpt folder)")
    lines = read_lines(cfg["qa_data"])
    check_held_out(lines)
    if cfg["qa_target"] == "passage":
        from common import BpeTokenizer
        tok = BpeTokenizer.load(os.path.join(cfg["out_dir"], "tokenizer.json"))
        before = len(lines)
        lines = passage_lines(lines, tok.decode, cfg["neighbour_len"] - cfg["chunk_size"])
        print(f"qa: passage targets for {len(lines)} of {before} lines (definition lines whose best neighbour is the "
              f"entry's first chunk)")
    elif cfg["qa_target"] != "answer":
        raise SystemExit(f"qa_target must be 'answer' or 'passage', got {cfg['qa_target']!r}")
    train_lines, val_lines = split_lines(lines, cfg["qa_val_lines"])
    model = load_decoder(cfg["qa_init_from"])
    c = model.config
    c.question_layout, c.question_neighbours = cfg["qa_layout"], cfg["qa_neighbours"]  # the service lays out as trained
    c.validate()
    if c.chunk_size != cfg["chunk_size"] or c.neighbour_len < cfg["neighbour_len"]:
        raise SystemExit("chunk_size / neighbour_len of the config and the model differ")
    pad_id, eos_id = c.pad_token_id, c.eos_token_id
    (tx, ty, tnb), skipped = encode_all(train_lines, cfg, pad_id, eos_id)
    val, _ = encode_all(val_lines, cfg, pad_id, eos_id) if val_lines else ((tx[:0], ty[:0], tnb[:0]), 0)
    by_dataset = {}
    for ln in train_lines:
        by_dataset[ln["dataset"]] = by_dataset.get(ln["dataset"], 0) + 1
    hit_rate = float(np.mean([bool(ln.get("hit")) for ln in train_lines])) if train_lines else float("nan")

    n_lm = int(round(cfg["qa_batch"] * cfg["qa_lm_mix"]))
    lm = lm_rows_data(cfg) if n_lm > 0 else None
    n_qa = cfg["qa_batch"] - n_lm

    groups = param_groups(model, cfg)
    opt = torch.optim.AdamW(groups, lr=cfg["qa_lr"], betas=(0.9, 0.95))
    start, wall_before = 0, 0.0
    if cfg["qa_resume"] and os.path.exists(os.path.join(ckpt, "index.json")):
        tensors, meta = load_sharded(ckpt)
        restore_training_state(model, opt, tensors, meta["adam_steps"])
        start, wall_before = meta["step"], meta.get("wall_seconds", 0.0)
        print(f"qa: resumed at step {start}")
    model.to(device)
    for st in opt.state.values():
        for key, v in st.items():
            if torch.is_tensor(v) and key != "step":
                st[key] = v.to(device)
    log = LossLog(os.path.join(out, "loss.csv"), resume=start > 0)
    steps = cfg["qa_steps"]
    stop = steps if cfg["qa_max_steps_this_run"] is None else min(steps, start + cfg["qa_max_steps_this_run"])
    n_trained = sum(p.numel() for g in groups for p in g["params"])
    print(f"qa: {len(tx)} training questions {by_dataset} ({skipped} too long), {len(val[0])} validation, gold "
          f"passage among the neighbours {100 * hit_rate:.1f}%; batch {n_qa} QA + {n_lm} LM rows; "
          f"{n_trained / 1e6:.2f} M parameters trained ({cfg['qa_train']}), device {device}")
    t0 = time.time()
    model.train()
    step, loss_val = start, float("nan")
    T = cfg["qa_lm_seq_len"]
    for step in range(start, stop):
        lr = cosine_lr(step, cfg["qa_lr"], cfg["qa_warmup"], steps, cfg["qa_min_lr_ratio"])
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        rng = np.random.default_rng([cfg["seed"], step])
        gen = torch.Generator().manual_seed(cfg["seed"] * 1_000_003 + step)
        idx = rng.integers(0, len(tx), n_qa)
        x, y, nb = (torch.from_numpy(a[idx]) for a in (tx, ty, tnb))
        nb = drop_neighbours(nb, cfg["qa_neighbour_dropout"], gen)
        opt.zero_grad(set_to_none=True)
        with autocast(device, cfg["dtype"]):
            logits = model(x.to(device), nb.to(device))
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.to(device).reshape(-1), ignore_index=-1)
        total = loss
        if lm is not None:
            starts = lm.pick_starts(rng, n_lm, T, 1)
            lx, ly, lnb = lm.batch(starts, T, "cpu")
            lnb = lm.with_shifted_oracle(starts, lnb, cfg["qa_lm_shift_oracle_frac"], cfg["lm_shift_max"], rng)
            lnb = drop_neighbours(lnb, cfg["qa_neighbour_dropout"], gen)
            with autocast(device, cfg["dtype"]):
                ll = model(lx.to(device), lnb.to(device))
            lm_loss = F.cross_entropy(ll.float().reshape(-1, ll.size(-1)), ly.to(device).reshape(-1).long())
            total = (n_qa * loss + n_lm * lm_loss) / cfg["qa_batch"]
        total.backward()
        if cfg["qa_grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], cfg["qa_grad_clip"])
        opt.step()
        loss_val = loss.item()
        if step % cfg["qa_log_every"] == 0 or step == steps - 1:
            log.log(step, "train_answer_loss", loss_val)
            print(f"qa step {step}: answer loss {loss_val:.4f} lr {lr:.2e} ({time.time() - t0:.0f} s)", flush=True)
        if cfg["qa_eval_every"] and step > start and step % cfg["qa_eval_every"] == 0 and len(val[0]):
            ev = answer_loss(model, val, device, cfg["dtype"])
            log.log(step, "val_answer_loss_closed_book", ev["closed"])
            log.log(step, "val_answer_loss_retrieval", ev["retrieval"])
            print(f"qa step {step}: validation answer loss closed-book {ev['closed']:.4f}, retrieval "
                  f"{ev['retrieval']:.4f}", flush=True)
        if cfg["qa_ckpt_every"] and step > start and step % cfg["qa_ckpt_every"] == 0:
            save_state(model, opt, ckpt, step + 1, wall_before + time.time() - t0)
    done = step + 1 if stop > start else start
    wall = wall_before + time.time() - t0
    save_state(model, opt, ckpt, done, wall)
    log.plot(os.path.join(out, "loss.png"), "QA: answer loss (nats/token)")
    if done < steps:
        print(f"qa: stopped at step {done} of {steps}; resume with --qa_resume=True")
        return None
    ev = answer_loss(model, val, device, cfg["dtype"]) if len(val[0]) else {"closed": float("nan"),
                                                                              "retrieval": float("nan")}
    model.cpu()
    save_model(model, os.path.join(out, "model_ckpt"))
    metrics = {"val_answer_loss_closed_book": ev["closed"], "val_answer_loss_retrieval": ev["retrieval"],
               "train_questions": int(len(tx)), "train_by_dataset": by_dataset, "validation_questions": int(len(val[0])),
               "gold_among_neighbours": hit_rate, "steps": done, "batch": cfg["qa_batch"], "lm_rows": n_lm,
               "wall_seconds": round(wall, 1), "hardware": hardware(), "trained_parameters": n_trained,
               "init_from": cfg["qa_init_from"],
               "config": {k: v for k, v in cfg.items()
                          if k.startswith("qa_") or k in ("seed", "dtype", "lm_neighbour_min_match", "lm_neighbour_tail")}}
    write_json(os.path.join(out, "metrics.json"), metrics)
    print(f"qa: validation answer loss closed-book {ev['closed']:.4f}, retrieval {ev['retrieval']:.4f}; {wall:.0f} s")
    return metrics


def save_state(model, opt, folder, step, wall):
    tensors, steps = training_state(model, opt)
    save_sharded(tensors, folder, {"step": step, "wall_seconds": wall, "adam_steps": steps,
                                   "config": model.config.to_dict()})


if __name__ == "__main__":
    train(configure(DEFAULTS, sys.argv[1:]))
