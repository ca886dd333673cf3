"""MobileNetV3 (torchvision) as a detectron2 bottom-up backbone (the lightweight seed's backbone).

torchvision's ``mobilenet_v3_small`` / ``mobilenet_v3_large`` ``features`` are regrouped by output
stride into detectron2-style stages ``stem`` (stride 2), ``res2`` .. ``res5`` (stride 4 .. 32; res5
ends with the final 1x1 conv), so FPN configs (``MODEL.FPN.IN_FEATURES: [res2, res3, res4, res5]``)
and forgery_d2.engine's freeze parts work unchanged. Random init by default; pretrained weights
come either with the whole model (``MODEL.WEIGHTS``) or as a torchvision ImageNet state_dict
(``MODEL.MOBILENET.WEIGHTS``). torchvision's weights expect RGB input normalized with ImageNet
mean/std: set ``INPUT.FORMAT: RGB`` and ``MODEL.PIXEL_MEAN/STD`` accordingly when using them.
"""

import logging
import math
from typing import Dict, List, Sequence

import torch
import torchvision
from detectron2.layers import FrozenBatchNorm2d, ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.utils.file_io import PathManager
from torch import nn

__all__ = ["MobileNetV3Backbone", "build_mobilenetv3_backbone", "load_torchvision_weights"]

logger = logging.getLogger(__name__)

_ARCHS = {
    "small": torchvision.models.mobilenet_v3_small,
    "large": torchvision.models.mobilenet_v3_large,
}


def _layer_stride(layer: nn.Module) -> int:
    stride = 1
    for module in layer.modules():
        if isinstance(module, nn.Conv2d):
            stride *= module.stride[0]
    return stride


def _out_channels(layer: nn.Module) -> int:
    return [m for m in layer.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def _batchnorm_to_groupnorm(module: nn.Module) -> None:
    """Replace every BatchNorm2d by GroupNorm with gcd(32, C) groups (MobileNet widths are multiples
    of 8), keeping the affine parameters. For from-scratch training at small batch sizes."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            norm = nn.GroupNorm(math.gcd(32, child.num_features), child.num_features, eps=child.eps)
            with torch.no_grad():
                norm.weight.copy_(child.weight)
                norm.bias.copy_(child.bias)
            setattr(module, name, norm)
        else:
            _batchnorm_to_groupnorm(child)


class MobileNetV3Backbone(Backbone):
    """torchvision MobileNetV3 features regrouped into ``stem, res2, res3, res4, res5``."""

    def __init__(
        self,
        arch: str = "small",
        in_channels: int = 3,
        width_mult: float = 1.0,
        out_features: Sequence[str] = ("res2", "res3", "res4", "res5"),
        norm: str = "BN",
        freeze_at: int = 0,
    ):
        super().__init__()
        if arch not in _ARCHS:
            raise ValueError(f"MODEL.MOBILENET.ARCH must be one of {sorted(_ARCHS)}, got {arch!r}")
        if norm not in ("BN", "FrozenBN", "GN"):
            raise ValueError(f"MODEL.MOBILENET.NORM must be 'BN', 'FrozenBN' or 'GN', got {norm!r}")
        features = _ARCHS[arch](weights=None, width_mult=width_mult).features
        if in_channels != 3:  # e.g. early fusion of forensic streams: widen the first conv
            first = features[0][0]
            features[0][0] = nn.Conv2d(
                in_channels,
                first.out_channels,
                first.kernel_size,
                first.stride,
                first.padding,
                bias=False,
            )
            nn.init.kaiming_normal_(features[0][0].weight, mode="fan_out")

        # Group layers by cumulative output stride; remember torchvision's index of each layer.
        stages: Dict[str, List[nn.Module]] = {}
        self._torchvision_keys: Dict[str, str] = {}
        self._out_feature_strides, self._out_feature_channels = {}, {}
        stride = 1
        for index, layer in enumerate(features):
            stride *= _layer_stride(layer)
            name = "stem" if stride <= 2 else f"res{int(math.log2(stride))}"
            self._torchvision_keys[f"features.{index}."] = (
                f"{name}.{len(stages.setdefault(name, []))}."
            )
            stages[name].append(layer)
            self._out_feature_strides[name] = stride
            self._out_feature_channels[name] = _out_channels(layer)
        self.stage_names = list(stages)
        for name, layers in stages.items():
            self.add_module(name, nn.Sequential(*layers))

        unknown = [f for f in out_features if f not in self.stage_names or f == "stem"]
        if unknown:
            raise ValueError(
                f"MODEL.MOBILENET.OUT_FEATURES {unknown} are not stages of MobileNetV3 "
                f"(available: {self.stage_names[1:]})"
            )
        self._out_features = list(out_features)
        if norm == "FrozenBN":
            FrozenBatchNorm2d.convert_frozen_batchnorm(self)
        elif norm == "GN":
            _batchnorm_to_groupnorm(self)
        self.freeze(freeze_at)

    def freeze(self, freeze_at: int = 0) -> "MobileNetV3Backbone":
        """Freeze the stem (freeze_at >= 1) and the next ``freeze_at - 1`` stages, like ResNet."""
        for name in self.stage_names[:freeze_at]:
            stage = getattr(self, name)
            for p in stage.parameters():
                p.requires_grad = False
            setattr(self, name, FrozenBatchNorm2d.convert_frozen_batchnorm(stage))
        return self

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if x.dim() != 4:
            raise ValueError(f"MobileNetV3 takes (N, C, H, W) inputs, got shape {tuple(x.shape)}")
        outputs = {}
        for name in self.stage_names:
            x = getattr(self, name)(x)
            if name in self._out_features:
                outputs[name] = x
        return outputs

    def output_shape(self) -> Dict[str, ShapeSpec]:
        return {
            name: ShapeSpec(
                channels=self._out_feature_channels[name], stride=self._out_feature_strides[name]
            )
            for name in self._out_features
        }

    def torchvision_key(self, key: str) -> str:
        """Name in this module of a torchvision ``features.<i>.…`` state_dict key (None if not one)."""
        for prefix, ours in self._torchvision_keys.items():
            if key.startswith(prefix):
                return ours + key[len(prefix) :]
        return None


def load_torchvision_weights(backbone: MobileNetV3Backbone, path: str) -> None:
    """Load a torchvision MobileNetV3 ``state_dict`` (classifier ignored) into ``backbone``.

    A first conv with more input channels than the checkpoint's (forensic early fusion) gets the
    RGB filters in its first 3 input channels and keeps its own init for the others.
    """
    with PathManager.open(path, "rb") as f:
        state = torch.load(f, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = backbone.state_dict()
    mapped, skipped = {}, []
    for key, value in state.items():
        ours = backbone.torchvision_key(key)
        if ours is None or ours not in own:
            continue
        if own[ours].shape != value.shape:
            if own[ours].dim() == 4 and own[ours].shape[1] > value.shape[1] == 3:
                widened = own[ours].clone()
                widened[:, :3] = value
                value = widened
            else:
                skipped.append(f"{key} {tuple(value.shape)} vs {tuple(own[ours].shape)}")
                continue
        mapped[ours] = value
    if not mapped:
        raise ValueError(
            f"{path}: no torchvision MobileNetV3 'features.*' weights found "
            f"(MODEL.MOBILENET.ARCH / WIDTH_MULT must match the checkpoint)"
        )
    if skipped:
        raise ValueError(
            f"{path}: weights do not fit MODEL.MOBILENET.ARCH/WIDTH_MULT: {skipped[:3]}"
        )
    missing = backbone.load_state_dict(mapped, strict=False).missing_keys
    logger.info(
        f"Loaded {len(mapped)} MobileNetV3 tensors from {path}; not in checkpoint: {missing}"
    )


@BACKBONE_REGISTRY.register()
def build_mobilenetv3_backbone(cfg, input_shape: ShapeSpec) -> MobileNetV3Backbone:
    """MobileNetV3 bottom-up from ``cfg.MODEL.MOBILENET`` (``input_shape.channels`` input channels)."""
    m = cfg.MODEL.MOBILENET
    backbone = MobileNetV3Backbone(
        arch=m.ARCH,
        in_channels=input_shape.channels,
        width_mult=m.WIDTH_MULT,
        out_features=m.OUT_FEATURES,
        norm=m.NORM,
        freeze_at=0,
    )
    if m.WEIGHTS:
        load_torchvision_weights(backbone, m.WEIGHTS)
    return backbone.freeze(m.FREEZE_AT)
