"""Kaggle-exact evaluation of forgery models.

The competition's file formats (RLE, submission / solution CSVs) live in :mod:`forgery_d2.competition`.

- :mod:`.metric`: oF1 per image and for whole CSVs, digit-exact with the competition's scorer.
- :mod:`.ground_truth`: ground-truth masks of evaluated images, solution CSVs of datasets.
- :mod:`.decision`: model outputs -> final instances (``cfg.FORGERY.DECISION``).
- :mod:`.evaluator`: ``ForgeryEvaluator`` for detectron2's ``inference_on_dataset`` and trainers.
- :mod:`.sweep`: tune the decision rule on a validation set from cached raw outputs.
"""

from .decision import Decision, DecisionRule, image_score_of
from .evaluator import ForgeryEvaluator, summarize
from .ground_truth import GroundTruthLoader, write_solution_csv
from .metric import image_of1, image_of1_from_masks, score, score_per_image
from .sweep import RawOutputCollector, sweep, write_decision_yaml

__all__ = [
    "image_of1",
    "image_of1_from_masks",
    "score",
    "score_per_image",
    "GroundTruthLoader",
    "write_solution_csv",
    "Decision",
    "DecisionRule",
    "image_score_of",
    "ForgeryEvaluator",
    "summarize",
    "RawOutputCollector",
    "sweep",
    "write_decision_yaml",
]
