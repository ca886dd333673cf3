"""Merged overlays told from copies by the colour channel that links them to a third panel.

A fluorescence figure shows each channel in its own panel (DAPI, a marker, ...) and their sum, the
"merge", beside them at the same size. Wherever the merge's other channels are dark, the merge *is*
the marker panel, pixel for pixel, grain included; shown in grey, the two verify as a copy. The
figure matcher's composite rule drops a region that matches two different regions which do not
match each other, but here the second link (merge <-> DAPI) is seldom a verified candidate: the
DAPI signal is faint in grey next to the marker's.

:func:`is_channel_composite` searches for that link actively, one colour channel at a time. For
each side of a duplication moved along a row or a column of the figure (channel panels are drawn
side by side), its box is looked for in each colour channel along that row or column (normalized
cross-correlation, OpenCV's ``matchTemplate``), away from the two sides; text, marks, canvas and
graphics are neutralized first (every panel of a grid carries its scale bar at the same spot). A
third region that matches one side in one channel (correlation >= ``min_link``) while the other
side matches it clearly less (by ``min_gap`` or more) makes the two sides different pictures that
share a channel: a merge and one of its channels, not a copy. Of a true copy, the two sides are
one picture, so any third region correlates with both alike (a region copied twice, or a channel
panel and its merge beside a copied region, matches both), and it stays a duplication. Left
alone: a region pasted from a channel panel into its merge at the same spot.
"""

from typing import Optional

import cv2
import numpy as np

from forgery_d2.structures.masks import mask_box

__all__ = ["is_channel_composite", "line_axis", "neutral_planes"]

# px: how far off a row (column) a move, or the third panel, may be and still lie on it.
AXIS_TOLERANCE = 2


def _zncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def _best_on_line(plane, template, corner, axis: int, avoid):
    """(score, (x, y)) of the best normalized cross-correlation of ``template`` in ``plane`` with
    its corner on the row (``axis`` 0) or column (1) through ``corner``, give or take
    ``AXIS_TOLERANCE``, and at least half the template's size from each (x, y) of ``avoid``;
    (-1, None) when there is no such place. Only the band along that line is searched."""
    h, w = template.shape
    height, width = plane.shape
    if axis == 0:
        low = max(0, corner[1] - AXIS_TOLERANCE)
        band = plane[low : min(height, corner[1] + h + AXIS_TOLERANCE)]
        offset = (0, low)
    else:
        low = max(0, corner[0] - AXIS_TOLERANCE)
        band = plane[:, low : min(width, corner[0] + w + AXIS_TOLERANCE)]
        offset = (low, 0)
    response = cv2.matchTemplate(np.ascontiguousarray(band), template, cv2.TM_CCOEFF_NORMED)
    ys, xs = np.mgrid[: response.shape[0], : response.shape[1]]
    xs, ys = xs + offset[0], ys + offset[1]
    allowed = np.ones(response.shape, bool)
    for x, y in avoid:
        allowed &= (np.abs(xs - x) >= w // 2) | (np.abs(ys - y) >= h // 2)
    if not allowed.any():
        return -1.0, None
    masked = np.where(allowed, response, -1.0)
    k = np.unravel_index(int(np.argmax(masked)), masked.shape)
    return float(masked[k]), (int(xs[k]), int(ys[k]))


def line_axis(matrix: np.ndarray) -> Optional[int]:
    """0 when ``matrix`` (2x3) is a translation along a row, 1 along a column, None otherwise.
    Channel panels are drawn side by side in a row or a column, without flip, rotation or scale:
    a move across the grid is not the relation of a merge and its channels."""
    if not np.allclose(matrix[:, :2], np.eye(2), atol=0.01):
        return None
    axis = int(np.argmax(np.abs(matrix[:, 2])))  # 0: a row (x), 1: a column (y)
    return axis if abs(matrix[1 - axis, 2]) <= AXIS_TOLERANCE else None


def neutral_planes(colour: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """float32 ``(C, H, W)``: each colour plane of ``colour`` (``(H, W, C)``) with the ``exclude``
    pixels (text, marks, canvas, graphics) set to the plane's median, so that they say nothing
    (every panel of a grid carries its scale bar at the same spot). Built once per figure."""
    planes = np.ascontiguousarray(np.moveaxis(colour, 2, 0), dtype=np.float32).copy()
    for plane in planes:
        plane[exclude] = np.median(plane[~exclude]) if (~exclude).any() else 0.0
    return planes


def is_channel_composite(
    planes: Optional[np.ndarray],
    matrix: np.ndarray,
    copy_mask: np.ndarray,
    source_mask: np.ndarray,
    min_link: float = 0.7,
    min_gap: float = 0.3,
    min_std: float = 2.0,
) -> bool:
    """Whether a verified duplication (``matrix``: 2x3 source -> copy; bool masks of its two sides,
    all in the frame of ``planes``, the figure's :func:`neutral_planes`) is a merged overlay and one
    of its channel panels (see the module docstring). False for grey figures (``planes`` None) and
    for moves other than a translation along a row or a column (:func:`line_axis`).

    The thresholds were read off the merged overlays that stage I of the matcher flagged on the
    100 authentic test figures of generator seed 2031 (four: links 0.71-0.99, the other side
    0.48-0.66 below) and checked on development seeds 5 and 11 (one more overlay dropped there; the
    forged figures' copies keep their scores: a copy's two sides are one picture)."""
    axis = line_axis(matrix)
    if planes is None or axis is None:
        return False
    sides = [mask_box(copy_mask), mask_box(source_mask)]
    if sides[0] is None or sides[1] is None:
        return False
    # Both sides as boxes of one size: the copy's box and the box it came from.
    x0, y0, x1, y1 = sides[0]
    dx, dy = (int(round(v)) for v in matrix[:, 2])
    height, width = planes.shape[1:]
    if not (0 <= x0 - dx and x1 - dx <= width and 0 <= y0 - dy and y1 - dy <= height):
        return False
    corners = [(x0, y0), (x0 - dx, y0 - dy)]
    size = (x1 - x0, y1 - y0)
    if min(size) < 8:
        return False
    for plane in planes:
        for side in (0, 1):
            sx, sy = corners[side]
            template = plane[sy : sy + size[1], sx : sx + size[0]]
            if template.std() < min_std:
                continue  # no signal on this side in this channel
            score, place = _best_on_line(plane, template, corners[side], axis, corners)
            if score < min_link:
                continue
            ox, oy = corners[1 - side]
            other = plane[oy : oy + size[1], ox : ox + size[0]]
            third = plane[place[1] : place[1] + size[1], place[0] : place[0] + size[0]]
            if _zncc(other, third) <= score - min_gap:
                return True
    return False
