"""Kaggle-exact evaluation of forgery models.

- :mod:`.rle`: the competition's run-length encoding (column-major, 1-based, ``;``-joined, ``authentic``).
- :mod:`.metric`: oF1 per image and for whole CSVs, digit-exact with the competition's scorer.
- :mod:`.submission`: read / validate / write submission and solution CSVs.
- :mod:`.decision`: model outputs -> final instances (``cfg.FORGERY.DECISION``).
- :mod:`.evaluator`: ``ForgeryEvaluator`` for detectron2's ``inference_on_dataset`` and trainers.
- :mod:`.sweep`: tune the decision rule on a validation set from cached raw outputs.
- :mod:`.inference`: config + model loading and batched inference shared by the tools.
"""
from .decision import Decision, DecisionRule, image_score_of
from .evaluator import ForgeryEvaluator, summarize
from .metric import image_of1, image_of1_from_masks, score, score_per_image
from .rle import (
    AUTHENTIC,
    RLEError,
    decode_annotation,
    encode_annotation,
    parse_annotation,
    rle_decode,
    rle_encode,
)
from .submission import (
    SubmissionError,
    read_solution_csv,
    read_submission_csv,
    write_solution_csv,
    write_submission_csv,
)
from .sweep import RawOutputCollector, sweep, write_decision_yaml

__all__ = [
    "AUTHENTIC",
    "RLEError",
    "rle_encode",
    "rle_decode",
    "encode_annotation",
    "decode_annotation",
    "parse_annotation",
    "image_of1",
    "image_of1_from_masks",
    "score",
    "score_per_image",
    "SubmissionError",
    "read_solution_csv",
    "read_submission_csv",
    "write_solution_csv",
    "write_submission_csv",
    "Decision",
    "DecisionRule",
    "image_score_of",
    "ForgeryEvaluator",
    "summarize",
    "RawOutputCollector",
    "sweep",
    "write_decision_yaml",
]
