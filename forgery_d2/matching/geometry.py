"""Geometric verification: RANSAC transforms from source keypoints to copy keypoints.

``model="similarity"`` (rotation + uniform scale + translation, 4 DOF) is the robust default;
``"affine"`` (6 DOF) also covers shear and anisotropic scaling. A flipped copy is an affine map
with a negative determinant, which ``cv2.estimateAffinePartial2D`` cannot represent: for mirrored
matches we fit the similarity to the mirrored copy points and compose the mirror back, so flips
are found in both modes.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from .g2nn import Matches

__all__ = ["CopyTransform", "estimate_transforms", "scale_transform", "transform_points"]

_MIRROR_X = np.diag([-1.0, 1.0])


@dataclass
class CopyTransform:
    """A verified source -> copy map. ``matrix``: 2x3 float64 affine (x' = A x + t) in the frame the
    points live in; ``source_points`` / ``copy_points``: its RANSAC inliers."""

    matrix: np.ndarray
    source_points: np.ndarray
    copy_points: np.ndarray
    mirrored: bool

    @property
    def num_inliers(self) -> int:
        return len(self.source_points)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def scale_transform(matrix: np.ndarray, scale: float) -> np.ndarray:
    """The same map expressed in a frame scaled by ``scale`` (``S T S^-1``)."""
    scaled = matrix.astype(np.float64).copy()
    scaled[:, 2] *= scale
    return scaled


def _fit(source: np.ndarray, copy: np.ndarray, model: str, mirrored: bool, reproj_threshold: float):
    kwargs = dict(
        method=cv2.RANSAC,
        ransacReprojThreshold=float(reproj_threshold),
        maxIters=2000,
        confidence=0.995,
        refineIters=10,
    )
    source = source.astype(np.float32)
    copy = copy.astype(np.float32)
    if model == "affine":
        matrix, inliers = cv2.estimateAffine2D(source, copy, **kwargs)
        return matrix, inliers
    if model != "similarity":
        raise ValueError(
            f"MODEL.KEYPOINT_MATCHER.TRANSFORM must be 'similarity' or 'affine', got {model!r}"
        )
    if not mirrored:
        return cv2.estimateAffinePartial2D(source, copy, **kwargs)
    mirrored_copy = copy * np.asarray([-1.0, 1.0], dtype=np.float32)
    matrix, inliers = cv2.estimateAffinePartial2D(source, mirrored_copy, **kwargs)
    if matrix is not None:
        matrix = _MIRROR_X @ matrix
    return matrix, inliers


def _plausible(matrix, source, copy, mirrored, max_scale_change, max_anisotropy, min_shift) -> bool:
    linear = matrix[:, :2]
    singular = np.linalg.svd(linear, compute_uv=False)
    if singular[1] < 1.0 / max_scale_change or singular[0] > max_scale_change:
        return False
    if singular[0] / max(singular[1], 1e-9) > max_anisotropy:
        return False
    if (np.linalg.det(linear) < 0) != mirrored:
        return False
    if np.median(np.linalg.norm(copy - source, axis=1)) < min_shift:
        return False
    # Inliers must span an area, not sit on one blob.
    return float(np.ptp(source, axis=0).max()) >= 3.0 and float(np.ptp(copy, axis=0).max()) >= 3.0


def estimate_transforms(
    group: Matches,
    model: str = "similarity",
    reproj_threshold: float = 3.0,
    min_inliers: int = 6,
    max_scale_change: float = 2.0,
    max_anisotropy: float = 1.5,
    min_shift: float = 10.0,
    max_transforms: int = 3,
) -> list:
    """Sequential RANSAC on one oriented hypothesis: fit, keep the transform if plausible (scale
    within ``[1/max_scale_change, max_scale_change]``, anisotropy, reflection consistent with the
    matches, median shift >= ``min_shift``), remove its inliers, repeat."""
    found = []
    source, copy = group.p.astype(np.float64), group.q.astype(np.float64)
    mirrored = bool(group.mirrored[0]) if len(group) else False
    remaining = np.arange(len(group))
    while len(remaining) >= max(min_inliers, 3) and len(found) < max_transforms:
        matrix, inlier_flags = _fit(
            source[remaining], copy[remaining], model, mirrored, reproj_threshold
        )
        if matrix is None or inlier_flags is None:
            break
        inliers = remaining[inlier_flags.ravel().astype(bool)]
        if len(inliers) < min_inliers:
            break
        matrix = matrix.astype(np.float64)
        if _plausible(
            matrix,
            source[inliers],
            copy[inliers],
            mirrored,
            max_scale_change,
            max_anisotropy,
            min_shift,
        ):
            found.append(CopyTransform(matrix, source[inliers], copy[inliers], mirrored))
        remaining = np.setdiff1d(remaining, inliers)
    return found
