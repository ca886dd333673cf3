"""oF1, the competition's metric, computed exactly and fast.

Per image (then the mean over images):

- If the label or the prediction is ``authentic``: 1.0 when both are, else 0.0.
- Else: pixel F1 of every (prediction, ground truth) pair; zero rows are added when there are fewer
  predictions than ground-truth instances; the Hungarian method (``linear_sum_assignment`` on -F1)
  matches them; the score is the mean matched F1 times ``n_gt / max(n_pred, n_gt)``.

Exactness: the F1 of a pair is computed with the scorer's own float operations
(``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``, ``2 * (p * r) / (p + r)``, 0 when
``p + r == 0``), the padded matrix and the Hungarian call are the same, and the final mean is taken
over a pandas Series like the scorer's ``np.mean(df['image_score'])``. Results agree to the last
digit, not just to a tolerance.

Edge cases, decided as the scorer decides them:

- Two empty masks have F1 = 0 (precision and recall are both 0), so an empty ground-truth channel
  can never be matched, and a prediction written ``[]`` matches nothing but still counts in
  ``n_pred`` (it only costs). :func:`forgery_d2.competition.rle.encode_annotation` never writes one.
- ``authentic`` is recognized by exact string comparison.

Speed: pair intersections are computed from the run-length runs directly (a prefix sum of one mask's
runs, evaluated at the other's run ends with ``searchsorted``), so scoring never decodes a mask:
cost grows with the number of runs, not pixels. Masks in memory are converted to runs once.
"""

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from forgery_d2.competition.rle import mask_to_runs, parse_annotation
from forgery_d2.competition.submission import align_submission

__all__ = [
    "runs_area",
    "runs_union",
    "runs_intersection",
    "intersection_matrix",
    "f1_matrix",
    "optimal_f1",
    "image_of1",
    "image_of1_from_masks",
    "mean_score",
    "score",
    "score_per_image",
]


def _coverage_before(runs, positions):
    """Number of foreground pixels of ``runs`` at flat indices < each of ``positions``."""
    starts, lengths = runs[:, 0], runs[:, 1]
    before = np.concatenate(([0], np.cumsum(lengths)))  # pixels in runs [0, k)
    k = np.searchsorted(starts, positions, side="left") - 1  # last run starting before the position
    inside = np.minimum(positions - starts[np.maximum(k, 0)], lengths[np.maximum(k, 0)])
    return np.where(k >= 0, before[np.maximum(k, 0)] + inside, 0)


def runs_area(runs) -> int:
    """Foreground pixels of a runs array."""
    return int(np.asarray(runs, dtype=np.int64).reshape(-1, 2)[:, 1].sum())


def runs_union(runs_list) -> np.ndarray:
    """The runs of the union of several masks given as runs (sorted, disjoint, merged)."""
    runs = np.concatenate(
        [np.asarray(r, dtype=np.int64).reshape(-1, 2) for r in runs_list]
        or [np.zeros((0, 2), np.int64)]
    )
    runs = runs[runs[:, 1] > 0]
    if len(runs) == 0:
        return runs
    runs = runs[np.argsort(runs[:, 0], kind="stable")]
    starts, ends = runs[:, 0], np.maximum.accumulate(runs[:, 0] + runs[:, 1])
    # A run opens a new merged interval when it starts after everything before it has ended.
    opens = np.concatenate(([True], starts[1:] > ends[:-1]))
    first = np.flatnonzero(opens)
    last = np.concatenate((first[1:] - 1, [len(runs) - 1]))
    return np.stack([starts[first], ends[last] - starts[first]], axis=1)


def runs_intersection(runs_a, runs_b) -> int:
    """Pixels shared by two masks given as runs (sorted, disjoint), without decoding them."""
    if len(runs_a) == 0 or len(runs_b) == 0:
        return 0
    if len(runs_a) > len(runs_b):  # search the longer list, iterate over the shorter one
        runs_a, runs_b = runs_b, runs_a
    ends = runs_a[:, 0] + runs_a[:, 1]
    return int((_coverage_before(runs_b, ends) - _coverage_before(runs_b, runs_a[:, 0])).sum())


def intersection_matrix(pred_runs, gt_runs) -> np.ndarray:
    """``int64 (n_pred, n_gt)`` pixel intersections of two lists of runs arrays."""
    inter = np.zeros((len(pred_runs), len(gt_runs)), dtype=np.int64)
    for i, p in enumerate(pred_runs):
        for j, g in enumerate(gt_runs):
            inter[i, j] = runs_intersection(p, g)
    return inter


def f1_matrix(intersections, pred_areas, gt_areas) -> np.ndarray:
    """Pixel F1 of every (prediction, ground truth) pair, with the scorer's float operations.

    Padded with zero rows up to ``n_gt`` rows when there are fewer predictions (missed instances).
    """
    tp = np.asarray(intersections, dtype=np.int64)
    pred_areas = np.asarray(pred_areas, dtype=np.int64)[:, None]  # tp + fp
    gt_areas = np.asarray(gt_areas, dtype=np.int64)[None, :]  # tp + fn
    tp, pred_areas, gt_areas = np.broadcast_arrays(tp, pred_areas, gt_areas)
    precision = np.zeros(tp.shape)
    recall = np.zeros(tp.shape)
    np.divide(tp, pred_areas, out=precision, where=pred_areas > 0)
    np.divide(tp, gt_areas, out=recall, where=gt_areas > 0)
    total = precision + recall
    f1 = np.zeros(tp.shape)
    np.divide(2 * (precision * recall), total, out=f1, where=total > 0)
    n_pred, n_gt = f1.shape
    if n_pred < n_gt:
        f1 = np.vstack((f1, np.zeros((n_gt - n_pred, n_gt))))
    return f1


def optimal_f1(f1, n_pred: int, n_gt: int):
    """Hungarian-matched mean F1 times the extra-prediction penalty ``n_gt / max(n_pred, n_gt)``.

    Returns ``(score, matched)`` where ``matched`` is the F1 of each ground-truth instance's match
    (0 for a missed one), in ground-truth order.
    """
    rows, cols = linear_sum_assignment(-f1)
    penalty = n_gt / max(n_pred, n_gt)
    matched = np.zeros(n_gt)
    matched[cols] = f1[rows, cols]
    return np.mean(f1[rows, cols]) * penalty, matched


def _instance_of1(pred_runs, gt_runs):
    if not gt_runs:  # cannot come from a valid label ("authentic" is handled before)
        raise ValueError("a forged label needs at least one instance")
    inter = intersection_matrix(pred_runs, gt_runs)
    pred_areas = [int(r[:, 1].sum()) for r in pred_runs]
    gt_areas = [int(r[:, 1].sum()) for r in gt_runs]
    return optimal_f1(f1_matrix(inter, pred_areas, gt_areas), len(pred_runs), len(gt_runs))


def image_of1(gt, pred, shape=None, return_matched=False):
    """oF1 of one image.

    ``gt`` and ``pred`` are annotation strings (then ``shape`` = (H, W) is required), or already
    parsed: ``None`` for authentic, else a list of runs arrays.
    With ``return_matched``, also returns the matched F1 of each ground-truth instance.
    """
    if isinstance(gt, str):
        gt = parse_annotation(gt, shape)
    if isinstance(pred, str):
        pred = parse_annotation(pred, shape)
    if gt is None or pred is None:
        value, matched = float(gt is None and pred is None), np.zeros(0 if gt is None else len(gt))
    else:
        value, matched = _instance_of1(pred, gt)
    return (value, matched) if return_matched else value


def image_of1_from_masks(gt_masks, pred_masks, return_matched=False):
    """oF1 of one image from ``(N, H, W)`` mask arrays (no instance = authentic)."""
    gt = [mask_to_runs(m) for m in gt_masks] or None
    pred = [mask_to_runs(m) for m in pred_masks] or None
    return image_of1(gt, pred, return_matched=return_matched)


def mean_score(per_image_scores) -> float:
    """The mean over images, computed as the scorer does (``np.mean`` of a float Series)."""
    return float(np.mean(pd.Series(per_image_scores, dtype=float)))


def score_per_image(solution: pd.DataFrame, submission: pd.DataFrame) -> pd.DataFrame:
    """Validate a submission against a solution and score every image.

    Returns the solution's rows (``case_id, annotation, shape``) with ``prediction``, ``n_gt``,
    ``n_pred`` and ``oF1`` columns. Raises :class:`forgery_d2.competition.submission.SubmissionError`
    naming the row for any invalid input.
    """
    rows = align_submission(solution, submission)
    out = solution.loc[:, ["case_id", "annotation", "shape"]].copy()
    out["prediction"] = [r.prediction for r in rows]
    out["n_gt"] = [0 if r.gt_runs is None else len(r.gt_runs) for r in rows]
    out["n_pred"] = [0 if r.pred_runs is None else len(r.pred_runs) for r in rows]
    out["oF1"] = [image_of1(r.gt_runs, r.pred_runs) for r in rows]
    return out


def score(solution: pd.DataFrame, submission: pd.DataFrame) -> float:
    """The competition score of a whole submission (``case_id, annotation``) against a solution
    (``case_id, annotation, shape``), matched by ``case_id``."""
    return mean_score(score_per_image(solution, submission)["oF1"])
