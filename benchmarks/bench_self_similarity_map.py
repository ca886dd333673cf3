#!/usr/bin/env python
"""The copy-evidence map alone (forgery_d2.matching.self_similarity_map): how much of the forged
pixels it finds, how much it fires elsewhere, how well its simplest image score separates forged
from authentic figures, and what it costs, at several working sizes.

    OMP_NUM_THREADS=1 python benchmarks/bench_self_similarity_map.py --dataset forgery_figures_val \
        --num-images 120 --max-sizes 256 384 768 2048 --output docs/results/self_similarity_map.json

It answers two questions of docs/TRAINING.md: does the grain cue survive at the resolution the
network sees (256-384 px), and is the map cheap enough to compute per training image? Per working
size (``MODEL.COPY_EVIDENCE.MAX_SIZE``; every other setting as configured), over the first
``--num-images`` images of the dataset (forged and authentic in the dataset's order):

- ``pixel_recall``: share of ground-truth forged pixels with evidence (correlation x votes > 0.3),
  averaged over forged images; ``false_evidence_forged`` / ``false_evidence_authentic``: share of
  the other pixels of forged images / of all pixels of authentic images with evidence;
- ``image_AUC``: ROC-AUC of the image score "share of pixels with evidence" (no learning at all);
- ``seconds_median`` / ``seconds_p95``: time per image (one thread; read from disk excluded).
"""

import argparse
import json
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
from detectron2.data import DatasetCatalog  # noqa: E402

from forgery_d2.config import load_config  # noqa: E402
from forgery_d2.data.builtin import register_builtin_from_config  # noqa: E402
from forgery_d2.data.io import read_image, read_mask  # noqa: E402
from forgery_d2.evaluation.evaluator import roc_auc  # noqa: E402
from forgery_d2.matching.self_similarity_map import SelfSimilarityParams, self_similarity_map  # noqa: E402

EVIDENCE = 0.3  # correlation x votes above which a pixel counts as evidence


def measure(records, params):
    recall, false_forged, false_authentic, scores, labels, seconds = [], [], [], [], [], []
    for _record, image, truth in records:
        start = time.perf_counter()
        maps = self_similarity_map(image, params)
        seconds.append(time.perf_counter() - start)
        evidence = maps[0] * maps[1] > EVIDENCE
        scores.append(float(evidence.mean()))
        labels.append(truth is not None)
        if truth is None:
            false_authentic.append(float(evidence.mean()))
            continue
        truth = (
            cv2.resize(
                truth.astype(np.uint8), evidence.shape[::-1], interpolation=cv2.INTER_NEAREST
            )
            > 0
        )
        recall.append(float(evidence[truth].mean()) if truth.any() else 0.0)
        false_forged.append(float(evidence[~truth].mean()) if (~truth).any() else 0.0)
    auc = roc_auc(labels, scores)
    return {
        "max_size": params.max_size,
        "pixel_recall": float(np.mean(recall)),
        "false_evidence_forged": float(np.mean(false_forged)),
        "false_evidence_authentic": float(np.mean(false_authentic)),
        "image_AUC": auc,
        "seconds_median": float(np.median(seconds)),
        "seconds_p95": float(np.percentile(seconds, 95)),
        "images": len(records),
        "forged": int(sum(labels)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config-file", default="", help="config whose MODEL.COPY_EVIDENCE is measured"
    )
    parser.add_argument("--dataset", default="forgery_figures_val")
    parser.add_argument("--num-images", type=int, default=120)
    parser.add_argument("--max-sizes", type=int, nargs="+", default=[256, 384, 768, 2048])
    parser.add_argument(
        "--datasets-root", default="", help="FORGERY.DATA.ROOT (default $FORGERY_DATASETS)"
    )
    parser.add_argument("--output", help="JSON file for the rows")
    args = parser.parse_args(argv)
    cfg = load_config(
        args.config_file or None,
        ["FORGERY.DATA.ROOT", args.datasets_root] if args.datasets_root else [],
    )
    register_builtin_from_config(cfg)
    records = []
    for record in DatasetCatalog.get(args.dataset)[: args.num_images]:
        image = read_image(record["file_name"], "RGB")
        truth = (
            read_mask(record["mask_file"], image.shape[:2]).any(axis=0)
            if record.get("mask_file")
            else None
        )
        records.append((record, image, truth))
    base = SelfSimilarityParams.from_config(cfg)
    rows = []
    for size in args.max_sizes:
        row = measure(records, base.replace(max_size=size))
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(
                {
                    "command": " ".join(sys.argv),
                    "dataset": args.dataset,
                    "params": base.cache_key(),
                    "rows": rows,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
