#!/usr/bin/env python
"""forgery_d2 side by side with its peers, on the same synthetic validation images, in one run.

Rows (all scored by forgery_d2.evaluation: the same decision rule, the competition's oF1):

- ``all_authentic``: predict ``authentic`` everywhere (the leaderboard's 0.30 baseline).
- ``keypoint_matcher``: forgery_d2's training-free matcher (configs/matcher/keypoint_matcher.yaml).
- ``forgery_d2_rcnn``: forgery_d2's quick Mask R-CNN (``--rcnn-config``) trained here by its own
  trainer for ``--train-iters`` iterations, exactly like the torchvision peer.
- ``forgery_d2_rcnn_checkpoint`` (with ``--rcnn-weights``): the same model from a longer training
  (e.g. the quick config's full schedule via tools/train_net.py). Not on equal footing with the peer.
- ``fusion_<mode>``: the network (the checkpoint when given, else the in-bench one) and the matcher
  fused by forgery_d2.modeling.meta_arch.fusion, every mode (the matcher runs on the full-resolution image,
  the network on its test-time resize).
- ``torchvision_maskrcnn``: the seeds' approach re-implemented: torchvision's MaskRCNN with a
  ResNet-18-FPN backbone (BatchNorm, as torchvision uses without pretrained weights), plain RGB,
  the same image sizes, batch size, LR schedule and ``--train-iters`` iterations, random init,
  trained here on ``DATASETS.TRAIN`` of ``--rcnn-config`` (gradient norm clipped at 10: from scratch
  it diverges otherwise; non-finite steps are skipped and counted).

Speed and memory: every model runs in its own subprocess, so each peak RSS (``ru_maxrss``) belongs
to one model; training images/s (median step after the first 10%) of forgery_d2's quick model and
of the torchvision model, inference images/s of both (batch 1, median), and the ratios
forgery_d2 / torchvision (what to read when the machine is noisy).

    OMP_NUM_THREADS=2 python benchmarks/bench_peers.py --train-iters 100 --val-images 60 \
        [--rcnn-weights output/forgery_R_18_FPN_quick/model_final.pth] --output output/bench_peers

Writes ``results.json``, ``results.md`` (tables) and ``peers.png`` / ``speed.png`` in ``--output``.
"""

import argparse
import dataclasses
import json
import logging
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)

from detectron2.data import (
    DatasetCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
)  # noqa: E402
from detectron2.structures import Instances  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402
from forgery_d2.config import load_config  # noqa: E402
from forgery_d2.data.builtin import register_builtin_from_config  # noqa: E402
from forgery_d2.data.mapper import ForgeryDatasetMapper  # noqa: E402
from forgery_d2.evaluation.decision import DecisionRule  # noqa: E402
from forgery_d2.evaluation.sweep import (  # noqa: E402
    CachedImage,
    CompactOutput,
    RawOutputCollector,
    evaluate_cache,
    load_cache,
    save_cache,
    sweep,
)
from forgery_d2.modeling.meta_arch.fusion import FUSION_MODES, FusionRule, fuse_instances  # noqa: E402

logger = logging.getLogger("forgery_d2.bench_peers")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MATCHER_CONFIG = os.path.join(ROOT, "configs", "matcher", "keypoint_matcher.yaml")


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_cfg(config_file, args, weights=""):
    cfg = load_config(config_file, freeze=False, device_fallback=False)
    cfg.MODEL.DEVICE = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    cfg.MODEL.WEIGHTS = weights
    cfg.DATALOADER.NUM_WORKERS = 0  # one process: its RSS is the model's
    if args.datasets_root:
        cfg.FORGERY.DATA.ROOT = args.datasets_root
    if args.val_dataset:
        cfg.DATASETS.TEST = (args.val_dataset,)
    return cfg


def val_dicts(cfg, n):
    dicts = DatasetCatalog.get(cfg.DATASETS.TEST[0])
    return dicts[:n] if n > 0 else dicts


# ------------------------------------------------------------------------------------------------
# torchvision's Mask R-CNN (the seeds' approach)


GRAD_CLIP_NORM = 10.0


def build_torchvision_maskrcnn(cfg):
    """MaskRCNN, ResNet-18-FPN from scratch (BatchNorm), torchvision's default heads, 2 classes."""
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    backbone = resnet_fpn_backbone(
        backbone_name="resnet18", weights=None, norm_layer=torch.nn.BatchNorm2d, trainable_layers=5
    )
    return MaskRCNN(
        backbone,
        num_classes=2,
        min_size=tuple(cfg.INPUT.MIN_SIZE_TRAIN),
        max_size=cfg.INPUT.MAX_SIZE_TRAIN,
        image_mean=[m / 255 for m in cfg.MODEL.PIXEL_MEAN],
        image_std=[s / 255 for s in cfg.MODEL.PIXEL_STD],
    )


def _torchvision_target(instances):
    return {
        "boxes": instances.gt_boxes.tensor.float(),
        "labels": instances.gt_classes.long() + 1,  # torchvision: 0 is background
        "masks": instances.gt_masks.tensor.to(torch.uint8)
        if len(instances)
        else torch.zeros((0, *instances.image_size), dtype=torch.uint8),
    }


def _lr_factor(iteration, cfg):
    warmup = cfg.SOLVER.WARMUP_ITERS
    factor = cfg.SOLVER.GAMMA ** sum(iteration >= s for s in cfg.SOLVER.STEPS)
    if iteration < warmup:
        alpha = iteration / warmup
        factor *= cfg.SOLVER.WARMUP_FACTOR * (1 - alpha) + alpha
    return factor


def train_torchvision(cfg, iters, weights_out):
    """Train it like forgery_d2's trainer would: same loader (mapper, sizes, batch), SGD, schedule."""
    torch.manual_seed(cfg.SEED if cfg.SEED >= 0 else 0)
    device = torch.device(cfg.MODEL.DEVICE)
    model = build_torchvision_maskrcnn(cfg).to(device).train()
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=cfg.SOLVER.BASE_LR,
        momentum=cfg.SOLVER.MOMENTUM,
        weight_decay=cfg.SOLVER.WEIGHT_DECAY,
    )
    loader = iter(
        build_detection_train_loader(cfg, mapper=ForgeryDatasetMapper(cfg, is_train=True))
    )
    durations, skipped = [], 0
    for iteration in range(iters):
        start = time.perf_counter()
        batch = next(loader)
        images = [b["image"].to(device).float() / 255 for b in batch]
        targets = [
            {k: v.to(device) for k, v in _torchvision_target(b["instances"]).items()} for b in batch
        ]
        for group in optimizer.param_groups:
            group["lr"] = cfg.SOLVER.BASE_LR * _lr_factor(iteration, cfg)
        losses = model(images, targets)
        loss = sum(losses.values())
        optimizer.zero_grad()
        if torch.isfinite(loss):
            loss.backward()
            # From scratch at the R-CNN's learning rate the peer diverges within a few steps without
            # it.
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP_NORM)
            optimizer.step()
        else:
            skipped += 1
            logger.warning("torchvision iter %d: loss %s, step skipped", iteration, loss.item())
        durations.append(time.perf_counter() - start)
        if iteration % 20 == 0:
            logger.info(
                "torchvision iter %d/%d loss %.3f (%.2fs)",
                iteration,
                iters,
                loss.item(),
                durations[-1],
            )
    torch.save(model.state_dict(), weights_out)
    steady = durations[len(durations) // 10 :] or durations
    return {
        "train_s_per_iter": statistics.median(steady),
        "train_images_per_s": cfg.SOLVER.IMS_PER_BATCH / statistics.median(steady),
        "skipped_steps": skipped,
    }


class TorchvisionAdapter(torch.nn.Module):
    """detectron2-style inference for the torchvision model: ``{"instances"}`` at original size."""

    def __init__(self, model, cfg):
        super().__init__()
        self.model = model.eval()
        self.model.transform.min_size = (cfg.INPUT.MIN_SIZE_TEST,)
        self.model.transform.max_size = cfg.INPUT.MAX_SIZE_TEST
        self.rgb = cfg.INPUT.FORMAT.upper() == "RGB"

    def forward(self, batched_inputs):
        outputs = []
        for item in batched_inputs:
            image = item["image"].float() / 255
            image = image if self.rgb else image.flip(0)
            (out,) = self.model([image.to(next(self.model.parameters()).device)])
            height, width = int(item["height"]), int(item["width"])
            masks = out["masks"][:, :1]
            masks = torch.nn.functional.interpolate(
                masks, size=(height, width), mode="bilinear", align_corners=False
            )
            instances = Instances((height, width))
            instances.scores = out["scores"].cpu()
            instances.pred_masks = (masks[:, 0] * 255).round().to(torch.uint8).cpu()
            instances.pred_classes = torch.zeros(len(out["scores"]), dtype=torch.int64)
            outputs.append({"instances": instances})
        return outputs


class AuthenticModel(torch.nn.Module):
    def forward(self, batched_inputs):
        return [
            {
                "instances": Instances(
                    (int(b["height"]), int(b["width"])),
                    scores=torch.zeros(0),
                    pred_masks=torch.zeros(
                        (0, int(b["height"]), int(b["width"])), dtype=torch.bool
                    ),
                )
            }
            for b in batched_inputs
        ]


# ------------------------------------------------------------------------------------------------
# Phases (each in its own process)


def run_inference(model, cfg, dicts, cache_out):
    """Outputs of ``model`` on ``dicts`` cached for scoring; seconds per image and peak RSS."""
    dataset = cfg.DATASETS.TEST[0]
    loader = build_detection_test_loader(
        dataset=dicts, mapper=ForgeryDatasetMapper(cfg, is_train=False)
    )
    collector = RawOutputCollector(dataset, score_floor=0.0, distributed=False)
    seconds = []
    with torch.no_grad():
        for inputs in loader:
            start = time.perf_counter()
            outputs = model(inputs)
            seconds.append(time.perf_counter() - start)
            collector.process(inputs, outputs)
    collector.evaluate()
    save_cache(collector.cache, cache_out)
    timed = seconds[2:] or seconds
    return {
        "infer_s_per_image": statistics.median(timed),
        "infer_images_per_s": 1 / statistics.median(timed),
    }


def phase(args):
    """One model in this process: ``--phase {authentic,matcher,rcnn,torchvision,rcnn_checkpoint}``."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    torch.set_num_threads(args.threads)
    out = os.path.join(args.output, args.phase)
    stats = {}
    if args.phase == "matcher":
        cfg = load_cfg(MATCHER_CONFIG, args)
        cfg.MODEL.DEVICE = "cpu"
        cfg.DATASETS.TEST = load_cfg(
            args.rcnn_config, args
        ).DATASETS.TEST  # the same images for every row
        register_builtin_from_config(cfg)
        model = build_model(cfg).eval()
        stats.update(run_inference(model, cfg, val_dicts(cfg, args.val_images), out + ".pkl"))
    else:
        cfg = load_cfg(args.rcnn_config, args, args.rcnn_weights)
        register_builtin_from_config(cfg)
        dicts = val_dicts(cfg, args.val_images)
        if args.phase == "authentic":
            stats.update(run_inference(AuthenticModel(), cfg, dicts, out + ".pkl"))
        elif args.phase == "rcnn_checkpoint":
            model = build_model(cfg).eval()
            DetectionCheckpointer(model).load(args.rcnn_weights)
            stats.update(run_inference(model, cfg, dicts, out + ".pkl"))
        elif args.phase == "rcnn":
            trained_cfg, train_stats = train_forgery_rcnn(
                cfg, args.train_iters, os.path.join(args.output, "forgery_d2_rcnn")
            )
            stats.update(train_stats)
            model = build_model(trained_cfg).eval()
            DetectionCheckpointer(model).load(
                os.path.join(trained_cfg.OUTPUT_DIR, "model_final.pth")
            )
            stats.update(run_inference(model, trained_cfg, dicts, out + ".pkl"))
        elif args.phase == "torchvision":
            weights = os.path.join(args.output, "torchvision_maskrcnn_r18.pth")
            stats.update(
                train_torchvision(scaled_schedule(cfg, args.train_iters), args.train_iters, weights)
            )
            stats["train_peak_rss_mb"] = peak_rss_mb()
            model = build_torchvision_maskrcnn(cfg)
            model.load_state_dict(torch.load(weights, map_location="cpu"))
            stats.update(
                run_inference(
                    TorchvisionAdapter(model.to(cfg.MODEL.DEVICE), cfg), cfg, dicts, out + ".pkl"
                )
            )
        else:
            raise ValueError(f"unknown --phase {args.phase!r}")
    stats["peak_rss_mb"] = peak_rss_mb()
    stats["device"] = cfg.MODEL.DEVICE
    with open(out + ".json", "w") as f:
        json.dump(stats, f)


def train_forgery_rcnn(cfg, iters, output_dir):
    """forgery_d2's own trainer for ``iters`` iterations; LR steps at 75% / 95% like the peer's,
    hooks that evaluate off. Returns the trained config and its speed."""
    from detectron2.engine import HookBase

    from forgery_d2.engine.trainer import ForgeryTrainer

    cfg = scaled_schedule(cfg, iters)
    cfg.MODEL.WEIGHTS = ""
    cfg.SOLVER.CHECKPOINT_PERIOD = iters + 1
    cfg.TEST.EVAL_PERIOD = 0
    cfg.FORGERY.HOOKS.VAL_LOSS.PERIOD = 0
    cfg.FORGERY.HOOKS.SEPARABILITY.PERIOD = 0
    cfg.FORGERY.HOOKS.BEST_METRIC = ""
    cfg.FORGERY.HOOKS.PLOT_CURVES = False
    cfg.OUTPUT_DIR = output_dir
    durations = []

    class Timer(HookBase):
        def before_step(self):
            self.start = time.perf_counter()

        def after_step(self):
            durations.append(time.perf_counter() - self.start)

    trainer = ForgeryTrainer(cfg)
    trainer.register_hooks([Timer()])
    trainer.resume_or_load(resume=False)
    trainer.train()
    steady = statistics.median(durations[len(durations) // 10 :] or durations)
    return cfg, {
        "train_s_per_iter": steady,
        "train_images_per_s": cfg.SOLVER.IMS_PER_BATCH / steady,
        "train_peak_rss_mb": peak_rss_mb(),
    }


def scaled_schedule(cfg, iters):
    """The config's schedule shrunk to ``iters``: steps at 75% / 95%, warmup at most 10%."""
    cfg = cfg.clone()
    cfg.SOLVER.MAX_ITER = iters
    cfg.SOLVER.STEPS = tuple(
        sorted({s for s in (int(0.75 * iters), int(0.95 * iters)) if 0 < s < iters})
    )
    cfg.SOLVER.WARMUP_ITERS = min(cfg.SOLVER.WARMUP_ITERS, max(iters // 10, 1))
    return cfg


# ------------------------------------------------------------------------------------------------
# Scoring and report


def fused_cache(rcnn_cache, matcher_cache, fusion_rule):
    by_id = {im.image_id: im for im in matcher_cache}
    cache = []
    for im in rcnn_cache:
        outputs = []
        for cached in (im.output, by_id[im.image_id].output):
            instances = Instances(
                cached.hw,
                scores=torch.as_tensor(cached.scores, dtype=torch.float32),
                pred_masks=torch.as_tensor(cached.dense_masks()),
            )
            outputs.append(instances)
        network, matcher = outputs
        if matcher.pred_masks.dtype != torch.bool:
            matcher.pred_masks = matcher.pred_masks.bool()
        fused = fuse_instances(network, matcher, fusion_rule)
        cache.append(
            CachedImage(
                im.image_id, im.case_id, CompactOutput.from_output({"instances": fused}), im.gt_runs
            )
        )
    return cache


def score(cache, rule):
    swept = sweep(cache, rule, log=False).rule
    configured, tuned = evaluate_cache(cache, rule), evaluate_cache(cache, swept)
    return {
        "oF1": configured["oF1"],
        "image_F1": configured["image_F1"],
        "pixel_F1": configured["pixel_F1"],
        "oF1_swept": tuned["oF1"],
        "image_F1_swept": tuned["image_F1"],
        "pixel_F1_swept": tuned["pixel_F1"],
        "image_AUC": configured["image_AUC"],
    }


def _fmt(value, spec="{:.3f}"):
    return (
        "-"
        if value is None or (isinstance(value, float) and np.isnan(value))
        else spec.format(value)
    )


def write_report(results, output):
    rows = results["rows"]
    lines = [
        "| row | oF1 | image F1 | pixel F1 | oF1 (swept rule) | image AUC | inference img/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {_fmt(row.get('oF1'))} | {_fmt(row.get('image_F1'))} | {_fmt(row.get('pixel_F1'))} | "
            f"{_fmt(row.get('oF1_swept'))} | {_fmt(row.get('image_AUC'))} | "
            f"{_fmt(row.get('infer_images_per_s'), '{:.2f}')} | "
            f"{_fmt(row.get('peak_rss_mb'), '{:.0f}')} |"
        )
    speed = results.get("speed", {})
    if speed:
        lines += [
            "",
            "| model | train img/s | train peak RSS MB | inference img/s | peak RSS MB (train + inference process) |",
            "|---|---|---|---|---|",
        ]
        for name, s in speed.items():
            lines.append(
                f"| {name} | {_fmt(s.get('train_images_per_s'), '{:.2f}')} | "
                f"{_fmt(s.get('train_peak_rss_mb'), '{:.0f}')} | "
                f"{_fmt(s.get('infer_images_per_s'), '{:.2f}')} | {_fmt(s.get('peak_rss_mb'), '{:.0f}')} |"
            )
        if results.get("ratios"):
            lines += [
                "",
                "forgery_d2 / torchvision: "
                + ", ".join(f"{k} {v:.2f}x" for k, v in results["ratios"].items()),
            ]
    lines += ["", f"Command: `{results['command']}`", f"Validation images: {results['val_images']}"]
    with open(os.path.join(output, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(results, output)


def plot(results, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["rows"])
    metrics = ["oF1", "image_F1", "pixel_F1"]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 3.5))
    width = 0.8 / len(metrics)
    for k, metric in enumerate(metrics):
        values = [results["rows"][n].get(metric) or 0.0 for n in names]
        values = [0.0 if isinstance(v, float) and np.isnan(v) else v for v in values]
        ax.bar(np.arange(len(names)) + k * width, values, width, label=metric)
    ax.set_xticks(np.arange(len(names)) + width * (len(metrics) - 1) / 2)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(f"{results['val_images']} validation images, decision rule of the config")
    fig.tight_layout()
    fig.savefig(os.path.join(output, "peers.png"), dpi=120)
    plt.close(fig)
    speed = results.get("speed", {})
    if speed:
        fig, axes = plt.subplots(1, 3, figsize=(9, 3))
        for ax, (key, title) in zip(
            axes,
            [
                ("train_images_per_s", "train img/s"),
                ("infer_images_per_s", "inference img/s"),
                ("train_peak_rss_mb", "train peak RSS MB"),
            ],
        ):
            labels = [n.replace(" ", "\n", 1) for n in speed]  # two lines: the names are long
            ax.bar(
                labels, [speed[n].get(key) or 0.0 for n in speed], color=["C0", "C3"][: len(speed)]
            )
            ax.set_title(title, fontsize=9)
            ax.tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(output, "speed.png"), dpi=120)
        plt.close(fig)


def main(args):
    os.makedirs(args.output, exist_ok=True)
    phases = ["authentic", "matcher", "rcnn", "torchvision"]
    if args.rcnn_weights:
        phases.append("rcnn_checkpoint")
    if args.skip_torchvision:
        phases.remove("torchvision")
    if args.only:
        unknown = set(args.only.split(",")) - set(phases)
        if unknown:
            raise SystemExit(
                f"--only: unknown or unavailable rows {sorted(unknown)} (choose from {phases})"
            )
        phases = [p for p in phases if p in args.only.split(",")]
    passthrough = [
        "--output",
        args.output,
        "--rcnn-config",
        args.rcnn_config,
        "--rcnn-weights",
        args.rcnn_weights,
        "--val-images",
        str(args.val_images),
        "--train-iters",
        str(args.train_iters),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
    ]
    if args.datasets_root:
        passthrough += ["--datasets-root", args.datasets_root]
    if args.val_dataset:
        passthrough += ["--val-dataset", args.val_dataset]
    stats = {}
    for name in phases:
        start = time.perf_counter()
        logger.info("phase %s ...", name)
        subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--phase", name, *passthrough], check=True
        )
        with open(os.path.join(args.output, name + ".json")) as f:
            stats[name] = json.load(f)
        stats[name]["wall_s"] = time.perf_counter() - start
        logger.info("phase %s done in %.0fs", name, stats[name]["wall_s"])

    cfg = load_cfg(args.rcnn_config, args)
    rule = DecisionRule.from_config(cfg)
    caches = {name: load_cache(os.path.join(args.output, name + ".pkl")) for name in phases}
    row_names = {
        "authentic": "all_authentic",
        "matcher": "keypoint_matcher",
        "rcnn": "forgery_d2_rcnn",
        "torchvision": "torchvision_maskrcnn",
        "rcnn_checkpoint": "forgery_d2_rcnn_checkpoint",
    }
    rows = {}
    for name, cache in caches.items():
        rows[row_names[name]] = {
            **score(cache, rule),
            **{k: v for k, v in stats[name].items() if k.startswith(("infer", "peak"))},
        }
    network = "rcnn_checkpoint" if "rcnn_checkpoint" in caches else "rcnn"
    if network in caches:
        fusion_rule = FusionRule.from_config(cfg)
        for mode in FUSION_MODES:
            mode_rule = dataclasses.replace(fusion_rule, mode=mode)
            rows[f"fusion_{mode}"] = score(
                fused_cache(caches[network], caches["matcher"], mode_rule), rule
            )
    speed = {}
    if "rcnn" in stats:
        speed["forgery_d2 quick R-18-FPN"] = stats["rcnn"]
    if "torchvision" in stats:
        speed["torchvision MaskRCNN R-18-FPN"] = stats["torchvision"]
    ratios = {}
    if len(speed) == 2:
        ours, theirs = speed.values()
        for key in ("train_images_per_s", "infer_images_per_s"):
            ratios[key] = ours[key] / theirs[key]
        ratios["train_peak_rss"] = ours["train_peak_rss_mb"] / theirs["train_peak_rss_mb"]
        ratios["inference_peak_rss"] = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
    results = {
        "rows": rows,
        "speed": speed,
        "ratios": ratios,
        "phases": stats,
        "val_images": len(next(iter(caches.values()))),
        "decision_rule": rule.to_config_dict(),
        "threads": args.threads,
        "command": " ".join(shlex.quote(a) for a in ["python"] + sys.argv),
    }
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_report(results, args.output)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rcnn-config",
        default=os.path.join(ROOT, "configs", "quick", "forgery_R_18_FPN_quick.yaml"),
        help="forgery_d2 network config (also: data, sizes and schedule for the torchvision peer)",
    )
    parser.add_argument(
        "--rcnn-weights",
        default="",
        help="a longer-trained checkpoint of --rcnn-config (extra row)",
    )
    parser.add_argument(
        "--val-images", type=int, default=100, help="first N images of DATASETS.TEST[0] (0 = all)"
    )
    parser.add_argument(
        "--val-dataset", default="", help="override DATASETS.TEST[0] (e.g. forgery_synthetic_val)"
    )
    parser.add_argument(
        "--train-iters", type=int, default=100, help="training iterations of both networks"
    )
    parser.add_argument(
        "--skip-torchvision", action="store_true", help="no torchvision row (quick checks)"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset of authentic,matcher,rcnn,torchvision,rcnn_checkpoint",
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu"])
    parser.add_argument(
        "--datasets-root", default="", help="FORGERY.DATA.ROOT ($FORGERY_DATASETS by default)"
    )
    parser.add_argument("--output", default="output/bench_peers")
    parser.add_argument("--phase", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    setup_logger(name="forgery_d2")
    arguments = parse_args()
    if arguments.phase:
        phase(arguments)
    else:
        main(arguments)
