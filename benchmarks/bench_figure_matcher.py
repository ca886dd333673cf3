#!/usr/bin/env python
"""The figure-aware matcher next to today's keypoint matcher and all-authentic, in one run.

    OMP_NUM_THREADS=1 python benchmarks/bench_figure_matcher.py --data datasets/figures \
        --output docs/results/bench_figure_matcher [--workers 2] [--limit N]

On the held-out ``test_images`` of a generated dataset (``tools/make_synthetic.py``: figures, or
``--style legacy``), every row is scored with the competition's metric and the configs' decision
rule (``FORGERY.DECISION``, the same for every row):

- ``all_authentic``: the trivial baseline;
- ``keypoint_matcher``: ``configs/matcher/keypoint_matcher.yaml`` (the project's first matcher);
- ``figure_matcher``: ``configs/matcher/figure_matcher.yaml`` (layout, keypoints + panel alignment +
  grain hashing, pixel evidence).

Reported per row: oF1, oF1 on forged / authentic figures, the authentic false-alarm rate (authentic
figures flagged / authentic figures), image F1, seconds per figure (one process per worker, one
thread each); and, per row, the breakdown by forgery kind (forged figures holding an event of
that kind: share flagged and mean oF1) and by panel count (oF1, false alarms). A run of the figure
matcher on synthetic figures of 1 to 16 panels at 1500 x 1000 px measures its cost against the
panel count (the panel-pair search grows quadratically). Writes ``results.json`` and
``results.md`` under ``--output``.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
from forgery_d2.competition.rle import mask_to_runs  # noqa: E402
from forgery_d2.config import load_config  # noqa: E402
from forgery_d2.data.io import read_image, read_mask  # noqa: E402
from forgery_d2.evaluation.decision import DecisionRule  # noqa: E402
from forgery_d2.evaluation.evaluator import image_metrics, summarize  # noqa: E402
from forgery_d2.evaluation.metric import image_of1_from_masks  # noqa: E402
from forgery_d2.modeling.meta_arch.copy_move_matcher import build_copy_move_matcher  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = {
    "keypoint_matcher": os.path.join(ROOT, "configs", "matcher", "keypoint_matcher.yaml"),
    "figure_matcher": os.path.join(ROOT, "configs", "matcher", "figure_matcher.yaml"),
}
PANEL_BUCKETS = ((1, 1), (2, 5), (6, 11), (12, 99))

_worker = {}


def _init(config_file):
    import cv2

    cv2.setNumThreads(1)
    cfg = load_config(config_file)
    _worker["matcher"] = build_copy_move_matcher(cfg)
    _worker["rule"] = DecisionRule.from_config(cfg)


def _predict(path):
    """(case_id, predicted runs or None, image score, seconds) of one figure."""
    image = read_image(path, "RGB")
    start = time.process_time()
    result = _worker["matcher"](image, "RGB")
    seconds = time.process_time() - start
    case_id = os.path.splitext(os.path.basename(path))[0]
    if not result.instances:
        return case_id, None, 0.0, seconds, image.shape[:2]
    decision = _worker["rule"].apply(
        [i.score for i in result.instances], np.stack([i.mask for i in result.instances])
    )
    runs = decision.runs if decision.forged else None
    return case_id, runs, float(decision.image_score), seconds, image.shape[:2]


def run_row(config_file, paths, workers):
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers, _init, (config_file,)) as pool:
            return pool.map(_predict, paths, chunksize=2)
    _init(config_file)
    return [_predict(p) for p in paths]


def load_cases(data, limit):
    cases = [json.loads(line) for line in open(os.path.join(data, "cases.jsonl"))]
    cases = [c for c in cases if c["split"] == "test"]
    return cases[:limit] if limit else cases


def score_row(cases, predictions, data):
    """Per-image statistics (forgery_d2.evaluation.evaluator.image_metrics) of one row."""
    records = []
    for case, (case_id, runs, image_score, seconds, shape) in zip(cases, predictions):
        gt = None
        if case["forged"]:
            masks = read_mask(os.path.join(data, "test_masks", case["case_id"] + ".npy"), shape)
            gt = [mask_to_runs(m) for m in masks]
        record = image_metrics(case_id, case_id, shape, gt, runs, image_score)
        record.update(
            seconds=seconds,
            kinds=sorted({e.get("kind", e.get("shape", "?")) for e in case.get("events", [])}),
            panels=case.get("panel_count"),
        )
        records.append(record)
    return records


def row_summary(records):
    metrics = summarize(records)
    out = {
        k: metrics[k]
        for k in ("oF1", "oF1_forged", "oF1_authentic", "false_alarm_rate", "image_F1")
    }
    out["seconds_per_figure"] = (
        float(np.mean([r["seconds"] for r in records])) if "seconds" in records[0] else None
    )
    forged = [r for r in records if r["true_label"]]
    out["by_kind"] = {
        kind: {
            "n": len(rs),
            "flagged": float(np.mean([r["pred_label"] for r in rs])),
            "oF1": float(np.mean([r["oF1"] for r in rs])),
        }
        for kind in sorted({k for r in forged for k in r["kinds"]})
        for rs in [[r for r in forged if kind in r["kinds"]]]
    }
    if records[0].get("panels") is not None:
        out["by_panels"] = {}
        for low, high in PANEL_BUCKETS:
            rs = [r for r in records if low <= r["panels"] <= high]
            if rs:
                authentic = [r for r in rs if not r["true_label"]]
                out["by_panels"][f"{low}-{high}" if high < 99 else f"{low}+"] = {
                    "n": len(rs),
                    "oF1": float(np.mean([r["oF1"] for r in rs])),
                    "false_alarms": f"{sum(r['pred_label'] for r in authentic)}/{len(authentic)}",
                }
    return out


def panel_count_costs(counts=(1, 4, 8, 12, 16), size=(1000, 1500), seed=0):
    """Seconds of the figure matcher on synthetic figures of ``counts`` panels at ``size``, as
    they are and with one copy planted (a square of a third of a panel's short side, from the
    first panel into the last, or elsewhere in the panel when there is one), so that candidates
    are verified too; ``copy_found``: an instance covers that copy (F1 > 0.5)."""
    from forgery_d2.data.synthetic.copy_move import plant_copy_move

    _init(ROWS["figure_matcher"])
    # One untimed call first: the first figure would also pay one-time set-ups (OpenCV's and
    # numpy's first calls), which made the 1-panel figure look dearer than the others.
    _worker["matcher"](_grid_figure(np.random.default_rng(seed + 1), 1, size)[0], "RGB")
    rng = np.random.default_rng(seed)
    rows = []
    for count in counts:
        image, panels = _grid_figure(rng, count, size)
        start = time.process_time()
        result = _worker["matcher"](image, "RGB")
        seconds = time.process_time() - start
        (x0, y0, x1, y1), last = panels[0], panels[-1]
        side = min(x1 - x0, y1 - y0) // 3
        target = (last[2] - side - 8, last[3] - side - 8)  # the last panel's far corner
        forged, event = plant_copy_move(
            image, (x0 + 8, y0 + 8, x0 + 8 + side, y0 + 8 + side), target
        )
        start = time.process_time()
        found = _worker["matcher"](forged, "RGB")
        rows.append(
            {
                "panels": count,
                "detected_panels": int(result.stats.get("panels", 0)),
                "panel_pair_candidates": int(result.stats.get("panel_pairs", 0)),
                "seconds": round(seconds, 3),
                "seconds_with_copy": round(time.process_time() - start, 3),
                "copy_found": any(
                    image_of1_from_masks([event.mask], [i.mask]) > 0.5 for i in found.instances
                ),
            }
        )
    return rows


def _grid_figure(rng, count, size):
    """A ``size`` (H, W) white canvas with ``count`` textured micrograph-like panels in a grid."""
    import cv2

    height, width = size
    cols = int(np.ceil(np.sqrt(count * width / height)))
    rows = int(np.ceil(count / cols))
    gap = 12
    cell_w, cell_h = (width - gap * (cols + 1)) // cols, (height - gap * (rows + 1)) // rows
    canvas = np.full((height, width, 3), 255, np.uint8)
    panels = []
    for k in range(count):
        r, c = divmod(k, cols)
        x0, y0 = gap + c * (cell_w + gap), gap + r * (cell_h + gap)
        blobs = cv2.GaussianBlur(rng.random((cell_h, cell_w)).astype(np.float32), (0, 0), 6)
        blobs = (blobs - blobs.min()) / (np.ptp(blobs) + 1e-6)
        panel = np.clip(blobs * 200 + rng.normal(0, 4, blobs.shape), 0, 255).astype(np.uint8)
        canvas[y0 : y0 + cell_h, x0 : x0 + cell_w] = panel[:, :, None] * np.array([0.3, 1.0, 0.4])
        panels.append((x0, y0, x0 + cell_w, y0 + cell_h))
    return canvas, panels


def to_markdown(results):
    lines = [
        f"data: `{results['data']}` ({results['n_images']} test figures, {results['n_forged']} forged)",
        "",
        "| row | oF1 | oF1 forged | oF1 authentic | false alarms (authentic) | image F1 | s / figure |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["rows"].items():
        seconds = "-" if row["seconds_per_figure"] is None else f"{row['seconds_per_figure']:.2f}"
        lines.append(
            f"| {name} | {row['oF1']:.3f} | {row['oF1_forged']:.3f} | {row['oF1_authentic']:.3f} | "
            f"{row['false_alarm_rate']:.3f} | {row['image_F1']:.3f} | {seconds} |"
        )
    rows = results["rows"]
    kinds = sorted({k for row in rows.values() for k in row["by_kind"]})
    _breakdown(
        lines,
        "By forgery kind (forged figures holding that kind: share flagged / mean oF1):",
        "kind",
        kinds,
        rows,
        lambda row, kind: (
            "-"
            if kind not in row["by_kind"]
            else f"{row['by_kind'][kind]['flagged']:.2f} / {row['by_kind'][kind]['oF1']:.3f}"
        ),
        lambda kind: next(
            row["by_kind"][kind]["n"] for row in rows.values() if kind in row["by_kind"]
        ),
    )
    buckets = sorted(
        {b for row in rows.values() for b in row.get("by_panels", {})},
        key=lambda b: int(b.split("-")[0].rstrip("+")),
    )
    _breakdown(
        lines,
        "By panel count (oF1 / authentic false alarms):",
        "panels",
        buckets,
        rows,
        lambda row, bucket: (
            f"{row['by_panels'][bucket]['oF1']:.3f} / {row['by_panels'][bucket]['false_alarms']}"
        ),
        lambda bucket: next(row["by_panels"][bucket]["n"] for row in rows.values()),
    )
    if results.get("panel_costs"):
        lines += [
            "",
            "Figure matcher cost against the panel count (1500 x 1000 px, one thread):",
            "",
            "| panels | panels found | panel-pair candidates | seconds | with one copy | copy found |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['panels']} | {r['detected_panels']} | {r['panel_pair_candidates']} | {r['seconds']:.2f} "
            f"| {r['seconds_with_copy']:.2f} | {'yes' if r['copy_found'] else 'no'} |"
            for r in results["panel_costs"]
        ]
    return "\n".join(lines) + "\n"


def _breakdown(lines, title, label, keys, rows, cell, count):
    """Append a Markdown table with a line per key (``count(key)`` figures) and a column per row
    (``cell(row, key)``); nothing when there is no key."""
    if not keys:
        return
    lines += [
        "",
        title,
        "",
        f"| {label} | n | " + " | ".join(rows) + " |",
        "|---|---|" + "---|" * len(rows),
    ]
    for key in keys:
        cells = [cell(row, key) for row in rows.values()]
        lines.append(f"| {key} | {count(key)} | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        required=True,
        help="a generated dataset root (test_images, test_masks, cases.jsonl)",
    )
    parser.add_argument("--output", required=True, help="folder for results.json / results.md")
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    parser.add_argument("--limit", type=int, default=0, help="first N test figures only (0 = all)")
    parser.add_argument("--rows", default="all_authentic,keypoint_matcher,figure_matcher")
    parser.add_argument(
        "--panel-costs",
        action="store_true",
        help="also time the figure matcher against the panel count",
    )
    args = parser.parse_args(argv)
    cases = load_cases(args.data, args.limit)
    paths = [os.path.join(args.data, "test_images", c["case_id"] + ".png") for c in cases]
    results = {
        "data": os.path.abspath(args.data),
        "n_images": len(cases),
        "n_forged": sum(c["forged"] for c in cases),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "rows": {},
    }
    for name in args.rows.split(","):
        start = time.perf_counter()
        if name == "all_authentic":
            predictions = [(c["case_id"], None, 0.0, 0.0, (c["height"], c["width"])) for c in cases]
        else:
            predictions = run_row(ROWS[name], paths, args.workers)
        records = score_row(cases, predictions, args.data)
        summary = row_summary(records)
        if name == "all_authentic":
            summary["seconds_per_figure"] = None
        summary["wall_seconds"] = round(time.perf_counter() - start, 1)
        results["rows"][name] = summary
        print(
            f"{name}: oF1 {summary['oF1']:.3f}, false alarms {summary['false_alarm_rate']:.3f}, "
            f"{summary['wall_seconds']} s",
            flush=True,
        )
    if args.panel_costs:
        results["panel_costs"] = panel_count_costs()
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    markdown = to_markdown(results)
    with open(os.path.join(args.output, "results.md"), "w") as f:
        f.write(markdown)
    print(markdown)
    return results


if __name__ == "__main__":
    main()
