"""Shapes of copy-moved regions: random smooth blobs, polygons and rectangles.

Each sampler returns a boolean mask cropped to the region's bounding box (``(h, w)``, every row and
column touched), of roughly the requested area in pixels.
"""

import cv2
import numpy as np

__all__ = ["REGION_SHAPES", "random_blob", "random_polygon", "random_rectangle", "sample_region"]

REGION_SHAPES = ("blob", "polygon", "rectangle")


def _aspect(rng, max_aspect):
    """A width/height ratio drawn log-uniformly in [1/max_aspect, max_aspect]."""
    return float(np.exp(rng.uniform(-np.log(max_aspect), np.log(max_aspect))))


def _crop_to_content(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return np.ones((1, 1), bool)
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fill_outline(points, area, scale_to_area=True):
    """Rasterize a closed outline (float (K, 2) x/y around the origin), rescaled to ``area`` px."""
    if scale_to_area:
        outline_area = cv2.contourArea(points.astype(np.float32))
        points = points * np.sqrt(area / max(outline_area, 1e-6))
    points = points - points.min(axis=0)
    w, h = int(np.ceil(points[:, 0].max())) + 1, int(np.ceil(points[:, 1].max())) + 1
    mask = np.zeros((h, w), np.uint8)
    # 4 bits of sub-pixel precision keep small shapes smooth.
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return _crop_to_content(mask.astype(bool))


def random_blob(rng, area, max_aspect=2.5):
    """A smooth star-shaped blob: a circle whose radius carries a few random low harmonics."""
    theta = np.linspace(0.0, 2.0 * np.pi, 96, endpoint=False)
    radius = np.ones_like(theta)
    for k in range(2, 6):
        radius += rng.uniform(0.0, 0.35 / k * 2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    radius = np.clip(radius, 0.3, None)
    aspect = _aspect(rng, max_aspect)
    points = np.stack(
        [radius * np.cos(theta) * np.sqrt(aspect), radius * np.sin(theta) / np.sqrt(aspect)], 1
    )
    angle = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return _fill_outline(points @ rot.T, area)


def random_polygon(rng, area, max_aspect=2.5):
    """A random simple polygon with 3-9 vertices (sorted angles, random radii)."""
    n = int(rng.integers(3, 10))
    theta = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    radius = rng.uniform(0.5, 1.0, n)
    aspect = _aspect(rng, max_aspect)
    points = np.stack(
        [radius * np.cos(theta) * np.sqrt(aspect), radius * np.sin(theta) / np.sqrt(aspect)], 1
    )
    return _fill_outline(points, area)


def random_rectangle(rng, area, max_aspect=3.0):
    """An axis-aligned rectangle (a band, a panel crop) of about ``area`` px."""
    aspect = _aspect(rng, max_aspect)
    w = max(2, int(round(np.sqrt(area * aspect))))
    h = max(2, int(round(area / w)))
    return np.ones((h, w), bool)


_SAMPLERS = {"blob": random_blob, "polygon": random_polygon, "rectangle": random_rectangle}


def sample_region(rng, area, shape):
    """A region of ``shape`` (one of REGION_SHAPES) and about ``area`` pixels, as a cropped bool mask."""
    if shape not in _SAMPLERS:
        raise ValueError(f"unknown region shape {shape!r}; expected one of {REGION_SHAPES}")
    return _SAMPLERS[shape](rng, max(float(area), 16.0))
