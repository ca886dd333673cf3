#!/usr/bin/env bash
# Demo-like timing of the network steps (cold copy-evidence cache).
set -euo pipefail
cd /work/wt-network
export FORGERY_DATASETS=/tmp/net/data PYTHONPATH=/work/wt-network OMP_NUM_THREADS=1
OUT=/tmp/net/demo/out
CACHE=/tmp/net/demo/cache
t0=$(date +%s)
.venv/bin/python tools/train_net.py --config-file configs/dense/dense_mnv3_quick.yaml OUTPUT_DIR $OUT MODEL.COPY_EVIDENCE.CACHE_DIR $CACHE
t1=$(date +%s)
.venv/bin/python tools/eval_oF1.py --config-file configs/dense/dense_mnv3_quick.yaml --dataset forgery_figures_val --sweep \
  --sweep-cache $OUT/val_cache.pkl --cache-score-floor 0 --output $OUT/eval_val MODEL.WEIGHTS $OUT/model_final.pth \
  MODEL.COPY_EVIDENCE.CACHE_DIR $CACHE DATALOADER.NUM_WORKERS 1
t2=$(date +%s)
echo "TIMING train_s=$((t1-t0)) eval_val_s=$((t2-t1))"
