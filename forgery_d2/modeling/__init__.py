"""forgery_d2's detectron2 model components. Importing this package registers them all:

- META_ARCH_REGISTRY: ``ForgeryRCNN`` (GeneralizedRCNN + image gate + soft masks)
- IMAGE_GATE_REGISTRY: ``PooledImageGate``
"""
from .image_gate import IMAGE_GATE_REGISTRY, PooledImageGate, build_image_gate
from .meta_arch import ForgeryRCNN, soft_mask_postprocess

__all__ = [
    "ForgeryRCNN",
    "soft_mask_postprocess",
    "IMAGE_GATE_REGISTRY",
    "PooledImageGate",
    "build_image_gate",
]
