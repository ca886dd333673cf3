#!/usr/bin/env bash
# The fusion of the demo's dense network with the figure matcher, measured offline on cached outputs
# (benchmarks/fusion_from_caches.py): every verify_and_add weight, the union, and each part alone.
# Rules are tuned on the validation figures and applied unchanged to two held-out sets: the demo's
# 60 test figures, and 200 test figures of a generator seed nothing was tuned on (2033).
#   bash docs/results/network/fusion/run.sh [BEFORE_TREE]
# BEFORE_TREE (optional): a checkout of the commit before the fusion change (a8fa84b), whose
# benchmarks/fusion_from_caches.py then writes the "before" rows (the same caches).
# MATCHER_TAG (optional, environment): the matcher's caches and the "after" rows get this suffix, so
# a later matcher is measured beside the earlier one on the same network caches:
#   MATCHER_TAG=_stageI bash docs/results/network/fusion/run.sh   (after_stageI_{val,test,2033}.json)
# Needs: make demo's outputs (output/demo/network/model_final.pth, its copy-evidence cache).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
export OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore
PY="$PWD/.venv/bin/python"
C="$PWD/output/fusion_caches"
TAG="${MATCHER_TAG:-}"
R="$PWD/docs/results/network/fusion"
mkdir -p "$C"
NET=(MODEL.WEIGHTS output/demo/network/model_final.pth)
cache() {  # cache NAME DATASET CONFIG [overrides...]: raw outputs of one model on one dataset
  local name="$1" dataset="$2" config="$3"
  shift 3
  [ -f "$C/$name.pkl" ] || "$PY" tools/eval_oF1.py --config-file "$config" --dataset "$dataset" --sweep \
    --sweep-cache "$C/$name.pkl" --cache-score-floor 0 --output "$C/eval_$name" "$@" OUTPUT_DIR "$C/$name"
}
for split in val test; do
  cache "net_$split" "forgery_figures_$split" configs/dense/dense_mnv3_quick.yaml "${NET[@]}" \
    MODEL.COPY_EVIDENCE.CACHE_DIR output/demo/copy_evidence_cache
  cache "matcher${TAG}_$split" "forgery_figures_$split" configs/matcher/figure_matcher.yaml
done
HELDOUT=output/fusion_caches/seed2033
[ -f "$HELDOUT/figures/solution.csv" ] || "$PY" tools/make_synthetic.py --style figures --output "$HELDOUT/figures" \
  --num-images 2 --num-test 200 --seed 2033 --workers 2 --no-progress
FORGERY_DATASETS="$PWD/$HELDOUT" cache net_2033 forgery_figures_test configs/dense/dense_mnv3_quick.yaml "${NET[@]}" \
  MODEL.COPY_EVIDENCE.CACHE_DIR "$HELDOUT/copy_evidence_cache"
FORGERY_DATASETS="$PWD/$HELDOUT" cache "matcher${TAG}_2033" forgery_figures_test configs/matcher/figure_matcher.yaml

fuse() {  # fuse TREE PREFIX MODES...: val (tuned there), then test and 2033 with the val rules
  local tree="$1" prefix="$2"
  shift 2
  (cd "$tree" && "$PY" benchmarks/fusion_from_caches.py --network "$C/net_val.pkl" --matcher "$C/matcher${TAG}_val.pkl" \
    "$@" --output "$R/${prefix}_val.json")
  for set in test 2033; do
    (cd "$tree" && "$PY" benchmarks/fusion_from_caches.py --network "$C/net_$set.pkl" --matcher "$C/matcher${TAG}_$set.pkl" \
      "$@" --rules "$R/${prefix}_val.json" --output "$R/${prefix}_$set.json")
  done
}
fuse . "after$TAG" --modes union verify_and_add --verify-weights 0 0.25 0.5 1
[ -z "${1:-}" ] || fuse "$1" before --modes verify_and_add --verify-weights 0.25 0.5
