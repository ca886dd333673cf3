"""Oracle diagnostics: which stage of a forgery model limits its oF1.

The same outputs are scored three times (the seed project did this by hand and it showed where the
bottleneck was):

- **real**: the decision rule as configured (what a submission scores);
- **oracle image decision**: the ground-truth image label replaces the image decision: authentic
  figures score 1, forged ones are scored with the rule's instance steps as if the gate had passed;
- **oracle image decision + instance selection**: in addition, of all the instances the model
  produced (any score; binarized, size-filtered and merged as the rule does), exactly those that the
  Hungarian matching assigns to a ground-truth instance are kept, at their predicted masks. What is
  left to lose is mask quality (and ground truth no instance found).

So ``oracle_image - real`` is lost to the image decision, ``oracle_instances - oracle_image`` to
instance scoring (extra instances, wrong ones kept, right ones thresholded away) and
``1 - oracle_instances`` to mask quality and missed duplications.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

from .metric import f1_matrix, image_of1, intersection_matrix, runs_area

__all__ = ["matched_only_of1", "ORACLE_KEYS", "stage_losses"]

# Per-image keys (and dataset metric names) of the two oracles.
ORACLE_KEYS = ("oF1_oracle_image", "oF1_oracle_instances")


def matched_only_of1(gt_runs, pred_runs) -> float:
    """oF1 of a forged image when only the predicted instances that the Hungarian matching assigns
    to a ground-truth instance (with F1 > 0) are kept. ``gt_runs``: list of runs (forged image);
    ``pred_runs``: list of runs or None (no instance: 0)."""
    if not pred_runs:
        return 0.0
    inter = intersection_matrix(pred_runs, gt_runs)
    f1 = f1_matrix(inter, [runs_area(r) for r in pred_runs], [runs_area(r) for r in gt_runs])
    rows, cols = linear_sum_assignment(-f1)
    kept = [pred_runs[r] for r, c in zip(rows, cols) if r < len(pred_runs) and f1[r, c] > 0]
    return image_of1(gt_runs, kept or None)


def stage_losses(metrics) -> dict:
    """oF1 lost to each stage (module docstring), from a metrics dict with ``oF1`` and the oracle keys."""
    real, image, instances = (metrics.get(k, np.nan) for k in ("oF1",) + ORACLE_KEYS)
    return {
        "image decision": image - real,
        "instance scoring": instances - image,
        "mask quality": 1.0 - instances,
    }
