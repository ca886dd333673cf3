"""Image-level gate: learns image labels, ignores batch padding, label plumbing."""

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.structures import Boxes, Instances

from forgery_d2.config import add_forgery_config
from forgery_d2.modeling.image_gate import PooledImageGate, valid_area_mask
from forgery_d2.modeling.meta_arch import image_labels

SHAPES = {"p3": ShapeSpec(channels=6, stride=8), "p4": ShapeSpec(channels=6, stride=16)}


def _gate(in_features=("p3", "p4")):
    cfg = add_forgery_config(get_cfg())
    cfg.MODEL.IMAGE_GATE.IN_FEATURES = list(in_features)
    cfg.MODEL.IMAGE_GATE.HIDDEN_DIM = 16
    return PooledImageGate(cfg, SHAPES)


def _features(labels, generator):
    """Forged images carry a small bright blob in channel 2 (a local cue), authentic ones don't."""
    n = len(labels)
    feats = {
        "p3": torch.randn(n, 6, 12, 16, generator=generator),
        "p4": torch.randn(n, 6, 6, 8, generator=generator),
    }
    for i, label in enumerate(labels):
        if label:
            y, x = torch.randint(0, 10, (2,), generator=generator).tolist()
            feats["p3"][i, 2, y : y + 2, x : x + 2] += 4.0
    return feats


def test_gate_learns_image_labels():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    gate = _gate()
    optimizer = torch.optim.Adam(gate.parameters(), lr=1e-2)
    sizes = [(96, 128)] * 16
    labels = torch.tensor([0, 1] * 8)
    losses = []
    for _ in range(60):
        logits = gate(_features(labels, generator), sizes)
        loss = gate.losses(logits, labels)["loss_image_gate"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 0.6 and sum(losses[-5:]) / 5 < 0.2
    with torch.no_grad():
        test_labels = torch.tensor([1, 0, 0, 1, 1, 0])
        probs = torch.sigmoid(gate(_features(test_labels, generator), [(96, 128)] * 6))
    assert ((probs > 0.5).long() == test_labels).all()


def test_pooling_ignores_batch_padding():
    torch.manual_seed(0)
    gate = _gate()
    feats = _features([1, 0], torch.Generator().manual_seed(3))
    sizes = [(40, 60), (96, 128)]  # image 0 covers 5x8 p3 cells, 3x4 p4 cells
    reference = gate(feats, sizes)
    padded = {k: v.clone() for k, v in feats.items()}
    padded["p3"][0, :, 5:, :] = 1e4
    padded["p3"][0, :, :, 8:] = 1e4
    padded["p4"][0, :, 3:, :] = -1e4
    torch.testing.assert_close(gate(padded, sizes), reference)
    mask = valid_area_mask([(40, 60)], 16, (6, 8), "cpu")
    assert mask.sum() == 3 * 4


def test_gate_rejects_unknown_feature():
    with pytest.raises(ValueError, match="IMAGE_GATE.IN_FEATURES"):
        _gate(in_features=("p3", "p9"))


def test_image_labels_prefers_label_then_instances():
    with_box = Instances((8, 8), gt_boxes=Boxes(torch.tensor([[0.0, 0.0, 4.0, 4.0]])))
    empty = Instances((8, 8), gt_boxes=Boxes(torch.zeros(0, 4)))
    inputs = [
        {"label": 1, "instances": empty},
        {"instances": with_box},
        {"instances": empty},
        {"label": 0},
    ]
    assert image_labels(inputs, "cpu").tolist() == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="x.png.*label"):
        image_labels([{"file_name": "x.png", "label": 2}], "cpu")
    with pytest.raises(ValueError, match="y.png"):
        image_labels([{"file_name": "y.png"}], "cpu")
