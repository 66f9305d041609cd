#!/usr/bin/env bash
# On the GPU machine, from the repository root: the pipeline, time-boxed. Inputs in .gpu/ (gpu/prepare.sh); outputs in
# $OUT (the device tool's folder). Env: BUDGET (s, whole script), STAGES (default encoder,neighbours,retro,qa,copy,export,pack),
# RESERVE (s kept after RETRO for QA, the copy table, export and packing).
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-560}
STAGES=${STAGES:-encoder,neighbours,retro,qa,copy,export,pack}
OUTD=${OUT:-/tmp/out}; mkdir -p "$OUTD"
exec > >(tee -a "$OUTD/log.txt") 2>&1
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
has() { [[ ",$STAGES," == *",$1,"* ]]; }
stage() { echo "== $1 at $(( $(date +%s) - T0 )) s, $(left) s left"; }
run() { local t=$1; shift; timeout "$t" "$@"; local rc=$?; echo "-- rc=$rc"; return $rc; }
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
CFG=$PWD/.gpu/h200_10min.py
R=runs/gpu
mkdir -p $R/tokens $R/qa
cp .gpu/tokenizer.json $R/ && cp .gpu/tokens/validation.safetensors .gpu/tokens/*.json* $R/tokens/ 2>/dev/null
[ -f $R/tokens/train.safetensors ] || xz -d -T0 -c .gpu/tokens/train.safetensors.xz > $R/tokens/train.safetensors
[ -f .gpu/qa/train.jsonl.xz ] && xz -d -c .gpu/qa/train.jsonl.xz > $R/qa/train.jsonl
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)"

if has encoder; then stage encoder; run ${ENC_T:-200} $PY src/training/train_encoder.py "$CFG" --out_dir=$R || exit 3; fi
if has neighbours; then stage neighbours; run ${NB_T:-120} $PY src/training/neighbours.py "$CFG" --out_dir=$R || exit 4; fi
if has retro; then
  stage retro-calibrate
  run 150 $PY src/training/train_retro.py "$CFG" --out_dir=$R --lm_steps=100000 --lm_max_steps_this_run=80 \
      --lm_eval_every=0 --lm_log_every=10 > /tmp/cal.txt 2>&1; rc=$?
  cat /tmp/cal.txt; [ $rc = 0 ] || exit 5
  SPS=$(sed -nE 's/^retro step ([0-9]+):.*\(([0-9]+) s\)$/\1 \2/p' /tmp/cal.txt | awk '$1==10{a=$2} $1==70{b=$2} END{ if (b>a) printf "%.4f", (b-a)/60; else print "0.15" }')
  RESERVE=${RESERVE:-210}
  N=$(awk -v l=$(left) -v r=$RESERVE -v s=$SPS 'BEGIN{n=int((l-r)/s); if(n<100)n=100; print 80+n}')
  echo "retro: ${SPS} s/step, training to step $N"
  stage retro
  run $(( $(left) - RESERVE + 60 )) $PY src/training/train_retro.py "$CFG" --out_dir=$R --lm_steps=$N --lm_resume=True --lm_ckpt_every=400 --lm_final_eval_windows=512
fi
if has qa && [ -f $R/qa/train.jsonl ]; then
  stage qa
  run $(( $(left) - 110 )) $PY src/training/train_qa.py "$CFG" --out_dir=$R
fi
if has copy; then
  # the neighbour copy's table, fitted on windows of the train split (no held-out entry) into the decoder's config
  stage copy
  STAGE=retro; [ -f $R/qa/model_ckpt/index.json ] && STAGE=qa
  run 90 $PY src/training/fit_copy.py "$CFG" --out_dir=$R --fc_model=$R/$STAGE/model_ckpt --fc_out=$R/eval/copy-fit.json
fi
if has export; then
  stage export
  rm -rf $R/models
  STAGE=retro; [ -f $R/qa/model_ckpt/index.json ] && STAGE=qa
  run 60 $PY src/training/export.py --run $R --out $R/models --retro_stage $STAGE \
      --command "src/training/gpu/run.sh (config/h200_10min.py; see src/training/gpu/README.md)"
fi
if has pack; then
  stage pack
  tar -cf "$OUTD/metrics.tar" -C $R $(cd $R && ls -d */metrics.json neighbours/report.json */loss.csv */loss.png 2>/dev/null)
  [ -d $R/models ] && tar -cf /tmp/models.tar -C $R models && split -b 15M -d /tmp/models.tar "$OUTD/models.tar."
  ls -la "$OUTD"
fi
echo "== done at $(( $(date +%s) - T0 )) s"
