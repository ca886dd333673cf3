"""forgery_d2's detectron2 model components. Importing this package registers them all:

- META_ARCH_REGISTRY (forgery_d2.modeling.meta_arch): ``ForgeryRCNN`` (GeneralizedRCNN + image-level
  gate + soft 0..255 masks), ``ForgeryDenseNet`` (per-pixel forgery head + image head),
  ``CopyMoveMatcher`` (the training-free matcher as a model),
  ``FusionRCNN`` (a network and the matcher, fused)
- BACKBONE_REGISTRY: ``build_forensic_resnet_fpn_backbone``, ``build_mobilenetv3_fpn_backbone``,
  ``build_forensic_fpn_backbone`` (FPN + forensic streams + self-correlation, see .backbone) and
  the bottom-up ``build_mobilenetv3_backbone``
- IMAGE_GATE_REGISTRY: ``PooledImageGate``

Copy evidence (:mod:`.copy_evidence`, ``MODEL.COPY_EVIDENCE``): the dense self-similarity map of
forgery_d2.matching as extra backbone input channels.

Configuration keys: ``MODEL.FORGERY_RCNN``, ``MODEL.FORGERY_DENSE``, ``MODEL.COPY_EVIDENCE``,
``MODEL.FORENSIC``, ``MODEL.SELF_CORRELATION``, ``MODEL.IMAGE_GATE``, ``MODEL.MOBILENET``,
``MODEL.KEYPOINT_MATCHER``, ``MODEL.FUSION`` (forgery_d2.config). docs/MODELING.md describes each
part.
"""

from .backbone import (
    ForgeryFPN,
    build_forensic_fpn_backbone,
    build_forensic_resnet_fpn_backbone,
    build_forgery_fpn,
    build_mobilenetv3_fpn_backbone,
)
from .copy_evidence import CopyEvidence, evidence_channels, evidence_tensor
from .forensic import SRM_KERNELS, BayarConv2d, ForensicStreams, SRMFilter, error_level_analysis
from .image_gate import IMAGE_GATE_REGISTRY, PooledImageGate, build_image_gate
from .meta_arch import (
    CopyMoveMatcher,
    ForgeryDenseNet,
    ForgeryRCNN,
    FusionRCNN,
    FusionRule,
    fuse_instances,
    image_labels,
    soft_mask_postprocess,
)
from .mobilenet import MobileNetV3Backbone, build_mobilenetv3_backbone, load_torchvision_weights
from .self_correlation import SelfCorrelation, self_correlation_topk

__all__ = [
    "ForgeryRCNN",
    "ForgeryDenseNet",
    "CopyEvidence",
    "evidence_channels",
    "evidence_tensor",
    "CopyMoveMatcher",
    "FusionRCNN",
    "FusionRule",
    "fuse_instances",
    "image_labels",
    "soft_mask_postprocess",
    "ForgeryFPN",
    "build_forgery_fpn",
    "build_forensic_fpn_backbone",
    "build_forensic_resnet_fpn_backbone",
    "build_mobilenetv3_fpn_backbone",
    "SRM_KERNELS",
    "SRMFilter",
    "BayarConv2d",
    "error_level_analysis",
    "ForensicStreams",
    "SelfCorrelation",
    "self_correlation_topk",
    "IMAGE_GATE_REGISTRY",
    "PooledImageGate",
    "build_image_gate",
    "MobileNetV3Backbone",
    "build_mobilenetv3_backbone",
    "load_torchvision_weights",
]
