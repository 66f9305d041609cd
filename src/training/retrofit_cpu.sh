#!/usr/bin/env bash
# The one command that reproduces the shipped models on 2 CPU cores from the H200 run of ../shared/runs/h200-2026-12-04:
# corpus and token files, neighbours with the H200 bi-encoder, RETRO-fitting (rope CCA + neighbour encoder on the
# frozen H200 decoder), the QA lines through the product's own retriever (Retro.Eval qa-data), QA training, the
# cross-encoder, the learned ranker (fit_ranker.py, on the QA lines' candidates), the neighbour copy's table (fit_copy.py,
# on fitting text), export to models/. About 4-5 hours on 2 cores; every stage resumes or skips what exists.
#
#   src/training/retrofit_cpu.sh [--stages corpus,tokens,neighbours,retro,qa-data,qa,reranker,ranker,copy,export] [--models DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
py=${PYTHON:-/usr/bin/python3}
stages="corpus,tokens,neighbours,retro,qa-data,qa,reranker,ranker,copy,export"
models=models
while [ $# -gt 0 ]; do
  case "$1" in
    --stages) stages=$2; shift ;;
    --models) models=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
has() { [[ ",$stages," == *",$1,"* ]]; }
step() { echo "== $1 ($(date -u +%H:%M:%S))"; }
cfg=src/training/config/retrofit_cpu.py
run=runs/fit
unset OPENBLAS_CORETYPE
export OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1
# The corpus's dictionary and documentation sources are Debian packages (prepare_corpus.py skips a missing one, which
# would make a different corpus); libopenblas0-pthread: torch on Debian's reference BLAS is ~15x slower;
# python3-matplotlib draws the loss curves the model cards show.
"$repo/.ci/apt-need.sh" dict-gcide wordnet-base dict-foldoc dict-jargon python3.11-doc manpages libopenblas0-pthread \
  python3-matplotlib
mkdir -p $run
if [ ! -f $run/h200/retro/model.safetensors ]; then "$repo/../shared/runs/h200-2026-12-04/assemble.sh" $run/h200; fi
cp -n $run/h200/retro/tokenizer.json $run/tokenizer.json
if has corpus && [ ! -d data/corpus/train ]; then step corpus; "$py" src/training/prepare_corpus.py --out data/corpus; fi
if has tokens && [ ! -f $run/tokens/train.safetensors ]; then
  step tokens; "$py" src/training/pretokenize.py --corpus data/corpus --tokenizer $run/tokenizer.json --out $run/tokens --splits train,validation
fi
if has neighbours && [ ! -f $run/neighbours/validation.safetensors ]; then step neighbours; "$py" src/training/neighbours.py $cfg; fi
if has retro && [ ! -f $run/retro/metrics.json ]; then
  step retro; "$py" src/training/train_retro.py $cfg $( [ -f $run/retro/ckpt/index.json ] && echo --lm_resume=True )
fi
if has qa-data && [ ! -f $run/qa/train.jsonl ]; then
  step qa-data
  mkdir -p data/eval $run/qa
  [ -f data/eval/squad-train.json ] || "$py" src/training/squad_heldout.py --split train --out data/eval/squad-train.json
  "$py" src/training/export.py --run $run --out $run/retrofit-models --dtype fp32 >/dev/null
  dotnet run -c Release --project src/Retro.Eval -- qa-data --config eval/qa-train.json --out $run/qa/train.jsonl --candidates 16
fi
if has qa && [ ! -f $run/qa/metrics.json ]; then
  step qa; "$py" src/training/train_qa.py $cfg $( [ -f $run/qa/ckpt/index.json ] && echo --qa_resume=True )
fi
if has reranker && [ ! -f $run/reranker/metrics.json ]; then step reranker; "$py" src/training/train_reranker.py $cfg; fi
if has ranker && [ ! -f $run/ranker/ranker.json ]; then step ranker; "$py" src/training/fit_ranker.py $cfg; fi
if has copy && [ ! -f $run/eval/copy-fit.json ]; then
  # the neighbour copy's table, fitted on fitting windows through the service's gate, written into the QA stage's config
  step copy; "$py" src/training/fit_copy.py $cfg --fc_model=$run/qa/model_ckpt --lm_neighbour_tail=4 --fc_out=$run/eval/copy-fit.json
fi
if has export; then
  step export
  [ -f $run/eval/retro.json ] || "$py" src/training/eval_retro.py $cfg --eval_model=$run/qa/model_ckpt --lm_neighbour_tail=4 \
    --eval_out=$run/eval/retro.json
  "$py" src/training/export.py --run $run --out "$models" --retro_stage qa --command "src/training/retrofit_cpu.sh" \
    --encoder_folder $run/h200/encoder --encoder_note "# Shipped bi-encoder: the H200 run's (../shared/runs/h200-2026-12-04), unchanged but for BF16 weights

Copied by \`src/training/retrofit_cpu.sh\` (export stage). Its training card follows."
  mkdir -p "$models/ranker"; cp $run/ranker/ranker.json $run/ranker/MODEL_CARD.md "$models/ranker/"
fi
echo "== done"
