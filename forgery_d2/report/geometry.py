"""What a source -> copy affine map does, in numbers and words, and which points it pairs up.

Conventions (those of :class:`forgery_d2.data.synthetic.CopyTransform` and the matcher): a 2x3
matrix ``[[a, b, tx], [c, d, ty]]`` maps a source pixel ``(x, y)`` (x to the right, y down) to the
copy's pixel ``(a x + b y + tx, c x + d y + ty)``. Its linear part is read as
``scale * rotation @ flip``: the flip is applied first (``horizontal`` mirrors left-right,
``vertical`` top-bottom), then a rotation by ``rotation`` degrees counter-clockwise *as displayed*
(``[[cos, sin], [-sin, cos]]`` on y-down coordinates), then the scale.

A flip plus a half turn is the other flip, so a mirrored map has two readings; the one with the
smaller rotation is reported (a horizontal flip on ties). Non-similarity maps (shear, unequal
scales) are read through their closest rotation (the polar decomposition) and reported with their
two scales.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "TransformDescription",
    "describe_transform",
    "map_points",
    "region_anchor_points",
    "correspondences",
]

# Below these, a rotation / scale change / anisotropy is reported as none (numbers stay exact).
ROTATION_TOLERANCE_DEG = 0.5
SCALE_TOLERANCE = 0.01


@dataclass(frozen=True)
class TransformDescription:
    """A 2x3 map read as shift + flip + rotation + scale.

    ``dx, dy``: displacement in pixels (right, down) of the reference point (the source region's
    centroid when given, else the origin); ``flip``: "none", "horizontal" or "vertical";
    ``rotation``: degrees counter-clockwise as displayed, in (-180, 180]; ``scale``: the area scale
    ``sqrt(|det|)``; ``scale_major >= scale_minor``: the two principal scales (equal for a
    similarity).
    """

    dx: float
    dy: float
    flip: str
    rotation: float
    scale: float
    scale_major: float
    scale_minor: float

    @property
    def is_shift_only(self) -> bool:
        """True when the copy is the source moved, without flip, rotation or rescaling."""
        return (
            self.flip == "none"
            and abs(self.rotation) < ROTATION_TOLERANCE_DEG
            and not self.rescaled
        )

    @property
    def rescaled(self) -> bool:
        return (
            abs(self.scale_major - 1) > SCALE_TOLERANCE
            or abs(self.scale_minor - 1) > SCALE_TOLERANCE
        )

    @property
    def anisotropic(self) -> bool:
        return self.scale_major > self.scale_minor * (1 + SCALE_TOLERANCE)

    def words(self) -> str:
        """Plain-language description, e.g. ``moved 120 px right and 40 px down; mirrored
        left-right; rotated 90° counter-clockwise; scaled ×1.20``."""
        moves = []
        if round(self.dx):
            moves.append(f"{abs(round(self.dx))} px {'right' if self.dx > 0 else 'left'}")
        if round(self.dy):
            moves.append(f"{abs(round(self.dy))} px {'down' if self.dy > 0 else 'up'}")
        out = ["moved " + " and ".join(moves) if moves else "not moved"]
        if self.flip != "none":
            out.append("mirrored " + ("left-right" if self.flip == "horizontal" else "top-bottom"))
        if abs(self.rotation) >= ROTATION_TOLERANCE_DEG:
            if abs(abs(self.rotation) - 180) < ROTATION_TOLERANCE_DEG:
                out.append("rotated 180°")
            else:
                sense = "counter-clockwise" if self.rotation > 0 else "clockwise"
                out.append(f"rotated {abs(self.rotation):.0f}° {sense}")
        if self.anisotropic:
            out.append(f"stretched ×{self.scale_major:.2f} by ×{self.scale_minor:.2f}")
        elif self.rescaled:
            out.append(f"scaled ×{self.scale:.2f}")
        return "; ".join(out)


def _normalize_degrees(angle):
    """Angle in (-180, 180]."""
    angle = (angle + 180.0) % 360.0 - 180.0
    return 180.0 if angle == -180.0 else angle


def _ccw_degrees(rotation):
    """Angle of a rotation matrix ``[[cos, sin], [-sin, cos]]`` (counter-clockwise as displayed)."""
    return _normalize_degrees(float(np.degrees(np.arctan2(rotation[0, 1], rotation[0, 0]))))


def describe_transform(matrix, reference=None) -> TransformDescription:
    """Read a 2x3 source -> copy map (see the module docstring).

    Args:
        matrix: ``[[a, b, tx], [c, d, ty]]``.
        reference: ``(x, y)`` whose displacement is reported as the shift, normally the source
            region's centroid (for a rotated or flipped copy the translation column alone says
            where the origin goes, not where the region went). Default: the origin.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (2, 3) or not np.isfinite(matrix).all():
        raise ValueError(f"a transform must be a finite 2x3 matrix, got {matrix.tolist()}")
    linear = matrix[:, :2]
    u, singular, vt = np.linalg.svd(linear)
    if singular[-1] <= 1e-12:
        raise ValueError(f"a degenerate transform maps the region to a line: {matrix.tolist()}")
    closest_rotation = u @ vt  # orthogonal factor of the polar decomposition
    flip, rotation = "none", _ccw_degrees(closest_rotation)
    if np.linalg.det(closest_rotation) < 0:
        horizontal = _ccw_degrees(closest_rotation @ np.diag([-1.0, 1.0]))
        vertical = _ccw_degrees(closest_rotation @ np.diag([1.0, -1.0]))
        if abs(vertical) < abs(horizontal) - 1e-9:
            flip, rotation = "vertical", vertical
        else:
            flip, rotation = "horizontal", horizontal
    point = np.zeros(2) if reference is None else np.asarray(reference, dtype=np.float64)
    dx, dy = linear @ point + matrix[:, 2] - point
    return TransformDescription(
        dx=float(dx),
        dy=float(dy),
        flip=flip,
        rotation=rotation,
        scale=float(np.sqrt(singular[0] * singular[1])),
        scale_major=float(singular[0]),
        scale_minor=float(singular[1]),
    )


def map_points(matrix, points) -> np.ndarray:
    """``(n, 2)`` float array: ``points`` (``(n, 2)`` x, y) mapped by a 2x3 matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return points @ matrix[:, :2].T + matrix[:, 2]


def region_anchor_points(mask) -> np.ndarray:
    """Points of a region to pair with their copies: its centroid, then the region's pixels
    closest to the four corners of its bounding box (top-left, top-right, bottom-right,
    bottom-left), as an ``(n, 2)`` float array of (x, y); empty for an empty mask.

    Corner points lie inside the region, so lines from them land inside the copy; their order
    makes a flip or rotation visible (the lines cross).
    """
    ys, xs = np.nonzero(np.asarray(mask))
    if len(xs) == 0:
        return np.zeros((0, 2))
    pixels = np.stack([xs, ys], axis=1).astype(np.float64)
    x0, y0 = pixels.min(axis=0)
    x1, y1 = pixels.max(axis=0)
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    nearest = [pixels[np.argmin(((pixels - c) ** 2).sum(axis=1))] for c in corners]
    out = [pixels.mean(axis=0)]
    for p in nearest:  # a small or thin region has repeated corners: keep each once
        if not any(np.allclose(p, q) for q in out[1:]):
            out.append(p)
    return np.array(out)


def _centroid(mask):
    ys, xs = np.nonzero(np.asarray(mask))
    return np.array([[xs.mean(), ys.mean()]]) if len(xs) else np.zeros((0, 2))


def correspondences(source_mask, copy_mask, matrix=None):
    """Pairs ``(source_points, copy_points)`` (two ``(n, 2)`` arrays of x, y) to draw as lines.

    With a matrix: the source's anchor points (:func:`region_anchor_points`) and their images.
    Without one: the source's centroid and the copy's centroid (one pair). The first pair is
    always the centroid's.
    """
    if matrix is None:
        source, copy = _centroid(source_mask), _centroid(copy_mask)
        if len(source) == 0 or len(copy) == 0:
            return np.zeros((0, 2)), np.zeros((0, 2))
        return source, copy
    source = region_anchor_points(source_mask)
    return source, map_points(matrix, source)
