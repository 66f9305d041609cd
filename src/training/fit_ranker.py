"""
Fits the learned ranker (docs/model-format.md, "The learned ranker"): a linear model over lexical match features of
(question, candidate) pairs and the first stage's order, which reorders the first stage's candidates in the service
(Retro:Models:Reranker pointing at a ranker folder) at a fraction of a millisecond per question.

    /usr/bin/python3 src/training/fit_ranker.py src/training/config/retrofit_cpu.py [--fr_lines=runs/fit/qa/train.jsonl \\
        --fr_out=runs/fit/ranker --fr_tune_frac=0.1]

Input: the qa-data lines of the *training* questions with the product's own first-stage candidates (Retro.Eval
qa-data --candidates 16: definition questions about training entries and SQuAD questions of the training articles).
Lines whose candidates hold no relevant document teach nothing and are skipped; a line about a held-out entry or
SQuAD article stops the stage (train_qa.check_held_out). A stable share (fr_tune_frac, by a
hash of dataset and question id, train_reranker.is_tuning) is never fitted on: the metrics are measured on it. The
fit: the softmax over a line's candidates of w . features, cross-entropy against the relevant candidates, every
dataset weighing the same, L2 fr_l2, L-BFGS. Writes <fr_out>/ranker.json (the features, their parameters and the
weights: what the service reads) and <fr_out>/metrics.json; prints the first stage against the ranker per dataset.

The features of candidate i (0-based, first-stage order) of n, from words = runs of letters and decimal digits,
lower-cased (characters outside the BMP end a word), stemmed by stripping the first suffix of `suffixes` that leaves
more than `min_stem` characters; the question's terms are its stemmed words that are not stop words (the stop test
is on the lower-cased word), once each; each term weighs idf = ln(1 + (n - df + 0.5) / (df + 0.5)) over the
candidates (df: how many candidates hold it, title and text), and a feature is the share of the terms' total weight:
- first_stage: (k + 1) / (k + 1 + i), k = rank_k;
- coverage: the terms the candidate holds (title and text);
- window: the most that any `window` consecutive words of the candidate hold (title words first);
- bigrams: the question's bigrams (consecutive terms) that occur as consecutive words of the candidate, as a share
  of its distinct bigrams;
- title: the terms the candidate's title holds;
- same_document: (how many candidates come from the candidate's document - 1) / n;
- title_precision: the share of the title's distinct stemmed words (not stop words) that are question terms (0 for
  no title): "compiler" is all about "What is a compiler?", "pessimising compiler" half.
Retro.Core.Ranking.LexicalRanker computes the same (tests/fixtures/ranker-features.json, written by fixtures.py,
holds cases both sides check).
"""

import hashlib
import json
import math
import os
import sys
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import configure, write_json  # noqa: E402
from pairs import ndcg_at, recall_at  # noqa: E402
from train_qa import check_held_out  # noqa: E402
from train_reranker import doc_rank, is_tuning, read_lines, relevant_of  # noqa: E402

DEFAULTS = dict(out_dir="runs/tiny", fr_lines="", fr_tokenizer="", fr_out="", fr_tune_frac=0.1, fr_l2=1e-4,
                fr_titled="definitions-train", fr_window=12, fr_rank_k=10, fr_iters=200)
# fr_lines: qa-data lines with candidates (default <out_dir>/qa/train.jsonl); fr_tokenizer: the tokenizer their
#   token ids are of (default <out_dir>/tokenizer.json); fr_out: the ranker folder (default <out_dir>/ranker).
# fr_titled: datasets (comma-separated) whose candidates are "title\ntext" (their documents all have a title) when a
#   line's candidates carry no "title" field (qa-data lines written before it did).

FEATURES = ["first_stage", "coverage", "window", "bigrams", "title", "same_document", "title_precision"]

STOP_WORDS = sorted(set("""a about after all also an and any are as at be been before being between but by can could
did do does during for from had has have he her him his how i in into is it its many may me might more most much must
my no not of on one or other our over s shall she should some such than that the their them then there these they
this those to under us was we were what when where which who whom whose why will with would yes you your""".split()))

SUFFIXES = ["ing", "ed", "es", "s"]


def spec(window=12, rank_k=10, weights=None):
    """A ranker.json object: the features, their parameters and the weights (zeros when none are given)."""
    return {"format": "retro-ranker", "format_version": 1, "features": list(FEATURES),
            "weights": [float(w) for w in (weights if weights is not None else [0.0] * len(FEATURES))],
            "window": int(window), "rank_k": int(rank_k), "stop_words": list(STOP_WORDS),
            "suffixes": list(SUFFIXES), "min_stem": 3}


def check_spec(s):
    """Raises ValueError unless `s` is a ranker.json object this code reads."""
    if s.get("format") != "retro-ranker" or s.get("format_version") != 1:
        raise ValueError("not a retro-ranker format_version 1 object")
    if s.get("features") != FEATURES or len(s.get("weights", [])) != len(FEATURES):
        raise ValueError(f"features must be {FEATURES} with one weight each")
    if not all(isinstance(w, (int, float)) and math.isfinite(w) for w in s["weights"]):
        raise ValueError("weights must be finite numbers")
    if int(s["window"]) < 1 or int(s["rank_k"]) < 0 or int(s["min_stem"]) < 0:
        raise ValueError("window >= 1, rank_k >= 0 and min_stem >= 0")


def _word_char(c):
    return ord(c) <= 0xFFFF and (unicodedata.category(c)[0] == "L" or unicodedata.category(c) == "Nd")


def _lower(c):
    low = c.lower()
    return low if len(low) == 1 else c


def words(text):
    """Runs of letters and decimal digits (BMP), lower-cased per character."""
    out, cur = [], []
    for c in text:
        if _word_char(c):
            cur.append(_lower(c))
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def stem(w, s):
    for suf in s["suffixes"]:
        if len(w) > len(suf) + s["min_stem"] and w.endswith(suf):
            return w[: -len(suf)]
    return w


def features(question, candidates, s):
    """(n, len(FEATURES)) float64: the features of `candidates`, a list of (document id, title, text) in first-stage
    order, for `question` under the ranker object `s`."""
    stop = set(s["stop_words"])
    qw = [stem(w, s) for w in words(question) if w not in stop]
    terms = list(dict.fromkeys(qw))
    qbig = set(zip(qw, qw[1:]))
    cw = [[stem(w, s) for w in words(title) + words(text)] for _, title, text in candidates]
    tw = [set(stem(w, s) for w in words(title)) for _, title, _ in candidates]
    tc = [set(stem(w, s) for w in words(title) if w not in stop) for _, title, _ in candidates]
    n = len(candidates)
    sets = [set(ws) for ws in cw]
    df = {t: sum(1 for have in sets if t in have) for t in terms}
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in terms}
    total = sum(idf.values())
    docs = [d for d, _, _ in candidates]
    k, W = s["rank_k"], s["window"]
    out = np.zeros((n, len(FEATURES)))
    for i, ws in enumerate(cw):
        have = sets[i]
        f = out[i]
        f[0] = (k + 1) / (k + 1 + i)
        f[5] = (docs.count(docs[i]) - 1) / n
        f[6] = len(tc[i] & set(terms)) / len(tc[i]) if tc[i] else 0.0
        if total <= 0:
            continue
        f[1] = sum(idf[t] for t in terms if t in have) / total
        best = 0.0
        for a in range(max(1, len(ws) - W + 1)):
            win = set(ws[a:a + W])
            best = max(best, sum(idf[t] for t in terms if t in win))
        f[2] = best / total
        f[3] = len(qbig & set(zip(ws, ws[1:]))) / max(1, len(qbig))
        f[4] = sum(idf[t] for t in terms if t in tw[i]) / total
    return out


def scores(question, candidates, s):
    return features(question, candidates, s) @ np.asarray(s["weights"], np.float64)


# -----------------------------------------------------------------------------
# fitting


def line_candidates(ln, tok, titled):
    """(document id, title, text) of a qa-data line's candidates: the title from the candidate's "title" field, else
    (for a dataset in `titled`, whose candidates are "title\\ntext") the decoded text's first line."""
    out = []
    for c in ln.get("candidates") or []:
        text = c["text"] if "text" in c else tok.decode(c["tokens"])
        if "title" in c:
            title = c["title"] or ""
            if title and text.startswith(title + "\n"):
                text = text[len(title) + 1:]
        elif ln.get("dataset", "") in titled and "\n" in text:
            title, text = text.split("\n", 1)
        else:
            title = ""
        out.append((c["doc"], title, text))
    return out


def rank_in_top(order, docs, relevant, depth=10):
    """0-based rank of the first relevant document among the distinct documents of the first `depth` candidates of
    `order` (what Retro.Eval's retrieval task scores: `depth` chunks), `depth` when none is relevant (no gain)."""
    r = doc_rank([docs[i] for i in order[:depth]], relevant)
    return depth if r is None else r


def summarise(ranks):
    """nDCG@10 (one relevant document), recall@1 and MRR@10 of rank_in_top's ranks."""
    r = np.asarray(ranks)
    return {"lines": len(ranks), "ndcg@10": ndcg_at(r, 10), "recall@1": recall_at(r, 1),
            "mrr@10": float(np.mean(np.where(r < 10, 1.0 / (r + 1.0), 0.0))) if len(r) else float("nan")}


def fit_weights(groups, l2, iters, seed=0):
    """Listwise softmax fit. groups: list of (dataset, X (n, F), y (n,) 0/1 with y.sum() > 0). -> weights (F,)."""
    import torch
    torch.manual_seed(seed)
    by = {}
    for ds, X, y in groups:
        by.setdefault(ds, []).append((X, y))
    packed = []
    for ds, items in by.items():
        n = max(len(X) for X, _ in items)
        Xs = np.zeros((len(items), n, items[0][0].shape[1]))
        T = np.zeros((len(items), n))
        M = np.zeros((len(items), n), bool)
        for j, (X, y) in enumerate(items):
            Xs[j, :len(X)], T[j, :len(y)], M[j, :len(X)] = X, y / y.sum(), True
        packed.append((torch.tensor(Xs), torch.tensor(T), torch.tensor(M)))
    w = torch.zeros(groups[0][1].shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = l2 * (w * w).sum()
        for X, T, M in packed:
            s = (X @ w).masked_fill(~M, float("-inf"))
            loss = loss - (T * torch.log_softmax(s, 1).masked_fill(~M, 0.0)).sum(1).mean() / len(packed)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy()


def run(cfg):
    from tokenizers_ref import ByteLevelBPE
    lines_path = cfg["fr_lines"] or os.path.join(cfg["out_dir"], "qa", "train.jsonl")
    tok_path = cfg["fr_tokenizer"] or os.path.join(cfg["out_dir"], "tokenizer.json")
    out = cfg["fr_out"] or os.path.join(cfg["out_dir"], "ranker")
    titled = set(filter(None, cfg["fr_titled"].split(",")))
    t0 = time.time()
    tok = ByteLevelBPE.load(tok_path)
    s = spec(cfg["fr_window"], cfg["fr_rank_k"])
    fit, tune = [], []
    skipped = 0
    lines = read_lines(lines_path)
    check_held_out(lines)  # evaluation material is never fitted or measured on here
    for ln in lines:
        cands = line_candidates(ln, tok, titled)
        relevant = relevant_of(ln)
        y = np.array([d in relevant for d, _, _ in cands], np.float64)
        if not cands or y.sum() == 0:
            skipped += 1
            continue
        item = (ln.get("dataset", ""), features(ln["question"], cands, s), y, [d for d, _, _ in cands], relevant)
        (tune if is_tuning(ln, cfg["fr_tune_frac"]) else fit).append(item)
    if not fit:
        raise SystemExit(f"{lines_path}: no line with candidates and a relevant one among them")
    print(f"{len(fit)} fitting lines, {len(tune)} tuning lines, {skipped} without a relevant candidate "
          f"({time.time() - t0:.0f} s)")
    w = fit_weights([(ds, X, y) for ds, X, y, _, _ in fit], cfg["fr_l2"], cfg["fr_iters"])
    s["weights"] = [float(round(v, 6)) for v in w]
    table = {}
    for ds in sorted({it[0] for it in tune}):
        items = [it for it in tune if it[0] == ds]
        first = [rank_in_top(list(range(len(d))), d, rel) for _, _, _, d, rel in items]
        ranked = []
        for _, X, _, d, rel in items:
            sc = X @ w
            order = sorted(range(len(d)), key=lambda i: (-sc[i], i))
            ranked.append(rank_in_top(order, d, rel))
        table[ds] = {"first stage": summarise(first), "ranker": summarise(ranked)}
    for ds, rows in table.items():
        for name, m in rows.items():
            print(f"{ds:>20} {name:>12}: nDCG@10 {m['ndcg@10']:.3f}  recall@1 {m['recall@1']:.3f}  MRR@10 "
                  f"{m['mrr@10']:.3f}  ({m['lines']} lines)")
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "ranker.json"), s)
    sha = hashlib.sha256(json.dumps(s, sort_keys=True).encode()).hexdigest()[:12]
    metrics = {"lines": lines_path, "fitting_lines": len(fit), "tuning_lines": len(tune), "skipped_lines": skipped,
               "weights": dict(zip(FEATURES, s["weights"])), "tuning": table, "seconds": round(time.time() - t0, 1),
               "ranker_sha256": sha, "config": {k: cfg[k] for k in DEFAULTS}}
    write_json(os.path.join(out, "metrics.json"), metrics)
    with open(os.path.join(out, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card(metrics))
    print("weights " + ", ".join(f"{k} {v:+.3f}" for k, v in metrics["weights"].items()))
    print(f"wrote {out}/ranker.json")
    return metrics


def card(m):
    """The ranker folder's MODEL_CARD.md: what it is, its weights, its fit and its figures on the tuning lines."""
    rows = "\n".join(f"| {ds} | {name} | {r['lines']} | {r['ndcg@10']:.3f} | {r['recall@1']:.3f} | {r['mrr@10']:.3f} |"
                     for ds, t in m["tuning"].items() for name, r in t.items())
    weights = "\n".join(f"| `{k}` | {v:+.3f} |" for k, v in m["weights"].items())
    return f"""# Retro learned ranker

The service's default reranker (`Retro:Models:Reranker` = `models/ranker`): a linear model over lexical match
features of (question, candidate) and the first stage's order, which reorders the first stage's candidates
(`Retro.Core.Ranking.LexicalRanker`; the file format and the features: docs/model-format.md, "The learned ranker").
No neural weights: a call over 16 candidates takes well under a millisecond on one core.

## Weights

| feature | weight |
|---|---:|
{weights}

## Fit

`src/training/fit_ranker.py`: listwise softmax over each line's candidates, cross-entropy against the relevant ones,
every dataset weighing the same, L2 {m['config']['fr_l2']}, L-BFGS. Lines: `{m['lines']}`, the *training* questions
with the product's own first-stage candidates (Retro.Eval qa-data --candidates 16, hybrid search): definition questions
about training entries (an entry whose SHA-1 of the url ends in 0 is held out and never in them) and SQuAD questions
of the training articles (the held-out articles never are). {m['fitting_lines']} lines fitted; {m['tuning_lines']}
kept out of the fit (a stable hash of dataset and question id, share {m['config']['fr_tune_frac']}) measure it;
{m['skipped_lines']} lines had no relevant candidate. {m['seconds']:.0f} s on one core.

## Metrics on the kept-out training lines (lines with a relevant candidate; ranking of their 16 candidates)

| dataset | ranking | lines | nDCG@10 | recall@1 | MRR@10 |
|---|---|---:|---:|---:|---:|
{rows}

Held-out figures (definition questions about held-out entries, SQuAD held-out articles): docs/reports/retro-fit/README.md.

## Reproduce

From the QA lines of `src/training/retrofit_cpu.sh` (its `qa-data` stage), whose `ranker` stage runs

```
/usr/bin/python3 src/training/fit_ranker.py src/training/config/retrofit_cpu.py
```

and whose export stage copies `runs/fit/ranker/ranker.json` and this card here. The fit is deterministic.
"""


if __name__ == "__main__":
    run(configure(DEFAULTS, sys.argv[1:]))
