#!/usr/bin/env bash
# The one command that reproduces the trained models.
#
#   src/training/run_pipeline.sh --tiny                       # tiny CPU run into runs/tiny (~1-2 min on 2 cores)
#   src/training/run_pipeline.sh                              # full run (config/full_gpu.py) into runs/full, export to models/
#   src/training/run_pipeline.sh --stages retro,export --lm_steps=40000   # some stages, with overrides
#
# Options: --tiny | --config FILE (default config/full_gpu.py) | --out DIR (the run's out_dir) |
#          --models DIR (export target; default models/, runs/tiny/models for --tiny) |
#          --corpus DIR (prepare_corpus.py output; default data/corpus; built with --tiny) |
#          --corpus-only LIST (prepare_corpus.py --only: the sources to build the corpus from) |
#          --stages LIST (of: corpus,tokenizer,tokens,encoder,neighbours,reranker,retro,export; default all) |
#          --key=value (passed to every training stage, e.g. --device=cpu --lm_steps=100)
# Stages: corpus (tiny: pretokenize.py --tiny_corpus; full: prepare_corpus.py if DIR is missing), tokenizer
# (C# trainer via train_tokenizer.sh; tiny: the Python fallback), tokens (pretokenize.py), encoder, neighbours,
# reranker, retro, export. Python: Debian's /usr/bin/python3 (torch 1.13 CPU) or, on a GPU machine, $PYTHON.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=${PYTHON:-/usr/bin/python3}
corpus_only=""; tiny=0; config=""; out=""; models=""; corpus=""; stages="corpus,tokenizer,tokens,encoder,neighbours,reranker,retro,export"
overrides=()
# The command that reproduces this run, for the model cards: every argument but --stages.
repro="src/training/run_pipeline.sh"
args_in=("$@")
for ((i = 0; i < ${#args_in[@]}; i++)); do
  if [ "${args_in[$i]}" = "--stages" ]; then i=$((i + 1)); else repro+=" ${args_in[$i]}"; fi
done
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) tiny=1 ;;
    --config) config=$2; shift ;;
    --out) out=$2; shift ;;
    --models) models=$2; shift ;;
    --corpus) corpus=$2; shift ;;
    --corpus-only) corpus_only=$2; shift ;;
    --stages) stages=$2; shift ;;
    --*=*) overrides+=("$1") ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $tiny = 1 ]; then
  config=${config:-$here/config/tiny_cpu.py}; out=${out:-$repo/runs/tiny}
  corpus=${corpus:-$out/corpus}; models=${models:-$out/models}
else
  config=${config:-$here/config/full_gpu.py}; out=${out:-$repo/runs/full}
  corpus=${corpus:-$repo/data/corpus}; models=${models:-$repo/models}
fi
mkdir -p "$out"
args=("$config" "--out_dir=$out" "${overrides[@]}")
has() { [[ ",$stages," == *",$1,"* ]]; }
step() { echo "== $1 ($(date -u +%H:%M:%S))"; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
t0=$(date +%s)

if has corpus; then
  step corpus
  if [ $tiny = 1 ]; then "$py" "$here/pretokenize.py" --tiny_corpus "$corpus"
  elif [ ! -d "$corpus/train" ]; then "$py" "$here/prepare_corpus.py" --out "$corpus" ${corpus_only:+--only "$corpus_only"}
  else echo "using $corpus"; fi
fi
if has tokenizer; then
  step tokenizer
  if [ $tiny = 1 ]; then "$py" "$here/train_tokenizer.py" --corpus "$corpus/train" --out "$out/tokenizer.json" --vocab 512
  elif [ ! -f "$out/tokenizer.json" ]; then "$here/train_tokenizer.sh" "$corpus/train" "$out/tokenizer.json" 16384
  else echo "using $out/tokenizer.json"; fi
fi
if has tokens; then step tokens; "$py" "$here/pretokenize.py" --corpus "$corpus" --tokenizer "$out/tokenizer.json" --out "$out/tokens"; fi
if has encoder; then step encoder; "$py" "$here/train_encoder.py" "${args[@]}"; fi
if has neighbours; then step neighbours; "$py" "$here/neighbours.py" "${args[@]}"; fi
if has reranker; then step reranker; "$py" "$here/train_reranker.py" "${args[@]}"; fi
if has retro; then step retro; "$py" "$here/train_retro.py" "${args[@]}"; fi
if has export; then
  step export
  "$py" "$here/export.py" --run "$out" --out "$models" --command "$repro"
fi
echo "== done in $(( $(date +%s) - t0 )) s"
