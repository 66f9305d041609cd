"""
Cross-encoder training (BertForSequenceClassification names; score = classifier(tanh(pooler(h_cls)))) on
(query, candidate) groups: the positive and hard negatives ranked high by the trained bi-encoder. Listwise loss:
softmax cross-entropy of the positive over its group. The body starts from the bi-encoder's weights.

    /usr/bin/python3 src/training/train_reranker.py config/tiny_cpu.py [--rr_steps=100 ...]

Pairs: SQuAD questions of the training articles (candidates: paragraphs of the training articles) and the
corpus pairs of pairs.py (candidates: the positives of the other pairs), hard negatives = the bi-encoder's top
rr_negatives non-positive candidates among the top rr_mine_top. Reads <out_dir>/encoder (ckpt,
squad_split.json). Writes <out_dir>/reranker/: ckpt/, tokenizer.json, loss.csv, loss.png, metrics.json with
squad_ndcg@10_before (bi-encoder ranking of all SQuAD paragraphs for the held-out answerable questions) and
squad_ndcg@10_after (its top rr_rerank_top reranked by the cross-encoder), recall@1 before/after likewise.
"""

import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (BpeTokenizer, LossLog, adamw, autocast, bert_tokenizer_json, configure, cosine_lr,  # noqa: E402
                    hardware, load_model, pick_device, read_json, save_model, seed_all, write_json)
from model import Bert, BertConfig, from_folder  # noqa: E402
from pairs import cross_batch, corpus_pairs, embed, ndcg_at, rank_of, recall_at, squad_data  # noqa: E402
from train_encoder import init_bert  # noqa: E402

DEFAULTS = dict(
    out_dir="runs/tiny", device="auto", dtype="bfloat16", seed=1337, chunk_size=64,
    enc_max_len=256, rr_max_len=320, rr_steps=2000, rr_batch=16, rr_negatives=7, rr_mine_top=30, rr_lr=5e-5,
    rr_warmup=100, rr_weight_decay=0.01, rr_rerank_top=20, rr_max_corpus_queries=20000, rr_log_every=10,
    rr_eval_max_questions=2000, squad_max_train_questions=None, rr_encoder_folder="", rr_groups="",
    rr_squad_share=0.0, rr_squad_source="bi-encoder", rr_tune_frac=0.0, rr_tune_max_lines=500,
    rr_weights="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1", rr_fusion_k=10,
)
# rr_squad_source: where the SQuAD share of every batch comes from: "bi-encoder" (training-article paragraphs mined by
#   the bi-encoder) or "product" (the rr_groups lines of the squad datasets: the product's own first-stage chunks, the
#   candidates the cross-encoder reranks in the service).
# rr_tune_frac: this share of the rr_groups lines (by a hash of the question id) is never trained on; on it (at most
#   rr_tune_max_lines per dataset) the
#   cross-encoder's rank is fused with the first stage's for every weight of rr_weights, as the service does
#   (Retro:Retrieval:RerankWeight, RRF k = rr_fusion_k), and the weight with the best mean nDCG@10 over the datasets is
#   written to metrics.json (tuning on training material only: the held-out sets stay out).
# rr_squad_share: with rr_groups, also mine SQuAD training-article groups with the bi-encoder (the first path below)
#   and draw this share of every batch from them. The product's groups are 91 % definition questions, whose
#   positive is found by its title alone; a cross-encoder trained on them alone learned that shortcut and ranked
#   SQuAD paragraphs worse than the bi-encoder (nDCG@10 0.449 -> 0.156).
# rr_encoder_folder: an exported bi-encoder folder (e.g. the H200 one) to start from and to rank the evaluation with,
#   instead of the run's <out_dir>/encoder/ckpt (its squad_split.json is read from the same folder).
# rr_groups: qa-data lines with candidates (Retro.Eval qa-data --candidates N): the groups come from the product's
#   own first stage (e.g. hybrid), not from the bi-encoder alone; a line's positive is its first candidate from a
#   relevant document (relevant_docs, else gold) and its negatives the first rr_negatives others.


def read_lines(path):
    import json
    with open(path, encoding="utf-8") as f:
        return [json.loads(raw) for raw in f if raw.strip()]


def relevant_of(ln):
    return set(ln.get("relevant_docs") or [ln.get("gold")])


def is_tuning(ln, frac):
    """Whether a qa-data line belongs to the tuning share (a stable hash of its dataset and question id)."""
    import hashlib
    if frac <= 0:
        return False
    h = hashlib.sha1(f"{ln.get('dataset', '')}\0{ln['id']}".encode("utf-8")).hexdigest()
    return int(h[:8], 16) / 2 ** 32 < frac


def line_group(ln, n_neg):
    """(question ids, [positive ids, negative ids...]) of a qa-data line with candidates, or None when its
    candidates hold no relevant document or fewer than n_neg others."""
    relevant = relevant_of(ln)
    cands = ln.get("candidates") or []
    pos = [c["tokens"] for c in cands if c["doc"] in relevant]
    neg = [c["tokens"] for c in cands if c["doc"] not in relevant][:n_neg]
    if not pos or len(neg) < n_neg:
        return None
    return ln["question_tokens"], [pos[0]] + neg


def product_groups(path, n_neg, tune_frac=0.0, lines=None):
    """Training groups from qa-data lines with candidates (lines of the tuning share and lines without a usable
    group are left out). -> groups, skipped, datasets (each group's dataset name)."""
    groups, skipped, datasets = [], 0, []
    for ln in read_lines(path) if lines is None else lines:
        if is_tuning(ln, tune_frac):
            continue
        g = line_group(ln, n_neg)
        if g is None:
            skipped += 1
            continue
        groups.append(g)
        datasets.append(ln.get("dataset", ""))
    return groups, skipped, datasets


def doc_rank(docs, relevant):
    """0-based rank of the first relevant document among the distinct documents of a ranked candidate list (None
    when no candidate is relevant)."""
    seen = []
    for d in docs:
        if d in relevant:
            return len(seen)
        if d not in seen:
            seen.append(d)
    return None


def fused_order(ce_scores, weight, k):
    """The candidates (first-stage order) ordered by (1 - w) / (k + first-stage rank) + w / (k + cross-encoder rank),
    1-based ranks, ties in first-stage order: Retriever.RerankOrder of the service."""
    n = len(ce_scores)
    by_score = sorted(range(n), key=lambda i: (-ce_scores[i], i))
    fused = np.zeros(n)
    for r, i in enumerate(by_score):
        fused[i] += weight / (k + r + 1)
    fused += (1 - weight) / (k + np.arange(n) + 1)
    return sorted(range(n), key=lambda i: (-fused[i], i))


@torch.no_grad()
def tune_fusion(model, lines, cfg, device, sep):
    """Scores every candidate of the tuning lines with the cross-encoder and measures, per dataset, the first stage
    and the fusion at every weight of rr_weights: nDCG@10, recall@1, MRR over the lines whose candidates hold a
    relevant document. -> {"rerank_weight": the weight with the best mean nDCG@10 over datasets (the smallest of
    equals), "tuning": table}."""
    model.eval()
    weights = [float(w) for w in str(cfg["rr_weights"]).split(",")]
    ranks = {}  # dataset -> weight (or "first", the first stage) -> ranks
    for ln in lines:
        cands = ln.get("candidates") or []
        docs = [c["doc"] for c in cands]
        relevant = relevant_of(ln)
        first = doc_rank(docs, relevant)
        if first is None:
            continue
        ids = cross_batch([ln["question_tokens"]] * len(cands), [c["tokens"] for c in cands], sep, cfg["rr_max_len"],
                          device)
        with autocast(device, cfg["dtype"]):
            s = model.score(*ids).float().cpu().numpy()
        d = ranks.setdefault(ln.get("dataset", ""), {"first": []})
        d["first"].append(first)
        for w in weights:
            d.setdefault(str(w), []).append(doc_rank([docs[i] for i in fused_order(s, w, cfg["rr_fusion_k"])], relevant))
    table = {name: {w: {"ndcg@10": ndcg_at(r, 10), "recall@1": recall_at(r, 1),
                        "mrr": float(np.mean(1.0 / (np.asarray(r) + 1.0))), "lines": len(r)} for w, r in d.items()}
             for name, d in ranks.items()}
    if not table:
        return {"rerank_weight": 1.0, "tuning": table}
    # ties go to the smaller weight: the cross-encoder changes the first stage's order only where that measures better
    best = max(weights, key=lambda w: (np.mean([t[str(w)]["ndcg@10"] for t in table.values()]), -w))
    return {"rerank_weight": best, "tuning": table}


def cross_from_encoder(encoder):
    """A cross-encoder whose BERT body is a copy of the bi-encoder's; pooler and classifier freshly initialised."""
    c = BertConfig(**{**encoder.config.__dict__, "architectures": ["BertForSequenceClassification"]})
    model = Bert(c)
    init_bert(model)
    state = {k: v for k, v in encoder.state_dict().items() if not k.startswith("pooler.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"pooler.dense.weight", "pooler.dense.bias", "classifier.weight",
                                               "classifier.bias"}, (missing, unexpected)
    return model


def mine_groups(encoder, queries, positives, pos_index, candidates, cand_group, query_group, cfg, device):
    """For each query: hard negatives = top-ranked candidates (bi-encoder) that are not its positive and not of
    its group. -> list of (query, [positive, neg...]) with exactly rr_negatives negatives (short lists skipped)."""
    sep, L = encoder.config.pad_token_id, cfg["enc_max_len"]
    qe = embed(encoder, queries, sep, L, device)
    ce = embed(encoder, candidates, sep, L, device)
    scores = qe @ ce.T
    top = np.argsort(-scores, axis=1)[:, : cfg["rr_mine_top"]]
    groups = []
    for i, row in enumerate(top):
        negs = [int(c) for c in row if c != pos_index[i] and cand_group[c] != query_group[i]][: cfg["rr_negatives"]]
        if len(negs) == cfg["rr_negatives"]:
            groups.append((queries[i], [positives[i]] + [candidates[c] for c in negs]))
    return groups


@torch.no_grad()
def rerank_eval(model, encoder, paragraphs, heldout, cfg, device):
    sep = encoder.config.pad_token_id
    pe = embed(encoder, paragraphs, sep, cfg["enc_max_len"], device)
    qe = embed(encoder, [q for q, _ in heldout], sep, cfg["enc_max_len"], device)
    gold = np.asarray([p for _, p in heldout])
    scores = qe @ pe.T
    before = rank_of(scores, gold)
    after = before.copy()
    model.eval()
    K = cfg["rr_rerank_top"]
    for i, (q, p) in enumerate(heldout):
        top = np.argsort(-scores[i])[:K]
        ids = cross_batch([q] * len(top), [paragraphs[c] for c in top], sep, cfg["rr_max_len"], device)
        with autocast(device, cfg["dtype"]):
            s = model.score(*ids).float().cpu().numpy()
        order = top[np.argsort(-s, kind="stable")]
        hit = np.nonzero(order == p)[0]
        after[i] = hit[0] if len(hit) else before[i]  # outside the reranked top: rank unchanged (>= K)
    return {"squad_ndcg@10_before": ndcg_at(before, 10), "squad_ndcg@10_after": ndcg_at(after, 10),
            "squad_recall@1_before": recall_at(before, 1), "squad_recall@1_after": recall_at(after, 1),
            "squad_heldout_questions": len(heldout), "rerank_top": K}


def train(cfg):
    seed_all(cfg["seed"])
    device = pick_device(cfg["device"])
    out = os.path.join(cfg["out_dir"], "reranker")
    os.makedirs(out, exist_ok=True)
    tok = BpeTokenizer.load(os.path.join(cfg["out_dir"], "tokenizer.json"))
    enc_dir = cfg["rr_encoder_folder"] or os.path.join(cfg["out_dir"], "encoder")
    encoder = (from_folder(enc_dir) if cfg["rr_encoder_folder"] else load_model(os.path.join(enc_dir, "ckpt"))[0])
    encoder = encoder.to(device).eval()
    if cfg["rr_max_len"] > encoder.config.max_position_embeddings:
        raise SystemExit(f"rr_max_len {cfg['rr_max_len']} exceeds the bi-encoder's max_position_embeddings "
                         f"{encoder.config.max_position_embeddings} (the cross-encoder starts from it): lower rr_max_len")
    split = read_json(os.path.join(enc_dir, "squad_split.json"))
    paragraphs, squad_train, heldout = squad_data(tok, cfg["enc_max_len"], split,
                                                  max_train=cfg["squad_max_train_questions"])
    heldout = heldout[: cfg["rr_eval_max_questions"]]
    # SQuAD groups: candidates = paragraphs of training articles
    train_pids = sorted({g[1] for g in squad_train.groups})
    pid_pos = {p: i for i, p in enumerate(train_pids)}
    cands = [paragraphs[p] for p in train_pids]
    if cfg["rr_groups"]:
        lines = read_lines(cfg["rr_groups"])
        tuning, per_set = [], {}
        for ln in lines:  # at most rr_tune_max_lines per dataset
            if is_tuning(ln, cfg["rr_tune_frac"]):
                n = per_set[ln.get("dataset", "")] = per_set.get(ln.get("dataset", ""), 0) + 1
                if n <= cfg["rr_tune_max_lines"]:
                    tuning.append(ln)
        groups, skipped, datasets = product_groups(cfg["rr_groups"], cfg["rr_negatives"], cfg["rr_tune_frac"], lines)
        print(f"reranker: {len(groups)} groups from the product's first stage ({skipped} lines skipped, "
              f"{len(tuning)} tuning lines kept out)")
        share = cfg["rr_squad_share"]
        if share <= 0:
            return train_on(cfg, device, out, tok, encoder, groups, paragraphs, heldout, tuning=tuning)
        if cfg["rr_squad_source"] == "product":
            is_squad = [d.startswith("squad") for d in datasets]
            squad = [g for g, q in zip(groups, is_squad) if q]
            groups = [g for g, q in zip(groups, is_squad) if not q]
        elif cfg["rr_squad_source"] == "bi-encoder":
            squad = mine_groups(encoder, squad_train.queries, squad_train.positives,
                                [pid_pos[g[1]] for g in squad_train.groups], cands, train_pids,
                                [g[1] for g in squad_train.groups], cfg, device)
        else:
            raise SystemExit(f"rr_squad_source must be product or bi-encoder, got {cfg['rr_squad_source']!r}")
        if not squad or not groups:
            raise SystemExit(f"reranker: rr_squad_share {share} needs SQuAD and other groups "
                             f"({len(squad)} SQuAD, {len(groups)} other)")
        print(f"reranker: + {len(squad)} SQuAD training-article groups ({cfg['rr_squad_source']}), "
              f"{100 * share:.0f} % of every batch")
        weights = np.concatenate([np.full(len(groups), (1 - share) / len(groups)),
                                  np.full(len(squad), share / len(squad))])
        return train_on(cfg, device, out, tok, encoder, groups + squad, paragraphs, heldout, weights, tuning)
    groups = mine_groups(encoder, squad_train.queries, squad_train.positives,
                         [pid_pos[g[1]] for g in squad_train.groups], cands, train_pids,
                         [g[1] for g in squad_train.groups], cfg, device)
    # corpus groups: candidates = positives of the other corpus pairs
    cp = corpus_pairs(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"), tok, cfg["chunk_size"],
                      cfg["enc_max_len"], cfg["rr_max_corpus_queries"], cfg["rr_max_corpus_queries"], cfg["seed"])
    groups += mine_groups(encoder, cp.queries, cp.positives, list(range(len(cp))), cp.positives, cp.groups,
                          cp.groups, cfg, device)
    return train_on(cfg, device, out, tok, encoder, groups, paragraphs, heldout)


def train_on(cfg, device, out, tok, encoder, groups, paragraphs, heldout, weights=None, tuning=()):
    """Listwise training on the groups (drawn with `weights`, default uniform), then the held-out SQuAD evaluation
    and the fusion weight tuned on the `tuning` lines; writes the stage's files."""
    if not groups:
        raise SystemExit("reranker: no training groups (corpus too small for rr_negatives)")
    print(f"reranker: {len(groups)} training groups of 1 positive + {cfg['rr_negatives']} negatives")
    model = cross_from_encoder(encoder.cpu()).to(device)
    encoder.to(device)
    opt = adamw(model, cfg["rr_lr"], cfg["rr_weight_decay"], betas=(0.9, 0.999))
    log = LossLog(os.path.join(out, "loss.csv"))
    rng = np.random.default_rng(cfg["seed"])
    sep, G = tok.eos_id, cfg["rr_negatives"] + 1
    before_eval = time.time()
    t0 = time.time()
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(cfg["rr_steps"]):
        lr = cosine_lr(step, cfg["rr_lr"], cfg["rr_warmup"], cfg["rr_steps"])
        for g in opt.param_groups:
            g["lr"] = lr
        pick = rng.choice(len(groups), min(cfg["rr_batch"], len(groups)), replace=False, p=weights)
        loss = listwise_step(model, [groups[i] for i in pick], sep, cfg, device, G)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % cfg["rr_log_every"] == 0 or step == cfg["rr_steps"] - 1:
            log.log(step, "train_loss", loss.item())
            print(f"reranker step {step}: loss {loss.item():.4f} lr {lr:.2e}")
    wall = time.time() - t0
    metrics = rerank_eval(model, encoder, paragraphs, heldout, cfg, device)
    if tuning:
        metrics.update(tune_fusion(model, tuning, cfg, device, sep))
        w = str(metrics["rerank_weight"])
        for name, t in metrics["tuning"].items():
            print(f"reranker tuning {name} ({t['first']['lines']} lines): nDCG@10 first stage {t['first']['ndcg@10']:.3f}, "
                  f"cross-encoder alone {t.get('1.0', {}).get('ndcg@10', float('nan')):.3f}, fused at weight {w} {t[w]['ndcg@10']:.3f}")
    metrics.update({"steps": cfg["rr_steps"], "batch_groups": cfg["rr_batch"], "group_size": G,
                    "training_groups": len(groups), "final_train_loss": loss.item(), "wall_seconds": round(wall, 1),
                    "eval_seconds": round(time.time() - before_eval - wall, 1), "hardware": hardware(),
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "config": {k: v for k, v in cfg.items() if k.startswith("rr_") or k in ("seed", "dtype")}})
    save_model(model.cpu(), os.path.join(out, "ckpt"))
    write_json(os.path.join(out, "tokenizer.json"), bert_tokenizer_json(tok.json))
    write_json(os.path.join(out, "metrics.json"), metrics)
    log.plot(os.path.join(out, "loss.png"), "cross-encoder listwise loss")
    print(f"reranker: SQuAD nDCG@10 {metrics['squad_ndcg@10_before']:.3f} -> {metrics['squad_ndcg@10_after']:.3f}")
    return metrics


def listwise_step(model, batch, sep, cfg, device, G):
    """Softmax cross-entropy of the positive (position 0) over each group's G candidates."""
    qs = [q for q, cands in batch for _ in cands]
    cs = [c for _, cands in batch for c in cands]
    ids = cross_batch(qs, cs, sep, cfg["rr_max_len"], device)
    with autocast(device, cfg["dtype"]):
        s = model.score(*ids).float().view(len(batch), G)
    return F.cross_entropy(s, torch.zeros(len(batch), dtype=torch.long, device=device))


if __name__ == "__main__":
    train(configure(DEFAULTS, sys.argv[1:]))
