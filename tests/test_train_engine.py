"""forgery_d2.engine and forgery_d2.data.mapper, in-process: staged freezing, the forgery-safe
mapper, the training hooks, and a short ForgeryTrainer run. Small images, CPU, a few iterations."""

import json
import os

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog
from detectron2.data import transforms as T
from detectron2.engine.hooks import CallbackHook
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from forgery_d2.config import add_forgery_config, fall_back_to_cpu
from forgery_d2.data.kaggle import register_forgery_dataset
from forgery_d2.data.mapper import ForgeryDatasetMapper, RandomRot90, Rot90Transform
from forgery_d2.engine import freeze
from forgery_d2.engine.curves import read_metrics
from forgery_d2.engine.hooks import (
    FeatureSeparability,
    TrainingCurves,
    ValidationLoss,
    probe_boxes,
)
from forgery_d2.engine.separability import separability_stats
from forgery_d2.engine.trainer import ForgeryTrainer, build_fixed_inputs, select_training_subset

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_CONFIG = os.path.join(REPO, "configs", "quick", "forgery_R_18_FPN_quick.yaml")


def make_tiny_dataset(root, n_forged=6, n_authentic=4, size=64, seed=0):
    """A competition-layout dataset (``<root>/synthetic``) of textured images, each forged one with
    one exact copy-move of a square patch; the mask (1, H, W) marks source and copy."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "synthetic")
    for sub in ("train_images/forged", "train_images/authentic", "train_masks"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for i in range(n_forged + n_authentic):
        coarse = rng.uniform(0, 255, (5, 5, 3)).astype(np.float32)
        image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC) + rng.normal(
            0, 12, (size, size, 3)
        )
        image = np.clip(image, 0, 255).astype(np.uint8)
        case_id = str(100 + i)
        if i >= n_forged:
            cv2.imwrite(os.path.join(folder, "train_images/authentic", case_id + ".png"), image)
            continue
        side = int(rng.integers(size // 5, size // 3))
        while True:
            (y0, x0), (y1, x1) = rng.integers(0, size - side, (2, 2))
            if abs(int(y0) - int(y1)) >= side or abs(int(x0) - int(x1)) >= side:
                break
        image[y1 : y1 + side, x1 : x1 + side] = image[y0 : y0 + side, x0 : x0 + side]
        mask = np.zeros((1, size, size), np.uint8)
        mask[0, y0 : y0 + side, x0 : x0 + side] = 1
        mask[0, y1 : y1 + side, x1 : x1 + side] = 1
        cv2.imwrite(os.path.join(folder, "train_images/forged", case_id + ".png"), image)
        np.save(os.path.join(folder, "train_masks", case_id + ".npy"), mask)
    return folder


def tiny_overrides(output_dir):
    """KEY VALUE overrides that make the quick config run in seconds on 64 px images."""
    return [
        "MODEL.DEVICE",
        "cpu",
        "INPUT.MIN_SIZE_TRAIN",
        "(64,)",
        "INPUT.MAX_SIZE_TRAIN",
        "96",
        "INPUT.MIN_SIZE_TEST",
        "64",
        "INPUT.MAX_SIZE_TEST",
        "96",
        "DATALOADER.NUM_WORKERS",
        "0",
        "SOLVER.WARMUP_ITERS",
        "2",
        "SOLVER.STEPS",
        "()",
        "TEST.EVAL_PERIOD",
        "0",
        "FORGERY.HOOKS.VAL_LOSS.PERIOD",
        "0",
        "FORGERY.HOOKS.SEPARABILITY.PERIOD",
        "0",
        "FORGERY.HOOKS.VAL_LOSS.NUM_IMAGES",
        "4",
        "FORGERY.HOOKS.SEPARABILITY.NUM_IMAGES",
        "6",
        "FORGERY.HOOKS.LOG_PERIOD",
        "1",
        "OUTPUT_DIR",
        str(output_dir),
    ]


@pytest.fixture(scope="module")
def tiny_datasets(tmp_path_factory):
    folder = make_tiny_dataset(str(tmp_path_factory.mktemp("tiny")))
    names = {}
    for split in ("train", "val"):
        name = f"train_engine_tiny_{split}"
        register_forgery_dataset(
            name, folder, split, val_fraction=0.4, cache_dir=False, overwrite=True
        )
        names[split] = name
    assert DatasetCatalog.get(names["val"]), "the tiny split must leave validation images"
    return names


def tiny_cfg(tiny_datasets, output_dir, *opts):
    cfg = get_cfg()
    add_forgery_config(cfg)
    cfg.merge_from_file(QUICK_CONFIG)
    cfg.merge_from_list(tiny_overrides(output_dir) + list(opts))
    cfg.DATASETS.TRAIN = (tiny_datasets["train"],)
    cfg.DATASETS.TEST = (tiny_datasets["val"],)
    return cfg


# ----------------------------------------------------------------------------------- freezing


def test_schedule_errors_are_clear():
    parts = freeze.part_patterns()
    with pytest.raises(freeze.FreezeConfigError, match=r"unknown part 'res6'.*valid names: .*res5"):
        freeze.parse_schedule([[0, "res6"]], parts)
    with pytest.raises(freeze.FreezeConfigError, match="must start at iteration 0"):
        freeze.parse_schedule([[5, "all"]], parts)
    with pytest.raises(freeze.FreezeConfigError, match="must increase"):
        freeze.parse_schedule([[0, "all"], [10, "heads"], [10, "res5"]], parts)
    with pytest.raises(freeze.FreezeConfigError, match=r"\[start_iter, 'part,part'\]"):
        freeze.parse_schedule([[0, "all", 3]], parts)
    with pytest.raises(freeze.FreezeConfigError, match="EXTRA_PARTS"):
        freeze.part_patterns(extra_parts=["forensic"])


def test_stage_at_and_groups():
    schedule = freeze.parse_schedule([[0, "backbone"], [10, "heads"], [20, "res5, classifier"]])
    assert [freeze.stage_at(schedule, i) for i in (0, 9, 10, 19, 20, 10**6)] == [0, 0, 1, 1, 2, 2]
    assert {"stem", "res5", "fpn"} <= set(schedule[0].parts)
    assert schedule[2].parts == ("res5", "classifier") and schedule[2].optional == ()


@pytest.fixture(scope="module")
def tiny_model(tiny_datasets, tmp_path_factory):
    cfg = tiny_cfg(tiny_datasets, tmp_path_factory.mktemp("model"), "MODEL.RESNETS.NORM", "BN")
    torch.manual_seed(0)
    return build_model(cfg)


def test_apply_stage_trains_exactly_the_named_parts(tiny_model):
    model = tiny_model.train()
    parts = freeze.part_patterns(
        model, extra_parts=[["gn_free_rpn", "proposal_generator.rpn_head.conv"]]
    )
    stage = freeze.parse_schedule([[0, "res5,classifier,gn_free_rpn"]], parts)[0]
    trainable, total = freeze.apply_stage(model, stage, parts)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(
        n.startswith(
            (
                "backbone.bottom_up.res5.",
                "roi_heads.box_predictor.cls_score.",
                "proposal_generator.rpn_head.conv.",
            )
        )
        for n in names
    )
    assert any(n.startswith("roi_heads.box_predictor.cls_score.") for n in names)
    assert not any(n.startswith("roi_heads.box_predictor.bbox_pred.") for n in names)
    assert trainable == sum(p.numel() for p in model.parameters() if p.requires_grad) < total
    # BatchNorm of frozen stages is in eval mode, that of res5 trains; model.train() + sync restores
    # it.
    res4_bn = model.backbone.bottom_up.res4[0].conv1.norm
    res5_bn = model.backbone.bottom_up.res5[0].conv1.norm
    assert isinstance(res4_bn, torch.nn.BatchNorm2d) and not res4_bn.training and res5_bn.training
    model.train()
    freeze.sync_frozen_norm_modes(model)
    assert not res4_bn.training and res5_bn.training
    # "all" trains every parameter; an explicitly named absent part is an error.
    freeze.apply_stage(model, freeze.parse_schedule([[0, "all"]], parts)[0], parts)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(freeze.FreezeConfigError, match="matches no parameter"):
        freeze.trainable_parameter_names(
            model, freeze.parse_schedule([[0, "image_gate"]], parts)[0], parts
        )
    # ...but a group skips members the model lacks (no image gate here).
    assert freeze.trainable_parameter_names(
        model, freeze.parse_schedule([[0, "heads"]], parts)[0], parts
    )


def _snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_trainer_freeze_schedule_moves_only_trainable_params_and_resumes(tiny_datasets, tmp_path):
    """Stage 0 trains the heads, stage 1 (from iteration 3) res5 + classifier: each stage changes
    exactly its parameters (SGD momentum and weight decay leave frozen ones bit-identical), and a
    trainer resumed from the iteration-2 checkpoint starts in stage 1."""
    cfg = tiny_cfg(
        tiny_datasets,
        tmp_path,
        "SOLVER.MAX_ITER",
        "6",
        "SOLVER.CHECKPOINT_PERIOD",
        "3",
        "FORGERY.FREEZE.STAGES",
        "[[0, 'heads'], [3, 'res5,classifier']]",
        "SEED",
        "1",
    )
    trainer = ForgeryTrainer(cfg)
    trainer.resume_or_load(resume=False)
    snapshots = {}
    trainer.register_hooks(
        [CallbackHook(after_step=lambda t: snapshots.__setitem__(t.iter, _snapshot(t.model)))]
    )
    start = _snapshot(trainer.model)
    trainer.train()

    parts = freeze.part_patterns(trainer.model)
    schedule = freeze.parse_schedule(cfg.FORGERY.FREEZE.STAGES, parts)
    for stage, before, after in (
        (schedule[0], start, snapshots[2]),
        (schedule[1], snapshots[2], snapshots[5]),
    ):
        trained = set(freeze.trainable_parameter_names(trainer.model, stage, parts))
        changed = {n for n in before if not torch.equal(before[n], after[n])}
        assert changed <= trained, f"frozen parameters moved: {sorted(changed - trained)[:5]}"
        assert len(changed) >= 0.9 * len(trained), (
            f"{len(changed)}/{len(trained)} trainable parameters moved"
        )

    resumed = ForgeryTrainer(
        tiny_cfg(
            tiny_datasets,
            tmp_path,
            "SOLVER.MAX_ITER",
            "4",
            "SOLVER.CHECKPOINT_PERIOD",
            "3",
            "FORGERY.FREEZE.STAGES",
            "[[0, 'heads'], [3, 'res5,classifier']]",
        )
    )
    with open(tmp_path / "last_checkpoint", "w") as f:
        f.write("model_0000002.pth")
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 3
    seen = {}
    resumed.register_hooks(
        [
            CallbackHook(
                before_step=lambda t: seen.update(
                    trainable={n for n, p in t.model.named_parameters() if p.requires_grad}
                )
            )
        ]
    )
    resumed.train()
    assert seen["trainable"] == set(
        freeze.trainable_parameter_names(resumed.model, schedule[1], parts)
    )
    metrics = read_metrics(str(tmp_path / "metrics.json"))
    assert dict(metrics["freeze/stage"])[3] == 1 and dict(metrics["freeze/stage"])[0] == 0


# ------------------------------------------------------------------------------------- mapper


def test_rot90_transform_matches_numpy_and_inverts():
    image = np.arange(5 * 7).reshape(5, 7).astype(np.uint8)
    for k in (1, 2, 3):
        t = Rot90Transform(k, 5, 7)
        rotated = t.apply_image(image)
        assert np.array_equal(rotated, np.rot90(image, k))
        # The centre of pixel (row 1, col 2) lands on the centre of the rotated pixel with that
        # value.
        ((x, y),) = t.apply_coords(np.array([[2.5, 1.5]]))
        assert rotated[int(y), int(x)] == image[1, 2]
        assert np.array_equal(t.inverse().apply_image(rotated), image)
        box = t.apply_box(np.array([[2, 1, 5, 3]]))[0]
        marked = np.zeros_like(image)
        marked[1:3, 2:5] = 1
        ys, xs = np.nonzero(t.apply_segmentation(marked))
        assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def _components(mask):
    count, labels = cv2.connectedComponents(mask.astype(np.uint8))
    return [labels == i for i in range(1, count)]


def test_mapper_augmentations_keep_duplicates_identical_and_masks_aligned(tiny_datasets):
    cfg = tiny_cfg(tiny_datasets, "/tmp/unused")
    lossless = [
        T.RandomFlip(prob=1.0, horizontal=True, vertical=False),
        T.RandomFlip(prob=1.0, horizontal=False, vertical=True),
        RandomRot90(prob=1.0),
        T.RandomBrightness(0.7, 1.3),
        T.RandomContrast(0.7, 1.3),
    ]
    mapper = ForgeryDatasetMapper(cfg, is_train=True, augmentations=lossless)
    forged = [d for d in DatasetCatalog.get(tiny_datasets["train"]) if d["annotations"]]
    np.random.seed(0)
    for record in forged[:3]:
        out = mapper(record)
        image = out["image"].permute(1, 2, 0).numpy()
        masks = out["instances"].gt_masks.tensor.numpy()
        assert (
            out["instances"].gt_masks.tensor.dtype == torch.bool
            and masks.shape[1:] == image.shape[:2]
        )
        source, copy = _components(masks[0])
        patch = lambda region, image=image: image[np.ix_(region.any(1), region.any(0))]  # noqa: E731
        assert np.array_equal(patch(source), patch(copy)), "source and copy must stay identical"
        ys, xs = np.nonzero(masks[0])
        assert out["instances"].gt_boxes.tensor[0].tolist() == [
            xs.min(),
            ys.min(),
            xs.max() + 1,
            ys.max() + 1,
        ]
        assert out["label"] == 1 and "case_id" in out

    authentic = [d for d in DatasetCatalog.get(tiny_datasets["train"]) if not d["annotations"]][0]
    train_out = ForgeryDatasetMapper(cfg, is_train=True)(authentic)
    assert len(train_out["instances"]) == 0 and train_out["label"] == 0
    test_out = ForgeryDatasetMapper(cfg, is_train=False)(forged[0])
    assert "instances" not in test_out and test_out["image"].shape[1:] == (64, 64)


def test_augmentation_config_errors():
    cfg = get_cfg()
    add_forgery_config(cfg)
    cfg.FORGERY.AUG.BRIGHTNESS = [1.2]
    with pytest.raises(ValueError, match="FORGERY.AUG.BRIGHTNESS"):
        ForgeryDatasetMapper(cfg, is_train=True)


# --------------------------------------------------------------------------------- data subset


def test_training_subset():
    records = [
        {"image_id": f"a/{i}", "case_id": str(i), "annotations": [{}] if i % 3 == 0 else []}
        for i in range(12)
    ]
    one = select_training_subset(records, 1, seed=0)
    five = select_training_subset(records, 5, seed=0)
    assert (
        len(one) == 1
        and one[0]["annotations"]
        and one == select_training_subset(records, 1, seed=0)
    )
    assert sum(bool(r["annotations"]) for r in five) == 4  # all 4 forged first, then one authentic
    assert [r["case_id"] for r in select_training_subset(records, ids=["3", "a/7"])] == ["3", "7"]
    with pytest.raises(ValueError, match=r"\['404'\] not in the training datasets"):
        select_training_subset(records, ids=["404"])


# -------------------------------------------------------------------------------------- hooks


def test_separability_stats_detect_separation():
    gen = torch.Generator().manual_seed(0)
    negatives = torch.randn(60, 32, generator=gen)
    same = separability_stats(torch.randn(60, 32, generator=gen), negatives)
    shifted = torch.randn(60, 32, generator=gen)
    shifted[:, :5] += 3.0
    apart = separability_stats(shifted, negatives)
    assert apart["num_separating"] == 5 and same["num_separating"] == 0
    assert apart["probe_acc"] > 0.9 and 0.3 < same["probe_acc"] < 0.7
    assert apart["norm_dist"] > 3 * same["norm_dist"]
    assert apart["mean_dist"] == pytest.approx(
        float((shifted.double().mean(0) - negatives.double().mean(0)).norm())
    )
    assert np.isnan(separability_stats(shifted[:1], negatives)["probe_acc"])


class _FakeTrainer:
    def __init__(self, model, iteration=9, max_iter=100):
        self.model, self.iter, self.max_iter = model, iteration, max_iter


def test_validation_loss_is_a_real_loss_and_has_no_side_effects(
    tiny_datasets, tiny_model, tmp_path
):
    cfg = tiny_cfg(tiny_datasets, tmp_path, "MODEL.RESNETS.NORM", "BN")
    model = tiny_model
    freeze.apply_stage(model, freeze.FreezeStage(0, ("all",)), freeze.part_patterns(model))
    model.train()
    inputs = build_fixed_inputs(cfg, tiny_datasets["val"], 4)
    assert any(len(x["instances"]) for x in inputs) and all("instances" in x for x in inputs)
    hook = ValidationLoss(10, inputs, batch_size=2)
    hook.trainer = _FakeTrainer(model)
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    params = _snapshot(model)
    rng_state = torch.get_rng_state()
    with EventStorage(9) as storage:
        hook.trainer.storage = storage
        hook.after_step()  # iteration 9: the 10th, so it runs
        logged = {k: v for k, (v, _) in storage.latest().items()}
    assert {"val_loss", "val_loss_cls", "val_loss_mask", "val_loss_rpn_cls"} <= set(logged)
    assert "roi_head/num_fg_samples" not in logged  # the model's own train-time stats stay out
    assert logged["val_loss"] == pytest.approx(
        sum(v for k, v in logged.items() if k.startswith("val_loss_"))
    )
    assert logged["val_loss_mask"] > 0
    assert hook.compute() == pytest.approx(
        {k: v for k, v in logged.items() if k.startswith("val_")}
    )
    assert all(torch.equal(b, buffers[n]) for n, b in model.named_buffers()), (
        "BN running stats changed"
    )
    assert all(torch.equal(p, params[n]) for n, p in model.named_parameters())
    assert torch.equal(torch.get_rng_state(), rng_state) and model.training


def test_feature_separability_hook_logs(tiny_datasets, tiny_model, tmp_path):
    cfg = tiny_cfg(tiny_datasets, tmp_path)
    inputs = build_fixed_inputs(cfg, tiny_datasets["train"], 8)
    boxes = probe_boxes(inputs, neg_per_image=3)
    again = probe_boxes(inputs, neg_per_image=3)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(boxes, again))
    authentic_negatives = [neg for (pos, neg), x in zip(boxes, inputs) if len(x["instances"]) == 0]
    assert authentic_negatives and all(len(n) == 3 for n in authentic_negatives)
    assert all(len(neg) == 0 for (pos, neg), x in zip(boxes, inputs) if len(x["instances"]))
    hook = FeatureSeparability(5, inputs, neg_per_image=3)
    hook.trainer = _FakeTrainer(tiny_model.train(), iteration=4)
    with EventStorage(4) as storage:
        hook.trainer.storage = storage
        hook.after_step()
        logged = {k: v for k, (v, _) in storage.latest().items()}
    assert {"sep/mean_dist", "sep/norm_dist", "sep/num_separating", "sep/probe_acc"} <= set(logged)
    n_pos = sum(len(x["instances"]) for x in inputs)
    assert logged["sep/num_pos"] == n_pos and logged["sep/num_neg"] == 3 * len(authentic_negatives)
    assert tiny_model.training


def test_read_metrics_keeps_the_last_record_of_a_rerun_iteration(tmp_path):
    path = tmp_path / "metrics.json"
    lines = [
        {"iteration": 1, "total_loss": 3.0},
        {"iteration": 2, "total_loss": 2.0},
        {"iteration": 2, "total_loss": 1.5, "val_loss": 1.0},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"iteration": 3, "tot')
    metrics = read_metrics(str(path))
    assert metrics["total_loss"] == [(1, 3.0), (2, 1.5)] and metrics["val_loss"] == [(2, 1.0)]


def test_training_curves_hook_warns_instead_of_raising_without_a_logged_iteration(tmp_path, caplog):
    """A run that stopped before its first logged iteration (its after_train runs while the
    exception unwinds the loop) must not replace that exception by a plotting error."""
    (tmp_path / "metrics.json").write_text("")
    with caplog.at_level("WARNING"):
        TrainingCurves(str(tmp_path)).after_train()
    assert "No training curves written" in caplog.text
    assert not (tmp_path / "training_curves.png").exists()


# ------------------------------------------------------------------------------------ configs


@pytest.mark.parametrize(
    "name",
    [
        "Base-Forgery-RCNN-FPN.yaml",
        "forgery_R_50_FPN.yaml",
        "forgery_R_101_FPN.yaml",
        "quick/forgery_R_18_FPN_quick.yaml",
    ],
)
def test_configs_build_a_one_class_forgery_rcnn(name):
    cfg = get_cfg()
    add_forgery_config(cfg)
    cfg.merge_from_file(os.path.join(REPO, "configs", name))
    cfg.MODEL.DEVICE = "cpu"
    assert cfg.MODEL.META_ARCHITECTURE == "ForgeryRCNN" and cfg.MODEL.ROI_HEADS.NUM_CLASSES == 1
    assert cfg.INPUT.MASK_FORMAT == "bitmask" and not cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS
    assert cfg.MODEL.BACKBONE.FREEZE_AT == 0 and cfg.MODEL.RESNETS.NORM == "GN"
    model = build_model(cfg)
    assert sum(p.requires_grad for p in model.parameters()) == len(list(model.parameters()))
    parts = freeze.part_patterns(model)
    assert not freeze.uncovered_parameter_names(model, parts), (
        "every parameter belongs to a freeze part"
    )


def test_cpu_fallback_switches_off_mixed_precision(monkeypatch):
    """forgery_R_50_FPN.yaml trains with AMP; on a machine without CUDA it must run (in float32)
    instead of stopping at detectron2's AMPTrainer assertion."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = get_cfg()
    add_forgery_config(cfg)
    cfg.merge_from_file(os.path.join(REPO, "configs", "forgery_R_50_FPN.yaml"))
    assert cfg.SOLVER.AMP.ENABLED and cfg.MODEL.DEVICE == "cuda"
    message = fall_back_to_cpu(cfg)
    assert cfg.MODEL.DEVICE == "cpu" and not cfg.SOLVER.AMP.ENABLED
    assert "running on CPU" in message and "SOLVER.AMP.ENABLED" in message
    cfg.SOLVER.AMP.ENABLED = False
    cfg.MODEL.DEVICE = "cuda"
    assert "SOLVER.AMP" not in fall_back_to_cpu(cfg)


def test_recipe_overlays_merge_and_validate():
    for overlay in sorted(os.listdir(os.path.join(REPO, "configs", "recipe"))):
        cfg = get_cfg()
        add_forgery_config(cfg)
        cfg.merge_from_file(QUICK_CONFIG)
        cfg.merge_from_file(os.path.join(REPO, "configs", "recipe", overlay))
        cfg.MODEL.DEVICE = "cpu"
        assert cfg.FORGERY.FREEZE.STAGES, overlay
        model = build_model(cfg)
        parts = freeze.part_patterns(model)
        for stage in freeze.parse_schedule(cfg.FORGERY.FREEZE.STAGES, parts):
            assert freeze.trainable_parameter_names(model, stage, parts)


def test_freeze_parts_cover_forgery_modules():
    """Forensic streams (late fusion), self-correlation and the image gate are freeze parts, inside
    the backbone / heads groups, and no parameter is left outside every part."""
    cfg = get_cfg()
    add_forgery_config(cfg)
    cfg.merge_from_file(QUICK_CONFIG)
    cfg.merge_from_list(
        [
            "MODEL.DEVICE",
            "cpu",
            "MODEL.BACKBONE.NAME",
            "build_forensic_resnet_fpn_backbone",
            "MODEL.FORENSIC.STREAMS",
            "['srm', 'bayar']",
            "MODEL.FORENSIC.FUSION",
            "late",
            "MODEL.SELF_CORRELATION.ENABLED",
            "True",
            "MODEL.IMAGE_GATE.ENABLED",
            "True",
        ]
    )
    model = build_model(cfg)
    parts = freeze.part_patterns(model)
    assert not freeze.uncovered_parameter_names(model, parts)
    backbone, heads, added = freeze.parse_schedule(
        [[0, "backbone"], [5, "heads"], [9, "forensic,self_correlation,image_gate"]], parts
    )
    names = {
        s: set(freeze.trainable_parameter_names(model, s, parts)) for s in (backbone, heads, added)
    }
    everything = {n for n, _ in model.named_parameters()}
    assert names[backbone] | names[heads] == everything and not names[backbone] & names[heads]
    assert any(n.startswith("backbone.forensic_bottom_up.") for n in names[added])
    assert any(n.startswith("backbone.self_correlation.") for n in names[added])
    assert any(n.startswith("image_gate.") for n in names[added]) and names[added] < everything
