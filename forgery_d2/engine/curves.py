"""Training curves from detectron2's ``metrics.json`` (one JSON object per line, appended by
``JSONWriter``; a resumed run appends again, so a re-run iteration's later values win)."""

import json
import math
import os
from typing import Dict, List

__all__ = ["read_metrics", "plot_training_curves"]


def read_metrics(path: str) -> Dict[str, List[tuple]]:
    """``{metric: [(iteration, value), ...]}`` sorted by iteration, the last record of an iteration
    winning. Lines that are not JSON objects with an ``iteration`` (e.g. a line cut by a killed
    run) are skipped."""
    by_iter: Dict[int, dict] = {}
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or "iteration" not in record:
                continue
            by_iter.setdefault(int(record["iteration"]), {}).update(record)
    series: Dict[str, List[tuple]] = {}
    for iteration in sorted(by_iter):
        for key, value in by_iter[iteration].items():
            if (
                key == "iteration"
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                continue
            series.setdefault(key, []).append((iteration, float(value)))
    return series


# Keys that detectron2's models and our hooks put to the EventStorage during training.
_TRAINING_STAT_PREFIXES = ("sep/", "freeze/", "roi_head/", "rpn/", "fast_rcnn/", "mask_rcnn/")


def _panels(series):
    losses = [k for k in ("total_loss", "val_loss") if k in series]
    losses += sorted(k for k in series if k.startswith("val_loss_"))
    # Evaluator results are "<task>/<metric>"; with many, keep the F1-type ones (oF1, F1...).
    evaluation = sorted(k for k in series if "/" in k and not k.startswith(_TRAINING_STAT_PREFIXES))
    if len(evaluation) > 6:
        evaluation = [k for k in evaluation if "f1" in k.lower()][:6] or evaluation[:6]
    panels = [
        ("Loss (train / validation)", losses, True),
        ("Validation metrics", evaluation, False),
        (
            "ROI feature separability",
            [k for k in ("sep/norm_dist", "sep/probe_acc", "sep/frac_separating") if k in series],
            False,
        ),
        ("Learning rate", [k for k in ("lr",) if k in series], False),
    ]
    return [p for p in panels if p[1]]


def plot_training_curves(metrics_json: str, out_png: str) -> str:
    """Plot losses, validation metrics (oF1...), separability and LR over iterations to ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_metrics(metrics_json)
    panels = _panels(series)
    if not panels:
        raise ValueError(f"{metrics_json} holds no plottable metric")
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3 * len(panels)), squeeze=False)
    for ax, (title, keys, log_scale) in zip(axes[:, 0], panels):
        for key in keys:
            xs, ys = zip(*series[key])
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=key)
        if log_scale and all(v > 0 for k in keys for _, v in series[k]):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
