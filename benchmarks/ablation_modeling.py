#!/usr/bin/env python
"""Ablation of forgery_d2's modeling parts: one command per row, same data, budget and decision sweep.

    # one row (train ITERS iterations, evaluate on the validation set, append a JSON line):
    OMP_NUM_THREADS=2 python benchmarks/ablation_modeling.py --config-file configs/ablation/gate.yaml \
        --iters 300 --val-images 60 --output output/ablation_modeling
    # the Markdown table of every row recorded so far:
    python benchmarks/ablation_modeling.py --table output/ablation_modeling/results.jsonl

Per row: the config (``configs/ablation/*.yaml``) is trained with forgery_d2's own ForgeryTrainer for
exactly ``--iters`` iterations (LR steps at 75% / 95%, warmup at most 10%; periodic evaluation,
validation loss and separability hooks off, so every row pays for the same work), then run once over
the first ``--val-images`` images of ``DATASETS.TEST[0]``. The decision rule is tuned on those outputs
with forgery_d2.evaluation.sweep (the same grid and coordinate ascent for every row) and the metrics
are those of the tuned rule (optimistic in absolute terms, fair between rows); the config's own rule
is reported too.

Columns: oF1 (swept) and oF1 with the config's rule, image-level F1 and ROC-AUC (image score = the
gate's ``image_score`` when present, else the top instance score), pixel F1 (union of instances on
forged images), training seconds per iteration (median after the first 10%), inference seconds per
image (batch 1, median after the first 2 images), peak RSS in MB of the training / inference process
(psutil, sampled after every step and image; data-loader worker processes not included).
"""

import argparse
import json
import logging
import os
import shlex
import statistics
import sys
import time

import psutil
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
import forgery_d2.modeling  # noqa: E402,F401  (registers ForgeryRCNN and the backbones)

from detectron2.data import DatasetCatalog, build_detection_test_loader  # noqa: E402
from detectron2.engine import HookBase  # noqa: E402
from detectron2.structures import Instances  # noqa: E402
from detectron2.utils.env import seed_all_rng  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402
from forgery_d2.config import load_config  # noqa: E402
from forgery_d2.data.builtin import register_builtin_from_config  # noqa: E402
from forgery_d2.engine.inputs import build_mapper  # noqa: E402
from forgery_d2.engine.trainer import ForgeryTrainer  # noqa: E402
from forgery_d2.evaluation.decision import DecisionRule  # noqa: E402
from forgery_d2.evaluation.evaluator import ForgeryEvaluator  # noqa: E402
from forgery_d2.evaluation.sweep import RawOutputCollector, sweep  # noqa: E402

logger = logging.getLogger("forgery_d2.ablation")

TABLE_COLUMNS = [
    ("row", "{}"),
    ("oF1", "{:.3f}"),
    ("oF1_config_rule", "{:.3f}"),
    ("image_F1", "{:.3f}"),
    ("image_AUC", "{:.3f}"),
    ("pixel_F1", "{:.3f}"),
    ("train_s_per_iter", "{:.2f}"),
    ("infer_s_per_image", "{:.3f}"),
    ("peak_rss_mb", "{:.0f}"),
]


def rss_mb() -> float:
    """Resident memory of this (the training / inference) process, MB."""
    return psutil.Process().memory_info().rss / 2**20


class StepProfiler(HookBase):
    """Wall time of every training step (data loading included) and the RSS after it."""

    def __init__(self, memory):
        self.durations = []
        self.memory = memory

    def before_step(self):
        self._start = time.perf_counter()

    def after_step(self):
        self.durations.append(time.perf_counter() - self._start)
        self.memory.append(rss_mb())


def build_cfg(args):
    cfg = load_config(args.config_file, args.opts, freeze=False)
    iters = args.iters
    cfg.SOLVER.MAX_ITER = iters
    cfg.SOLVER.STEPS = (int(0.75 * iters), int(0.95 * iters))
    cfg.SOLVER.WARMUP_ITERS = min(cfg.SOLVER.WARMUP_ITERS, max(iters // 10, 1))
    cfg.SOLVER.CHECKPOINT_PERIOD = iters + 1  # only model_final
    cfg.TEST.EVAL_PERIOD = 0
    cfg.FORGERY.HOOKS.VAL_LOSS.PERIOD = 0
    cfg.FORGERY.HOOKS.SEPARABILITY.PERIOD = 0
    cfg.FORGERY.HOOKS.BEST_METRIC = ""
    cfg.FORGERY.HOOKS.PLOT_CURVES = False
    if args.datasets_root:
        cfg.FORGERY.DATA.ROOT = args.datasets_root
    cfg.OUTPUT_DIR = os.path.join(args.output, args.name)
    cfg.freeze()
    return cfg


def train(cfg, memory):
    profiler = StepProfiler(memory)
    trainer = ForgeryTrainer(cfg)
    trainer.register_hooks([profiler])
    trainer.resume_or_load(resume=False)
    trainer.train()
    steady = profiler.durations[len(profiler.durations) // 10 :] or profiler.durations
    return trainer.model, statistics.median(steady)


@torch.no_grad()
def evaluate(cfg, model, num_images, memory):
    """Run the model once over the validation images; sweep the decision rule; metrics."""
    dataset = cfg.DATASETS.TEST[0]
    dicts = DatasetCatalog.get(dataset)
    if num_images > 0:
        dicts = dicts[:num_images]
    loader = build_detection_test_loader(dataset=dicts, mapper=build_mapper(cfg, is_train=False))
    collector = RawOutputCollector(
        dataset, score_floor=min(0.05, cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST), distributed=False
    )
    model.eval()
    inputs_kept, seconds = [], []
    for inputs in loader:
        start = time.perf_counter()
        outputs = model(inputs)
        seconds.append(time.perf_counter() - start)
        collector.process(inputs, outputs)
        inputs_kept.extend({k: v for k, v in inp.items() if k != "image"} for inp in inputs)
        memory.append(rss_mb())
    collector.evaluate()
    config_rule = DecisionRule.from_config(cfg)
    best = sweep(collector.cache, config_rule, log=False)

    def metrics(rule):
        evaluator = ForgeryEvaluator(dataset, decision=rule, distributed=False)
        evaluator.reset()
        by_id = {str(inp["image_id"]): inp for inp in inputs_kept}
        for cached in collector.cache:
            out = cached.output
            instances = Instances(
                out.hw,
                scores=torch.as_tensor(out.scores),
                pred_masks=torch.as_tensor(out.dense_masks()),
            )
            evaluator.process(
                [by_id[cached.image_id]], [{"instances": instances, "image_score": out.image_score}]
            )
        return evaluator.evaluate()["forgery"]

    swept, configured = metrics(best.rule), metrics(config_rule)
    timed = seconds[2:] or seconds
    return {
        "oF1": swept["oF1"],
        "oF1_config_rule": configured["oF1"],
        "image_F1": swept["image_F1"],
        "image_AUC": swept["image_AUC"],
        "pixel_F1": swept["pixel_F1"],
        "infer_s_per_image": statistics.median(timed),
        "val_images": len(dicts),
        "val_forged": int(
            sum(1 for d in dicts if d.get("label", 1 if d.get("annotations") else 0))
        ),
        "decision_rule": best.rule.to_config_dict(),
        "all_metrics": dict(swept),
    }


def run_row(args):
    setup_logger(name="forgery_d2")
    setup_logger(name="detectron2", abbrev_name="d2")
    torch.set_num_threads(args.threads)
    cfg = build_cfg(args)
    register_builtin_from_config(cfg)
    seed_all_rng(cfg.SEED)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    memory = [rss_mb()]
    start = time.perf_counter()
    model, train_s_per_iter = train(cfg, memory)
    train_minutes = (time.perf_counter() - start) / 60
    row = {
        "row": args.name,
        "config": args.config_file,
        "iters": args.iters,
        "train_s_per_iter": train_s_per_iter,
        "train_minutes": train_minutes,
        "parameters_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "device": cfg.MODEL.DEVICE,
        "threads": torch.get_num_threads(),
        **evaluate(cfg, model, args.val_images, memory),
    }
    row["peak_rss_mb"] = max(memory)
    row["command"] = " ".join(shlex.quote(a) for a in [sys.executable.split("/")[-1]] + sys.argv)
    results = args.results or os.path.join(args.output, "results.jsonl")
    os.makedirs(os.path.dirname(os.path.abspath(results)), exist_ok=True)
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(markdown_table([row]))
    print(f"appended to {results}")


def markdown_table(rows):
    header = "| " + " | ".join(name for name, _ in TABLE_COLUMNS) + " |"
    lines = [header, "|" + "---|" * len(TABLE_COLUMNS)]
    for row in rows:
        cells = []
        for name, fmt in TABLE_COLUMNS:
            value = row.get(name)
            cells.append("n/a" if value is None or value != value else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(path):
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        raise SystemExit(f"{path}: no rows")
    print(markdown_table(rows))
    budgets = sorted({(r["iters"], r["val_images"], r["device"], r["threads"]) for r in rows})
    for iters, val, device, threads in budgets:
        print(f"\nbudget: {iters} iterations, {val} validation images, {device}, {threads} threads")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--config-file", help="the row's config (configs/ablation/*.yaml)")
    p.add_argument("--name", help="row name (default: the config's file stem)")
    p.add_argument(
        "--iters", type=int, default=300, help="training iterations (the same for every row)"
    )
    p.add_argument(
        "--val-images", type=int, default=0, help="first N images of DATASETS.TEST[0]; 0 = all"
    )
    p.add_argument(
        "--output", default="output/ablation_modeling", help="folder of the rows' OUTPUT_DIRs"
    )
    p.add_argument(
        "--results", default="", help="JSON-lines file to append to (default: OUTPUT/results.jsonl)"
    )
    p.add_argument(
        "--datasets-root", default="", help="FORGERY.DATA.ROOT (folder holding synthetic/)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("OMP_NUM_THREADS", "2")),
        help="torch threads",
    )
    p.add_argument(
        "--table",
        metavar="RESULTS_JSONL",
        help="print the Markdown table of recorded rows and exit",
    )
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    args = p.parse_args(argv)
    if not args.table:
        if not args.config_file:
            p.error("--config-file is required (or --table)")
        if not os.path.isfile(args.config_file):
            p.error(f"--config-file {args.config_file}: no such file")
        if args.iters < 1:
            p.error("--iters must be >= 1")
        args.name = args.name or os.path.splitext(os.path.basename(args.config_file))[0]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.table:
        print_table(args.table)
    else:
        run_row(args)


if __name__ == "__main__":
    main()
