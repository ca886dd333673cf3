"""What a copy-move matcher returns: verified duplications with their source, copy and transform."""
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CopyMoveInstance", "CopyMoveResult"]


@dataclass
class CopyMoveInstance:
    """One verified duplication, at the input image's resolution. ``mask`` = source | copy;
    ``matrix``: 2x3 source -> copy affine map in input pixels; ``score`` in [0, 1]."""

    mask: np.ndarray
    source_mask: np.ndarray
    copy_mask: np.ndarray
    score: float
    matrix: np.ndarray
    num_inliers: int
    mirrored: bool


@dataclass
class CopyMoveResult:
    """Instances (best first) plus what the matcher did (scales and counts, for logs and tests)."""

    instances: list
    image_size: tuple
    detect_scale: float
    verify_scale: float
    stats: dict = field(default_factory=dict)
