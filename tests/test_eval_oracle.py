"""Oracle diagnostics: the real oF1 beside its upper bounds (ground-truth image decision, then also
ground-truth-matched instances only), in the evaluator, the sweep replay and tools/eval_oF1.py."""

import numpy as np
import pytest
import torch
from detectron2.structures import Instances

from forgery_d2.competition.rle import mask_to_runs
from forgery_d2.evaluation.decision import DecisionRule
from forgery_d2.evaluation.evaluator import (
    ForgeryEvaluator,
    image_metrics,
    oracle_decisions,
    summarize,
)
from forgery_d2.evaluation.oracle import ORACLE_KEYS, matched_only_of1, stage_losses

H, W = 20, 30


def _mask(x0, y0, x1, y1):
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_matched_only_keeps_exactly_the_instances_assigned_to_ground_truth():
    gt = [mask_to_runs(_mask(0, 0, 10, 10))]
    perfect, extra = mask_to_runs(_mask(0, 0, 10, 10)), mask_to_runs(_mask(20, 10, 30, 20))
    assert matched_only_of1(gt, [perfect, extra]) == pytest.approx(1.0)  # the real score is 0.5
    assert matched_only_of1(gt, [extra]) == 0.0 and matched_only_of1(gt, None) == 0.0
    two = [mask_to_runs(_mask(0, 0, 10, 10)), mask_to_runs(_mask(20, 0, 30, 10))]
    assert matched_only_of1(two, [perfect]) == pytest.approx(0.5)  # a missed instance still costs


def test_image_metrics_bound_the_real_score():
    gt = [mask_to_runs(_mask(0, 0, 10, 10))]
    missed = image_metrics(
        "a",
        "a",
        (H, W),
        gt,
        None,
        0.2,
        ungated_runs=[mask_to_runs(_mask(0, 0, 10, 10)), mask_to_runs(_mask(20, 10, 30, 20))],
    )
    assert (missed["oF1"], missed[ORACLE_KEYS[0]], missed[ORACLE_KEYS[1]]) == pytest.approx(
        (0.0, 0.5, 1.0)
    )
    flagged = image_metrics("b", "b", (H, W), None, gt, 0.9)  # authentic image with a mask
    assert (flagged["oF1"], flagged[ORACLE_KEYS[0]], flagged[ORACLE_KEYS[1]]) == (0.0, 1.0, 1.0)
    metrics = summarize([missed, flagged])
    assert metrics["oF1"] == 0.0 and metrics[ORACLE_KEYS[0]] == pytest.approx(0.75)
    assert stage_losses(metrics) == pytest.approx(
        {"image decision": 0.75, "instance scoring": 0.25, "mask quality": 0.0}
    )


def _output(scores, boxes, image_score):
    instances = Instances((H, W))
    instances.pred_masks = torch.as_tensor(np.stack([_mask(*b) for b in boxes]))
    instances.scores = torch.tensor(scores)
    return {"instances": instances, "image_score": image_score}


def test_evaluator_reports_oracles_from_the_raw_output(tmp_path):
    rule = DecisionRule.default().replace(
        image_thresh=0.5, score_thresh=0.5, merge_iou=0.0, merge_containment=0.0
    )
    output = _output([0.9, 0.3], [(20, 10, 30, 20), (0, 0, 10, 10)], image_score=0.2)
    ungated, candidates = oracle_decisions(rule, output)
    assert len(ungated.masks) == 1 and len(candidates.masks) == 2
    evaluator = ForgeryEvaluator("unused", decision=rule, distributed=False)
    evaluator._ground_truth = lambda inp: (
        {"image_id": "1", "case_id": "1"},
        _mask(0, 0, 10, 10)[None].astype(np.uint8),
    )
    evaluator.process([{"image_id": "1"}], [output])
    metrics = evaluator.evaluate()["forgery"]
    # Gate closed (0.2 < 0.5): real 0. Gate open: the wrong instance alone scores 0. All instances,
    # matched only: the low-scored right one is kept, 1.
    assert (metrics["oF1"], metrics[ORACLE_KEYS[0]], metrics[ORACLE_KEYS[1]]) == pytest.approx(
        (0.0, 0.0, 1.0)
    )
