"""MobileNetV3 bottom-up: detectron2 stage names/strides, odd sizes, torchvision weight loading."""

import pytest
import torch
import torchvision
from detectron2.config import get_cfg
from detectron2.layers import FrozenBatchNorm2d, ShapeSpec

from forgery_d2.config import add_forgery_config
from forgery_d2.modeling.mobilenet import MobileNetV3Backbone, build_mobilenetv3_backbone


@pytest.mark.parametrize("arch", ["small", "large"])
def test_stages_strides_and_odd_sizes(arch):
    torch.manual_seed(0)
    backbone = MobileNetV3Backbone(arch=arch).eval()
    shapes = backbone.output_shape()
    assert {k: v.stride for k, v in shapes.items()} == {
        "res2": 4,
        "res3": 8,
        "res4": 16,
        "res5": 32,
    }
    with torch.no_grad():
        outputs = backbone(torch.randn(1, 3, 64, 200))
        odd = backbone(torch.randn(1, 3, 97, 131))
    for name, spec in shapes.items():
        assert outputs[name].shape == (
            1,
            spec.channels,
            -(-64 // spec.stride),
            -(-200 // spec.stride),
        )
        assert odd[name].shape[1] == spec.channels
        assert odd[name].shape[-2:] == (-(-97 // spec.stride), -(-131 // spec.stride))


def test_extra_input_channels_and_frozen_norm():
    backbone = MobileNetV3Backbone(in_channels=9, norm="FrozenBN", freeze_at=2)
    assert backbone.stem[0][0].in_channels == 9
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())
    assert not any(p.requires_grad for p in backbone.res2.parameters())
    assert all(p.requires_grad for p in backbone.res3.parameters())
    assert backbone(torch.randn(2, 9, 33, 47))["res5"].shape[-2:] == (2, 2)


def test_loads_torchvision_state_dict(tmp_path):
    torch.manual_seed(1)
    reference = torchvision.models.mobilenet_v3_small(weights=None)
    path = tmp_path / "mnv3_small.pth"
    torch.save(reference.state_dict(), path)
    cfg = add_forgery_config(get_cfg())
    cfg.MODEL.MOBILENET.WEIGHTS = str(path)
    cfg.MODEL.MOBILENET.FREEZE_AT = 1
    backbone = build_mobilenetv3_backbone(cfg, ShapeSpec(channels=5)).eval()
    reference_first = reference.features[0][0].weight
    torch.testing.assert_close(backbone.stem[0][0].weight[:, :3], reference_first)  # widened stem
    torch.testing.assert_close(backbone.res5[-1][0].weight, reference.features[12][0].weight)
    assert isinstance(backbone.stem[0][1], FrozenBatchNorm2d)
    cfg.MODEL.MOBILENET.ARCH = "large"
    with pytest.raises(ValueError, match="mnv3_small.pth"):
        build_mobilenetv3_backbone(cfg, ShapeSpec(channels=3))


def test_rejects_unknown_stage():
    with pytest.raises(ValueError, match="OUT_FEATURES"):
        MobileNetV3Backbone(out_features=("res2", "res6"))
