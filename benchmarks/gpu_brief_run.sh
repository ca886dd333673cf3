#!/usr/bin/env bash
# A brief CUDA run of forgery_d2's GPU path on synthetic figures (issue 10, deliverable 4):
#   1. the R-50 config (configs/forgery_R_50_FPN.yaml) trained briefly at its per-GPU share of the
#      reference batch (16 images on 8 GPUs = 2 per GPU), then evaluated: seconds per iteration and
#      peak memory give the expected cost of the full schedule, the final metrics say where a short
#      run from scratch stands;
#   2. the dense network of `make demo` (configs/dense/dense_mnv3_quick.yaml) trained 5x longer than
#      the demo's CPU budget, on the demo's figures and on 3.3x more figures, its held-out image AUC
#      and oF1 read at several iterations (benchmarks/fit_vs_generalize.py): is the network limited
#      by the CPU budget, or by its design?
#
#   bash benchmarks/gpu_brief_run.sh OUTDIR        # on a machine with a CUDA GPU, forgery_d2 installed
#
# Knobs (environment): PY (python); R50_ITERS (300; 0 skips the R-50 run); DENSE_ITERS (3000; 0
# skips the dense runs), DENSE_EVAL_AT ("600 1500 3000"), DENSE_OPTS (more config overrides for the
# dense runs, e.g. the input size), DENSE_TAG (a suffix for their output folders); SMALL_CASES (600,
# the demo's), LARGE_CASES (2000; 0 skips the larger run); WORKERS (nproc - 2).
# Everything lands in OUTDIR: data_small/ and data_large/, r50/ (detectron2's log and metrics.json),
# dense_cases*/results.jsonl. Raw output of the run on an H200: docs/results/gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTDIR="${1:?usage: gpu_brief_run.sh OUTDIR}"
PY="${PY:-python}"
R50_ITERS="${R50_ITERS:-300}"
DENSE_ITERS="${DENSE_ITERS:-3000}"
DENSE_EVAL_AT="${DENSE_EVAL_AT:-600 1500 3000}"
SMALL_CASES="${SMALL_CASES:-600}"
LARGE_CASES="${LARGE_CASES:-2000}"
WORKERS="${WORKERS:-$(($(nproc) > 3 ? $(nproc) - 2 : 1))}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
mkdir -p "$OUTDIR"

step() { printf '\n=== %s (%s) ===\n' "$*" "$(date +%H:%M:%S)"; }

step "environment"
nvidia-smi -L || echo "nvidia-smi: no GPU listed"
"$PY" -c "import torch, detectron2, forgery_d2; print('torch', torch.__version__, 'CUDA', torch.version.cuda, \
'available', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''); \
print('detectron2', detectron2.__version__, 'forgery_d2', forgery_d2.__version__)"

figures() {  # figures ROOT CASES SEED: the realistic synthetic figures under ROOT/figures
  [ -f "$1/figures/solution.csv" ] && return
  "$PY" tools/make_synthetic.py --style figures --output "$1/figures" --num-images "$2" --num-test 60 \
    --seed "$3" --workers "$WORKERS" --overwrite --no-progress
}
step "synthetic figures: $SMALL_CASES cases (the demo's, seed 0) and $LARGE_CASES cases (seed 1)"
figures "$OUTDIR/data_small" "$SMALL_CASES" 0
[ "$LARGE_CASES" -gt 0 ] && figures "$OUTDIR/data_large" "$LARGE_CASES" 1

r50() {
  step "R-50-FPN (configs/forgery_R_50_FPN.yaml), $R50_ITERS iterations at 2 images per GPU, then evaluated"
  # REFERENCE_WORLD_SIZE 0: the per-GPU share of the 8-GPU recipe is set by hand (batch 2, LR 0.02 / 8)
  # instead of detectron2 rescaling the 24k-iteration schedule to 192k iterations for one GPU.
  FORGERY_DATASETS="$OUTDIR/data_small" "$PY" tools/train_net.py --config-file configs/forgery_R_50_FPN.yaml \
  --num-gpus 1 DATASETS.TRAIN '("forgery_figures_train",)' DATASETS.TEST '("forgery_figures_val",)' \
  SOLVER.REFERENCE_WORLD_SIZE 0 SOLVER.IMS_PER_BATCH 2 SOLVER.BASE_LR 0.0025 \
  SOLVER.MAX_ITER "$R50_ITERS" SOLVER.WARMUP_ITERS "$((R50_ITERS / 3))" SOLVER.STEPS "($((R50_ITERS * 3 / 4)),)" \
  SOLVER.CHECKPOINT_PERIOD 100000 TEST.EVAL_PERIOD 0 FORGERY.HOOKS.VAL_LOSS.PERIOD 0 \
  FORGERY.HOOKS.SEPARABILITY.PERIOD 0 DATALOADER.NUM_WORKERS "$WORKERS" OUTPUT_DIR "$OUTDIR/r50"
}
[ "$R50_ITERS" -gt 0 ] && r50

dense() {  # dense NAME ROOT: the demo's dense network, DENSE_ITERS iterations, held-out curve
  # shellcheck disable=SC2086  # DENSE_EVAL_AT and DENSE_OPTS are lists
  "$PY" benchmarks/fit_vs_generalize.py --config-file configs/dense/dense_mnv3_quick.yaml --name "$1" \
    --train-cases 0 --iters "$DENSE_ITERS" --eval-at $DENSE_EVAL_AT --val-images 0 \
    --datasets-root "$2" --output "$OUTDIR/$1" \
    MODEL.COPY_EVIDENCE.CACHE_DIR "$OUTDIR/$1/copy_evidence_cache" DATALOADER.NUM_WORKERS "$WORKERS" \
    ${DENSE_OPTS:-}
}
if [ "$DENSE_ITERS" -gt 0 ]; then
  step "dense network, $DENSE_ITERS iterations, on the demo's $SMALL_CASES cases ${DENSE_OPTS:-}"
  dense "dense_cases$SMALL_CASES${DENSE_TAG:-}" "$OUTDIR/data_small"
  if [ "$LARGE_CASES" -gt 0 ]; then
    step "dense network, $DENSE_ITERS iterations, on $LARGE_CASES cases ${DENSE_OPTS:-}"
    dense "dense_cases$LARGE_CASES${DENSE_TAG:-}" "$OUTDIR/data_large"
  fi
fi
step "done"
