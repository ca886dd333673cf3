#!/usr/bin/env python
"""Fitting vs generalizing: does a config learn its training figures, and does what it learns carry
over to figures it has not seen?

    # the sanity fit: 4 forged + 4 authentic figures (4 cases, before and after), no augmentation
    OMP_NUM_THREADS=1 python benchmarks/fit_vs_generalize.py --config-file configs/ablation/plain.yaml \
        --train-cases 4 --no-augmentation --iters 400 --eval-at 100 200 400 --val-images 80 \
        --output output/fit_vs_generalize
    # the curve that matters: the same on all training figures (--train-cases 0)
    OMP_NUM_THREADS=1 python benchmarks/fit_vs_generalize.py --config-file configs/ablation/plain.yaml \
        --train-cases 0 --iters 400 --eval-at 100 200 400 --val-images 80 --output output/fit_vs_generalize
    python benchmarks/fit_vs_generalize.py --table output/fit_vs_generalize/results.jsonl

The config is trained with forgery_d2's ForgeryTrainer (LR steps at 75% / 95%, the hooks that cost
time off). At each ``--eval-at`` iteration the model is run over

- **fit**: the training figures themselves (at most ``--fit-images``, test-time resize), and
- **held out**: the first ``--val-images`` images of ``DATASETS.TEST[0]`` (figures of other cases),

and a JSON line is appended per (iteration, split): image ROC-AUC (image score = ``image_score``,
else the top instance score), pixel F1 and oF1 with the decision rule tuned on that split's outputs
(forgery_d2.evaluation.sweep; optimistic in absolute terms, the same procedure for every row), the
oracle bounds (forgery_d2.evaluation.oracle), the training loss (mean of the last 20 iterations) and
the median seconds per training iteration so far (detectron2's IterationTimer).
``--train-cases K`` trains on the forged and the authentic version of K training cases (the same
figure before and after the forgery), ``0`` on every training figure.
"""

import argparse
import json
import os
import shlex
import statistics
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
import forgery_d2.modeling  # noqa: E402,F401  (registers the meta-architectures)

from detectron2.data import DatasetCatalog, build_detection_test_loader  # noqa: E402
from detectron2.engine import HookBase  # noqa: E402
from detectron2.utils.env import seed_all_rng  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402
from forgery_d2.config import load_config  # noqa: E402
from forgery_d2.data.builtin import register_builtin_from_config  # noqa: E402
from forgery_d2.engine.inputs import build_mapper  # noqa: E402
from forgery_d2.engine.trainer import ForgeryTrainer  # noqa: E402
from forgery_d2.evaluation.decision import DecisionRule  # noqa: E402
from forgery_d2.evaluation.sweep import RawOutputCollector, evaluate_cache, sweep  # noqa: E402

COLUMNS = [
    "config",
    "train_cases",
    "augmentation",
    "iter",
    "split",
    "images",
    "image_AUC",
    "pixel_F1",
    "oF1",
    "oF1_oracle_image",
    "oF1_oracle_instances",
    "train_loss",
    "train_s_per_iter",
]


def training_cases(dataset_name, count, seed=0):
    """``count`` case_ids of the training dataset that have both a forged and an authentic figure."""
    by_case = {}
    for record in DatasetCatalog.get(dataset_name):
        by_case.setdefault(str(record.get("case_id")), set()).add(int(record.get("label", 0)))
    both = sorted(case for case, labels in by_case.items() if labels == {0, 1})
    if len(both) < count:
        raise SystemExit(
            f"--train-cases {count}: {dataset_name} has only {len(both)} cases with both versions"
        )
    return [str(c) for c in np.random.default_rng(seed).permutation(both)[:count]]


@torch.no_grad()
def evaluate(cfg, model, dicts):
    """Metrics of the model on ``dicts`` with the decision rule swept on those very outputs."""
    loader = build_detection_test_loader(
        dataset=dicts, mapper=build_mapper(cfg, is_train=False), num_workers=1
    )
    collector = RawOutputCollector(None, score_floor=0.0, distributed=False)
    was_training = model.training
    model.eval()
    for inputs in loader:
        collector.process(inputs, model(inputs))
    model.train(was_training)
    collector.evaluate()
    best = sweep(collector.cache, DecisionRule.from_config(cfg), log=False)
    return evaluate_cache(collector.cache, best.rule)


class EvaluateAt(HookBase):
    """After the iterations in ``iters`` (1-based counts), evaluate on the fit and held-out splits."""

    def __init__(self, iters, splits, write):
        self.iters, self.splits, self.write = set(iters), splits, write
        self.losses = []

    def after_step(self):
        storage = self.trainer.storage
        self.losses.append(float(storage.history("total_loss").latest()))
        done = self.trainer.iter + 1
        if done in self.iters:
            for split, dicts in self.splits.items():
                metrics = evaluate(self.trainer.cfg, self.trainer.model, dicts)
                seconds = (
                    [v for v, _ in storage.history("time").values()]
                    if "time" in storage.histories()
                    else []
                )
                self.write(
                    done,
                    split,
                    len(dicts),
                    metrics,
                    statistics.mean(self.losses[-20:]),
                    statistics.median(seconds) if seconds else float("nan"),
                )


def build_cfg(args):
    cfg = load_config(args.config_file, args.opts, freeze=False)
    cfg.SOLVER.MAX_ITER = args.iters
    cfg.SOLVER.STEPS = (int(0.75 * args.iters), int(0.95 * args.iters))
    cfg.SOLVER.WARMUP_ITERS = min(cfg.SOLVER.WARMUP_ITERS, max(args.iters // 10, 1))
    cfg.SOLVER.CHECKPOINT_PERIOD = args.iters + 1
    cfg.TEST.EVAL_PERIOD = 0
    cfg.FORGERY.HOOKS.VAL_LOSS.PERIOD = 0
    cfg.FORGERY.HOOKS.SEPARABILITY.PERIOD = 0
    cfg.FORGERY.HOOKS.BEST_METRIC = ""
    cfg.FORGERY.HOOKS.PLOT_CURVES = False
    if args.no_augmentation:
        cfg.FORGERY.AUG.ENABLED = False
        cfg.INPUT.MIN_SIZE_TRAIN = (cfg.INPUT.MIN_SIZE_TEST,)
        cfg.INPUT.MAX_SIZE_TRAIN = cfg.INPUT.MAX_SIZE_TEST
    if args.datasets_root:
        cfg.FORGERY.DATA.ROOT = args.datasets_root
    register_builtin_from_config(cfg)
    cases = training_cases(cfg.DATASETS.TRAIN[0], args.train_cases) if args.train_cases else []
    cfg.FORGERY.DATA.TRAIN_SUBSET_IDS = cases
    name = f"{args.name}_cases{args.train_cases}{'_noaug' if args.no_augmentation else ''}"
    cfg.OUTPUT_DIR = os.path.join(args.output, name)
    cfg.freeze()
    return cfg, cases


def run(args):
    setup_logger(name="forgery_d2")
    setup_logger(name="detectron2", abbrev_name="d2")
    cfg, cases = build_cfg(args)
    seed_all_rng(cfg.SEED)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    train_dicts = DatasetCatalog.get(cfg.DATASETS.TRAIN[0])
    fit = [d for d in train_dicts if str(d.get("case_id")) in set(cases)] if cases else train_dicts
    held_out = DatasetCatalog.get(cfg.DATASETS.TEST[0])
    splits = {"fit": fit[: args.fit_images], "held_out": held_out[: args.val_images or None]}
    results = os.path.join(args.output, "results.jsonl")
    command = " ".join(shlex.quote(a) for a in [sys.executable.split("/")[-1]] + sys.argv)

    def write(iteration, split, images, metrics, loss, seconds_per_iter):
        row = {
            "config": args.name,
            "train_cases": args.train_cases or "all",
            "augmentation": not args.no_augmentation,
            "iter": iteration,
            "split": split,
            "images": images,
            **{k: metrics[k] for k in COLUMNS[6:11]},
            "train_loss": loss,
            "train_s_per_iter": seconds_per_iter,
            "command": command,
            "all_metrics": dict(metrics),
        }
        with open(results, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(markdown([row]), flush=True)

    trainer = ForgeryTrainer(cfg)
    trainer.register_hooks([EvaluateAt(args.eval_at or [args.iters], splits, write)])
    trainer.resume_or_load(resume=False)
    trainer.train()


def markdown(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [
            f"{row.get(c, float('nan')):.3f}" if isinstance(row.get(c, 0.0), float) else str(row[c])
            for c in COLUMNS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--config-file")
    p.add_argument("--name", help="row name (default: the config's file stem)")
    p.add_argument(
        "--train-cases", type=int, default=4, help="train on the two versions of K cases; 0 = all"
    )
    p.add_argument(
        "--no-augmentation", action="store_true", help="test-time resize only (the sanity fit)"
    )
    p.add_argument("--iters", type=int, default=400)
    p.add_argument(
        "--eval-at", type=int, nargs="*", help="iterations to evaluate at (default: the last)"
    )
    p.add_argument(
        "--fit-images", type=int, default=40, help="training figures evaluated (fit split)"
    )
    p.add_argument(
        "--val-images", type=int, default=80, help="first N images of DATASETS.TEST[0]; 0 = all"
    )
    p.add_argument("--output", default="output/fit_vs_generalize")
    p.add_argument("--datasets-root", default="", help="FORGERY.DATA.ROOT")
    p.add_argument(
        "--table",
        metavar="RESULTS_JSONL",
        help="print the Markdown table of recorded rows and exit",
    )
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    args = p.parse_args(argv)
    if args.table:
        with open(args.table) as f:
            print(markdown([json.loads(line) for line in f if line.strip()]))
        return
    if not args.config_file or not os.path.isfile(args.config_file):
        p.error("--config-file must name an existing config (or use --table)")
    args.name = args.name or os.path.splitext(os.path.basename(args.config_file))[0]
    run(args)


if __name__ == "__main__":
    main()
