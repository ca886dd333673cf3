"""Well plates and culture dishes: colony formation, stained wells, bacterial plates.

Every well of a plate has the same rim (one ring shape stamped at every well, legitimate repetition)
and its own content: its own colonies, stain texture and noise, so no two wells share pixels.
A plate of one well is a dish photo.
"""

import cv2
import numpy as np

from ..blots import _smooth_noise as smooth_noise
from .panel import PanelArt, SceneObject

__all__ = ["PLATE_CONTENTS", "draw_plate"]

PLATE_CONTENTS = ("colonies", "stain", "bacteria")
_CONTENT_COLOURS = {  # (well background RGB, colony / stain RGB)
    "colonies": ((236, 232, 238), (88, 40, 120)),
    "stain": ((200, 150, 190), (120, 50, 140)),
    "bacteria": ((214, 196, 140), (245, 240, 220)),
}


def _disc(radius):
    r = int(np.ceil(radius))
    ys, xs = np.mgrid[-r : r + 1, -r : r + 1]
    return np.hypot(xs, ys) <= radius


def draw_plate(rng, height, width, rows, cols, content="colonies", density=None):
    """A plate of ``rows`` x ``cols`` wells filling ``height`` x ``width`` px.

    ``density``: per well (row-major), the relative amount of colonies / stain (default random).
    """
    if content not in PLATE_CONTENTS:
        raise ValueError(f"unknown plate content {content!r}; expected one of {PLATE_CONTENTS}")
    dark = rng.random() < 0.45
    base = rng.uniform(15, 45) if dark else rng.uniform(190, 230)
    image = np.full((height, width, 3), base, np.float32)
    image += smooth_noise(rng, height, width, (3, 4), rng.uniform(2, 8))[:, :, None]
    pitch_x, pitch_y = width / cols, height / rows
    radius = 0.44 * min(pitch_x, pitch_y)
    rim = max(1.5, radius * rng.uniform(0.04, 0.08))
    well_bg, mark = (np.asarray(c, np.float32) for c in _CONTENT_COLOURS[content])
    well_bg = well_bg + rng.uniform(-12, 12, 3)
    mark = mark + rng.uniform(-20, 20, 3)
    density = rng.uniform(0.1, 1.0, rows * cols) if density is None else np.asarray(density, float)
    # One ring shape for every well (rendered once, stamped everywhere).
    outer = int(np.ceil(radius + rim))
    ys, xs = np.mgrid[-outer : outer + 1, -outer : outer + 1].astype(np.float32)
    dist = np.hypot(xs, ys)
    ring = np.clip(1.0 - np.abs(dist - radius - rim / 2) / (rim / 2 + 0.5), 0, 1)[:, :, None]
    inside = np.clip(radius - dist + 0.5, 0, 1)
    ring_colour = np.float32(base * 0.6 if not dark else min(base * 3 + 60, 200))
    objects = []
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        cx, cy = int(round((c + 0.5) * pitch_x)), int(round((r + 0.5) * pitch_y))
        x0, y0 = cx - outer, cy - outer
        size = 2 * outer + 1
        if x0 < 0 or y0 < 0 or x0 + size > width or y0 + size > height:
            continue
        well = np.empty((size, size, 3), np.float32)
        well[:] = well_bg
        well += smooth_noise(rng, size, size, (4, 4), 6.0)[:, :, None]
        amount = float(density[k])
        if content in ("colonies", "bacteria"):
            cover = np.zeros((size, size), np.float32)
            n = int(amount * rng.uniform(20, 90) * (radius / 40.0) ** 0.5)
            for _ in range(n):
                rr = radius * np.sqrt(rng.random()) * 0.95
                a = rng.uniform(0, 2 * np.pi)
                px, py = outer + rr * np.cos(a), outer + rr * np.sin(a)
                s = radius * rng.uniform(0.015, 0.07) + 0.8
                ix0, iy0 = int(max(px - s - 2, 0)), int(max(py - s - 2, 0))
                ix1, iy1 = int(min(px + s + 3, size)), int(min(py + s + 3, size))
                cy_, cx_ = np.mgrid[iy0:iy1, ix0:ix1]
                d = np.hypot(cx_ - px, (cy_ - py) * rng.uniform(0.8, 1.25))
                spot = (
                    np.clip(s - d + 0.5, 0, 1)
                    * rng.uniform(0.4, 1.0)
                    * (1 - 0.4 * (d / s).clip(0, 1) ** 2)
                )
                cover[iy0:iy1, ix0:ix1] = np.maximum(cover[iy0:iy1, ix0:ix1], spot)
            cover = cv2.GaussianBlur(cover, (0, 0), max(radius * 0.01, 0.5))
        else:
            fine = smooth_noise(rng, size, size, (max(size // 6, 4),) * 2, 0.12)  # granular stain
            cover = np.clip(
                (0.35 + 0.65 * amount)
                * (0.85 + smooth_noise(rng, size, size, (3, 3), 0.08) + fine),
                0,
                1,
            )
        cover = np.clip(cover, 0, 1)[:, :, None]
        well = well * (1 - cover) + mark * cover
        region = image[y0 : y0 + size, x0 : x0 + size]
        inner = inside[:, :, None]
        region[:] = region * (1 - inner) + well * inner
        region[:] = region * (1 - ring) + ring_colour * ring
        disc = _disc(radius - 1)
        off = outer - (disc.shape[0] - 1) // 2
        objects.append(
            SceneObject(
                "well",
                (x0 + off, y0 + off, x0 + off + disc.shape[1], y0 + off + disc.shape[0]),
                disc,
            )
        )
    image += rng.standard_normal((height, width, 1), np.float32) * rng.uniform(1.0, 3.0)
    return PanelArt(np.clip(np.rint(image), 0, 255).astype(np.uint8), "plate", content, objects)
