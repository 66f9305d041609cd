"""
Bi-encoder training: a BERT-family encoder (Hugging Face names, mean pooling, L2-normalised) trained
contrastively (InfoNCE over in-batch negatives plus optional mined hard negatives) on the pairs of pairs.py.

    /usr/bin/python3 src/training/train_encoder.py config/tiny_cpu.py [--enc_steps=100 ...]

Reads <out_dir>/tokenizer.json and <out_dir>/tokens/{train,validation}.safetensors. Writes <out_dir>/encoder/:
ckpt/ (weights + config, files <= 16 MiB; export.py writes the model folder), tokenizer.json (BPE + S A S template), squad_split.json (held-out
articles), loss.csv, loss.png, metrics.json with
  recall@1, recall@10      held-out pairs (validation-split chunk and title pairs + held-out SQuAD questions),
                           each query against all held-out positives
  squad_ndcg@10            held-out answerable SQuAD questions against all SQuAD paragraphs (every article)
  per-source recalls, steps, wall time, hardware, sizes.
"""

import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (BpeTokenizer, LossLog, adamw, autocast, bert_tokenizer_json, configure, cosine_lr,  # noqa: E402
                    hardware, maybe_compile, pick_device, save_model, seed_all, write_json)
from model import Bert, BertConfig  # noqa: E402
from pairs import (bert_batch, corpus_pairs, dedupe_positives, embed, ndcg_at, rank_of,  # noqa: E402
                   recall_at, squad_articles, squad_data, squad_split)

DEFAULTS = dict(
    out_dir="runs/tiny", device="auto", dtype="bfloat16", compile=False, seed=1337, chunk_size=64,
    enc_layers=6, enc_hidden=384, enc_heads=6, enc_max_len=256,
    enc_steps=2000, enc_batch=64, enc_lr=3e-4, enc_warmup=100, enc_weight_decay=0.01, enc_temperature=0.05,
    enc_hard_negatives=True, enc_mine_every=500, enc_mine_pool=4096,
    enc_max_chunk_pairs=200000, enc_max_title_pairs=100000, enc_eval_max_pairs=2000, enc_log_every=10,
    enc_squad_heldout_every=4, enc_max_pos=512, squad_max_train_questions=None, squad_max_heldout_questions=None,
)


def init_bert(model, std=0.02):
    """Hugging Face BERT init: N(0, std) for Linear and Embedding weights, zero biases, LayerNorm (1, 0)."""
    for mod in model.modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(mod.weight, 0.0, std)
            if isinstance(mod, torch.nn.Linear) and mod.bias is not None:
                torch.nn.init.zeros_(mod.bias)
        elif isinstance(mod, torch.nn.LayerNorm):
            torch.nn.init.ones_(mod.weight)
            torch.nn.init.zeros_(mod.bias)
    return model


def info_nce(q, p, groups, temperature, hard=None):
    """InfoNCE: query i's positive is p[i]; negatives are the other in-batch positives (those of the same group
    masked out) and the hard negatives (H, D) when given. q, p (B, D) normalised. -> scalar loss."""
    logits = q @ p.t() / temperature  # (B, B)
    B = q.size(0)
    same = torch.tensor([[groups[i] == groups[j] and i != j for j in range(B)] for i in range(B)],
                        device=q.device)
    logits = logits.masked_fill(same, float("-inf"))
    if hard is not None and hard.size(0):
        logits = torch.cat([logits, q @ hard.t() / temperature], dim=1)
    return F.cross_entropy(logits, torch.arange(B, device=q.device))


def build_model(cfg, vocab_size, pad_id):
    c = BertConfig(vocab_size=vocab_size, hidden_size=cfg["enc_hidden"], num_hidden_layers=cfg["enc_layers"],
                   num_attention_heads=cfg["enc_heads"], intermediate_size=4 * cfg["enc_hidden"],
                   max_position_embeddings=max(cfg["enc_max_pos"], cfg["enc_max_len"]), pad_token_id=pad_id)
    return init_bert(Bert(c))


def load_data(cfg, tok):
    d = cfg["out_dir"]
    m, L = cfg["chunk_size"], cfg["enc_max_len"]
    train = corpus_pairs(os.path.join(d, "tokens", "train.safetensors"), tok, m, L,
                         cfg["enc_max_chunk_pairs"], cfg["enc_max_title_pairs"], seed=cfg["seed"])
    heldout = corpus_pairs(os.path.join(d, "tokens", "validation.safetensors"), tok, m, L,
                           cfg["enc_eval_max_pairs"], cfg["enc_eval_max_pairs"], seed=cfg["seed"])
    split = squad_split(squad_articles(), cfg["enc_squad_heldout_every"])
    paragraphs, squad_train, squad_heldout = squad_data(tok, L, split, max_train=cfg["squad_max_train_questions"],
                                                        max_heldout=cfg["squad_max_heldout_questions"])
    train.extend(squad_train)
    for q, pid in squad_heldout[: cfg["enc_eval_max_pairs"]]:
        heldout.add(q, paragraphs[pid], ("squad", pid), "squad")
    return train, heldout, split, paragraphs, squad_heldout


def evaluate(model, cfg, tok, heldout, paragraphs, squad_heldout, device):
    """Metrics of the module docstring."""
    sep, L = tok.eos_id, cfg["enc_max_len"]
    ctx = (lambda: autocast(device, cfg["dtype"]))
    uniq, pos = dedupe_positives(heldout)
    qe = embed(model, heldout.queries, sep, L, device, ctx=ctx)
    pe = embed(model, uniq, sep, L, device, ctx=ctx)
    ranks = rank_of(qe @ pe.T, pos)
    out = {"recall@1": recall_at(ranks, 1), "recall@10": recall_at(ranks, 10), "heldout_pairs": len(heldout),
           "heldout_candidates": len(uniq)}
    for s in sorted(set(heldout.sources)):
        sel = np.asarray([x == s for x in heldout.sources])
        out[f"recall@1/{s}"] = recall_at(ranks[sel], 1)
        out[f"recall@10/{s}"] = recall_at(ranks[sel], 10)
    para_e = embed(model, paragraphs, sep, L, device, ctx=ctx)
    sq_e = embed(model, [q for q, _ in squad_heldout], sep, L, device, ctx=ctx)
    sranks = rank_of(sq_e @ para_e.T, np.asarray([p for _, p in squad_heldout]))
    out.update({"squad_ndcg@10": ndcg_at(sranks, 10), "squad_recall@10": recall_at(sranks, 10),
                "squad_heldout_questions": len(squad_heldout), "squad_paragraphs": len(paragraphs)})
    return out


def mine_hard_negatives(model, cfg, tok, train, rng, device):
    """For a random pool of training pairs: each query's best-scoring positive of another group in the pool.
    -> dict pair index -> positive sequence (ids)."""
    n = min(len(train), cfg["enc_mine_pool"])
    pool = rng.choice(len(train), n, replace=False)
    ctx = (lambda: autocast(device, cfg["dtype"]))
    qe = embed(model, [train.queries[i] for i in pool], tok.eos_id, cfg["enc_max_len"], device, ctx=ctx)
    pe = embed(model, [train.positives[i] for i in pool], tok.eos_id, cfg["enc_max_len"], device, ctx=ctx)
    s = qe @ pe.T
    groups = [train.groups[i] for i in pool]
    out = {}
    for a in range(n):
        for b in np.argsort(-s[a])[:8]:
            if groups[b] != groups[a]:
                out[int(pool[a])] = train.positives[pool[b]]
                break
    return out


def train(cfg):
    seed_all(cfg["seed"])
    device = pick_device(cfg["device"])
    out = os.path.join(cfg["out_dir"], "encoder")
    os.makedirs(out, exist_ok=True)
    tok = BpeTokenizer.load(os.path.join(cfg["out_dir"], "tokenizer.json"))
    train_pairs, heldout, split, paragraphs, squad_heldout = load_data(cfg, tok)
    write_json(os.path.join(out, "squad_split.json"), split)
    print(f"encoder: train pairs {train_pairs.counts()}, held-out pairs {heldout.counts()}")
    model = build_model(cfg, tok.vocab_size, tok.eos_id).to(device)
    fwd = maybe_compile(model, cfg["compile"])
    opt = adamw(model, cfg["enc_lr"], cfg["enc_weight_decay"], betas=(0.9, 0.999))
    log = LossLog(os.path.join(out, "loss.csv"))
    rng = np.random.default_rng(cfg["seed"])
    hard, t0 = {}, time.time()
    sep, L = tok.eos_id, cfg["enc_max_len"]
    model.train()
    for step in range(cfg["enc_steps"]):
        if cfg["enc_hard_negatives"] and step > 0 and step % cfg["enc_mine_every"] == 0:
            hard = mine_hard_negatives(model, cfg, tok, train_pairs, rng, device)
        lr = cosine_lr(step, cfg["enc_lr"], cfg["enc_warmup"], cfg["enc_steps"])
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.choice(len(train_pairs), min(cfg["enc_batch"], len(train_pairs)), replace=False)
        loss = contrastive_step(fwd, train_pairs, idx, hard, sep, L, cfg, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % cfg["enc_log_every"] == 0 or step == cfg["enc_steps"] - 1:
            log.log(step, "train_loss", loss.item())
            print(f"encoder step {step}: loss {loss.item():.4f} lr {lr:.2e}")
    wall = time.time() - t0
    metrics = evaluate(model, cfg, tok, heldout, paragraphs, squad_heldout, device)
    metrics.update({"steps": cfg["enc_steps"], "batch": cfg["enc_batch"], "wall_seconds": round(wall, 1),
                    "hardware": hardware(), "parameters": sum(p.numel() for p in model.parameters()),
                    "train_pairs": train_pairs.counts(), "final_train_loss": loss.item(),
                    "config": {k: v for k, v in cfg.items() if k.startswith("enc_") or k in ("seed", "dtype")}})
    save_model(model.cpu(), os.path.join(out, "ckpt"))
    write_json(os.path.join(out, "tokenizer.json"), bert_tokenizer_json(tok.json))
    write_json(os.path.join(out, "metrics.json"), metrics)
    log.plot(os.path.join(out, "loss.png"), "bi-encoder InfoNCE loss")
    print(f"encoder: {metrics['recall@1']:.3f} recall@1, {metrics['recall@10']:.3f} recall@10, "
          f"SQuAD nDCG@10 {metrics['squad_ndcg@10']:.3f} ({wall:.0f} s)")
    return metrics


def contrastive_step(model, pairs, idx, hard, sep, L, cfg, device):
    """InfoNCE loss of one batch (pairs[idx]) with the mined hard negatives of those pairs."""
    q_ids = bert_batch([pairs.queries[i] for i in idx], sep, L, device)
    p_ids = bert_batch([pairs.positives[i] for i in idx], sep, L, device)
    negs = [hard[int(i)] for i in idx if int(i) in hard]
    with autocast(device, cfg["dtype"]):
        q = model.embed(*q_ids).float()
        p = model.embed(*p_ids).float()
        h = model.embed(*bert_batch(negs, sep, L, device)).float() if negs else None
    return info_nce(q, p, [pairs.groups[i] for i in idx], cfg["enc_temperature"], h)


if __name__ == "__main__":
    train(configure(DEFAULTS, sys.argv[1:]))

