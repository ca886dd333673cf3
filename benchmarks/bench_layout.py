#!/usr/bin/env python
"""Box AP of the layout analyzers, side by side, on held-out figures: panel / text / mark.

Reads a layout COCO JSON (``layout_test.json`` of ``tools/make_synthetic.py --style figures``),
runs the classical analyzer and, given its weights, the trained layout detector on every figure,
and scores each with pycocotools' COCOeval (bbox, the official implementation, through
detectron2's ``COCOevalMaxDets`` as ``COCOEvaluator(..., use_fast_impl=False)`` runs it):
AP (IoU 0.50:0.95) and AP50, overall and
per class, at up to ``--max-dets`` boxes per figure, plus seconds per figure (wall time of the
whole analyzer call, ink mask included; the figure is read before the clock starts).

Both analyzers keep every box they are confident enough to report (classical: score >=
MIN_MARK_SCORE; detector: the config's SCORE_THRESH_TEST, analyzer thresholds 0) so that AP sees
the whole precision / recall curve.

    OMP_NUM_THREADS=1 python benchmarks/bench_layout.py --dataset-root datasets/figures \\
        --detector-weights output/layout_R_18_FPN/model_final.pth --output docs/results/bench_layout

Writes ``<output>.json`` (metrics, timings, command, dataset) and ``<output>.md`` (table).
"""

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401
from detectron2.evaluation.coco_evaluation import COCOevalMaxDets  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402

from forgery_d2.config import default_value  # noqa: E402
from forgery_d2.data.io import read_image  # noqa: E402
from forgery_d2.data.layout_coco import LAYOUT_CATEGORIES, check_layout_json  # noqa: E402
from forgery_d2.layout import (  # noqa: E402
    TEXT,
    ClassicalLayoutAnalyzer,
    DetectorLayoutAnalyzer,
    load_detector_config,
)

CLASS_NAMES = [c["name"] for c in LAYOUT_CATEGORIES]


def read_figure(path):
    """A figure as the analyzers take it: uint8 grey, RGB or RGBA, as stored."""
    with Image.open(path) as image:
        if image.mode in ("L", "RGB", "RGBA"):
            return np.asarray(image)
    return read_image(path, "RGB")  # palette, 16-bit...: forgery_d2's reader


def layout_to_coco(layout, image_id):
    """COCO result dicts of a FigureLayout (panels: category 1; text 2; mark 3)."""
    out = []
    for boxes, scores, categories in (
        (layout.panels, layout.panel_scores, np.ones(len(layout.panels), np.int64)),
        (layout.marks, layout.mark_scores, np.where(layout.mark_labels == TEXT, 2, 3)),
    ):
        for (x0, y0, x1, y1), score, category in zip(
            boxes.tolist(), scores.tolist(), categories.tolist()
        ):
            out.append(
                {
                    "image_id": image_id,
                    "category_id": int(category),
                    "score": float(score),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                }
            )
    return out


def evaluate(coco_gt, results, max_dets):
    """Overall and per-class AP / AP50 (percent) of COCO ``results`` against ``coco_gt``."""
    if not results:
        return {
            "AP": 0.0,
            "AP50": 0.0,
            **{f"{k}-{n}": 0.0 for n in CLASS_NAMES for k in ("AP", "AP50")},
        }
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOevalMaxDets(coco_gt, coco_dt, "bbox")  # what COCOEvaluator runs
        evaluator.params.maxDets = [1, 10, max_dets]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # [IoU thresholds, recall, class, area, max dets]

    def ap(p):
        p = p[p > -1]
        return float(p.mean() * 100) if p.size else float("nan")

    metrics = {"AP": float(evaluator.stats[0] * 100), "AP50": float(evaluator.stats[1] * 100)}
    for k, cat_id in enumerate(evaluator.params.catIds):
        name = coco_gt.cats[cat_id]["name"]
        metrics[f"AP-{name}"] = ap(precision[:, :, k, 0, -1])
        metrics[f"AP50-{name}"] = ap(precision[0, :, k, 0, -1])
    return metrics


def run(analyzer, coco_gt, root, image_ids):
    results, seconds = [], []
    for image_id in image_ids:
        figure = read_figure(os.path.join(root, coco_gt.imgs[image_id]["file_name"]))
        start = time.perf_counter()
        layout = analyzer(figure)
        seconds.append(time.perf_counter() - start)
        results += layout_to_coco(layout, image_id)
    return results, seconds


def markdown(report):
    lines = [
        f"Layout analyzers on `{report['json']}` ({report['num_images']} figures, "
        f"{report['gt_boxes']} boxes), box AP in percent (COCOeval, maxDets {report['max_dets']}).",
        "",
        "| analyzer | AP | AP50 | "
        + " | ".join(f"AP {n} | AP50 {n}" for n in CLASS_NAMES)
        + " | s / figure |",
        "|---" * (4 + 2 * len(CLASS_NAMES)) + "|",
    ]
    for name, row in report["analyzers"].items():
        m = row["metrics"]
        cells = [f"{m['AP']:.1f}", f"{m['AP50']:.1f}"]
        cells += [f"{m[f'{k}-{n}']:.1f}" for n in CLASS_NAMES for k in ("AP", "AP50")]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['s_per_figure_mean']:.3f} |")
    lines += [
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine']}; torch threads {report['torch_threads']}.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset-root", required=True, help="folder holding the JSON and the images"
    )
    parser.add_argument(
        "--json", default="layout_test.json", help="layout COCO JSON under --dataset-root"
    )
    parser.add_argument("--detector-config", default="configs/layout/layout_R_18_FPN.yaml")
    parser.add_argument(
        "--detector-weights",
        nargs="*",
        default=[],
        help="trained layout detector(s), each scored as 'detector:<its folder>'; none = classical",
    )
    parser.add_argument("--max-images", type=int, default=0, help="first N figures only (0 = all)")
    parser.add_argument(
        "--max-dets", type=int, default=200, help="boxes per figure scored by COCOeval"
    )
    parser.add_argument(
        "--output", required=True, help="output path without extension (.json and .md)"
    )
    args = parser.parse_args()

    json_file = os.path.join(args.dataset_root, args.json)
    check_layout_json(json_file)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(json_file)
    image_ids = sorted(coco_gt.imgs)[: args.max_images or None]
    if args.max_images:
        keep = set(image_ids)
        coco_gt.dataset["images"] = [i for i in coco_gt.dataset["images"] if i["id"] in keep]
        coco_gt.dataset["annotations"] = [
            a for a in coco_gt.dataset["annotations"] if a["image_id"] in keep
        ]
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt.createIndex()

    analyzers = {"classical": ClassicalLayoutAnalyzer()}
    for weights in args.detector_weights:
        name = f"detector:{os.path.basename(os.path.dirname(os.path.abspath(weights)))}"
        cfg = load_detector_config(args.detector_config, weights)
        # Every detection kept (scores 0): the benchmark ranks them; the rest as configured.
        analyzers[name] = DetectorLayoutAnalyzer(
            cfg,
            panel_score_thresh=0.0,
            text_score_thresh=0.0,
            mark_score_thresh=0.0,
            ink_tolerance=default_value("MODEL.LAYOUT.DETECTOR.INK_TOLERANCE"),
            ink_dilation=default_value("MODEL.LAYOUT.DETECTOR.INK_DILATION"),
            canvas_tolerance=default_value("MODEL.LAYOUT.CLASSICAL.CANVAS_TOLERANCE"),
        )
    report = {
        "command": " ".join(["python"] + sys.argv),
        "json": json_file,
        "num_images": len(image_ids),
        "gt_boxes": len(coco_gt.dataset["annotations"]),
        "max_dets": args.max_dets,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch_threads": torch.get_num_threads(),
        "detector_weights": args.detector_weights,
        "analyzers": {},
    }
    for name, analyzer in analyzers.items():
        results, seconds = run(analyzer, coco_gt, args.dataset_root, image_ids)
        report["analyzers"][name] = {
            "metrics": evaluate(coco_gt, results, args.max_dets),
            "boxes": len(results),
            "s_per_figure_mean": float(np.mean(seconds)),
            "s_per_figure_median": float(np.median(seconds)),
            "s_per_figure_max": float(np.max(seconds)),
        }
        print(name, json.dumps(report["analyzers"][name], indent=1), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output + ".json", "w") as f:
        json.dump(report, f, indent=2)
    with open(args.output + ".md", "w") as f:
        f.write(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
