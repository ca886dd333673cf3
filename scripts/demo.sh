#!/usr/bin/env bash
# `make demo`: the main job end to end on built-in data, on CPU, resumable.
#   synthetic dataset -> train the quick config -> tune the decision rule on the synthetic val split
#   (the network alone, and fused with the keypoint matcher) -> submission for the held-out synthetic
#   test images (+ overlays) -> scored side by side with the trivial baselines.
# Re-running skips what is done (dataset, finished training) and resumes an interrupted training.
# Knobs (environment): DEMO_OUT, DEMO_CONFIG, DEMO_FUSION_CONFIG, DEMO_TRAIN_CASES, DEMO_TEST_IMAGES, DEMO_ITERS.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
export FORGERY_DATASETS="${FORGERY_DATASETS:-$PWD/datasets}"
DATA="$FORGERY_DATASETS/synthetic"
OUT="${DEMO_OUT:-output/demo}"
CONFIG="${DEMO_CONFIG:-configs/quick/forgery_R_18_FPN_quick.yaml}"
FUSION_CONFIG="${DEMO_FUSION_CONFIG:-configs/fusion/quick_union.yaml}"
TRAIN_CASES="${DEMO_TRAIN_CASES:-600}"
TEST_IMAGES="${DEMO_TEST_IMAGES:-200}"
ITERS=()
[ -n "${DEMO_ITERS:-}" ] && ITERS=(SOLVER.MAX_ITER "$DEMO_ITERS")
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

step() { printf '\n=== %s ===\n' "$*"; }

step "1/5 synthetic dataset ($DATA)"
if [ -f "$DATA/solution.csv" ]; then
  echo "found $DATA, reusing it (delete it to regenerate)"
else
  # --overwrite: a generation interrupted earlier left folders but no solution.csv.
  "$PY" tools/make_synthetic.py --output "$DATA" --num-images "$TRAIN_CASES" --num-test "$TEST_IMAGES" --seed 0 \
    --workers 2 --overwrite
fi

step "2/5 train $CONFIG -> $OUT"
if [ -f "$OUT/model_final.pth" ]; then
  echo "found $OUT/model_final.pth, training already done"
else
  "$PY" tools/train_net.py --config-file "$CONFIG" --resume OUTPUT_DIR "$OUT" "${ITERS[@]}"
fi

step "3/5 evaluate on forgery_synthetic_val and tune the decision rule: the network, and its fusion with the keypoint matcher"
# The network alone (the trained quick config), then FusionRCNN = the same weights + the
# training-free keypoint matcher (configs/fusion/quick_union.yaml). Each gets its own tuned rule.
"$PY" tools/eval_oF1.py --config-file "$CONFIG" --dataset forgery_synthetic_val --sweep \
  --output "$OUT/eval_val" MODEL.WEIGHTS "$OUT/model_final.pth" OUTPUT_DIR "$OUT"
"$PY" tools/eval_oF1.py --config-file "$FUSION_CONFIG" --dataset forgery_synthetic_val --sweep \
  --output "$OUT/eval_val_fusion" MODEL.WEIGHTS "$OUT/model_final.pth" OUTPUT_DIR "$OUT"

step "4/5 predict the held-out test images -> $OUT/submission.csv (fusion; overlays in $OUT/vis)"
"$PY" tools/predict.py --config-file "$FUSION_CONFIG" --input "$DATA/test_images" --output "$OUT/submission.csv" \
  --overwrite --decision "$OUT/eval_val_fusion/decision.yaml" --vis "$OUT/vis" --gt-masks "$DATA/test_masks" \
  MODEL.WEIGHTS "$OUT/model_final.pth" OUTPUT_DIR "$OUT"
"$PY" tools/predict.py --config-file "$CONFIG" --input "$DATA/test_images" --output "$OUT/submission_network.csv" \
  --overwrite --decision "$OUT/eval_val/decision.yaml" MODEL.WEIGHTS "$OUT/model_final.pth" OUTPUT_DIR "$OUT"

step "5/5 score the submissions against the solution, next to the trivial baselines"
"$PY" tools/eval_oF1.py --solution "$DATA/solution.csv" --submission "$OUT/submission.csv" --output "$OUT/eval_test"
"$PY" tools/compare_submissions.py --solution "$DATA/solution.csv" \
  "network alone (quick R-18-FPN)=$OUT/submission_network.csv" \
  "network + keypoint matcher (fusion)=$OUT/submission.csv" --output "$OUT/comparison.md"
echo
echo "demo outputs in $OUT: model_final.pth, metrics.json, training_curves.png, eval_val*/, submission.csv, vis/, comparison.md"
