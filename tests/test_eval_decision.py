"""The decision rule: gate, thresholds, area, merging, cap; config round trip."""

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.structures import Boxes, Instances

from forgery_d2.config import add_forgery_config
from forgery_d2.evaluation.decision import DecisionRule

H, W = 40, 60


def _box_mask(y0, x0, y1, x1, value=True, dtype=torch.bool):
    m = torch.zeros((H, W), dtype=dtype)
    m[y0:y1, x0:x1] = value
    return m


def _output(scores, masks, image_score=None):
    inst = Instances((H, W))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_masks = torch.stack(masks) if masks else torch.zeros((0, H, W), dtype=torch.bool)
    inst.pred_boxes = Boxes(torch.zeros((len(scores), 4)))
    inst.pred_classes = torch.zeros(len(scores), dtype=torch.int64)
    out = {"instances": inst}
    if image_score is not None:
        out["image_score"] = torch.tensor(image_score)
    return out


def test_rule_reads_config_and_validates():
    cfg = add_forgery_config(get_cfg())
    cfg.FORGERY.DECISION.SCORE_THRESH = 0.7
    assert DecisionRule.from_config(cfg).score_thresh == 0.7
    with pytest.raises(ValueError, match="MASK_THRESH must be in"):
        DecisionRule.default().replace(mask_thresh=1.5)


def test_image_gate_uses_image_score_else_top_instance():
    a = _box_mask(0, 0, 10, 10)
    rule = DecisionRule.default().replace(image_thresh=0.6, score_thresh=0.1)
    assert not rule(_output([0.9], [a], image_score=0.5)).forged  # model says authentic
    assert rule(_output([0.3], [a], image_score=0.7)).forged  # gate passes, instance kept (>= 0.1)
    assert not rule(_output([0.55], [a])).forged  # no image_score: top instance 0.55 < 0.6
    decision = rule(_output([0.65], [a]))
    assert decision.forged and decision.image_score == pytest.approx(0.65)
    assert not rule(_output([], [])).forged


def test_score_and_soft_mask_thresholds():
    soft = _box_mask(0, 0, 10, 10, value=200, dtype=torch.uint8)
    soft[0:5, 0:10] = 100  # top half below 0.5 * 255
    rule = DecisionRule.default().replace(image_thresh=0.0, score_thresh=0.5, min_area=0)
    decision = rule(_output([0.9, 0.4], [soft, _box_mask(20, 20, 30, 30)]))
    assert len(decision.masks) == 1 and decision.masks.dtype == bool
    assert decision.masks[0].sum() == 50  # only the >= 127.5 half
    assert rule.replace(mask_thresh=0.3)(_output([0.9], [soft])).masks[0].sum() == 100


def test_min_area_pixels_and_fraction():
    small, big = _box_mask(0, 0, 3, 3), _box_mask(20, 20, 40, 40)
    rule = DecisionRule.default().replace(image_thresh=0.0, score_thresh=0.0, min_area=16)
    assert len(rule(_output([0.9, 0.8], [small, big])).masks) == 1
    assert (
        len(
            rule.replace(min_area=0, min_area_fraction=0.2)(_output([0.9, 0.8], [small, big])).masks
        )
        == 0
    )  # 400 < 480
    assert rule(_output([0.9], [small])).annotation == "authentic"  # nothing left = authentic


def test_merge_overlapping_and_keep_disjoint():
    a, b = _box_mask(0, 0, 10, 10), _box_mask(0, 5, 10, 15)  # IoU 1/3
    inner = _box_mask(2, 2, 4, 4)  # contained in a, IoU 0.04
    far = _box_mask(30, 40, 40, 50)
    rule = DecisionRule.default().replace(image_thresh=0.0, score_thresh=0.0, min_area=0)
    d = rule(_output([0.6, 0.9, 0.5, 0.7], [a, b, inner, far]))
    assert len(d.masks) == 2
    np.testing.assert_allclose(d.scores, [0.9, 0.7])  # merged group scored by its best member
    assert d.masks[0].sum() == 150 and d.masks[1].sum() == 100
    assert (
        len(
            rule.replace(merge_iou=0.5, merge_containment=0.0)(
                _output([0.6, 0.9, 0.5], [a, b, inner])
            ).masks
        )
        == 3
    )
    assert (
        len(
            rule.replace(merge_iou=0.0, merge_containment=0.9)(
                _output([0.6, 0.9, 0.5], [a, b, inner])
            ).masks
        )
        == 2
    )


def test_max_instances_keeps_best():
    masks = [_box_mask(0, 10 * k, 5, 10 * k + 5) for k in range(4)]
    d = DecisionRule.default().replace(
        image_thresh=0.0, score_thresh=0.0, min_area=0, max_instances=2
    )(_output([0.2, 0.9, 0.5, 0.7], masks))
    np.testing.assert_allclose(d.scores, [0.9, 0.7])
    assert d.boxes().tolist() == [[10, 0, 15, 5], [30, 0, 35, 5]]


def test_members_name_the_merged_output_instances():
    a = _box_mask(0, 0, 10, 10)
    b = _box_mask(5, 5, 12, 12)  # overlaps a: merged with it
    c = _box_mask(15, 15, 20, 20)
    low = _box_mask(0, 15, 3, 20)  # scored below SCORE_THRESH: dropped
    rule = DecisionRule.default().replace(image_thresh=0.0, score_thresh=0.5, min_area=0)
    decision = rule(_output([0.6, 0.1, 0.9, 0.7], [a, low, b, c]))
    assert decision.members == [[2, 0], [3]]  # best member first; indices into the output
    assert rule(_output([0.1], [low])).members == []
