#!/usr/bin/python3
"""hnswlib side of the `hnsw` benchmark (run by tests/Retro.Benchmarks/VectorStore/HnswSuite.cs).

Reads base vectors, queries and exact neighbours written by the C# side (little-endian: int32 rows, int32 cols,
then rows*cols float32 / int32), builds an hnswlib index with the same M / efConstruction, sweeps ef with 1 and 2
threads and prints one JSON object per line: {"build_s": ...} then {"ef":..,"threads":..,"qps":..,"recall":..}.
With "-" for the ef list it waits for a "build" line on standard input before building, then reads "ef threads reps"
lines and answers each with one point ("quit" or end of input ends).
"""
import json
import sys
import time

import hnswlib
import numpy as np


def read_matrix(path, dtype):
    with open(path, "rb") as f:
        rows, cols = np.frombuffer(f.read(8), dtype="<i4")
        return np.frombuffer(f.read(), dtype=dtype).reshape(rows, cols)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main():
    base_path, query_path, truth_path, m, ef_construction, build_threads, efs, reps = sys.argv[1:9]
    m, ef_construction, build_threads, reps = int(m), int(ef_construction), int(build_threads), int(reps)
    base = read_matrix(base_path, "<f4")
    queries = np.ascontiguousarray(read_matrix(query_path, "<f4"))
    truth = read_matrix(truth_path, "<i4")
    k = truth.shape[1]

    interactive = efs == "-"
    if interactive and sys.stdin.readline().split() != ["build"]:  # the caller's own build comes first
        return
    before = rss_bytes()
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=base.shape[0], M=m, ef_construction=ef_construction, random_seed=100)
    index.set_num_threads(build_threads)
    t0 = time.perf_counter()
    index.add_items(base, np.arange(base.shape[0]))
    build_s = time.perf_counter() - t0
    print(json.dumps({"build_s": build_s, "bytes_per_vector": (rss_bytes() - before) / base.shape[0]}), flush=True)

    def point(ef, threads, reps):
        index.set_ef(ef)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            labels, _ = index.knn_query(queries, k=k, num_threads=threads)
            times.append(time.perf_counter() - t0)
        times.sort()
        hits = sum(len(set(labels[i]) & set(truth[i])) for i in range(len(queries)))
        print(json.dumps({"ef": ef, "threads": threads, "qps": len(queries) / times[len(times) // 2],
                          "recall": hits / (len(queries) * k)}), flush=True)

    if interactive:
        # interactive: one "ef threads reps" line per point, so that the caller measures its side and this one alternately
        # under the same conditions; "quit" or end of input ends
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            point(int(words[0]), int(words[1]), int(words[2]))
        return
    for ef in [int(e) for e in efs.split(",")]:
        for threads in (1, 2):
            point(ef, threads, reps)


if __name__ == "__main__":
    main()
