"""``ForgeryEvaluator``: detectron2 evaluator reporting the competition's oF1, exactly.

Use it like detectron2's COCOEvaluator, with ``inference_on_dataset`` or a trainer's
``build_evaluator``. Each model output goes through the decision rule
(:class:`forgery_d2.evaluation.decision.DecisionRule`, ``cfg.FORGERY.DECISION``), so the score is
what a submission of the same model would get. Ground truth is the mask file's channels as stored
(``mask_file`` of the dataset dict), never a connected-component split.

Memory stays bounded: per image only the final annotation strings (compact RLE) and a few counts are
kept, never full-resolution masks.

Reported under ``results["forgery"]``:

- ``oF1`` (the competition metric), ``oF1_forged`` / ``oF1_authentic`` (over each class of image);
- image level: ``image_accuracy``, ``image_precision``, ``image_recall``, ``image_F1`` (forged =
  positive, decision = at least one instance), ``image_AUC`` (ROC-AUC of the image score; NaN with a
  single class), confusion matrix ``image_TN/FP/FN/TP``, ``false_alarm_rate`` (authentic images
  flagged / authentic images: the false accusations);
- pixel level on forged images, over the union of instances: ``pixel_F1`` and ``pixel_IoU`` (pooled
  over all forged images' pixels), ``pixel_Dice`` (mean of the per-image Dice);
- oracle diagnostics (forgery_d2.evaluation.oracle): ``oF1_oracle_image`` (the ground-truth image
  label in place of the image decision) and ``oF1_oracle_instances`` (also only the instances matched
  to ground truth kept, at their predicted masks): upper bounds that show which stage limits oF1;
- instance level on forged images: ``instance_matched_F1`` (mean Hungarian-matched F1 per
  ground-truth instance, misses = 0), ``instance_precision@0.5`` / ``instance_recall@0.5`` (a match
  with F1 >= 0.5 is a hit; every instance predicted on any image counts), ``n_pred_instances`` /
  ``n_gt_instances``.

Files written to ``output_dir``: ``forgery_metrics.json``, ``forgery_per_image.csv`` (key, case_id,
image_id, true/pred label, image score, n_gt, n_pred, oF1), and ``forgery_predictions.csv`` /
``forgery_solution.csv`` (submission / solution format, so ``tools/eval_oF1.py --solution
--submission`` reproduces the score).
"""

import json
import logging
import os
from collections import OrderedDict

import numpy as np
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm
from scipy.stats import rankdata

from forgery_d2.competition.rle import AUTHENTIC, mask_to_runs, runs_to_rle
from forgery_d2.competition.submission import (
    SOLUTION_COLUMNS,
    align_submission,
    dataset_keys,
    write_csv,
    write_submission_csv,
)

from .decision import DecisionRule
from .ground_truth import GroundTruthLoader, check_labelled
from .metric import image_of1, mean_score, runs_area, runs_intersection, runs_union
from .oracle import ORACLE_KEYS, matched_only_of1

__all__ = [
    "ForgeryEvaluator",
    "image_metrics",
    "oracle_decisions",
    "roc_auc",
    "submission_records",
    "summarize",
    "PER_IMAGE_COLUMNS",
]

logger = logging.getLogger(__name__)

PER_IMAGE_COLUMNS = (
    "key",
    "case_id",
    "image_id",
    "true_label",
    "pred_label",
    "image_score",
    "n_gt",
    "n_pred",
    "oF1",
    *ORACLE_KEYS,
)


def _annotation_of_runs(runs_list):
    if runs_list is None:
        return AUTHENTIC
    return ";".join(json.dumps(runs_to_rle(r)) for r in runs_list)


def image_metrics(
    case_id,
    image_id,
    shape,
    gt_runs,
    pred_runs,
    image_score,
    ungated_runs=None,
    candidate_runs=None,
) -> dict:
    """The per-image statistics the summary needs, from competition runs (no masks kept).

    ``gt_runs`` / ``pred_runs``: None for authentic, else one runs array per instance (as
    :func:`forgery_d2.competition.rle.parse_annotation` returns them); ``shape``: (H, W), or None
    for an authentic solution row written with the shape ``authentic``.
    ``ungated_runs`` / ``candidate_runs``: the instances of the same output with the image decision
    passed, and all the model's instances (forgery_d2.evaluation.oracle); default ``pred_runs``
    (what a submission file allows).
    """
    value, matched = image_of1(gt_runs, pred_runs, return_matched=True)
    if gt_runs is None:
        oracle_image = oracle_instances = 1.0
    else:
        ungated = pred_runs if ungated_runs is None else ungated_runs
        oracle_image = image_of1(gt_runs, ungated or None)
        oracle_instances = matched_only_of1(
            gt_runs, candidate_runs if candidate_runs is not None else ungated
        )
    stats = {
        "case_id": str(case_id),
        "image_id": str(image_id),
        "true_label": int(gt_runs is not None),
        "pred_label": int(pred_runs is not None),
        "image_score": float(image_score),
        "n_gt": 0 if gt_runs is None else len(gt_runs),
        "n_pred": 0 if pred_runs is None else len(pred_runs),
        "oF1": float(value),
        ORACLE_KEYS[0]: float(oracle_image),
        ORACLE_KEYS[1]: float(oracle_instances),
        "matched_f1": [float(v) for v in matched],
        "shape": None if shape is None else [int(v) for v in shape],
        "annotation": _annotation_of_runs(pred_runs),
        "gt_annotation": _annotation_of_runs(gt_runs),
    }
    if gt_runs is not None:  # pixel statistics over the union of instances
        gt_union, pred_union = runs_union(gt_runs), runs_union(pred_runs or [])
        tp = runs_intersection(gt_union, pred_union)
        stats.update(tp=tp, fp=runs_area(pred_union) - tp, fn=runs_area(gt_union) - tp)
    return stats


def _runs(decision):
    return decision.runs if decision.forged else None


def oracle_decisions(rule: DecisionRule, output: dict):
    """The decisions the oracle diagnostics score for one model output: the rule with the image
    decision passed (``IMAGE_THRESH`` 0), and every instance the model gave (also ``SCORE_THRESH`` 0
    and no ``MAX_INSTANCES`` cap; binarized, size-filtered and merged as configured)."""
    ungated = rule.replace(image_thresh=0.0)
    candidates = ungated.replace(score_thresh=0.0, max_instances=0)
    return ungated(output), candidates(output)


def submission_records(solution, submission) -> list:
    """Per-image statistics (:func:`image_metrics`) of a submission scored against a solution
    (frames read by ``forgery_d2.competition.submission``); the image score of a submission row is
    1 when it predicts a forgery, else 0. Raises SubmissionError naming the row for invalid input."""
    return [
        image_metrics(
            row.case_id,
            row.case_id,
            row.shape,
            row.gt_runs,
            row.pred_runs,
            float(row.pred_runs is not None),
        )
        for row in align_submission(solution, submission)
    ]


def _ratio(a, b):
    return float(a) / float(b) if b else float("nan")


def roc_auc(labels, scores) -> float:
    """ROC-AUC of ``scores`` for boolean ``labels`` (Mann-Whitney U, ties averaged); NaN with one class."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)  # Mann-Whitney U with average ranks for ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def summarize(records) -> "OrderedDict[str, float]":
    """Dataset-level metrics from per-image statistics (see the module docstring)."""
    y_true = np.array([r["true_label"] for r in records], dtype=int)
    y_pred = np.array([r["pred_label"] for r in records], dtype=int)
    scores = [r["oF1"] for r in records]
    tp = int(((y_true == 1) & (y_pred == 1)).sum())
    tn = int(((y_true == 0) & (y_pred == 0)).sum())
    fp = int(((y_true == 0) & (y_pred == 1)).sum())
    fn = int(((y_true == 1) & (y_pred == 0)).sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    forged = [r for r in records if r["true_label"] == 1]
    authentic = [r for r in records if r["true_label"] == 0]
    ptp, pfp, pfn = (sum(r[k] for r in forged) for k in ("tp", "fp", "fn"))
    dice = [
        1.0
        if 2 * r["tp"] + r["fp"] + r["fn"] == 0
        else 2 * r["tp"] / (2 * r["tp"] + r["fp"] + r["fn"])
        for r in forged
    ]
    matched = [v for r in forged for v in r["matched_f1"]]
    hits = sum(v >= 0.5 for v in matched)
    n_pred = sum(r["n_pred"] for r in records)
    out = OrderedDict()
    out["oF1"] = mean_score(scores) if records else float("nan")
    out["oF1_forged"] = mean_score([r["oF1"] for r in forged]) if forged else float("nan")
    out["oF1_authentic"] = mean_score([r["oF1"] for r in authentic]) if authentic else float("nan")
    for key in ORACLE_KEYS:
        out[key] = mean_score([r[key] for r in records]) if records else float("nan")
    out["image_accuracy"] = _ratio(tp + tn, len(records))
    out["image_precision"] = precision
    out["image_recall"] = recall
    out["image_F1"] = _ratio(2 * tp, 2 * tp + fp + fn)
    out["image_AUC"] = roc_auc(y_true, [r["image_score"] for r in records])
    out.update(image_TN=tn, image_FP=fp, image_FN=fn, image_TP=tp)
    # Authentic images flagged as forged / all authentic images: the false accusations.
    out["false_alarm_rate"] = _ratio(fp, fp + tn)
    out["pixel_F1"] = _ratio(2 * ptp, 2 * ptp + pfp + pfn)
    out["pixel_IoU"] = _ratio(ptp, ptp + pfp + pfn)
    out["pixel_Dice"] = float(np.mean(dice)) if dice else float("nan")
    out["instance_matched_F1"] = float(np.mean(matched)) if matched else float("nan")
    out["instance_precision@0.5"] = _ratio(hits, n_pred)
    out["instance_recall@0.5"] = _ratio(hits, len(matched))
    out["n_pred_instances"] = n_pred
    out["n_gt_instances"] = len(matched)
    out["n_images"] = len(records)
    return out


class ForgeryEvaluator(DatasetEvaluator):
    """oF1 and image / pixel / instance metrics of a forgery model on a registered dataset."""

    def __init__(self, dataset_name, cfg=None, *, decision=None, output_dir=None, distributed=True):
        """
        Args:
            dataset_name: registered dataset (ground truth from its dicts' ``mask_file``).
            cfg: config with ``FORGERY.DECISION`` (ignored when ``decision`` is given).
            decision: a :class:`DecisionRule`; default: from ``cfg``, else the rule's defaults.
            output_dir: where to write the metrics JSON and per-image CSVs (None: nothing written).
            distributed: gather results from all processes (evaluate on rank 0 only).
        """
        self._dataset_name = dataset_name
        self._decision = decision or (
            DecisionRule.from_config(cfg) if cfg is not None else DecisionRule.default()
        )
        self._output_dir = output_dir
        self._distributed = distributed
        self._ground_truth = GroundTruthLoader(dataset_name)
        self._records = []
        self._labels_checked = dataset_name is None

    @property
    def decision(self) -> DecisionRule:
        return self._decision

    def reset(self):
        """Called before inference: a registered dataset without labels fails here (DataError),
        not after the whole inference has run."""
        self._records = []
        if not self._labels_checked:
            check_labelled(self._dataset_name)
            self._labels_checked = True

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            record, gt_masks = self._ground_truth(inp)
            oracles = oracle_decisions(self._decision, out) if gt_masks is not None else None
            self.process_decision(record, gt_masks, self._decision(out), oracles)

    def process_decision(self, record, gt_masks, decision, oracles=None):
        """Add one image from an already-made decision (``record`` needs ``image_id``, ``case_id``;
        ``gt_masks`` is ``(N, H, W)`` or None for authentic); ``oracles``: the two decisions of
        :func:`oracle_decisions` for the oracle diagnostics (default: ``decision`` itself)."""
        gt_runs = None if gt_masks is None else [mask_to_runs(m) for m in gt_masks]
        ungated, candidates = (None, None) if oracles is None else (_runs(d) for d in oracles)
        self._records.append(
            image_metrics(
                record.get("case_id", record.get("image_id")),
                record.get("image_id"),
                decision.masks.shape[1:],
                gt_runs,
                _runs(decision),
                decision.image_score,
                ungated,
                candidates,
            )
        )

    def evaluate(self):
        if self._distributed:
            comm.synchronize()
            records = [r for part in comm.gather(self._records, dst=0) for r in part]
            if not comm.is_main_process():
                return {}
        else:
            records = self._records
        if not records:
            logger.warning("[ForgeryEvaluator] no image was processed: nothing to evaluate")
            return {}
        records = sorted(records, key=lambda r: r["image_id"])
        for record, key in zip(records, dataset_keys(records)):
            record["key"] = key
        results = summarize(records)
        if self._output_dir:
            self.write(records, results, self._output_dir)
        return OrderedDict(forgery=results)

    def write(self, records, results, output_dir):
        """Write the metrics JSON and the per-image / submission / solution CSVs."""
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "forgery_metrics.json"), "w") as f:
            json.dump(
                {
                    "dataset": self._dataset_name,
                    "decision": self._decision.to_config_dict(),
                    "metrics": results,
                },
                f,
                indent=2,
            )
        write_csv(
            os.path.join(output_dir, "forgery_per_image.csv"),
            PER_IMAGE_COLUMNS,
            [[r[c] for c in PER_IMAGE_COLUMNS] for r in records],
        )
        write_submission_csv(
            [(r["key"], r["annotation"]) for r in records],
            os.path.join(output_dir, "forgery_predictions.csv"),
        )
        write_csv(
            os.path.join(output_dir, "forgery_solution.csv"),
            SOLUTION_COLUMNS,
            [
                (
                    r["key"],
                    r["gt_annotation"],
                    AUTHENTIC if r["shape"] is None else json.dumps(r["shape"]),
                )
                for r in records
            ],
        )
        logger.info(f"[ForgeryEvaluator] wrote metrics and per-image CSVs to {output_dir}")
