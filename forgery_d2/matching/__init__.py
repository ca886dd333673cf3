"""Keypoint copy-move matching and its fusion with Mask R-CNN.

- :class:`CopyMoveMatcher` (numpy in, instances out): SIFT/RootSIFT keypoints, g2NN self-matching
  (mirrored descriptors for flips), clustering, RANSAC similarity/affine, dense verification.
- ``KeypointCopyMoveMatcher``: the matcher as a detectron2 meta-architecture.
- ``FusionRCNN``: a Mask R-CNN and the matcher in one model, outputs fused (union / boost / gates).

Importing this package registers both meta-architectures with ``META_ARCH_REGISTRY``.
"""
from .fusion import FusionRCNN, fuse_instances
from .matcher import CopyMoveInstance, CopyMoveMatcher, CopyMoveResult, MatcherParams
from .meta_arch import KeypointCopyMoveMatcher

__all__ = [
    "CopyMoveMatcher",
    "MatcherParams",
    "CopyMoveResult",
    "CopyMoveInstance",
    "KeypointCopyMoveMatcher",
    "FusionRCNN",
    "fuse_instances",
]
