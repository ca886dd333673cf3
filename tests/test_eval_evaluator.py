"""ForgeryEvaluator on hand-built outputs (exact oF1 and files) and the decision-rule sweep."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog
from detectron2.structures import Boxes, Instances

from forgery_d2.competition.submission import read_solution_csv, read_submission_csv
from forgery_d2.config import add_forgery_config
from forgery_d2.evaluation.decision import DecisionRule
from forgery_d2.evaluation.evaluator import ForgeryEvaluator
from forgery_d2.evaluation.metric import score
from forgery_d2.evaluation.sweep import (
    RawOutputCollector,
    best_image_thresh,
    evaluate_cache,
    sweep,
    write_decision_yaml,
)

H, W = 30, 40
DATASET = "_test_eval_evaluator"


def _rect(y0, x0, y1, x1):
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


A, B, C = _rect(2, 2, 10, 10), _rect(15, 20, 25, 35), _rect(0, 30, 6, 40)


@pytest.fixture()
def dataset(tmp_path):
    np.save(tmp_path / "b.npy", A[None])
    np.save(tmp_path / "c.npy", np.stack([B, C]))
    dicts = [
        {
            "file_name": "x/a.png",
            "image_id": "authentic/a",
            "case_id": "a",
            "height": H,
            "width": W,
            "label": 0,
            "mask_file": None,
        },
        {
            "file_name": "x/b.png",
            "image_id": "forged/b",
            "case_id": "b",
            "height": H,
            "width": W,
            "label": 1,
            "mask_file": str(tmp_path / "b.npy"),
        },
        {
            "file_name": "x/c.png",
            "image_id": "forged/c",
            "case_id": "c",
            "height": H,
            "width": W,
            "label": 1,
            "mask_file": str(tmp_path / "c.npy"),
        },
    ]
    DatasetCatalog.register(DATASET, lambda: dicts)
    yield dicts
    DatasetCatalog.remove(DATASET)


def _output(scores, masks, soft=False):
    inst = Instances((H, W))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    stacked = (
        torch.as_tensor(np.stack(masks)) if masks else torch.zeros((0, H, W), dtype=torch.uint8)
    )
    inst.pred_masks = (stacked * 230).to(torch.uint8) if soft else stacked.bool()
    inst.pred_boxes = Boxes(torch.zeros((len(scores), 4)))
    inst.pred_classes = torch.zeros(len(scores), dtype=torch.int64)
    return {"instances": inst}


def _outputs():
    return [
        _output(
            [0.3], [_rect(0, 0, 5, 5)]
        ),  # authentic image: top score 0.3 < 0.5 -> authentic (1.0)
        _output([0.9, 0.8], [A, B]),  # 1 GT: exact + 1 extra -> 0.5
        _output([0.95, 0.2], [B, C], soft=True),  # 2 GT: C's score 0.2 dropped -> 0.5
    ]


def _run(evaluator, dicts, outputs):
    evaluator.reset()
    inputs = [dict(d) for d in dicts]
    del (
        inputs[2]["mask_file"],
        inputs[2]["label"],
    )  # a mapper that passed fewer keys: looked up by image_id
    evaluator.process(inputs[:2], outputs[:2])
    evaluator.process(inputs[2:], outputs[2:])
    return evaluator.evaluate()


def test_evaluator_exact_oF1_and_files(dataset, tmp_path):
    out_dir = tmp_path / "eval"
    results = _run(
        ForgeryEvaluator(DATASET, add_forgery_config(get_cfg()), output_dir=str(out_dir)),
        dataset,
        _outputs(),
    )
    m = results["forgery"]
    assert m["oF1"] == float(np.mean([1.0, 0.5, 0.5]))
    assert m["oF1_forged"] == 0.5 and m["oF1_authentic"] == 1.0
    assert (m["image_TN"], m["image_FP"], m["image_FN"], m["image_TP"]) == (1, 0, 0, 2)
    assert m["image_accuracy"] == 1.0 and m["image_AUC"] == 1.0
    assert m["n_pred_instances"] == 3 and m["n_gt_instances"] == 3
    assert m["instance_matched_F1"] == pytest.approx(2 / 3)
    assert m["instance_precision@0.5"] == pytest.approx(2 / 3) and m[
        "instance_recall@0.5"
    ] == pytest.approx(2 / 3)
    # pixels over unions: b: pred A|B vs GT A; c: pred B vs GT B|C
    tp, fp, fn = 64 + 150, 150, 60
    assert m["pixel_F1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert m["pixel_IoU"] == pytest.approx(tp / (tp + fp + fn))
    # The written CSVs reproduce the score with the file scorer.
    sol = read_solution_csv(str(out_dir / "forgery_solution.csv"))
    sub = read_submission_csv(str(out_dir / "forgery_predictions.csv"))
    assert score(sol, sub) == m["oF1"]
    per_image = pd.read_csv(out_dir / "forgery_per_image.csv", dtype={"key": str})
    assert per_image["key"].tolist() == ["a", "b", "c"]  # unique case_ids: keyed by case_id
    assert per_image["oF1"].tolist() == [1.0, 0.5, 0.5]
    assert json.loads((out_dir / "forgery_metrics.json").read_text())["metrics"]["oF1"] == m["oF1"]


def test_gate_mistakes_cost_whole_images(dataset):
    rule = DecisionRule.default().replace(
        image_thresh=0.25
    )  # now the authentic image (top score 0.3) is flagged
    m = _run(ForgeryEvaluator(DATASET, decision=rule), dataset, _outputs())["forgery"]
    assert (
        m["image_FP"] == 0
    )  # its 5x5 instance is 25 px but its score 0.3 < SCORE_THRESH 0.5: none left
    rule = DecisionRule.default().replace(image_thresh=0.25, score_thresh=0.25)
    m = _run(ForgeryEvaluator(DATASET, decision=rule), dataset, _outputs())["forgery"]
    assert m["image_FP"] == 1 and m["oF1"] == float(np.mean([0.0, 0.5, 0.5]))


def test_sweep_tunes_rule_and_replays_exactly(dataset, tmp_path):
    collector = RawOutputCollector(DATASET, distributed=False)
    evaluator = ForgeryEvaluator(DATASET, decision=DecisionRule.default(), distributed=False)
    base = _run(evaluator, dataset, _outputs())["forgery"]
    _run(collector, dataset, _outputs())
    assert evaluate_cache(collector.cache, DecisionRule.default(), DATASET)["oF1"] == base["oF1"]
    result = sweep(
        collector.cache,
        DecisionRule.default(),
        grid={"score_thresh": [0.1, 0.5], "max_instances": [0, 1]},
    )
    # SCORE_THRESH 0.1 keeps C on image c (1.0); the gate (between a's 0.3 and the next score 0.9)
    # keeps image a authentic; b keeps its extra (0.5): MAX_INSTANCES 1 would fix b but break c
    # (tie).
    assert base["oF1"] == float(np.mean([1.0, 0.5, 0.5]))
    assert result.oF1 == float(np.mean([1.0, 0.5, 1.0]))
    assert result.rule.score_thresh == 0.1 and result.rule.max_instances == 0
    assert result.rule.image_thresh == pytest.approx(0.6)
    assert [h["key"] for h in result.history][:3] == ["start", "score_thresh", "max_instances"]
    assert evaluate_cache(collector.cache, result.rule, DATASET)["oF1"] == result.oF1
    path = write_decision_yaml(result.rule, str(tmp_path / "decision.yaml"), "tuned")
    cfg = add_forgery_config(get_cfg())
    cfg.merge_from_file(path)
    assert DecisionRule.from_config(cfg) == result.rule
    assert yaml.safe_load(open(path))["FORGERY"]["DECISION"]["SCORE_THRESH"] == 0.1


def test_best_image_thresh_is_exact():
    image_scores = [0.1, 0.4, 0.6, 0.9]
    forged = [0.0, 0.8, 0.2, 0.9]  # oF1 if called forged
    authentic = [1.0, 0.0, 1.0, 0.0]  # oF1 if called authentic
    thresh, value = best_image_thresh(image_scores, forged, authentic)
    # candidates: all forged 1.9, from 0.4: 1+0.8+0.2+0.9=2.9, from 0.6: 1+0+0.2+0.9=2.1, from 0.9:
    # 2.9... ties -> lowest
    assert thresh == pytest.approx(0.25) and value == pytest.approx(2.9 / 4)
