#!/usr/bin/env python
"""Benchmark: the screening report (forgery_d2.report.write_report) on thousands of figures.

  python scripts/make_report_demo.py --output output/report_demo
  OMP_NUM_THREADS=1 python benchmarks/bench_report.py --demo output/report_demo \
      --figures 5000 --flagged 0.3 --large 0.01 --output output/bench_report \
      --json docs/results/bench_report.json

Builds a ``predictions.jsonl`` of ``--figures`` records by repeating the demo's records (the
keypoint matcher's real instances on real figures, 300-700 px) under new case_ids, with a
``--flagged`` fraction of flagged figures; a ``--large`` fraction of the flagged ones are a
4000x3000 figure (upscaled cell.png with a planted half-turned copy; the competition's largest
figures are about this size). Ground truth: a solution CSV of the same rows. Then times
``write_report`` (one process, cv2 and numpy on one thread) and reports seconds per figure and per
flagged figure, peak memory and the output's size (the page, the pictures).
"""

import argparse
import csv
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from forgery_d2.data.synthetic import CopyTransform, plant_copy_move  # noqa: E402
from forgery_d2.data.synthetic.sources import skimage_image_paths  # noqa: E402
from forgery_d2.competition.rle import AUTHENTIC, encode_annotation, rle_encode  # noqa: E402
from forgery_d2.report import write_report  # noqa: E402


def large_template(folder):
    """A 4000x3000 (W x H) figure with one planted half-turned copy, its record and label."""
    grey = np.asarray(Image.open(skimage_image_paths(("cell.png",))[0]).convert("L"))
    big = cv2.resize(grey, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    forged, event = plant_copy_move(
        big, (2000, 1500, 2900, 2400), (300, 300), CopyTransform(rot90=2)
    )
    path = os.path.join(folder, "large_4000x3000.png")
    Image.fromarray(forged).save(path)
    record = {
        "case_id": "large",
        "file_name": path,
        "height": 3000,
        "width": 4000,
        "status": "ok",
        "annotation": encode_annotation([event.mask]),
        "image_score": 0.9,
        "seconds": 20.0,
        "instances": [
            {
                "score": 0.9,
                "mask": rle_encode(event.mask),
                "parts": [
                    {
                        "source": rle_encode(event.source_mask),
                        "copy": rle_encode(event.target_mask),
                        "transform": event.matrix.tolist(),
                        "score": 0.9,
                        "evidence": {
                            "method": "keypoint",
                            "inliers": 120,
                            "verified_pixels": int(event.target_mask.sum()),
                        },
                    }
                ],
            }
        ],
    }
    return record, record["annotation"]


def build(demo, out, figures, flagged_fraction, large_fraction, seed=0):
    """Write ``out/predictions.jsonl`` and ``out/solution.csv``; returns the counts written."""
    with open(os.path.join(demo, "predictions.jsonl")) as f:
        templates = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(demo, "solution.csv"), newline="") as f:
        labels = {row["case_id"]: (row["annotation"], row["shape"]) for row in csv.DictReader(f)}
    flagged = [t for t in templates if t["annotation"] != AUTHENTIC]
    clean = [t for t in templates if t["annotation"] == AUTHENTIC and t["status"] == "ok"]
    unreadable = [t for t in templates if t["status"] == "unreadable"]
    large, large_label = large_template(out)
    rng = np.random.default_rng(seed)
    counts = {"figures": figures, "flagged": 0, "large": 0, "unreadable": 0}
    with (
        open(os.path.join(out, "predictions.jsonl"), "w") as p,
        open(os.path.join(out, "solution.csv"), "w", newline="") as s,
    ):
        solution = csv.writer(s)
        solution.writerow(("case_id", "annotation", "shape"))
        for i in range(figures):
            draw = rng.random()
            if draw < flagged_fraction:
                is_large = rng.random() < large_fraction
                template = large if is_large else flagged[rng.integers(len(flagged))]
                counts["flagged"] += 1
                counts["large"] += is_large
            elif draw > 0.995 and unreadable:
                template = unreadable[0]
                counts["unreadable"] += 1
            else:
                template = clean[rng.integers(len(clean))]
            record = dict(template, case_id=f"{i:06d}")
            if template is large:
                label, shape = large_label, "[3000, 4000]"
            else:
                label, shape = labels[template["case_id"]]
            p.write(json.dumps(record) + "\n")
            solution.writerow((record["case_id"], label, shape))
    return counts


def folder_bytes(folder):
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(folder)
        for name in names
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--demo", default="output/report_demo", help="folder written by scripts/make_report_demo.py"
    )
    parser.add_argument("--figures", type=int, default=5000)
    parser.add_argument("--flagged", type=float, default=0.3, help="fraction of flagged figures")
    parser.add_argument(
        "--large",
        type=float,
        default=0.01,
        help="fraction of the flagged figures that are 4000x3000",
    )
    parser.add_argument("--output", default="output/bench_report")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    os.makedirs(args.output, exist_ok=True)
    counts = build(args.demo, args.output, args.figures, args.flagged, args.large)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = write_report(
        os.path.join(args.output, "predictions.jsonl"),
        os.path.join(args.output, "report"),
        solution=os.path.join(args.output, "solution.csv"),
        progress=False,
    )
    seconds = time.perf_counter() - start
    report = os.path.join(args.output, "report")
    results = {
        "command": " ".join(
            ["OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "unset"), "python"] + sys.argv
        ),
        "counts": counts,
        "seconds": round(seconds, 2),
        "ms_per_figure": round(1000 * seconds / args.figures, 2),
        "ms_per_flagged_figure": round(1000 * seconds / max(1, counts["flagged"]), 1),
        "peak_rss_mb_before": round(rss_before, 1),
        "peak_rss_mb_after": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "index_html_kb": round(os.path.getsize(result.index) / 1024, 1),
        "pictures_mb": round(folder_bytes(os.path.join(report, "figures")) / 2**20, 1),
        "kb_per_flagged_figure": round(
            folder_bytes(os.path.join(report, "figures")) / 1024 / max(1, counts["flagged"]), 1
        ),
        "cards": result.num_cards,
        "oF1": result.metrics["oF1"],
    }
    for key, value in results.items():
        print(f"{key}: {value}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
