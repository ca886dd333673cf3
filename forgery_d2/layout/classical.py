"""ClassicalLayoutAnalyzer: panels, text and marks of a figure without any training.

1. canvas (forgery_d2.layout.canvas): the canvas colour from the figure's frame, canvas pixels;
2. canvas labels: components of non-canvas pixels that cannot be panels (smaller than a panel,
   thinner than a strip, or thin-stroked line art of glyph size) are text/marks on the canvas;
   faint ones (compression noise) are ignored;
3. panels (forgery_d2.layout.panels): recursive XY-cut of the rest on gutters, then cuts along
   straight full-length discontinuities for touching panels; leaves too small or too empty are
   dropped; with no panel left, the whole content box is the one panel;
4. ink inside panels (forgery_d2.layout.ink): components of extreme-colour pixels that are small,
   thin-stroked and high-contrast against their surroundings; sparse panels drawn on the canvas
   (plots: axes, bars, error bars) keep the canvas labels found on them instead;
5. boxes (forgery_d2.layout.marks): marks (bars, arrows) and text lines, scored; those scoring
   at least ``min_mark_score`` are kept; the ink mask is their components' pixels, grown over
   the anti-aliased edge pixels of in-panel ink (forgery_d2.layout.ink.grow_ink) and dilated
   by ``ink_dilation`` px; each box is the extent of its ink in that mask.
"""

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from forgery_d2.config import ConfigParams

from .canvas import as_rgb, canvas_mask, colour_distance, estimate_canvas_colour
from .ink import InkComponents, grow_ink, ink_components, label_max, measure_components
from .marks import text_and_mark_boxes
from .panels import content_box, split_panels
from .structures import FigureLayout

__all__ = ["ClassicalLayoutParams", "ClassicalLayoutAnalyzer"]

CANVAS_LABEL_SCORE = 0.9  # confidence of a non-panel component on the canvas being text/mark


@dataclass(frozen=True)
class ClassicalLayoutParams(ConfigParams):
    """Settings of the classical analyzer: one field per ``MODEL.LAYOUT.CLASSICAL`` key (documented,
    with its default, in forgery_d2/config.py). Sizes scale with the figure's long side."""

    canvas_tolerance: int
    canvas_min_run: int
    canvas_min_frame_fraction: float
    canvas_noise: int
    min_panel_size: int
    min_panel_fraction: float
    min_panel_fill: float
    min_gutter: int
    edge_min_fraction: float
    edge_min_step: int
    edge_ratio: float
    ink_tolerance: int
    min_ink_contrast: float
    min_ink_sharpness: float
    min_ink_flatness: float
    min_glyph_size: int
    max_stroke_width: float
    max_stroke_fraction: float
    max_mark_fraction: float
    min_bar_length: int
    text_gap: float
    min_mark_score: float
    ink_dilation: int

    @classmethod
    def from_config(cls, cfg) -> "ClassicalLayoutParams":
        """Read ``cfg.MODEL.LAYOUT.CLASSICAL``."""
        c = cfg.MODEL.LAYOUT.CLASSICAL
        return cls(
            canvas_tolerance=c.CANVAS_TOLERANCE,
            canvas_min_run=c.CANVAS_MIN_RUN,
            canvas_min_frame_fraction=c.CANVAS_MIN_FRAME_FRACTION,
            canvas_noise=c.CANVAS_NOISE,
            min_panel_size=c.MIN_PANEL_SIZE,
            min_panel_fraction=c.MIN_PANEL_FRACTION,
            min_panel_fill=c.MIN_PANEL_FILL,
            min_gutter=c.MIN_GUTTER,
            edge_min_fraction=c.EDGE_MIN_FRACTION,
            edge_min_step=c.EDGE_MIN_STEP,
            edge_ratio=c.EDGE_RATIO,
            ink_tolerance=c.INK_TOLERANCE,
            min_ink_contrast=c.MIN_INK_CONTRAST,
            min_ink_sharpness=c.MIN_INK_SHARPNESS,
            min_ink_flatness=c.MIN_INK_FLATNESS,
            min_glyph_size=c.MIN_GLYPH_SIZE,
            max_stroke_width=c.MAX_STROKE_WIDTH,
            max_stroke_fraction=c.MAX_STROKE_FRACTION,
            max_mark_fraction=c.MAX_MARK_FRACTION,
            min_bar_length=c.MIN_BAR_LENGTH,
            text_gap=c.TEXT_GAP,
            min_mark_score=c.MIN_MARK_SCORE,
            ink_dilation=c.INK_DILATION,
        )


class ClassicalLayoutAnalyzer:
    """``analyzer(image) -> FigureLayout`` for a uint8 grey, RGB or RGBA figure (see module doc)."""

    def __init__(self, params: ClassicalLayoutParams = None):
        self.params = params or ClassicalLayoutParams.default()

    def __call__(self, image) -> FigureLayout:
        p = self.params
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        long_side = max(h, w)
        min_panel = max(p.min_panel_size, int(round(p.min_panel_fraction * long_side)))
        max_stroke = max(p.max_stroke_width, p.max_stroke_fraction * long_side)

        # 1-2. Canvas, and what is drawn on it that cannot be a panel.
        colour = estimate_canvas_colour(rgb, p.canvas_tolerance, p.canvas_min_frame_fraction)
        foreground = ~canvas_mask(rgb, colour, p.canvas_tolerance, p.canvas_min_run)
        parts = measure_components(rgb, foreground, colour or (0, 0, 0), contrast=False)
        noise = self._canvas_noise(rgb, colour, parts, min_panel)
        labels_on_canvas = self._canvas_labels(parts, min_panel, max_stroke) & ~noise
        content = foreground & ~np.isin(parts.labels, np.flatnonzero(labels_on_canvas | noise) + 1)

        # 3. Panels.
        panels, panel_scores = self._panels(rgb, content, foreground, min_panel)
        in_panel = np.zeros((h, w), bool)
        in_dense_panel = np.zeros((h, w), bool)  # panels drawn on the canvas (plots) are sparse
        panel_index = np.full((h, w), -1, np.int64)
        for i, (x0, y0, x1, y1) in enumerate(panels):
            in_panel[y0:y1, x0:x1] = True
            in_dense_panel[y0:y1, x0:x1] |= panel_scores[i] >= p.min_panel_fill
            panel_index[y0:y1, x0:x1] = i

        # 4. Text and marks: canvas labels outside the panels (or on a sparse panel's canvas),
        # ink components inside the other panels.
        centres = _centres(parts.boxes)
        on_canvas = ~in_dense_panel[centres[:, 1], centres[:, 0]]
        canvas_labels = parts.select(labels_on_canvas & on_canvas)
        inside = self._panel_ink(rgb, in_dense_panel, panels, panel_index, max_stroke)
        components = InkComponents.concatenate([canvas_labels, inside])
        scores = np.concatenate(
            [
                np.full(len(canvas_labels), CANVAS_LABEL_SCORE, np.float32),
                np.clip(inside.contrasts / 255.0, 0.0, 1.0),
            ]
        )
        # Glyphs group only with glyphs of the same panel (or the canvas) and colour.
        inside_centres = _centres(inside.boxes)
        inside_panel = panel_index[inside_centres[:, 1], inside_centres[:, 0]]
        group_key = np.concatenate(
            [np.full(len(canvas_labels), -1, np.int64), inside_panel * 8 + inside.colour_classes]
        )
        anchored = np.concatenate(
            [
                np.ones(len(canvas_labels), bool),
                _near_panel_corner(inside.boxes, panels[np.maximum(inside_panel, 0)]),
            ]
        )

        # 5. Boxes, scores and the ink mask; each box is the extent of its ink.
        _, mark_labels, mark_scores, members = text_and_mark_boxes(
            components, scores, group_key, anchored, p.min_bar_length, p.text_gap
        )
        keep = np.flatnonzero(mark_scores >= p.min_mark_score)
        box_of = np.zeros(len(components) + 1, np.int32)  # component id -> 1 + index of its box
        for j, i in enumerate(keep):
            box_of[members[i] + 1] = j + 1
        ink = box_of[grow_ink(rgb, components, box_of[1:] > 0)]
        boxes = np.zeros((len(keep), 4), np.float32)
        for j, (i, found) in enumerate(zip(keep, ndimage.find_objects(ink, len(keep)))):
            if found is None:  # its pixels were claimed by an overlapping component's box
                b = components.boxes[members[i]]
                boxes[j] = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
            else:
                boxes[j] = found[1].start, found[0].start, found[1].stop, found[0].stop
        mark_mask = ink > 0
        if p.ink_dilation > 0 and mark_mask.any():
            kernel = np.ones((2 * p.ink_dilation + 1,) * 2, np.uint8)
            mark_mask = cv2.dilate(mark_mask.astype(np.uint8), kernel).astype(bool)
        return FigureLayout(
            panels=panels.astype(np.float32),
            panel_scores=panel_scores,
            marks=boxes,
            mark_labels=mark_labels[keep],
            mark_scores=mark_scores[keep],
            mark_mask=mark_mask,
            background_mask=~in_panel,
        )

    def _canvas_noise(self, rgb, colour, parts, min_panel):
        """bool (K,): components smaller than a panel never differing from the canvas by more than
        ``canvas_noise`` (compression ringing and speckles)."""
        if colour is None or len(parts) == 0:
            return np.zeros(len(parts), bool)
        peak = label_max(colour_distance(rgb, colour), parts.labels, len(parts))
        size = np.maximum(
            parts.boxes[:, 2] - parts.boxes[:, 0], parts.boxes[:, 3] - parts.boxes[:, 1]
        )
        return (np.asarray(peak) < self.params.canvas_noise) & (size < min_panel)

    def _panels(self, rgb, content, foreground, min_panel):
        """``(boxes int64 (P, 4), scores float32 (P,))``: the split's leaves that are large and full
        enough, or sparse but at least 3 panel sizes on each side (plots, diagrams); score: their
        non-canvas fraction. Without any, the content box is the one panel."""
        p = self.params
        panels, scores = [], []
        leaves = split_panels(
            rgb,
            content,
            min_panel,
            p.min_gutter,
            p.edge_min_fraction,
            p.edge_min_step,
            p.edge_ratio,
        )
        for box in leaves:
            x0, y0, x1, y1 = box
            short, long = sorted((x1 - x0, y1 - y0))
            fill = float(content[y0:y1, x0:x1].mean())
            line_art = short >= 3 * min_panel
            if (
                short >= min_panel / 2
                and long >= min_panel
                and (fill >= p.min_panel_fill or line_art)
            ):
                panels.append(box)
                scores.append(fill)
        if not panels:  # no split: the content box (or the whole figure) is the one panel
            h, w = content.shape
            panels, scores = [content_box(foreground, (0, 0, w, h)) or (0, 0, w, h)], [0.5]
        return np.asarray(panels, np.int64).reshape(-1, 4), np.asarray(scores, np.float32)

    def _canvas_labels(self, parts, min_panel, max_stroke):
        """bool (K,): the canvas components that cannot be panels (see the module docstring)."""
        bw = parts.boxes[:, 2] - parts.boxes[:, 0]
        bh = parts.boxes[:, 3] - parts.boxes[:, 1]
        small = np.maximum(bw, bh) < min_panel
        thin = np.minimum(bw, bh) < min_panel / 2
        line_art = (parts.strokes <= max_stroke) & (np.maximum(bw, bh) < 4 * min_panel)
        return small | thin | line_art

    def _panel_ink(self, rgb, in_panel, panels, panel_index, max_stroke):
        """The ink components inside the panels that look drawn (see forgery_d2.layout.ink)."""
        p = self.params

        def small_and_thin(boxes, strokes):
            size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            owner = panels[np.maximum(panel_index[_centres(boxes)[:, 1], _centres(boxes)[:, 0]], 0)]
            panel_long_side = np.maximum(owner[:, 2] - owner[:, 0], owner[:, 3] - owner[:, 1])
            return (
                (size >= p.min_glyph_size)
                & (size <= p.max_mark_fraction * panel_long_side)
                & (strokes <= max_stroke)
            )

        ink = ink_components(rgb, in_panel, p.ink_tolerance, keep=small_and_thin)
        drawn = (
            (ink.contrasts >= p.min_ink_contrast)
            & (ink.sharpness >= p.min_ink_sharpness)
            & (ink.flatness >= p.min_ink_flatness)
        )
        return ink.select(drawn)


def _near_panel_corner(boxes, owners, reach=0.15):
    """bool (K,): boxes lying within ``reach`` x the panel's short side of one of its corners."""
    if len(boxes) == 0:
        return np.zeros(0, bool)
    margin = reach * np.minimum(owners[:, 2] - owners[:, 0], owners[:, 3] - owners[:, 1])
    left = boxes[:, 0] - owners[:, 0] <= margin
    right = owners[:, 2] - boxes[:, 2] <= margin
    top = boxes[:, 1] - owners[:, 1] <= margin
    bottom = owners[:, 3] - boxes[:, 3] <= margin
    return (left | right) & (top | bottom)


def _centres(boxes):
    """Integer ``(K, 2)`` (x, y) centres of XYXY boxes (inside the box: exclusive ends)."""
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    return np.stack(
        [(boxes[:, 0] + boxes[:, 2] - 1) // 2, (boxes[:, 1] + boxes[:, 3] - 1) // 2], axis=1
    )
