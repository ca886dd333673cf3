"""The figure's canvas: input normalization, canvas colour, and which pixels are canvas.

A compound figure is panels (and labels) drawn on a flat canvas, usually white but not always.
The canvas colour is the dominant colour of the figure's outer frame; a pixel is canvas when it
is within a tolerance of that colour AND lies on a straight run of such pixels (horizontal or
vertical), so that near-white speckles of noise inside a light blot are not canvas while thin
gutters (down to 1 px) are.
"""

import cv2
import numpy as np

__all__ = ["LayoutInputError", "as_rgb", "estimate_canvas_colour", "canvas_mask", "colour_distance"]


class LayoutInputError(ValueError):
    """An image the layout analyzers cannot read (the message says what is wrong)."""


def as_rgb(image) -> np.ndarray:
    """``uint8 (H, W, 3)`` RGB view of a grey ``(H, W)`` / ``(H, W, 1)``, RGB ``(H, W, 3)`` or RGBA
    ``(H, W, 4)`` uint8 image; RGBA is composited on white."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise LayoutInputError(f"layout: the image must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        rgb = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 3:
        rgb = image
    elif image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = np.rint(image[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    else:
        raise LayoutInputError(
            "layout: expected an (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA image, "
            f"got shape {image.shape}"
        )
    if min(rgb.shape[:2]) < 2:
        raise LayoutInputError(f"layout: the image is too small ({rgb.shape[0]}x{rgb.shape[1]} px)")
    return np.ascontiguousarray(rgb)


def colour_distance(rgb: np.ndarray, colour) -> np.ndarray:
    """``(H, W)`` int16 Chebyshev distance (max over channels) of every pixel to ``colour``."""
    diff = rgb.astype(np.int16) - np.asarray(colour, np.int16).reshape(1, 1, 3)
    diff = np.abs(diff)
    return np.maximum(np.maximum(diff[:, :, 0], diff[:, :, 1]), diff[:, :, 2])  # fast channel max


def estimate_canvas_colour(rgb: np.ndarray, tolerance: int, min_frame_fraction: float = 0.5):
    """The canvas colour: the most frequent colour (quantized to ``tolerance``) of the figure's
    2-px outer frame, refined as the median of the frame pixels near it. ``None`` when no colour
    covers ``min_frame_fraction`` of the frame (content runs to the border: no canvas)."""
    h, w = rgb.shape[:2]
    frame = np.concatenate(
        [
            rgb[:2].reshape(-1, 3),
            rgb[-2:].reshape(-1, 3),
            rgb[:, :2].reshape(-1, 3),
            rgb[:, -2:].reshape(-1, 3),
        ]
    )
    step = max(int(tolerance), 1)
    codes = frame.astype(np.int64) // step
    keys = (codes[:, 0] * 4096 + codes[:, 1]) * 4096 + codes[:, 2]
    values, counts = np.unique(keys, return_counts=True)
    mode = values[np.argmax(counts)]
    mode_colour = (
        np.array([mode // 4096 // 4096, mode // 4096 % 4096, mode % 4096]) * step + step // 2
    )
    near = np.abs(frame.astype(np.int16) - mode_colour.astype(np.int16)).max(axis=1) <= tolerance
    if near.mean() < min_frame_fraction:
        return None
    return tuple(int(v) for v in np.median(frame[near], axis=0))


def canvas_mask(rgb: np.ndarray, colour, tolerance: int, min_run: int = 7) -> np.ndarray:
    """bool ``(H, W)``: pixels within ``tolerance`` of the canvas ``colour`` that lie on a
    horizontal or vertical run of at least ``min_run`` such pixels. All False without a canvas."""
    if colour is None:
        return np.zeros(rgb.shape[:2], bool)
    near = (colour_distance(rgb, colour) <= tolerance).astype(np.uint8)
    horizontal = cv2.morphologyEx(near, cv2.MORPH_OPEN, np.ones((1, min_run), np.uint8))
    vertical = cv2.morphologyEx(near, cv2.MORPH_OPEN, np.ones((min_run, 1), np.uint8))
    return (horizontal | vertical).astype(bool)
