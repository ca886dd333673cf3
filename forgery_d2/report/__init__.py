"""A screening report an integrity analyst can read, from saved predictions (``predictions.jsonl``).

- :mod:`.records`: read and validate the predictions file (streamed; errors name file and line).
- :mod:`.geometry`: what a source -> copy transform does (shift, flip, rotation, scale) and the
  corresponding points to draw.
- :mod:`.drawing`: thumbnails and source/copy overlays.
- :mod:`.ground_truth`, :mod:`.summary`: optional ground truth and the summary (exact oF1).
- :mod:`.html`: the self-contained page; :mod:`.writer`: :func:`write_report`, which ties them.

CLI: ``tools/report.py --predictions predictions.jsonl --output DIR
[--gt-masks DIR | --solution CSV]``.
"""

from .geometry import TransformDescription, correspondences, describe_transform, map_points
from .records import (
    CopyMovePart,
    PredictedInstance,
    PredictionRecord,
    PredictionsError,
    parse_record,
    read_predictions,
)
from .writer import ReportResult, write_report

__all__ = [
    "CopyMovePart",
    "PredictedInstance",
    "PredictionRecord",
    "PredictionsError",
    "ReportResult",
    "TransformDescription",
    "correspondences",
    "describe_transform",
    "map_points",
    "parse_record",
    "read_predictions",
    "write_report",
]
