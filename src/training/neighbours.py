"""
Neighbours of every chunk of a token file, retrieved from the training corpus (the retrieval database).

    /usr/bin/python3 src/training/neighbours.py config/tiny_cpu.py [--nb_k=2 ...]

File format, <out_dir>/neighbours/<split>.safetensors (small: the GPU run's inputs must fit in 64 MiB, so the
file stores chunk indices into the database's token file, not the neighbour tokens):
  neighbours  (C, k) I32   C = floor(N / m) chunks of the split's token file (the fixed grid tokens[c*m:(c+1)*m]);
                           entry = index j of a chunk of the database token file (train.safetensors), best
                           first; -1 = no neighbour
  scores      (C, k) F32   cosine similarity of the bi-encoder embeddings (-inf for -1)
  __metadata__ chunk_size, neighbour_len, k, database ("train.safetensors"), database_tokens,
               tokenizer_sha256, encoder (its model folder), exclude ("own-documents" for train queries)
Neighbour j's tokens are the database's tokens[j*m : j*m + r] cut at the end of the document holding token j*m
(chunk + continuation, r = neighbour_len); materialize() turns indices into (…, k, r) token ids with -1 padding.

Exclusion (train queries against the train database): neighbours of chunk c condition the predictions of chunk
c+1, so a candidate is excluded when its document is any document touched by chunks c and c+1 (the
"exclude-document" search of the store, widened to the next chunk).

This file is the Python fallback: exact brute-force search over the bi-encoder's chunk embeddings (blocked
matrix products; fine for tiny runs and for a GPU). The C# path produces the same file: `Retro.Indexer` ingests
the train token file's chunks (same grid, the chunk's text decoded from its tokens) with the exported encoder,
stores point id = chunk index and the document id, then searches every chunk with the store's exclude-document
filter and writes these two tensors with the same metadata.
"""

import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import chunk_docs, configure, hardware, load_model, load_tokens, pick_device, write_json  # noqa: E402
from model import from_folder  # noqa: E402
from pairs import embed  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

DEFAULTS = dict(out_dir="runs/tiny", device="auto", chunk_size=64, neighbour_len=128, nb_k=2, nb_batch=256,
                nb_block=4096, nb_splits="train,validation", nb_encoder_folder="", nb_workers=1)
# nb_encoder_folder: an exported bi-encoder folder (config.json + model.safetensors, e.g. models/encoder) to
# retrieve with instead of the run's own <out_dir>/encoder/ckpt.
# nb_workers: processes that embed the database on CPU, each a contiguous share of its chunks with one thread (torch's
# and OpenBLAS's: Debian's libopenblas0-pthread otherwise starts a helper thread per process); 1 = in this process.


def chunk_sequences(tokens, m):
    C = len(tokens) // m
    return [tokens[c * m:(c + 1) * m] for c in range(C)]


def exclusion_ranges(doc_offsets, n_tokens, m):
    """Per query chunk c: the document range [lo, hi] touched by chunks c and c+1."""
    C = n_tokens // m
    lo = np.searchsorted(doc_offsets, np.arange(C) * m, side="right") - 1
    end = np.minimum(np.arange(C) * m + 2 * m - 1, n_tokens - 1)
    hi = np.searchsorted(doc_offsets, end, side="right") - 1
    return lo, hi


def search(queries, db, k, db_doc=None, lo=None, hi=None, block=4096, device="cpu"):
    """Exact inner-product top-k. queries (Q, H), db (C, H) float32 numpy. When db_doc (C,) and lo/hi (Q,) are
    given, db rows with lo[i] <= db_doc <= hi[i] are excluded for query i. -> idx (Q, k) int32 (-1 = none),
    scores (Q, k) float32 (-inf for none)."""
    Q = len(queries)
    kk = min(k, len(db))
    idx = np.full((Q, k), -1, np.int32)
    sc = np.full((Q, k), -np.inf, np.float32)
    if kk == 0 or Q == 0:
        return idx, sc
    D = torch.from_numpy(db).to(device)
    doc = torch.from_numpy(np.asarray(db_doc)).to(device) if db_doc is not None else None
    spare = 16  # excluded candidates are rare: take k + spare, drop the excluded, redo only the rows left short
    for s in range(0, Q, block):
        q = torch.from_numpy(queries[s:s + block]).to(device)
        S = q @ D.t()
        if doc is not None:
            lo_t = torch.from_numpy(np.asarray(lo[s:s + block])).to(device)[:, None]
            hi_t = torch.from_numpy(np.asarray(hi[s:s + block])).to(device)[:, None]
            wide = min(len(db), kk + spare)
            v, i = S.topk(wide, dim=1)
            d = doc[i]
            v = v.masked_fill((d >= lo_t) & (d <= hi_t), float("-inf"))
            by_index = i.argsort(dim=1)  # ties keep the lower database index first
            v, i = v.gather(1, by_index), i.gather(1, by_index)
            v, order = v.sort(dim=1, descending=True, stable=True)
            i = i.gather(1, order)
            short = torch.nonzero(~torch.isfinite(v[:, kk - 1])).flatten()
            if len(short) and wide < len(db):  # more than `spare` excluded among the best: exact search for these rows
                Ss = S[short].masked_fill((doc[None] >= lo_t[short]) & (doc[None] <= hi_t[short]), float("-inf"))
                vs, js = Ss.topk(kk, dim=1)
                v[short, :kk], i[short, :kk] = vs, js
            v, i = v[:, :kk].contiguous(), i[:, :kk].contiguous()
        else:
            v, i = S.topk(kk, dim=1)
        v, i = v.cpu().numpy(), i.cpu().numpy().astype(np.int32)
        i[~np.isfinite(v)] = -1
        idx[s:s + len(q), :kk] = i
        sc[s:s + len(q), :kk] = v
    return idx, sc


def materialize(db_tokens, db_doc_offsets, idx, m, r):
    """Chunk indices (..., k) -> neighbour tokens (..., k, r) int64: db_tokens[j*m : j*m+r] cut at the end of
    the document of token j*m, -1 padded; rows for j = -1 are all -1."""
    idx = np.asarray(idx)
    out = np.full(idx.shape + (r,), -1, np.int64)
    flat_idx, flat_out = idx.reshape(-1), out.reshape(-1, r)
    for n, j in enumerate(flat_idx):
        if j < 0:
            continue
        s = int(j) * m
        d = np.searchsorted(db_doc_offsets, s, side="right") - 1
        e = min(s + r, int(db_doc_offsets[d + 1]))
        flat_out[n, :e - s] = db_tokens[s:e]
    return out


def load_neighbours(path):
    t, meta = load_file(path, with_metadata=True)
    return t["neighbours"].numpy().astype(np.int64), t["scores"].numpy(), meta


def load_encoder(cfg, device):
    """(bi-encoder, its folder): nb_encoder_folder, else the run's own <out_dir>/encoder/ckpt."""
    if cfg["nb_encoder_folder"]:
        return from_folder(cfg["nb_encoder_folder"]).to(device).eval(), cfg["nb_encoder_folder"]
    enc_dir = os.path.join(cfg["out_dir"], "encoder")
    return load_model(os.path.join(enc_dir, "ckpt"))[0].to(device).eval(), enc_dir


def _embed_share(job):
    """A worker's share: chunks lo..hi-1 of the database, embedded with one thread, saved to `path` (.npy)."""
    cfg, lo, hi, path = job
    torch.set_num_threads(1)
    encoder, _ = load_encoder(cfg, "cpu")
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    m = cfg["chunk_size"]
    seqs = chunk_sequences(db["tokens"][lo * m:hi * m], m)
    np.save(path, embed(encoder, seqs, encoder.config.pad_token_id, m + 2, "cpu", batch=cfg["nb_batch"]))
    return path


def embed_database(cfg, encoder, db, device):
    """(C, H) embeddings of the database's chunks, in nb_workers processes on CPU (contiguous shares; each chunk is
    embedded on its own, all of length m, so as one process embeds it up to float rounding)."""
    m, workers = cfg["chunk_size"], int(cfg["nb_workers"])
    chunks = chunk_sequences(db["tokens"], m)
    if workers <= 1 or str(device) != "cpu" or len(chunks) < 2 * workers:
        return embed(encoder, chunks, encoder.config.pad_token_id, m + 2, device, batch=cfg["nb_batch"])
    import multiprocessing
    import tempfile
    bounds = np.linspace(0, len(chunks), workers + 1).astype(int)
    single = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # read by the workers as they start
    saved = {k: os.environ.get(k) for k in single}
    os.environ.update(single)
    try:
        with tempfile.TemporaryDirectory(dir=os.path.join(cfg["out_dir"], "neighbours")) as tmp:
            jobs = [(dict(cfg), int(bounds[i]), int(bounds[i + 1]), os.path.join(tmp, f"share{i}.npy"))
                    for i in range(workers)]
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                paths = pool.map(_embed_share, jobs)
            return np.concatenate([np.load(p) for p in paths])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def compute(cfg):
    device = pick_device(cfg["device"])
    m, r, k = cfg["chunk_size"], cfg["neighbour_len"], cfg["nb_k"]
    out_dir = os.path.join(cfg["out_dir"], "neighbours")
    os.makedirs(out_dir, exist_ok=True)
    encoder, enc_dir = load_encoder(cfg, device)
    sep = encoder.config.pad_token_id  # the <|endoftext|> id (S of the S A S template)
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    t0 = time.time()
    db_emb = embed_database(cfg, encoder, db, device)
    print(f"neighbours: embedded {len(db_emb):,} database chunks in {time.time() - t0:.0f} s", flush=True)
    db_doc, _ = chunk_docs(db["doc_offsets"], len(db["tokens"]), m)
    report = {}
    for split in cfg["nb_splits"].split(","):
        data = db if split == "train" else load_tokens(os.path.join(cfg["out_dir"], "tokens", f"{split}.safetensors"))
        q_emb = db_emb if split == "train" else embed(encoder, chunk_sequences(data["tokens"], m), sep, m + 2,
                                                      device, batch=cfg["nb_batch"])
        if split == "train":
            lo, hi = exclusion_ranges(db["doc_offsets"], len(db["tokens"]), m)
            idx, sc = search(q_emb, db_emb, k, db_doc, lo, hi, cfg["nb_block"], device)
        else:
            idx, sc = search(q_emb, db_emb, k, block=cfg["nb_block"], device=device)
        meta = {"chunk_size": str(m), "neighbour_len": str(r), "k": str(k), "database": "train.safetensors",
                "database_tokens": str(len(db["tokens"])), "tokenizer_sha256": db["meta"].get("tokenizer_sha256", ""),
                "encoder": os.path.relpath(os.path.abspath(enc_dir), os.path.abspath(cfg["out_dir"])),
                "exclude": "own-documents" if split == "train" else "none"}
        save_file({"neighbours": torch.from_numpy(idx), "scores": torch.from_numpy(sc)},
                  os.path.join(out_dir, f"{split}.safetensors"), metadata=meta)
        report[split] = {"chunks": len(idx), "with_neighbours": int((idx[:, 0] >= 0).sum()),
                         "mean_top1_score": float(np.mean(sc[:, 0][np.isfinite(sc[:, 0])])) if len(sc) else None}
        print(f"neighbours {split}: {report[split]}")
    report.update({"wall_seconds": round(time.time() - t0, 1), "hardware": hardware(), "method": "brute-force"})
    write_json(os.path.join(out_dir, "report.json"), report)
    return report


if __name__ == "__main__":
    compute(configure(DEFAULTS, sys.argv[1:]))
