#!/usr/bin/env bash
# Trains the product tokenizer (byte-level BPE, 16,384 tokens, <|endoftext|> = 0) with the C# trainer
# (src/Retro.Tokenizers/Training/BpeTrainer) on the training shards.
#   src/training/train_tokenizer.sh CORPUS_TRAIN_DIR OUT/tokenizer.json [VOCAB]
# Until a `retro tokenizer train` CLI exists, this goes through the benchmark suite's tokenizer command, which
# trains on every *.json.gz shard under the folder (fed once: --mb = the corpus size) and then also reports
# encode speed. Measured on the tiny corpus (0.2 MB, vocab 1024): 3.5 s of training after the build.
set -euo pipefail
corpus=${1:?corpus train folder}; out=${2:?output tokenizer.json}; vocab=${3:-16384}
repo=$(cd "$(dirname "$0")/../.." && pwd)
# uncompressed MB of the shards, so the corpus is fed exactly once (the suite repeats it up to --mb)
mb=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from common import iter_shard_documents as it
print("%.6f" % (sum(len(d["text"].encode()) for d in it(sys.argv[2])) / 1e6))' "$repo/src/training" "$corpus")
dotnet run --project "$repo/tests/Retro.Benchmarks" -c Release -- tokenizer --data "$corpus" --vocab "$vocab" \
    --mb "$mb" --threads "$(nproc)" --out "$out"
