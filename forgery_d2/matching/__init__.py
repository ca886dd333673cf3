"""Copy-move matching inside one figure: training-free algorithms on numpy images.

- :class:`KeypointMatcher`: SIFT/RootSIFT keypoints, g2NN self-matching (mirrored descriptors for
  flips), clustering, RANSAC similarity/affine, dense verification.
- :class:`CopyMoveResult` / :class:`CopyMoveInstance`: what a matcher returns (source, copy, their
  union and the source -> copy transform of every verified duplication).

The detectron2 meta-architectures built on them (``CopyMoveMatcher``, ``FusionRCNN``) live in
:mod:`forgery_d2.modeling.meta_arch`.
"""

from .keypoint_matcher import KeypointMatcher, KeypointMatcherParams
from .results import CopyMoveInstance, CopyMoveResult

__all__ = ["KeypointMatcher", "KeypointMatcherParams", "CopyMoveResult", "CopyMoveInstance"]
