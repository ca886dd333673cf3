"""Image-level gate: is this whole figure forged?

The seed Mask R-CNN's bottleneck was image-level: its instance classifier could not tell forged
from authentic figures, so it flagged authentic images. The gate is a separate head that pools the
backbone features (which carry the forensic / self-correlation evidence when those are enabled)
over each image's valid area and predicts one logit per image, trained with BCE on the dataset's
image ``label``. At inference :class:`~forgery_d2.modeling.meta_arch.ForgeryRCNN` returns its
sigmoid as ``"image_score"``, which the decision rule (forgery_d2.evaluation) thresholds.
"""

import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from detectron2.layers import ShapeSpec
from detectron2.utils.registry import Registry
from fvcore.nn import weight_init
from torch import nn

__all__ = ["IMAGE_GATE_REGISTRY", "PooledImageGate", "build_image_gate", "valid_area_mask"]

IMAGE_GATE_REGISTRY = Registry("IMAGE_GATE")
IMAGE_GATE_REGISTRY.__doc__ = """
Registry for image-level gate heads: ``head(cfg, input_shape: dict[str, ShapeSpec])``, called as
``head(features, image_sizes) -> logits (N,)`` and ``head.losses(logits, labels) -> dict``.
"""


def build_image_gate(cfg, input_shape: Dict[str, ShapeSpec]) -> nn.Module:
    """Build the head named by ``cfg.MODEL.IMAGE_GATE.NAME``."""
    return IMAGE_GATE_REGISTRY.get(cfg.MODEL.IMAGE_GATE.NAME)(cfg, input_shape)


def valid_area_mask(
    image_sizes: Sequence[Tuple[int, int]], stride: int, feature_hw: Tuple[int, int], device
) -> torch.Tensor:
    """``bool (N, 1, H, W)``: True on feature cells that cover real pixels (not batch padding)."""
    height, width = feature_hw
    mask = torch.zeros(len(image_sizes), 1, height, width, dtype=torch.bool, device=device)
    for i, (image_h, image_w) in enumerate(image_sizes):
        mask[i, :, : max(1, math.ceil(image_h / stride)), : max(1, math.ceil(image_w / stride))] = (
            True
        )
    return mask


@IMAGE_GATE_REGISTRY.register()
class PooledImageGate(nn.Module):
    """Masked global mean + max pooling of several feature maps, then a 2-layer MLP -> one logit."""

    def __init__(self, cfg, input_shape: Dict[str, ShapeSpec]):
        super().__init__()
        self.in_features: List[str] = list(cfg.MODEL.IMAGE_GATE.IN_FEATURES)
        missing = [f for f in self.in_features if f not in input_shape]
        if missing:
            raise ValueError(
                f"MODEL.IMAGE_GATE.IN_FEATURES {missing} are not backbone outputs "
                f"(available: {sorted(input_shape)})"
            )
        self.strides = {f: input_shape[f].stride for f in self.in_features}
        self.loss_weight = cfg.MODEL.IMAGE_GATE.LOSS_WEIGHT
        pooled_dim = 2 * sum(input_shape[f].channels for f in self.in_features)
        hidden = cfg.MODEL.IMAGE_GATE.HIDDEN_DIM
        self.hidden = nn.Linear(pooled_dim, hidden)
        self.classifier = nn.Linear(hidden, 1)
        weight_init.c2_xavier_fill(self.hidden)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.constant_(self.classifier.bias, 0.0)

    def pool(self, features: Dict[str, torch.Tensor], image_sizes) -> torch.Tensor:
        """``(N, 2 * sum(C))``: mean and max of each feature over each image's valid area."""
        pooled = []
        for name in self.in_features:
            x = features[name]
            mask = valid_area_mask(image_sizes, self.strides[name], x.shape[-2:], x.device)
            mean = (x * mask).sum(dim=(2, 3)) / mask.sum(dim=(2, 3)).clamp(min=1)
            peak = x.masked_fill(~mask, float("-inf")).amax(dim=(2, 3))
            pooled.extend([mean, peak])
        return torch.cat(pooled, dim=1)

    def forward(self, features: Dict[str, torch.Tensor], image_sizes) -> torch.Tensor:
        """Logits ``(N,)``; ``sigmoid(logit)`` is the probability that the image is forged."""
        return self.classifier(F.relu(self.hidden(self.pool(features, image_sizes)))).squeeze(1)

    def losses(self, logits: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        return {"loss_image_gate": self.loss_weight * loss}
