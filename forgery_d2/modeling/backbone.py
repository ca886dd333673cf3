"""Forgery-aware FPN backbones: forensic input streams and self-correlation around any bottom-up.

:class:`ForgeryFPN` is detectron2's FPN plus, each optional and switched on from YAML:

- forensic streams (:mod:`.forensic`, ``MODEL.FORENSIC.STREAMS``) fused with the RGB stream
  ``"early"`` (concatenated as extra input channels of the bottom-up's stem) or ``"late"`` (a
  second bottom-up on the forensic channels whose features are merged into the RGB features level
  by level with a 1x1 conv over the concatenation, before the FPN: the RGB-N two-stream design);
- copy evidence (:mod:`.copy_evidence`, ``MODEL.COPY_EVIDENCE``): the dense self-similarity map
  of the figure, given by the meta-architecture as extra channels after the normalized image and
  fed to the bottom-up's stem with it;
- copy-move self-correlation (:mod:`.self_correlation`, ``MODEL.SELF_CORRELATION``) on one level,
  either a bottom-up level (e.g. ``res4``: the top-down path carries it to the finer levels) or an
  FPN output (e.g. ``p4``).

The RGB bottom-up stays at ``backbone.bottom_up`` (so ResNet/MobileNet weights and freeze parts keep
their names); new parts are ``backbone.forensic``, ``backbone.forensic_bottom_up``,
``backbone.forensic_merge`` and ``backbone.self_correlation``. With nothing enabled it computes
exactly detectron2's FPN. Registered builders (``MODEL.BACKBONE.NAME``):
``build_forensic_resnet_fpn_backbone``, ``build_mobilenetv3_fpn_backbone`` and
``build_forensic_fpn_backbone`` (bottom-up named by ``MODEL.FORENSIC.BOTTOM_UP``).
"""

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d, ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from detectron2.modeling.backbone.resnet import build_resnet_backbone
from fvcore.nn import weight_init
from torch import nn

from .copy_evidence import evidence_channels
from .forensic import ForensicStreams
from .mobilenet import build_mobilenetv3_backbone
from .self_correlation import SelfCorrelation

__all__ = [
    "ForgeryFPN",
    "build_forgery_fpn",
    "build_forensic_fpn_backbone",
    "build_forensic_resnet_fpn_backbone",
    "build_mobilenetv3_fpn_backbone",
]


class ForgeryFPN(FPN):
    """FPN with optional forensic-stream fusion and self-correlation (see the module docstring)."""

    def __init__(
        self,
        bottom_up: Backbone,
        in_features,
        out_channels: int,
        norm: str = "",
        top_block: Optional[nn.Module] = None,
        fuse_type: str = "sum",
        forensic: Optional[ForensicStreams] = None,
        fusion: str = "early",
        forensic_bottom_up: Optional[Backbone] = None,
        correlation_feature: Optional[str] = None,
        self_correlation_factory: Optional[Callable[[int], nn.Module]] = None,
        evidence_channels: int = 0,
    ):
        """
        Args:
            bottom_up, in_features, out_channels, norm, top_block, fuse_type: as detectron2's FPN.
                With early fusion, ``bottom_up`` takes ``C + forensic.out_channels`` channels.
            forensic: the forensic streams, or None for RGB only.
            fusion: "early" or "late".
            forensic_bottom_up: late fusion's second bottom-up (``forensic.out_channels`` inputs).
            correlation_feature: the bottom-up or FPN feature to augment, or None.
            self_correlation_factory: ``channels -> module`` building the self-correlation.
            evidence_channels: copy-evidence channels that follow the image channels in the input
                (the bottom-up takes them after the image and forensic channels).
        """
        super().__init__(bottom_up, in_features, out_channels, norm, top_block, fuse_type)
        if fusion not in ("early", "late"):
            raise ValueError(f"MODEL.FORENSIC.FUSION must be 'early' or 'late', got {fusion!r}")
        if forensic is not None and fusion == "late" and forensic_bottom_up is None:
            raise ValueError("late fusion needs a forensic_bottom_up")
        self.forensic = forensic
        self.fusion = fusion
        self.evidence_channels = int(evidence_channels)
        self.forensic_bottom_up = (
            forensic_bottom_up if forensic is not None and fusion == "late" else None
        )
        if self.forensic_bottom_up is not None:
            rgb_shapes, forensic_shapes = (
                bottom_up.output_shape(),
                self.forensic_bottom_up.output_shape(),
            )
            self.forensic_merge = nn.ModuleDict()
            for name in self.in_features:
                merge = Conv2d(
                    rgb_shapes[name].channels + forensic_shapes[name].channels,
                    rgb_shapes[name].channels,
                    1,
                )
                weight_init.c2_xavier_fill(merge)
                self.forensic_merge[name] = merge

        self.correlation_feature = correlation_feature
        self.self_correlation = None
        if correlation_feature is not None:
            bottom_up_shapes, fpn_shapes = bottom_up.output_shape(), self.output_shape()
            if correlation_feature in bottom_up_shapes:
                if correlation_feature not in self.in_features:
                    raise ValueError(
                        f"MODEL.SELF_CORRELATION.IN_FEATURE {correlation_feature!r} is not used by the "
                        f"FPN (MODEL.FPN.IN_FEATURES {list(self.in_features)})"
                    )
                channels = bottom_up_shapes[correlation_feature].channels
            elif correlation_feature in fpn_shapes:
                channels = fpn_shapes[correlation_feature].channels
            else:
                raise ValueError(
                    f"MODEL.SELF_CORRELATION.IN_FEATURE {correlation_feature!r} is neither a bottom-up "
                    f"feature {sorted(bottom_up_shapes)} nor an FPN output {sorted(fpn_shapes)}"
                )
            self.self_correlation = self_correlation_factory(channels)

    def bottom_up_features(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Bottom-up features of the normalized images ``x`` (followed by the copy-evidence
        channels, if any), with the forensic streams fused and the self-correlation applied when it
        is on a bottom-up level."""
        evidence = None
        if self.evidence_channels:
            if x.shape[1] <= self.evidence_channels:
                raise ValueError(
                    f"ForgeryFPN expects image channels followed by {self.evidence_channels} "
                    f"copy-evidence channels, got {x.shape[1]} channels"
                )
            x, evidence = x[:, : -self.evidence_channels], x[:, -self.evidence_channels :]
        extra = [evidence] if evidence is not None else []
        if self.forensic is None:
            features = self.bottom_up(torch.cat([x] + extra, dim=1) if extra else x)
        elif self.fusion == "early":
            features = self.bottom_up(torch.cat([x, self.forensic(x)] + extra, dim=1))
        else:
            features = self.bottom_up(torch.cat([x] + extra, dim=1) if extra else x)
            forensic_features = self.forensic_bottom_up(self.forensic(x))
            for name, merge in self.forensic_merge.items():
                features[name] = merge(torch.cat([features[name], forensic_features[name]], dim=1))
        if self.self_correlation is not None and self.correlation_feature in features:
            features[self.correlation_feature] = self.self_correlation(
                features[self.correlation_feature]
            )
        return features

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        # detectron2's FPN.forward with bottom_up_features() in place of self.bottom_up(x).
        bottom_up_features = self.bottom_up_features(x)
        results = []
        prev_features = self.lateral_convs[0](bottom_up_features[self.in_features[-1]])
        results.append(self.output_convs[0](prev_features))
        for idx, (lateral_conv, output_conv) in enumerate(
            zip(self.lateral_convs, self.output_convs)
        ):
            if idx > 0:
                features = bottom_up_features[self.in_features[-idx - 1]]
                top_down_features = F.interpolate(prev_features, scale_factor=2.0, mode="nearest")
                prev_features = lateral_conv(features) + top_down_features
                if self._fuse_type == "avg":
                    prev_features /= 2
                results.insert(0, output_conv(prev_features))
        if self.top_block is not None:
            if self.top_block.in_feature in bottom_up_features:
                top_block_in_feature = bottom_up_features[self.top_block.in_feature]
            else:
                top_block_in_feature = results[self._out_features.index(self.top_block.in_feature)]
            results.extend(self.top_block(top_block_in_feature))
        outputs = dict(zip(self._out_features, results))
        if self.self_correlation is not None and self.correlation_feature in outputs:
            outputs[self.correlation_feature] = self.self_correlation(
                outputs[self.correlation_feature]
            )
        return outputs


def build_forgery_fpn(cfg, input_shape: ShapeSpec, build_bottom_up: Callable) -> ForgeryFPN:
    """Assemble a :class:`ForgeryFPN` from config around ``build_bottom_up(cfg, ShapeSpec)``."""
    forensic = ForensicStreams.from_config(cfg) if cfg.MODEL.FORENSIC.STREAMS else None
    fusion = cfg.MODEL.FORENSIC.FUSION
    rgb_channels = input_shape.channels
    evidence = evidence_channels(cfg)
    if forensic is not None and forensic.in_channels != rgb_channels:
        raise ValueError(
            f"MODEL.PIXEL_MEAN has {forensic.in_channels} values but the input has {rgb_channels} channels"
        )
    forensic_bottom_up = None
    if forensic is not None and fusion == "early":
        bottom_up = build_bottom_up(
            cfg, ShapeSpec(channels=rgb_channels + forensic.out_channels + evidence)
        )
    else:
        bottom_up = build_bottom_up(cfg, ShapeSpec(channels=rgb_channels + evidence))
        if forensic is not None and fusion == "late":
            forensic_bottom_up = build_bottom_up(cfg, ShapeSpec(channels=forensic.out_channels))
    correlation = cfg.MODEL.SELF_CORRELATION
    return ForgeryFPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
        forensic=forensic,
        fusion=fusion,
        forensic_bottom_up=forensic_bottom_up,
        correlation_feature=correlation.IN_FEATURE if correlation.ENABLED else None,
        self_correlation_factory=lambda channels: SelfCorrelation.from_config(cfg, channels),
        evidence_channels=evidence,
    )


@BACKBONE_REGISTRY.register()
def build_forensic_fpn_backbone(cfg, input_shape: ShapeSpec) -> ForgeryFPN:
    """ForgeryFPN around the bottom-up registered as ``cfg.MODEL.FORENSIC.BOTTOM_UP``."""
    return build_forgery_fpn(cfg, input_shape, BACKBONE_REGISTRY.get(cfg.MODEL.FORENSIC.BOTTOM_UP))


@BACKBONE_REGISTRY.register()
def build_forensic_resnet_fpn_backbone(cfg, input_shape: ShapeSpec) -> ForgeryFPN:
    """ForgeryFPN around detectron2's ResNet (``MODEL.RESNETS``)."""
    return build_forgery_fpn(cfg, input_shape, build_resnet_backbone)


@BACKBONE_REGISTRY.register()
def build_mobilenetv3_fpn_backbone(cfg, input_shape: ShapeSpec) -> ForgeryFPN:
    """ForgeryFPN around torchvision's MobileNetV3 (``MODEL.MOBILENET``); forensic streams and
    self-correlation apply as with ResNet."""
    return build_forgery_fpn(cfg, input_shape, build_mobilenetv3_backbone)
