"""forgery_d2's meta-architectures (registered in detectron2's ``META_ARCH_REGISTRY``).

- ``ForgeryRCNN``: GeneralizedRCNN + optional image-level gate + soft 0..255 masks.
- ``ForgeryDenseNet``: backbone + per-pixel forgery head + image head (semantic-segmentation style).
- ``CopyMoveMatcher``: a training-free copy-move matcher (forgery_d2.matching) as a model.
- ``FusionRCNN``: a network and the copy-move matcher in one model, their instances fused.

All return the output contract of docs/DESIGN.md ("Model outputs").
"""

from .copy_move_matcher import CopyMoveMatcher, image_from_input, result_to_instances
from .forgery_dense import ForgeryDenseNet
from .forgery_rcnn import ForgeryRCNN, image_labels, soft_mask_postprocess
from .fusion import FUSION_MODES, FusionRCNN, FusionRule, fuse_instances

__all__ = [
    "ForgeryRCNN",
    "ForgeryDenseNet",
    "image_labels",
    "soft_mask_postprocess",
    "CopyMoveMatcher",
    "image_from_input",
    "result_to_instances",
    "FusionRCNN",
    "FusionRule",
    "FUSION_MODES",
    "fuse_instances",
]
