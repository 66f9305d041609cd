#!/usr/bin/python3
"""Python side of the `bm25` benchmark (run by tests/Retro.Benchmarks/VectorStore/Bm25Suite.cs).

A straightforward BM25 in Python + NumPy over the terms the C# analyzer produced (so both sides score the same
tokens): an inverted index (term -> NumPy arrays of document indices and term frequencies), then per query
scores[docs] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)) for each query term, and the top k by
argpartition + sort (ties: lower document index first). Same formulas as Retro.Core.Bm25 (Lucene's idf).

Input (little-endian int32): documents file = n, then per document: length, distinct, distinct x (term uint32, tf);
queries file = m, then per query: count, count x term uint32 (repeats kept).
Prints one JSON object per line: {"build_s": ...}, then {"rep": i, "qps": ...}; writes the top-10 document indices
of every query (int32, m x 10, -1 padded) to the output path.
"""
import json
import sys
import time

import numpy as np


def read_documents(path):
    data = np.fromfile(path, dtype="<u4")
    n = int(data[0])
    pos = 1
    docs = []
    for _ in range(n):
        length, distinct = int(data[pos]), int(data[pos + 1])
        pos += 2
        pairs = data[pos:pos + 2 * distinct]
        pos += 2 * distinct
        docs.append((length, pairs[0::2].tolist(), pairs[1::2].tolist()))
    return docs


def read_queries(path):
    data = np.fromfile(path, dtype="<u4")
    m = int(data[0])
    pos = 1
    queries = []
    for _ in range(m):
        count = int(data[pos])
        queries.append(data[pos + 1:pos + 1 + count].tolist())
        pos += 1 + count
    return queries


class Bm25:
    def __init__(self, docs, k1, b):
        self.k1, self.b = k1, b
        postings = {}
        lengths = np.empty(len(docs), dtype=np.float32)
        for i, (length, terms, tfs) in enumerate(docs):
            lengths[i] = length
            for t, tf in zip(terms, tfs):
                entry = postings.get(t)
                if entry is None:
                    postings[t] = entry = ([], [])
                entry[0].append(i)
                entry[1].append(tf)
        self.n = len(docs)
        avgdl = float(lengths.mean()) if self.n else 1.0
        self.norm = (k1 * (1.0 - b + b * lengths / avgdl)).astype(np.float32)
        self.postings = {}
        for t, (d, tf) in postings.items():
            df = len(d)
            idf = np.float32(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5)))
            self.postings[t] = (np.asarray(d, dtype=np.int64), np.asarray(tf, dtype=np.float32), idf)

    def search(self, query, k):
        scores = np.zeros(self.n, dtype=np.float32)
        for t in query:
            entry = self.postings.get(t)
            if entry is None:
                continue
            d, tf, idf = entry
            scores[d] += idf * tf * (self.k1 + 1.0) / (tf + self.norm[d])
        hit = np.flatnonzero(scores)
        if hit.size == 0:
            return hit
        if hit.size > k:
            part = np.argpartition(-scores[hit], k - 1)[:k]
            hit = hit[part]
        order = np.lexsort((hit, -scores[hit]))
        return hit[order]


def main():
    docs_path, queries_path, out_path, k1, b, k, reps = sys.argv[1:8]
    k1, b, k, reps = float(k1), float(b), int(k), int(reps)
    docs = read_documents(docs_path)
    queries = read_queries(queries_path)
    t0 = time.perf_counter()
    index = Bm25(docs, k1, b)
    print(json.dumps({"build_s": time.perf_counter() - t0, "terms": len(index.postings)}), flush=True)
    top = np.full((len(queries), 10), -1, dtype=np.int32)
    for rep in range(reps):
        t0 = time.perf_counter()
        for qi, q in enumerate(queries):
            result = index.search(q, k)
            if rep == 0:
                n = min(10, result.size)
                top[qi, :n] = result[:n]
        elapsed = time.perf_counter() - t0
        print(json.dumps({"rep": rep, "qps": len(queries) / elapsed}), flush=True)
    top.tofile(out_path)


if __name__ == "__main__":
    main()
