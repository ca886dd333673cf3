"""Distributed paths on every CI run, without a GPU: two processes on the gloo backend, started by
forgery_d2.engine.launch (torch.multiprocessing; detectron2 v0.6's launch needs CUDA).

- ForgeryEvaluator / RawOutputCollector gather their records on rank 0 (``comm.gather``): the
  metrics equal those of one process evaluating every image.
- Staged freezing under DDP: a ForgeryTrainer with ``MODEL.BACKBONE.FREEZE_AT 2`` and a stage
  ``all`` trains two iterations on different data per rank; the parameters FREEZE_AT froze are
  not in DDP's reducer, so they must stay frozen; every parameter ends identical on both ranks.

(The sharded screening run, two processes SIGKILLed and resumed, is in test_screening.py.)
One session of two processes runs all the checks (interpreter start-up dominates); each rank writes
its findings to a JSON file and the tests below read them.
"""

import json
import math
import os

import numpy as np
import pytest
import torch
from _fixtures import make_kaggle_layout
from detectron2.data import DatasetCatalog
from detectron2.structures import Boxes, Instances
from detectron2.utils import comm
from test_train_engine import QUICK_CONFIG, make_tiny_dataset, tiny_overrides

import forgery_d2  # noqa: F401  (first, also in the spawned processes: detectron2 build shims)
from forgery_d2.config import load_config
from forgery_d2.data.io import read_mask
from forgery_d2.data.kaggle import register_forgery_dataset
from forgery_d2.engine import freeze
from forgery_d2.engine.launch import launch
from forgery_d2.engine.trainer import ForgeryTrainer
from forgery_d2.evaluation.evaluator import ForgeryEvaluator
from forgery_d2.evaluation.sweep import RawOutputCollector

EVAL_DATASET = "_test_distributed_eval"
TRAIN_DATASET = "_test_distributed_train"


def _outputs_for(records):
    """Hand-made model outputs: the ground truth on forged images with an even case_id, a mask on
    authentic images with an odd case_id (false alarms), nothing elsewhere."""
    outputs = []
    for record in records:
        h, w = record["height"], record["width"]
        instances = Instances((h, w))
        if record["label"] == 1 and int(record["case_id"]) % 2 == 0:
            masks = torch.as_tensor(read_mask(record["mask_file"], (h, w))).bool()
        elif record["label"] == 0 and int(record["case_id"]) % 2 == 1:
            masks = torch.zeros((1, h, w), dtype=torch.bool)
            masks[0, : h // 2, : w // 2] = True
        else:
            masks = torch.zeros((0, h, w), dtype=torch.bool)
        instances.pred_masks = masks
        instances.scores = torch.full((len(masks),), 0.9)
        instances.pred_boxes = Boxes(torch.zeros((len(masks), 4)))
        instances.pred_classes = torch.zeros(len(masks), dtype=torch.int64)
        outputs.append({"instances": instances})
    return outputs


def _evaluate(records, distributed):
    evaluator = ForgeryEvaluator(EVAL_DATASET, distributed=distributed)
    collector = RawOutputCollector(EVAL_DATASET, distributed=distributed)
    for each in (evaluator, collector):
        each.reset()
    inputs = [{"image_id": r["image_id"]} for r in records]  # the rest is looked up in the dataset
    outputs = _outputs_for(records)
    for inp, out in zip(inputs, outputs):
        evaluator.process([inp], [out])
        collector.process([inp], [out])
    results = evaluator.evaluate()
    collector.evaluate()
    return results, [im.image_id for im in collector.cache]


def _train_with_frozen_stem(output_dir):
    """Two iterations of ForgeryTrainer under DDP with FREEZE_AT 2 and an 'all' stage; returns per
    parameter [initial checksum, final checksum, requires_grad as built (False: FREEZE_AT), final
    requires_grad, checksum of the last gradient or None]."""
    cfg = load_config(
        QUICK_CONFIG,
        tiny_overrides(output_dir)
        + [
            "MODEL.RESNETS.NORM",
            "GN",
            "MODEL.BACKBONE.FREEZE_AT",
            "2",
            "SOLVER.MAX_ITER",
            "2",
            "SOLVER.IMS_PER_BATCH",
            "2",
            "SOLVER.BASE_LR",
            "0.05",
            "SOLVER.CHECKPOINT_PERIOD",
            "1000",
            "FORGERY.FREEZE.STAGES",
            "[[0, 'all']]",
            "FORGERY.HOOKS.BEST_METRIC",
            "",
            "FORGERY.HOOKS.PLOT_CURVES",
            "False",
            "DATASETS.TRAIN",
            f"('{TRAIN_DATASET}',)",
            "DATASETS.TEST",
            "()",
            "SEED",
            "1",
        ],
    )
    torch.manual_seed(
        1000 + torch.distributed.get_rank()
    )  # different initial weights: DDP must broadcast
    trainer = ForgeryTrainer(cfg)
    model = freeze.unwrap_ddp(trainer.model)
    initial = {
        n: (float(p.detach().double().sum()), bool(p.requires_grad))
        for n, p in model.named_parameters()
    }
    trainer.train()
    return {
        n: [
            initial[n][0],
            float(p.detach().double().sum()),
            initial[n][1],
            bool(p.requires_grad),
            None if p.grad is None else float(p.grad.double().sum()),
        ]
        for n, p in model.named_parameters()
    }


def _session(eval_root, train_root, results_dir):
    """Every check of this file, in each of the two processes."""
    register_forgery_dataset(EVAL_DATASET, eval_root, "train_all", cache_dir=False, overwrite=True)
    register_forgery_dataset(
        TRAIN_DATASET,
        os.path.join(train_root, "synthetic"),
        "train_all",
        cache_dir=False,
        overwrite=True,
    )
    rank = comm.get_rank()
    records = DatasetCatalog.get(EVAL_DATASET)
    mine = records[rank :: comm.get_world_size()]  # each rank evaluates its own half
    results, cached = _evaluate(mine, distributed=True)
    params = _train_with_frozen_stem(os.path.join(results_dir, f"train{rank}"))
    everyone = comm.all_gather(params)
    with open(os.path.join(results_dir, f"rank{rank}.json"), "w") as f:
        json.dump(
            {
                "world_size": comm.get_world_size(),
                "local_rank": comm.get_local_rank(),
                "evaluated": [r["image_id"] for r in mine],
                "results": results,
                "cached": cached,
                "params": params,
                "same_on_every_rank": all(p == params for p in everyone),
            },
            f,
        )


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    eval_root = str(tmp_path_factory.mktemp("eval_data"))
    make_kaggle_layout(eval_root, n_cases=6, n_supplemental=0, n_test=0)
    train_root = str(tmp_path_factory.mktemp("train_data"))
    make_tiny_dataset(train_root)
    results = tmp_path_factory.mktemp("results")
    os.environ["OMP_NUM_THREADS"] = "1"
    launch(_session, 2, args=(eval_root, train_root, str(results)))
    ranks = [json.loads((results / f"rank{r}.json").read_text()) for r in (0, 1)]
    return {"eval_root": eval_root, "ranks": ranks}


def _same(a, b):
    return (isinstance(a, float) and math.isnan(a) and math.isnan(b)) or a == b


def test_two_gloo_processes_with_detectron2_ranks(session):
    ranks = session["ranks"]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["local_rank"] for r in ranks] == [0, 1]
    assert not set(ranks[0]["evaluated"]) & set(ranks[1]["evaluated"])


def test_evaluator_gathers_every_rank_on_rank_zero(session):
    from forgery_d2.data.kaggle import register_forgery_dataset

    register_forgery_dataset(
        EVAL_DATASET, session["eval_root"], "train_all", cache_dir=False, overwrite=True
    )
    records = DatasetCatalog.get(EVAL_DATASET)
    single, cached = _evaluate(records, distributed=False)
    rank0, rank1 = session["ranks"]
    assert rank1["results"] == {} and rank1["cached"] == []  # gathered on rank 0 only
    assert rank0["cached"] == cached == sorted(r["image_id"] for r in records)
    gathered = rank0["results"]["forgery"]
    assert gathered["n_images"] == len(records) == 12
    assert (
        0.0 < gathered["oF1"] < 1.0 and gathered["image_FP"] > 0
    )  # the hand-made outputs make mistakes
    for key, value in single["forgery"].items():
        assert _same(gathered[key], value), key


def test_freeze_at_parameters_stay_frozen_and_in_sync_under_ddp(session):
    """DDP's reducer only holds what required grad when it wrapped the model: a parameter FREEZE_AT
    froze and a stage re-enabled would get a local, unsynchronised gradient on each rank."""
    rank0, rank1 = session["ranks"]
    params = rank0["params"]
    frozen = {n for n, values in params.items() if not values[2]}  # by FREEZE_AT, as built
    assert frozen and all(
        n.startswith(("backbone.bottom_up.stem.", "backbone.bottom_up.res2.")) for n in frozen
    )
    for name in frozen:
        for rank in (rank0, rank1):
            initial, final, _, requires_grad, grad = rank["params"][name]
            assert not requires_grad and grad is None, (
                f"{name}: frozen by FREEZE_AT, re-enabled by a stage"
            )
            assert final == initial
    # Everything else trained, with the same (all-reduced) gradients and weights on both ranks.
    assert rank0["same_on_every_rank"] and rank1["same_on_every_rank"]
    trained = [n for n in params if n not in frozen]
    assert all(params[n][4] is not None for n in trained)
    assert sum(params[n][1] != params[n][0] for n in trained) > len(trained) // 2
    # Both ranks started from rank 0's weights (DDP broadcast), though each built its own.
    assert all(np.isclose(rank1["params"][n][0], params[n][0]) for n in params)
