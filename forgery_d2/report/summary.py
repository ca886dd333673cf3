"""The report's summary: counts and inference time of the screened figures and, with ground truth,
the competition's oF1 (:mod:`forgery_d2.evaluation.metric`, the scorer's exact computation) on the
submission rows, image-level precision / recall and false alarms on authentic figures.

Figures are added one at a time (the predictions file is streamed); only a few numbers per figure
are kept.
"""

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from forgery_d2.competition.rle import parse_annotation
from forgery_d2.evaluation.metric import image_of1, mean_score

from .records import PredictionRecord

__all__ = ["FigureTruth", "ReportSummary"]


@dataclass(frozen=True)
class FigureTruth:
    """One figure against its ground truth: ``forged`` (the label), ``flagged`` (the
    prediction), its oF1 and the F1 matched to each ground-truth instance (label order)."""

    forged: bool
    flagged: bool
    of1: float
    matched: tuple
    num_instances: int

    @property
    def outcome(self) -> str:
        """``detected``, ``false alarm``, ``missed`` or ``correctly authentic``."""
        if self.flagged:
            return "detected" if self.forged else "false alarm"
        return "missed" if self.forged else "correctly authentic"


def _ratio(numerator, denominator):
    return float(numerator / denominator) if denominator else float("nan")


class ReportSummary:
    """Accumulates the report's numbers; :meth:`add` one record at a time, then :meth:`metrics`."""

    def __init__(self, with_truth: bool = False):
        self.with_truth = with_truth
        self.num_screened = self.num_flagged = self.num_unreadable = 0
        self.seconds: List[float] = []
        self.of1: List[float] = []
        self.of1_forged: List[float] = []
        self.of1_authentic: List[float] = []
        self.counts = {"detected": 0, "false alarm": 0, "missed": 0, "correctly authentic": 0}

    def add(self, record: PredictionRecord, gt_runs=None) -> Optional[FigureTruth]:
        """Count one figure; with ground truth (``gt_runs``: None = authentic, else a list of runs
        arrays) also score it and return its :class:`FigureTruth`."""
        self.num_screened += 1
        self.num_unreadable += not record.readable
        self.num_flagged += record.flagged
        if record.seconds is not None:
            self.seconds.append(record.seconds)
        if not self.with_truth:
            return None
        prediction = parse_annotation(record.annotation, record.shape)  # unreadable: authentic
        value, matched = image_of1(gt_runs, prediction, return_matched=True)
        truth = FigureTruth(
            forged=gt_runs is not None,
            flagged=prediction is not None,
            of1=value,
            matched=tuple(float(v) for v in matched),
            num_instances=0 if gt_runs is None else len(gt_runs),
        )
        self.of1.append(value)
        (self.of1_forged if truth.forged else self.of1_authentic).append(value)
        self.counts[truth.outcome] += 1
        return truth

    @property
    def num_authentic(self) -> int:
        """Readable figures predicted authentic."""
        return self.num_screened - self.num_flagged - self.num_unreadable

    def metrics(self) -> dict:
        """Plain numbers (JSON-able; NaN where a ratio has no denominator)."""
        seconds = np.asarray(self.seconds, dtype=float)
        nan = float("nan")
        out = {
            "figures_screened": self.num_screened,
            "flagged": self.num_flagged,
            "authentic": self.num_authentic,
            "unreadable": self.num_unreadable,
            "seconds_total": float(seconds.sum()),
            "seconds_per_figure_mean": float(seconds.mean()) if len(seconds) else nan,
            "seconds_per_figure_median": float(np.median(seconds)) if len(seconds) else nan,
            "seconds_per_figure_max": float(seconds.max()) if len(seconds) else nan,
        }
        if self.with_truth:
            c = self.counts
            out.update(
                {
                    "oF1": mean_score(self.of1) if self.of1 else nan,
                    "oF1_forged": mean_score(self.of1_forged) if self.of1_forged else nan,
                    "oF1_authentic": mean_score(self.of1_authentic) if self.of1_authentic else nan,
                    "gt_forged": c["detected"] + c["missed"],
                    "gt_authentic": c["false alarm"] + c["correctly authentic"],
                    "detected": c["detected"],
                    "missed": c["missed"],
                    "false_alarms": c["false alarm"],
                    "image_precision": _ratio(c["detected"], c["detected"] + c["false alarm"]),
                    "image_recall": _ratio(c["detected"], c["detected"] + c["missed"]),
                    "false_alarm_rate": _ratio(
                        c["false alarm"], c["false alarm"] + c["correctly authentic"]
                    ),
                }
            )
        return out
