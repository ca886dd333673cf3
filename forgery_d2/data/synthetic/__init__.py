"""Synthetic copy-move forgeries: the built-in data for demos, tests and pretraining.

* ``generate_dataset`` writes a dataset in the competition's layout (``tools/make_synthetic.py``).
* ``make_forgery`` / ``plant_copy_move`` plant random / known copy-moves in any image, with exact
  ground truth (see forgery_d2.data.synthetic.copy_move).
* ``sample_authentic`` / ``draw_blot`` draw authentic figures, blots and gels.
"""

from .blots import draw_blot
from .copy_move import (
    Anchors,
    CopyMoveEvent,
    CopyMoveOptions,
    CopyTransform,
    ForgeryPlacementError,
    make_forgery,
    plant_copy_move,
)
from .generator import SyntheticOptions, generate_case, generate_dataset
from .sources import SourceOptions, sample_authentic

__all__ = [
    "Anchors",
    "CopyMoveEvent",
    "CopyMoveOptions",
    "CopyTransform",
    "ForgeryPlacementError",
    "SourceOptions",
    "SyntheticOptions",
    "draw_blot",
    "generate_case",
    "generate_dataset",
    "make_forgery",
    "plant_copy_move",
    "sample_authentic",
]
