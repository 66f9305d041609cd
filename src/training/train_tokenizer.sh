#!/usr/bin/env bash
# Trains the product tokenizer (byte-level BPE, 16,384 tokens, <|endoftext|> = 0) with the C# trainer
# (src/Retro.Tokenizers/Training/BpeTrainer) on the training shards.
#   src/training/train_tokenizer.sh CORPUS_TRAIN_DIR OUT/tokenizer.json [VOCAB]
# Until a `retro tokenizer train` CLI exists, this goes through the benchmark suite's tokenizer command, which
# trains on every *.json.gz shard under the folder (--mb caps the bytes fed; 0 repeats are needed for a
# ~100 MB corpus) and then also reports encode speed.
set -euo pipefail
corpus=${1:?corpus train folder}; out=${2:?output tokenizer.json}; vocab=${3:-16384}
repo=$(cd "$(dirname "$0")/../.." && pwd)
mb=$(du -sm --apparent-size "$corpus" | cut -f1)
mb=$(( mb * 4 ))  # shards are gzip-compressed (~4x)
dotnet run --project "$repo/tests/Retro.Benchmarks" -c Release -- tokenizer --data "$corpus" --vocab "$vocab" \
    --mb "$mb" --threads "$(nproc)" --out "$out"
