"""
Training and evaluation pairs for the bi-encoder and the cross-encoder, and retrieval metrics.

Pair sources (each pair: query ids, positive ids, group id; pairs of the same group are never used as each
other's negatives):
  chunks    neighbouring chunks of a document: (chunk c, chunk c+1), both inside the same document
  titles    title or heading with its section, dictionary headword with its definition: (first line, the rest)
  squad     SQuAD v2 question with its paragraph, split by article: held-out articles (fixed, written to
            squad_split.json) are only used for evaluation
Ids are byte-level BPE ids of the decoder's tokenizer (the encoder shares its vocabulary); encoder inputs are
`S ids S` with S = <|endoftext|> (bert_tokenizer_json's template).
"""

import gzip
import json
import os

import numpy as np
import torch

from common import SHARED_DATA, load_tokens

SQUAD = os.path.join(SHARED_DATA, "squad-v2.0-dev-cs224n", "dev-v2.0.json")


class Pairs:
    """Parallel lists: queries, positives (lists of ids), groups (hashable), sources (str)."""

    def __init__(self):
        self.queries, self.positives, self.groups, self.sources = [], [], [], []

    def add(self, q, p, group, source):
        if len(q) and len(p):
            self.queries.append(list(q))
            self.positives.append(list(p))
            self.groups.append(group)
            self.sources.append(source)

    def extend(self, other):
        for q, p, g, s in zip(other.queries, other.positives, other.groups, other.sources):
            self.add(q, p, g, s)

    def __len__(self):
        return len(self.queries)

    def counts(self):
        out = {}
        for s in self.sources:
            out[s] = out.get(s, 0) + 1
        return out


def corpus_pairs(token_path, tok, m, max_len, max_chunk_pairs=None, max_title_pairs=None, seed=0):
    """Pairs from a token file (pretokenize.py): neighbouring chunks and titles. Deterministic."""
    data = load_tokens(token_path)
    tokens, offs = data["tokens"], data["doc_offsets"]
    docs_path = token_path.replace(".safetensors", ".docs.jsonl.gz")
    infos = []
    if os.path.exists(docs_path):
        with gzip.open(docs_path, "rt", encoding="utf-8") as f:
            infos = [json.loads(line) for line in f]
    rng = np.random.default_rng(seed)
    pairs = Pairs()
    name = os.path.basename(token_path)
    # neighbouring chunks inside one document (document-local grid from the document start)
    cands = []
    for d in range(len(offs) - 1):
        a, b = int(offs[d]), int(offs[d + 1]) - 1  # EOS excluded
        for s in range(a, b - 2 * m + 1, m):
            cands.append((s, d))
    order = rng.permutation(len(cands))
    if max_chunk_pairs is not None:
        order = order[:max_chunk_pairs]
    for i in sorted(order):
        s, d = cands[i]
        pairs.add(tokens[s:s + m], tokens[s + m:s + 2 * m], (name, "doc", d), "chunks")
    # titles / headwords
    titled = [d for d, info in enumerate(infos) if info.get("title")]
    if max_title_pairs is not None:
        titled = sorted(rng.permutation(titled)[:max_title_pairs].tolist()) if titled else []
    for d in titled:
        q = tok.encode(infos[d]["title"])[: max_len - 2]
        body_start = int(offs[d]) + len(tok.encode(infos[d]["title"] + "\n"))
        body = tokens[body_start:min(int(offs[d + 1]) - 1, body_start + max_len - 2)]
        pairs.add(q, body, (name, "doc", d), "titles")
    return pairs


def squad_articles(path=SQUAD):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["data"]


def squad_split(articles, heldout_every=4):
    """Held-out articles: every heldout_every-th article by title order (fixed, deterministic)."""
    titles = sorted(a["title"] for a in articles)
    held = titles[heldout_every - 1::heldout_every]
    return {"heldout_articles": held, "train_articles": [t for t in titles if t not in held],
            "rule": f"sorted titles, every {heldout_every}th held out"}


def squad_data(tok, max_len, split, path=SQUAD, max_train=None, max_heldout=None):
    """-> paragraphs (list of ids, all articles), train Pairs (all questions of train articles, answerable or
    not: each was written about its paragraph), held-out answerable questions [(ids, paragraph index)].
    max_train / max_heldout keep every n-th question so that at most that many remain (smoke runs)."""
    held = set(split["heldout_articles"])
    paragraphs, train, heldout = [], Pairs(), []
    for art in squad_articles(path):
        for para in art["paragraphs"]:
            pid = len(paragraphs)
            paragraphs.append(tok.encode(para["context"])[: max_len - 2])
            for qa in para["qas"]:
                q = tok.encode(qa["question"])[: max_len - 2]
                if art["title"] in held:
                    if not qa.get("is_impossible"):
                        heldout.append((q, pid))
                else:
                    train.add(q, paragraphs[pid], ("squad", pid), "squad")
    if max_train is not None and len(train) > max_train:
        keep = Pairs()
        for i in np.linspace(0, len(train) - 1, max_train).astype(int):
            keep.add(train.queries[i], train.positives[i], train.groups[i], train.sources[i])
        train = keep
    if max_heldout is not None and len(heldout) > max_heldout:
        heldout = [heldout[i] for i in np.linspace(0, len(heldout) - 1, max_heldout).astype(int)]
    return paragraphs, train, heldout


# -----------------------------------------------------------------------------
# batching for BERT inputs


def bert_batch(seqs, sep_id, max_len, device):
    """Single-sequence inputs `S ids S` padded on the right -> ids, mask, type ids (B, L) int64."""
    rows = [[sep_id] + list(map(int, s[: max_len - 2])) + [sep_id] for s in seqs]
    L = max(len(r) for r in rows)
    ids = torch.full((len(rows), L), sep_id, dtype=torch.long)
    mask = torch.zeros((len(rows), L), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids.to(device), mask.to(device), torch.zeros_like(ids).to(device)


def cross_batch(queries, candidates, sep_id, max_len, device, max_query=64):
    """Pair inputs `S q S c S` (type ids 0 then 1), candidate truncated to fit max_len."""
    rows, types = [], []
    for q, c in zip(queries, candidates):
        q = list(map(int, q[:max_query]))
        c = list(map(int, c[: max(1, max_len - len(q) - 3)]))
        rows.append([sep_id] + q + [sep_id] + c + [sep_id])
        types.append([0] * (len(q) + 2) + [1] * (len(c) + 1))
    L = max(len(r) for r in rows)
    ids = torch.full((len(rows), L), sep_id, dtype=torch.long)
    mask = torch.zeros((len(rows), L), dtype=torch.long)
    tt = torch.zeros((len(rows), L), dtype=torch.long)
    for i, (r, t) in enumerate(zip(rows, types)):
        ids[i, :len(r)], mask[i, :len(r)], tt[i, :len(t)] = torch.tensor(r), 1, torch.tensor(t)
    return ids.to(device), mask.to(device), tt.to(device)


@torch.no_grad()
@torch.no_grad()
def embed(model, seqs, sep_id, max_len, device, batch=64, ctx=None):
    """Bi-encoder embeddings (N, H) float32 numpy, L2-normalised (model.embed). Sorted by length for speed."""
    was = model.training
    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.zeros((len(seqs), model.config.hidden_size), np.float32)
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        ids, mask, tt = bert_batch([seqs[i] for i in idx], sep_id, max_len, device)
        if ctx is not None:
            with ctx():
                e = model.embed(ids, mask, tt)
        else:
            e = model.embed(ids, mask, tt)
        out[idx] = e.float().cpu().numpy()
    model.train(was)
    return out


# -----------------------------------------------------------------------------
# metrics


def recall_at(ranks, k):
    """ranks: 0-based rank of the relevant item per query (np array) -> fraction with rank < k."""
    return float(np.mean(np.asarray(ranks) < k)) if len(ranks) else float("nan")


def ndcg_at(ranks, k=10):
    """Single relevant item per query: mean of 1/log2(rank+2) when rank < k else 0 (rank 0-based)."""
    ranks = np.asarray(ranks)
    if not len(ranks):
        return float("nan")
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(gains.mean())


def rank_of(scores, target):
    """0-based rank of column target[i] in row i of scores (ties count against: pessimistic)."""
    scores = np.asarray(scores)
    t = scores[np.arange(len(target)), target]
    return (scores > t[:, None]).sum(1) + (scores == t[:, None]).sum(1) - 1


def dedupe_positives(pairs):
    """Unique positive sequences -> (list of unique ids lists, index of each pair's positive)."""
    keys, uniq, idx = {}, [], []
    for p in pairs.positives:
        key = tuple(p)
        if key not in keys:
            keys[key] = len(uniq)
            uniq.append(p)
        idx.append(keys[key])
    return uniq, np.asarray(idx)
