"""``ForgeryDenseNet``: a dense (semantic-segmentation style) forgery network beside ForgeryRCNN.

A copy-move mask marks a source and its copy, often far apart, as one instance: a box around both
is mostly background, and a region proposal network must first learn such boxes. A per-pixel head
learns from every pixel from the first iteration instead, which is what a short CPU schedule needs
(docs/MODELING.md compares the two at the same budget). Parts:

- the backbone (any FPN; with ``MODEL.COPY_EVIDENCE`` a ForgeryFPN that takes the copy-evidence
  channels after the normalized image, forgery_d2.modeling.copy_evidence);
- a pixel head: detectron2's :class:`~detectron2.modeling.meta_arch.semantic_seg.SemSegFPNHead`
  (PanopticFPN's: every ``IN_FEATURES`` level brought to ``COMMON_STRIDE`` and summed) with one
  output channel, the logit that the pixel is forged (source or copy). Loss: binary cross-entropy
  (forged pixels weighted by ``POS_WEIGHT``: they are a few percent of the figure) plus soft Dice,
  against the union of the ground-truth masks, area-averaged to the head's stride, batch padding
  excluded;
- an image head: the pixel logits pooled over the image's valid area (max, mean of the top
  ``TOPK_FRACTION``, mean) and the mean and max of ``IMAGE_FEATURES``, then a 2-layer MLP -> the
  logit that the figure is forged (BCE on the input's ``"label"``, as ForgeryRCNN's image gate);
- with copy evidence and ``EVIDENCE_SHORTCUT``, the evidence also goes straight to both heads: its
  channels, max-pooled to the pixel head's stride, join the head's summed features before the
  predictor (a 3x3 conv then a 1x1 conv), and the image head also pools the evidence (correlation x
  votes) like the logits. The backbone carries the evidence too (it enters the stem with the
  image), but through a dozen layers trained from scratch; the shortcut lets the heads use it from
  the first iterations while the backbone learns what makes it legitimate (docs/TRAINING.md).

Inference returns per image ``{"instances": Instances, "image_score": float}``: one instance whose
``pred_masks`` is the forged-pixel probability (``uint8`` x 255, at the input's ``height`` x
``width``) and whose score is the image score; the decision rule (forgery_d2.evaluation) thresholds
the image score, then the mask (``MASK_THRESH``, ``MIN_AREA``). One instance, not one per connected
component: the competition scores source and copy as one instance, and a figure with several
duplications (a third of the forged ones) loses less by their union than a single duplication
loses by being split into its two halves (F1 0.67 each, halved again by the extra instance).
"""

import logging
import math
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.layers import Conv2d, ShapeSpec
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.meta_arch.semantic_seg import SemSegFPNHead
from detectron2.structures import BitMasks, Boxes, ImageList, Instances
from fvcore.nn import weight_init
from torch import nn

from forgery_d2.matching.self_similarity_map import MAP_CHANNELS

from ..copy_evidence import CopyEvidence, evidence_channels, evidence_tensor
from ..image_gate import valid_area_mask
from .forgery_rcnn import checked_copy_evidence, image_labels

__all__ = ["ForgeryDenseNet", "DenseImageHead", "pixel_targets"]

logger = logging.getLogger(__name__)

PIXEL_PRIOR = 0.03  # initial forged-pixel probability of the pixel head


def pixel_targets(batched_inputs: List[dict], padded_hw, device) -> torch.Tensor:
    """``float (N, 1, H, W)``: 1 on the union of each input's ground-truth masks (``instances``
    with ``gt_masks``), 0 elsewhere (also on authentic inputs and batch padding)."""
    targets = torch.zeros(len(batched_inputs), 1, *padded_hw, device=device)
    for i, item in enumerate(batched_inputs):
        instances = item.get("instances")
        if instances is None:
            if int(item.get("label", 0)) == 1:
                raise ValueError(
                    f"input {item.get('file_name', i)} is labelled forged but has no 'instances': "
                    "the dense head needs its ground-truth masks (map it with is_train=True)"
                )
            continue
        if len(instances) == 0:
            continue
        masks = instances.gt_masks
        tensor = (
            masks.tensor
            if isinstance(masks, BitMasks)
            else BitMasks.from_polygon_masks(masks, *instances.image_size).tensor
        )
        union = tensor.any(dim=0).to(device, torch.float32)
        targets[i, 0, : union.shape[0], : union.shape[1]] = union
    return targets


class DenseImageHead(nn.Module):
    """Pooled pixel logits + pooled features -> MLP -> one image logit (module docstring)."""

    def __init__(
        self,
        feature_shapes: Dict[str, ShapeSpec],
        hidden_dim: int,
        topk_fraction: float,
        evidence_maps: int = 0,
    ):
        """``evidence_maps``: extra ``(N, H, W)`` maps (at the logits' resolution) pooled like the
        logits (0 or more)."""
        super().__init__()
        self.in_features = list(feature_shapes)
        self.strides = {name: shape.stride for name, shape in feature_shapes.items()}
        self.topk_fraction = float(topk_fraction)
        self.evidence_maps = int(evidence_maps)
        pooled = 3 * (1 + self.evidence_maps) + 2 * sum(
            shape.channels for shape in feature_shapes.values()
        )
        self.hidden = nn.Linear(pooled, hidden_dim)
        self.classifier = nn.Linear(hidden_dim, 1)
        weight_init.c2_xavier_fill(self.hidden)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.constant_(self.classifier.bias, 0.0)

    def pool_logits(self, logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``(N, 3)``: max, mean of the top fraction and mean of the pixel logits over valid cells."""
        rows = []
        for logit, mask in zip(logits, valid):
            values = logit[mask]
            k = max(1, int(math.ceil(self.topk_fraction * values.numel())))
            rows.append(torch.stack([values.max(), values.topk(k).values.mean(), values.mean()]))
        return torch.stack(rows)

    def forward(
        self, logits: torch.Tensor, valid: torch.Tensor, features, image_sizes, evidence=None
    ) -> torch.Tensor:
        pooled = [self.pool_logits(logits, valid)]
        if self.evidence_maps:
            pooled += [self.pool_logits(evidence[:, i], valid) for i in range(self.evidence_maps)]
        for name in self.in_features:
            x = features[name]
            mask = valid_area_mask(image_sizes, self.strides[name], x.shape[-2:], x.device)
            pooled.append((x * mask).sum(dim=(2, 3)) / mask.sum(dim=(2, 3)).clamp(min=1))
            pooled.append(x.masked_fill(~mask, float("-inf")).amax(dim=(2, 3)))
        return self.classifier(F.relu(self.hidden(torch.cat(pooled, dim=1)))).squeeze(1)


@META_ARCH_REGISTRY.register()
class ForgeryDenseNet(nn.Module):
    """Backbone + per-pixel forgery head + image head (module docstring)."""

    @configurable
    def __init__(
        self,
        *,
        backbone: nn.Module,
        pixel_head: SemSegFPNHead,
        image_head: DenseImageHead,
        pixel_mean,
        pixel_std,
        input_format: str = "RGB",
        copy_evidence: Optional[CopyEvidence] = None,
        bce_weight: float = 1.0,
        pos_weight: float = 5.0,
        dice_weight: float = 1.0,
        image_loss_weight: float = 1.0,
        evidence_predictor: Optional[nn.Module] = None,
    ):
        """
        Args:
            backbone: an FPN backbone (ForgeryFPN when ``copy_evidence`` is given).
            pixel_head: SemSegFPNHead with one class (its ``layers`` give the pixel logits).
            image_head: :class:`DenseImageHead`.
            pixel_mean, pixel_std: detectron2's input normalization.
            input_format: ``INPUT.FORMAT``.
            copy_evidence: the map function for inputs without ``"image_maps"`` (None: no evidence).
            bce_weight, pos_weight, dice_weight, image_loss_weight: see MODEL.FORGERY_DENSE.
            evidence_predictor: with the evidence shortcut, the pixel predictor over the head's
                features and the pooled evidence channels (replaces ``pixel_head.predictor``).
        """
        super().__init__()
        self.backbone = backbone
        self.pixel_head = pixel_head
        self.image_head = image_head
        self.input_format = input_format
        self.copy_evidence = copy_evidence
        self.bce_weight, self.pos_weight, self.dice_weight = bce_weight, pos_weight, dice_weight
        self.image_loss_weight = image_loss_weight
        self.evidence_predictor = evidence_predictor
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        shapes = backbone.output_shape()
        dense = cfg.MODEL.FORGERY_DENSE
        missing = [
            f for f in list(dense.IN_FEATURES) + list(dense.IMAGE_FEATURES) if f not in shapes
        ]
        if missing:
            raise ValueError(
                f"MODEL.FORGERY_DENSE features {missing} are not backbone outputs ({sorted(shapes)})"
            )
        pixel_head = SemSegFPNHead(
            {f: shapes[f] for f in dense.IN_FEATURES},
            num_classes=1,
            conv_dims=dense.CONV_DIM,
            common_stride=dense.COMMON_STRIDE,
            norm=dense.NORM,
        )
        copy_evidence = checked_copy_evidence(cfg, backbone)
        shortcut = copy_evidence is not None and dense.EVIDENCE_SHORTCUT
        evidence_predictor = None
        if shortcut:
            channels = dense.CONV_DIM + evidence_channels(cfg)
            evidence_predictor = nn.Sequential(
                Conv2d(channels, dense.CONV_DIM, 3, padding=1, activation=F.relu),
                Conv2d(dense.CONV_DIM, 1, 1),
            )
            weight_init.c2_msra_fill(evidence_predictor[0])
            predictor = evidence_predictor[1]
            del pixel_head.predictor  # unused: the evidence predictor replaces it
        else:
            predictor = pixel_head.predictor
        # Start from the prior that a pixel is forged with probability ~3% (the median forged share
        # of a forged figure), not from 50%: the first steps then refine instead of unlearning.
        nn.init.normal_(predictor.weight, std=0.01)
        nn.init.constant_(predictor.bias, -math.log((1 - PIXEL_PRIOR) / PIXEL_PRIOR))
        image_head = DenseImageHead(
            {f: shapes[f] for f in dense.IMAGE_FEATURES},
            dense.IMAGE_HIDDEN_DIM,
            dense.TOPK_FRACTION,
            evidence_maps=1 if shortcut else 0,
        )
        return {
            "backbone": backbone,
            "pixel_head": pixel_head,
            "image_head": image_head,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "input_format": cfg.INPUT.FORMAT,
            "copy_evidence": copy_evidence,
            "evidence_predictor": evidence_predictor,
            "bce_weight": dense.BCE_WEIGHT,
            "pos_weight": dense.POS_WEIGHT,
            "dice_weight": dense.DICE_WEIGHT,
            "image_loss_weight": dense.IMAGE_LOSS_WEIGHT,
        }

    @property
    def device(self):
        return self.pixel_mean.device

    def trainable_parts(self) -> Dict[str, List[str]]:
        """Freeze parts of forgery_d2.engine.freeze beside the backbone's."""
        return {"pixel_head": ["pixel_head.*"], "image_head": ["image_head.*"]}

    def preprocess_image(self, batched_inputs: List[dict]) -> ImageList:
        """Normalized, padded images, followed by the copy-evidence channels when configured."""
        images = [
            (x["image"].to(self.device) - self.pixel_mean) / self.pixel_std for x in batched_inputs
        ]
        images = ImageList.from_tensors(images, self.backbone.size_divisibility)
        if self.copy_evidence is None:
            return images
        evidence = evidence_tensor(batched_inputs, images, self.copy_evidence)
        return ImageList(torch.cat([images.tensor, evidence], dim=1), images.image_sizes)

    def _run(self, batched_inputs):
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        stride = self.pixel_head.common_stride
        if self.evidence_predictor is None:
            logits = self.pixel_head.layers(features)  # (N, 1, H / stride, W / stride)
            evidence = None
        else:
            head = self.pixel_head
            summed = sum(
                scale_head(features[name])
                for name, scale_head in zip(head.in_features, head.scale_heads)
            )
            channels = self.copy_evidence_channels
            evidence = F.max_pool2d(images.tensor[:, -channels:], stride, stride, ceil_mode=True)
            evidence = evidence[..., : summed.shape[-2], : summed.shape[-1]]
            logits = self.evidence_predictor(torch.cat([summed, evidence], dim=1))
            evidence = evidence[:, 0] * evidence[:, 1]  # correlation x votes
        valid = valid_area_mask(images.image_sizes, stride, logits.shape[-2:], logits.device)
        image_logits = self.image_head(
            logits[:, 0],
            valid[:, 0],
            features,
            images.image_sizes,
            None if evidence is None else evidence[:, None],
        )
        return images, logits, valid, image_logits

    @property
    def copy_evidence_channels(self) -> int:
        return len(MAP_CHANNELS) if self.copy_evidence is not None else 0

    def forward(self, batched_inputs: List[dict]):
        if not self.training:
            return self.inference(batched_inputs)
        images, logits, valid, image_logits = self._run(batched_inputs)
        stride = self.pixel_head.common_stride
        targets = pixel_targets(batched_inputs, images.tensor.shape[-2:], self.device)
        targets = F.avg_pool2d(targets, stride, stride, ceil_mode=True)[
            ..., : logits.shape[-2], : logits.shape[-1]
        ]
        valid = valid.to(logits.dtype)
        weights = valid * (1.0 + (self.pos_weight - 1.0) * targets)
        bce = F.binary_cross_entropy_with_logits(
            logits.float(), targets, weight=weights, reduction="sum"
        )
        bce = bce / weights.sum().clamp(min=1.0)
        probs = torch.sigmoid(logits.float()) * valid
        dice = 1.0 - (2.0 * (probs * targets).sum() + 1.0) / (probs.sum() + targets.sum() + 1.0)
        labels = image_labels(batched_inputs, self.device)
        image_loss = F.binary_cross_entropy_with_logits(image_logits.float(), labels)
        return {
            "loss_pixel_bce": self.bce_weight * bce,
            "loss_pixel_dice": self.dice_weight * dice,
            "loss_image": self.image_loss_weight * image_loss,
        }

    @torch.no_grad()
    def inference(self, batched_inputs: List[dict]):
        """Per image ``{"instances": one soft-mask instance, "image_score": float}`` (module docstring)."""
        images, logits, _, image_logits = self._run(batched_inputs)
        probs = torch.sigmoid(
            F.interpolate(
                logits.float(),
                scale_factor=self.pixel_head.common_stride,
                mode="bilinear",
                align_corners=False,
            )
        )
        outputs = []
        for prob, image_logit, item, (h, w) in zip(
            probs, image_logits, batched_inputs, images.image_sizes
        ):
            height, width = int(item.get("height", h)), int(item.get("width", w))
            prob = F.interpolate(
                prob[None, :, :h, :w], size=(height, width), mode="bilinear", align_corners=False
            )[0]
            score = float(torch.sigmoid(image_logit))
            mask = (prob * 255.0).round().to(torch.uint8)  # (1, H, W)
            instances = Instances((height, width))
            instances.pred_masks = mask
            instances.scores = torch.tensor([score], device=mask.device)
            instances.pred_classes = torch.zeros(1, dtype=torch.int64, device=mask.device)
            binary = mask >= 128
            instances.pred_boxes = (
                BitMasks(binary).get_bounding_boxes()
                if binary.any()
                else Boxes(torch.tensor([[0.0, 0.0, float(width), float(height)]]))
            )
            outputs.append({"instances": instances, "image_score": score})
        return outputs
