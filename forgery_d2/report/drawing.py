"""Pictures of a flagged figure: a thumbnail, and the source/copy overlay with its correspondences.

The overlay is drawn on the figure sized down to ``max_side`` pixels: each copy-move part's
source region in blue and its copy in orange (light fill + outline), yellow lines from points of
the source to the points the transform maps them to (arrow heads at the copy, first line from the
centroid, thicker), the part's number at the copy; regions found without a pair (e.g. by the
network) in purple; ground truth, when given, outlined in green a few pixels outside its region,
so that a prediction that matches it stays visible. Colours are from the Okabe-Ito
colour-blind-safe palette.
A region too small to see at overlay scale still gets a marker at its centre.
"""

from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

__all__ = [
    "SOURCE_COLOR",
    "COPY_COLOR",
    "UNPAIRED_COLOR",
    "GT_COLOR",
    "LINE_COLOR",
    "OverlayPart",
    "fit_scale",
    "resize_to",
    "thumbnail",
    "draw_overlay",
    "write_picture",
]

# RGB colours.
SOURCE_COLOR = (0, 114, 178)
COPY_COLOR = (230, 97, 0)
UNPAIRED_COLOR = (204, 121, 167)
GT_COLOR = (0, 158, 115)
LINE_COLOR = (240, 228, 66)
_HALO = (0, 0, 0)
FILL_ALPHA = 0.35


@dataclass
class OverlayPart:
    """One copy-move pair to draw, at the figure's resolution: boolean ``(H, W)`` masks of the
    source and the copy, ``(n, 2)`` corresponding (x, y) points (row i of ``source_points`` maps to
    row i of ``copy_points``; row 0 is the centroid's), and the label drawn at the copy."""

    source: np.ndarray
    copy: np.ndarray
    source_points: np.ndarray
    copy_points: np.ndarray
    label: str = ""


def fit_scale(height: int, width: int, max_side: int) -> float:
    """Scale factor (<= 1) that fits a ``height x width`` figure into ``max_side`` pixels."""
    return min(1.0, float(max_side) / max(height, width))


def resize_to(image: np.ndarray, scale: float) -> np.ndarray:
    """Image resized by ``scale`` (area interpolation when shrinking); at least 1x1."""
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def thumbnail(image_rgb: np.ndarray, max_side: int = 240) -> np.ndarray:
    """The figure, sized down to fit ``max_side`` pixels (RGB uint8)."""
    return resize_to(image_rgb, fit_scale(*image_rgb.shape[:2], max_side))


def _small_mask(mask, size):
    """A boolean mask sized down to ``size`` (w, h), keeping thin or small regions visible."""
    mask = np.asarray(mask, dtype=np.uint8)
    if (mask.shape[1], mask.shape[0]) == size:
        return mask.astype(bool)
    return cv2.resize(mask * 255, size, interpolation=cv2.INTER_AREA) >= 64


def _fill(canvas, mask, color, alpha=FILL_ALPHA):
    if mask.any():
        canvas[mask] = ((1 - alpha) * canvas[mask] + alpha * np.asarray(color)).astype(np.uint8)


def _outline(canvas, mask, color, thickness):
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    cv2.drawContours(canvas, contours, -1, color, thickness, cv2.LINE_AA)


def _marker(canvas, mask_full, scale, color, thickness):
    """A ring at a region's centre, for regions that vanish at overlay scale."""
    ys, xs = np.nonzero(mask_full)
    if len(xs):
        centre = (int(round(xs.mean() * scale)), int(round(ys.mean() * scale)))
        cv2.circle(canvas, centre, 4 * thickness, color, thickness, cv2.LINE_AA)


def _arrow(canvas, start, end, thickness):
    start = tuple(int(round(v)) for v in start)
    end = tuple(int(round(v)) for v in end)
    length = float(np.hypot(end[0] - start[0], end[1] - start[1]))
    if length < 1:
        return
    tip = min(0.5, (6 + 3 * thickness) / length)  # arrow heads of about the same size in pixels
    cv2.arrowedLine(canvas, start, end, _HALO, thickness + 2, cv2.LINE_AA, tipLength=tip)
    cv2.arrowedLine(canvas, start, end, LINE_COLOR, thickness, cv2.LINE_AA, tipLength=tip)


def _label(canvas, text, at, thickness):
    if not text:
        return
    font, size = cv2.FONT_HERSHEY_SIMPLEX, 0.4 + 0.2 * thickness
    at = (int(round(at[0])) + 4, int(round(at[1])) - 4)
    cv2.putText(canvas, text, at, font, size, _HALO, thickness + 2, cv2.LINE_AA)
    cv2.putText(canvas, text, at, font, size, (255, 255, 255), thickness, cv2.LINE_AA)


def draw_overlay(
    image_rgb: np.ndarray,
    parts: Sequence[OverlayPart],
    unpaired: Sequence[np.ndarray] = (),
    gt_masks: Optional[Sequence[np.ndarray]] = None,
    max_side: int = 960,
) -> np.ndarray:
    """RGB uint8 overlay of a figure (see the module docstring), at most ``max_side`` pixels.

    Args:
        image_rgb: the figure, ``(H, W, 3)`` uint8.
        parts: copy-move pairs (:class:`OverlayPart`, full-resolution masks and points).
        unpaired: ``(H, W)`` masks of instances that have no source/copy pair.
        gt_masks: ``(H, W)`` ground-truth instance masks, or None.
    """
    height, width = image_rgb.shape[:2]
    scale = fit_scale(height, width, max_side)
    canvas = np.ascontiguousarray(resize_to(image_rgb, scale)).copy()
    size = (canvas.shape[1], canvas.shape[0])
    thickness = max(1, round(max(size) / 480))
    layers = []  # (small mask, full mask, colour)
    for part in parts:
        layers += [(part.source, SOURCE_COLOR), (part.copy, COPY_COLOR)]
    layers += [(mask, UNPAIRED_COLOR) for mask in unpaired]
    layers = [(_small_mask(mask, size), mask, color) for mask, color in layers]
    for small, _, color in layers:
        _fill(canvas, small, color)
    # Ground truth just outside its region, so that a matching prediction's outline stays visible.
    grow = np.ones((4 * thickness + 3, 4 * thickness + 3), np.uint8)
    for mask in gt_masks if gt_masks is not None else ():
        grown = cv2.dilate(_small_mask(mask, size).astype(np.uint8), grow)
        _outline(canvas, grown, GT_COLOR, thickness + 1)
    for small, full, color in layers:
        if small.any():
            _outline(canvas, small, color, thickness + 1)
        else:
            _marker(canvas, full, scale, color, thickness)
    for part in parts:
        pairs = zip(part.source_points * scale, part.copy_points * scale)
        for k, (start, end) in enumerate(pairs):
            _arrow(canvas, start, end, thickness + (k == 0))
        if len(part.copy_points):
            _label(canvas, part.label, part.copy_points[0] * scale, thickness)
    return canvas


def write_picture(path: str, image_rgb: np.ndarray, quality: int = 85) -> str:
    """Save an RGB uint8 image as JPEG (``.jpg``/``.jpeg``, at ``quality``) or PNG; returns the
    path."""
    jpeg = path.lower().endswith((".jpg", ".jpeg"))
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if jpeg else []
    if not cv2.imwrite(path, np.ascontiguousarray(image_rgb[..., ::-1]), params):
        raise OSError(f"could not write image {path}")
    return path
