#!/usr/bin/env bash
# Inputs of gpu/run.sh into .gpu/ (git-ignored, carried to the device): the token files (train xz-compressed), the
# tokenizer, the QA training lines and the config. Fails when the folder exceeds the device tool's 64 MiB.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
run=${RUN:-$repo/runs/fit}
dst=$repo/.gpu
rm -rf "$dst" && mkdir -p "$dst/tokens" "$dst/qa"
cp "$run/tokenizer.json" "$dst/"
cp "$run/tokens/validation.safetensors" "$run/tokens/"*.json* "$dst/tokens/" 2>/dev/null || true
xz -T0 -6 -c "$run/tokens/train.safetensors" > "$dst/tokens/train.safetensors.xz"
[ -f "$run/qa/train.jsonl" ] && xz -T0 -9 -c "$run/qa/train.jsonl" > "$dst/qa/train.jsonl.xz"
cp "$repo/src/training/config/h200_10min.py" "$dst/"
grep -qx '/.gpu/' "$repo/.gitignore" || echo "note: add /.gpu/ to .gitignore" >&2
size=$(du -sb "$dst" | cut -f1)
echo "prepare: $dst holds $((size / 1048576)) MiB"
[ "$size" -le $((64 * 1048576)) ] || { echo "prepare: more than 64 MiB; the device tool carries at most 64 MiB" >&2; exit 1; }
