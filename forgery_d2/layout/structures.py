"""FigureLayout: where the panels and the text/marks of one figure are."""

from dataclasses import dataclass

import numpy as np

__all__ = ["FigureLayout", "TEXT", "MARK", "MARK_LABEL_NAMES"]

TEXT = 0  # mark_labels value of rendered characters: labels, letters, tick labels, scale text
MARK = 1  # mark_labels value of non-text graphics on the data: scale bars, arrows, asterisks
MARK_LABEL_NAMES = ("text", "mark")


@dataclass
class FigureLayout:
    """The layout of one ``(H, W)`` figure, in its pixel coordinates (XYXY boxes, exclusive end).

    Attributes:
        panels: float32 ``(P, 4)`` panel boxes, ``P >= 1`` (the whole content box when the figure
            is not split).
        panel_scores: float32 ``(P,)`` confidence of each panel in [0, 1].
        marks: float32 ``(M, 4)`` boxes of text and marks, inside panels and on the canvas.
        mark_labels: int64 ``(M,)``: :data:`TEXT` (0) or :data:`MARK` (1).
        mark_scores: float32 ``(M,)`` confidence of each text/mark box in [0, 1].
        mark_mask: bool ``(H, W)``: the ink pixels of the text and marks, dilated by a pixel or two
            for anti-aliasing; never whole boxes, so data pixels around a label stay usable.
        background_mask: bool ``(H, W)``: pixels outside every panel box (figure canvas, gutters
            and what is drawn on them).
    """

    panels: np.ndarray
    panel_scores: np.ndarray
    marks: np.ndarray
    mark_labels: np.ndarray
    mark_scores: np.ndarray
    mark_mask: np.ndarray
    background_mask: np.ndarray

    def __post_init__(self):
        self.panels = np.asarray(self.panels, np.float32).reshape(-1, 4)
        self.panel_scores = np.asarray(self.panel_scores, np.float32).reshape(-1)
        self.marks = np.asarray(self.marks, np.float32).reshape(-1, 4)
        self.mark_labels = np.asarray(self.mark_labels, np.int64).reshape(-1)
        self.mark_scores = np.asarray(self.mark_scores, np.float32).reshape(-1)
        self.mark_mask = np.asarray(self.mark_mask, bool)
        self.background_mask = np.asarray(self.background_mask, bool)
        if len(self.panels) < 1 or len(self.panel_scores) != len(self.panels):
            raise ValueError(
                f"a FigureLayout needs >= 1 panel and one score per panel, got "
                f"{len(self.panels)} panels and {len(self.panel_scores)} scores"
            )
        if not len(self.marks) == len(self.mark_labels) == len(self.mark_scores):
            raise ValueError(
                f"marks ({len(self.marks)}), mark_labels ({len(self.mark_labels)}) and "
                f"mark_scores ({len(self.mark_scores)}) must have the same length"
            )
        if self.mark_mask.ndim != 2 or self.mark_mask.shape != self.background_mask.shape:
            raise ValueError(
                f"mark_mask {self.mark_mask.shape} and background_mask "
                f"{self.background_mask.shape} must both be (H, W)"
            )

    @property
    def image_size(self):
        """``(H, W)`` of the figure."""
        return self.mark_mask.shape

    def panel_crops(self):
        """Integer ``(x0, y0, x1, y1)`` of every panel, clipped to the figure (for slicing)."""
        h, w = self.image_size
        boxes = np.rint(self.panels).astype(np.int64)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return [tuple(int(v) for v in b) for b in boxes]
