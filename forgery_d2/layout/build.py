"""``build_layout_analyzer(cfg)``: the layout analyzer named by ``MODEL.LAYOUT.ANALYZER``."""

from .classical import ClassicalLayoutAnalyzer, ClassicalLayoutParams
from .detector import DetectorLayoutAnalyzer, LayoutConfigError

__all__ = ["LAYOUT_ANALYZERS", "build_layout_analyzer"]

LAYOUT_ANALYZERS = ("classical", "detector")


def build_layout_analyzer(cfg):
    """A callable ``image -> FigureLayout``: :class:`ClassicalLayoutAnalyzer` with
    ``MODEL.LAYOUT.CLASSICAL`` or :class:`DetectorLayoutAnalyzer` with ``MODEL.LAYOUT.DETECTOR``."""
    name = cfg.MODEL.LAYOUT.ANALYZER
    if name == "classical":
        return ClassicalLayoutAnalyzer(ClassicalLayoutParams.from_config(cfg))
    if name == "detector":
        return DetectorLayoutAnalyzer.from_config(cfg)
    raise LayoutConfigError(
        f"MODEL.LAYOUT.ANALYZER must be one of {LAYOUT_ANALYZERS}, got {name!r}"
    )
