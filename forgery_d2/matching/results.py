"""What a copy-move matcher returns: verified duplications with their source, copy and transform."""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CopyMoveInstance", "CopyMoveResult"]


@dataclass
class CopyMoveInstance:
    """One verified duplication, at the input image's resolution. ``mask`` = source | copy;
    ``matrix``: 2x3 source -> copy affine map in input pixels; ``score`` in [0, 1];
    ``evidence``: JSON-able numbers saying why it was reported (``method``: how the transform was
    found, e.g. "keypoint"; ``inliers``; ``verified_pixels``; ...), shown in the analyst's report."""

    mask: np.ndarray
    source_mask: np.ndarray
    copy_mask: np.ndarray
    score: float
    matrix: np.ndarray
    num_inliers: int
    mirrored: bool
    evidence: dict = field(default_factory=dict)


@dataclass
class CopyMoveResult:
    """Instances (best first) plus what the matcher did (scales and counts, for logs and tests)."""

    instances: list
    image_size: tuple
    detect_scale: float
    verify_scale: float
    stats: dict = field(default_factory=dict)
