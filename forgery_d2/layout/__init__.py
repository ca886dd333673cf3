"""Figure layout: where a figure's panels and its text / marks are (docs/LAYOUT.md).

``build_layout_analyzer(cfg)(image) -> FigureLayout``, with ``MODEL.LAYOUT.ANALYZER``:

- ``classical`` (:class:`ClassicalLayoutAnalyzer`): canvas estimation, XY-cut on gutters, cuts
  along straight discontinuities for touching panels, drawn-ink components for text and marks;
- ``detector`` (:class:`DetectorLayoutAnalyzer`): a detectron2 Faster R-CNN trained on the
  synthetic figures' layout boxes (``configs/layout/layout_R_18_FPN.yaml``).

The copy-move matcher uses it to match within and between panels and to keep text and marks
(whose legitimate repetition looks like duplication) out of keypoints and masks.
"""

from .build import LAYOUT_ANALYZERS, build_layout_analyzer
from .canvas import LayoutInputError
from .classical import ClassicalLayoutAnalyzer, ClassicalLayoutParams
from .detector import DetectorLayoutAnalyzer, LayoutConfigError, load_detector_config
from .structures import MARK, MARK_LABEL_NAMES, TEXT, FigureLayout

__all__ = [
    "LAYOUT_ANALYZERS",
    "MARK",
    "MARK_LABEL_NAMES",
    "TEXT",
    "ClassicalLayoutAnalyzer",
    "ClassicalLayoutParams",
    "DetectorLayoutAnalyzer",
    "FigureLayout",
    "LayoutConfigError",
    "LayoutInputError",
    "build_layout_analyzer",
    "load_detector_config",
]
