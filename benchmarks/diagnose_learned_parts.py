#!/usr/bin/env python
"""Why the learned self-correlation and the image gate do not generalize: the measurable suspects.

    # 1. gradient reaching each part during the first iterations of real training
    OMP_NUM_THREADS=1 python benchmarks/diagnose_learned_parts.py --mode gradients \
        --config-file configs/ablation/all.yaml --iters 60 --at 1 5 20 60 --output docs/results/gradients_all.json
    # 2. copy geometry against the self-correlation's exclusion radius at the network's resolution
    python benchmarks/diagnose_learned_parts.py --mode geometry --config-file configs/ablation/self_correlation.yaml \
        --dataset-root datasets/figures --output docs/results/copy_geometry.json

``gradients``: trains the config with forgery_d2's ForgeryTrainer and, after the backward pass of the
chosen iterations, records for every part of forgery_d2.engine.freeze (stem, res2..res5, fpn,
self_correlation and its sub-modules, rpn, heads, image_gate) the gradient norm divided by the
parameter norm (the relative size of one update before the learning rate), and the losses.

``geometry``: for every duplication event of a synthetic figures dataset (``cases.jsonl`` of
tools/make_synthetic.py --style figures), the distance between the centres of its source and its
copy, in pixels of the image the network sees (the config's test-time resize), compared with the
self-correlation's exclusion zone (``EXCLUDE_RADIUS`` cells of its feature stride on either side of
a location), and the copy's size in cells of that stride.
"""

import argparse
import fnmatch
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
import forgery_d2.modeling  # noqa: E402,F401

from detectron2.engine import HookBase  # noqa: E402
from detectron2.utils.env import seed_all_rng  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402
from forgery_d2.config import load_config  # noqa: E402
from forgery_d2.data.builtin import register_builtin_from_config  # noqa: E402
from forgery_d2.engine import freeze  # noqa: E402
from forgery_d2.engine.trainer import ForgeryTrainer  # noqa: E402

SUBMODULES = {
    "self_correlation.project": "backbone.self_correlation.project",
    "self_correlation.fuse_hidden": "backbone.self_correlation.fuse_hidden",
    "self_correlation.fuse_out": "backbone.self_correlation.fuse_out",
}


def _matches(name, patterns):
    return any(fnmatch.fnmatch(name, p) or name.startswith(p.rstrip("*") + ".") for p in patterns)


class GradientProbe(HookBase):
    """After the step of each iteration in ``at`` (1-based), gradient / parameter norm per part."""

    def __init__(self, at, parts):
        self.at, self.parts, self.rows = set(at), parts, []

    def after_step(self):
        done = self.trainer.iter + 1
        if done not in self.at:
            return
        named = dict(self.trainer.model.named_parameters())
        row = {"iter": done}
        for part, patterns in self.parts.items():
            params = [p for n, p in named.items() if _matches(n, patterns) and p.grad is not None]
            if not params:
                continue
            grad = float(torch.sqrt(sum((p.grad.float() ** 2).sum() for p in params)))
            weight = float(torch.sqrt(sum((p.detach().float() ** 2).sum() for p in params)))
            row[part] = grad / max(weight, 1e-12)
        storage = self.trainer.storage
        row["losses"] = {
            k: float(v.latest()) for k, v in storage.histories().items() if k.startswith("loss")
        }
        self.rows.append(row)
        print(json.dumps(row), flush=True)


def gradients(args):
    setup_logger(name="forgery_d2")
    cfg = load_config(args.config_file, args.opts, freeze=False)
    cfg.SOLVER.MAX_ITER = args.iters
    cfg.SOLVER.CHECKPOINT_PERIOD = args.iters + 1
    cfg.TEST.EVAL_PERIOD = 0
    cfg.FORGERY.HOOKS.VAL_LOSS.PERIOD = cfg.FORGERY.HOOKS.SEPARABILITY.PERIOD = 0
    cfg.FORGERY.HOOKS.BEST_METRIC = ""
    cfg.FORGERY.HOOKS.PLOT_CURVES = False
    cfg.OUTPUT_DIR = args.work_dir
    cfg.freeze()
    register_builtin_from_config(cfg)
    seed_all_rng(cfg.SEED)
    parts = {**freeze.part_patterns(), **{k: (v,) for k, v in SUBMODULES.items()}}
    probe = GradientProbe(args.at, parts)
    trainer = ForgeryTrainer(cfg)
    trainer.register_hooks([probe])
    trainer.resume_or_load(resume=False)
    trainer.train()
    return {"config": args.config_file, "iters": args.iters, "rows": probe.rows}


def geometry(args):
    cfg = load_config(args.config_file, args.opts)
    correlation = cfg.MODEL.SELF_CORRELATION
    stride = {"res2": 4, "res3": 8, "res4": 16, "res5": 32, "p2": 4, "p3": 8, "p4": 16, "p5": 32}[
        correlation.IN_FEATURE
    ]
    reach = (
        correlation.EXCLUDE_RADIUS + 0.5
    ) * stride  # px of the network image excluded on each side
    distances, sizes = [], []
    with open(os.path.join(args.dataset_root, "cases.jsonl")) as f:
        for line in f:
            case = json.loads(line)
            if not case.get("forged"):
                continue
            height, width = case["height"], case["width"]
            scale = min(
                cfg.INPUT.MIN_SIZE_TEST / min(height, width),
                cfg.INPUT.MAX_SIZE_TEST / max(height, width),
            )
            for event in case["events"]:
                source, target = (
                    np.asarray(event["source_box"], float),
                    np.asarray(event["target_box"], float),
                )
                centre = lambda box: np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])  # noqa: E731
                delta = np.abs(centre(target) - centre(source)) * scale
                distances.append(float(delta.max()))  # Chebyshev distance, like the exclusion zone
                sizes.append(
                    float(min(target[2] - target[0], target[3] - target[1]) * scale / stride)
                )
    distances, sizes = np.asarray(distances), np.asarray(sizes)
    return {
        "config": args.config_file,
        "in_feature": correlation.IN_FEATURE,
        "stride": stride,
        "exclude_radius_cells": correlation.EXCLUDE_RADIUS,
        "excluded_px": reach,
        "events": len(distances),
        "share_copies_inside_exclusion": float((distances < reach).mean()),
        "distance_px_percentiles_5_25_50": np.percentile(distances, [5, 25, 50]).round(1).tolist(),
        "copy_short_side_cells_percentiles_5_25_50_75": np.percentile(sizes, [5, 25, 50, 75])
        .round(2)
        .tolist(),
        "share_copies_under_one_cell": float((sizes < 1).mean()),
    }


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mode", choices=["gradients", "geometry"], required=True)
    p.add_argument("--config-file", required=True)
    p.add_argument("--iters", type=int, default=60)
    p.add_argument("--at", type=int, nargs="+", default=[1, 5, 20, 60])
    p.add_argument("--work-dir", default="output/diagnose_learned_parts")
    p.add_argument(
        "--dataset-root", help="geometry: a figures dataset folder (holding cases.jsonl)"
    )
    p.add_argument("--output", help="JSON file for the result")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    args = p.parse_args(argv)
    if args.mode == "geometry" and not args.dataset_root:
        p.error("geometry needs --dataset-root")
    result = gradients(args) if args.mode == "gradients" else geometry(args)
    result["command"] = " ".join([sys.executable.split("/")[-1]] + sys.argv)
    print(json.dumps(result, indent=1))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
