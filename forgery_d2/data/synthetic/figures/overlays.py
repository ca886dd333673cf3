"""Text and marks drawn over a figure: labels, panel letters, scale bars, arrows, asterisks.

An :class:`Overlay` is a coverage map (float32 alpha in [0, 1]) with a colour and a top-left
position. Its ``box`` is every pixel it touches (alpha > 0), so pixels outside all overlay boxes are
exactly the pixels under them. Categories follow the layout ground truth: ``"text"`` (any rendered
characters) and ``"mark"`` (non-text graphics overlaid on the data: scale bars, arrows, arrowheads,
asterisks, zoom boxes and inset borders). ``"rule"`` is a graphic beside the data (kDa and bp
ticks, lane-group lines): drawn like the others, not a layout category, not annotated.

Overlays are built in the coordinates of whatever they annotate (a panel, a block) and moved into
figure coordinates with :meth:`Overlay.shifted`; :func:`draw_overlays` composites them in order.
"""

import copy
from dataclasses import dataclass, field

import cv2
import numpy as np

from .text import text_alpha

__all__ = [
    "OVERLAY_CATEGORIES",
    "Overlay",
    "arrow",
    "arrowhead",
    "asterisk",
    "draw_overlays",
    "line",
    "rectangle_outline",
    "scale_bar",
    "text",
]

OVERLAY_CATEGORIES = ("text", "mark", "rule")
_SUPERSAMPLE = 4  # marks are drawn at 4x and area-averaged: smooth edges, exact footprint


@dataclass
class Overlay:
    """Something drawn on top of the figure, in the coordinates of ``x``, ``y``."""

    category: str  # "text", "mark" or "rule"
    x: int  # column of alpha[0, 0]
    y: int  # row of alpha[0, 0]
    alpha: np.ndarray = field(repr=False)  # (h, w) float32 coverage in [0, 1]
    colour: tuple = (0, 0, 0)  # RGB
    label: str = ""  # what it is: "lane_label", "scale_bar", "panel_letter", ...
    text: str = ""  # the characters of a text overlay

    def __post_init__(self):
        if self.category not in OVERLAY_CATEGORIES:
            raise ValueError(
                f"overlay category must be one of {OVERLAY_CATEGORIES}, got {self.category!r}"
            )
        rows = np.flatnonzero(self.alpha.any(axis=1))
        cols = np.flatnonzero(self.alpha.any(axis=0))
        # extent of the touched pixels relative to (x, y)
        self._extent = (
            (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
            if len(rows)
            else (0, 0, 0, 0)
        )

    @property
    def shape(self):
        return self.alpha.shape

    @property
    def box(self):
        """XYXY (exclusive end) box of every pixel the overlay touches (alpha > 0)."""
        x0, y0, x1, y1 = self._extent
        return (self.x + x0, self.y + y0, self.x + x1, self.y + y1)

    def shifted(self, dx, dy):
        """The same overlay moved by (dx, dy) (the coverage map is shared, not copied)."""
        moved = copy.copy(self)
        moved.x, moved.y = self.x + int(dx), self.y + int(dy)
        return moved


def draw_overlays(image, overlays):
    """Composite ``overlays`` onto a copy of the uint8 RGB ``image`` (clipped to the image)."""
    out = image.copy()
    h_img, w_img = out.shape[:2]
    for o in overlays:
        h, w = o.alpha.shape
        x0, y0, x1, y1 = max(o.x, 0), max(o.y, 0), min(o.x + w, w_img), min(o.y + h, h_img)
        if x1 <= x0 or y1 <= y0:
            continue
        a = o.alpha[y0 - o.y : y1 - o.y, x0 - o.x : x1 - o.x, None]
        touched = a[:, :, 0] > 0
        region = out[y0:y1, x0:x1]
        blended = np.rint(region * (1.0 - a) + np.asarray(o.colour, np.float32) * a).astype(
            np.uint8
        )
        region[touched] = blended[touched]
    return out


# ----------------------------------------------------------------------------------------------
# Text


def text(
    string, x, y, family="sans", size=12, colour=(0, 0, 0), label="text", anchor="lt", angle=0
):
    """A text overlay. ``anchor``: horizontal l/c/r by the ink, vertical t/m/b by the line box."""
    alpha = text_alpha(string, family, size, angle)
    h, w = alpha.shape
    dx = {"l": 0, "c": w / 2.0, "r": w}[anchor[0]]
    dy = {"t": 0, "m": h / 2.0, "b": h}[anchor[1]]
    return Overlay(
        "text", int(round(x - dx)), int(round(y - dy)), alpha, tuple(colour), label, str(string)
    )


# ----------------------------------------------------------------------------------------------
# Marks


def _mark(draw, x0, y0, x1, y1, colour, label, category="mark"):
    """Rasterize ``draw(canvas, to_px)`` over the box [x0, x1) x [y0, y1) at _SUPERSAMPLE x."""
    x0, y0 = int(np.floor(x0)), int(np.floor(y0))
    w, h = max(int(np.ceil(x1)) - x0, 1), max(int(np.ceil(y1)) - y0, 1)
    s = _SUPERSAMPLE
    canvas = np.zeros((h * s, w * s), np.uint8)

    def to_px(points):
        return np.round((np.asarray(points, float) - [x0, y0]) * s).astype(np.int32)

    draw(canvas, to_px)
    alpha = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    alpha[alpha < 1.0 / 255] = 0.0
    return Overlay(category, x0, y0, alpha, tuple(colour), label)


def scale_bar(x, y, length, thickness, colour=(255, 255, 255)):
    """A filled scale bar with its top-left corner at (x, y) (integer px, no soft edge)."""
    alpha = np.ones((max(int(thickness), 1), max(int(length), 1)), np.float32)
    return Overlay("mark", int(x), int(y), alpha, tuple(colour), "scale_bar")


def line(p0, p1, thickness, colour=(0, 0, 0), label="line", category="rule"):
    """A straight antialiased line from p0 to p1 (x, y); a "rule" (beside the data) by default."""
    pad = thickness
    (ax, ay), (bx, by) = p0, p1
    t = max(int(round(thickness * _SUPERSAMPLE)), 1)

    def draw(canvas, to_px):
        a, b = to_px([[ax, ay], [bx, by]])
        cv2.line(canvas, tuple(map(int, a)), tuple(map(int, b)), 255, t, cv2.LINE_8)

    return _mark(
        draw,
        min(ax, bx) - pad,
        min(ay, by) - pad,
        max(ax, bx) + pad + 1,
        max(ay, by) + pad + 1,
        colour,
        label,
        category,
    )


def rectangle_outline(
    x0, y0, x1, y1, thickness, colour=(255, 255, 255), label="zoom_box", dashed=False
):
    """The outline of a rectangle (a zoom region); optionally dashed."""
    t = max(int(round(thickness * _SUPERSAMPLE)), 1)

    def draw(canvas, to_px):
        corners = to_px([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        for i in range(4):
            a, b = corners[i], corners[(i + 1) % 4]
            if not dashed:
                cv2.line(canvas, tuple(map(int, a)), tuple(map(int, b)), 255, t, cv2.LINE_8)
                continue
            length = np.hypot(*(b - a))
            dash = 4 * t
            for start in np.arange(0, length, 2 * dash):
                p = a + (b - a) * start / length
                q = a + (b - a) * min(start + dash, length) / length
                cv2.line(canvas, tuple(map(int, p)), tuple(map(int, q)), 255, t, cv2.LINE_8)

    pad = thickness + 1
    return _mark(draw, x0 - pad, y0 - pad, x1 + pad, y1 + pad, colour, label)


def arrow(tip, angle, length, thickness, colour=(255, 255, 255), head=None):
    """An arrow whose tip is at ``tip`` (x, y), coming from direction ``angle`` (degrees)."""
    head = head or max(3.0 * thickness, 4.0)
    d = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
    n = np.array([-d[1], d[0]])
    tip = np.asarray(tip, float)
    base = tip + d * head
    tail = tip + d * length
    wing = n * head * 0.55
    points = np.array([tip, base + wing, base - wing, tail])
    t = max(int(round(thickness * _SUPERSAMPLE)), 1)

    def draw(canvas, to_px):
        p = to_px(points)
        cv2.line(
            canvas, tuple(map(int, (p[1] + p[2]) // 2)), tuple(map(int, p[3])), 255, t, cv2.LINE_8
        )
        cv2.fillConvexPoly(canvas, p[:3], 255, cv2.LINE_8)

    lo, hi = points.min(axis=0) - thickness - 1, points.max(axis=0) + thickness + 1
    return _mark(draw, lo[0], lo[1], hi[0], hi[1], colour, "arrow")


def arrowhead(tip, angle, size, colour=(255, 255, 255)):
    """A filled arrowhead (triangle) pointing at ``tip`` from direction ``angle`` (degrees)."""
    d = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
    n = np.array([-d[1], d[0]])
    tip = np.asarray(tip, float)
    points = np.array([tip, tip + d * size + n * size * 0.45, tip + d * size - n * size * 0.45])

    def draw(canvas, to_px):
        cv2.fillConvexPoly(canvas, to_px(points), 255, cv2.LINE_8)

    lo, hi = points.min(axis=0) - 1, points.max(axis=0) + 1
    return _mark(draw, lo[0], lo[1], hi[0], hi[1], colour, "arrowhead")


def asterisk(centre, size, thickness, colour=(255, 255, 255), arms=6):
    """A drawn asterisk (``arms`` spokes) centred at ``centre``."""
    c = np.asarray(centre, float)
    r = size / 2.0
    t = max(int(round(thickness * _SUPERSAMPLE)), 1)

    def draw(canvas, to_px):
        for k in range(arms // 2):
            a = np.pi * k / (arms // 2) + np.pi / 2
            d = np.array([np.cos(a), np.sin(a)]) * r
            p = to_px([c - d, c + d])
            cv2.line(canvas, tuple(map(int, p[0])), tuple(map(int, p[1])), 255, t, cv2.LINE_8)

    pad = r + thickness + 1
    return _mark(draw, c[0] - pad, c[1] - pad, c[0] + pad, c[1] + pad, colour, "asterisk")
