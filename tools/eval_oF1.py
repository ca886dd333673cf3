#!/usr/bin/env python
"""Score forgery predictions with the competition's oF1, exactly.

Two modes:

  # (a) score files: a submission (case_id,annotation) against a solution (case_id,annotation,shape)
  python tools/eval_oF1.py --solution solution.csv --submission submission.csv [--output DIR]

  # (b) run a model on a registered dataset and score it (optionally tune the decision rule)
  python tools/eval_oF1.py --config-file configs/forgery_R_50_FPN.yaml --dataset forgery_val \
      [--sweep] [--decision decision.yaml] --output DIR MODEL.WEIGHTS model_final.pth

Prints the metrics table and the oracle diagnostics (forgery_d2.evaluation.oracle): the real oF1
beside its upper bounds with the ground-truth image label in place of the image decision, and with
only the ground-truth-matched instances kept at their predicted masks, and the oF1 each stage (image
decision, instance scoring, mask quality) loses. With --output writes metrics.json and per_image.csv (mode b: the
ForgeryEvaluator's files, and with --sweep the tuned rule as decision.yaml to pass to --decision /
tools/predict.py). Invalid input: a one-line error and exit code 2, never a traceback.
"""

import argparse
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
from tabulate import tabulate  # noqa: E402

EXIT_INVALID = 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    files = parser.add_argument_group("score files")
    files.add_argument("--solution", help="solution CSV: case_id,annotation,shape")
    files.add_argument("--submission", help="submission CSV: case_id,annotation")
    model = parser.add_argument_group("run a model")
    model.add_argument("--config-file", help="model config (YAML)")
    model.add_argument("--dataset", help="registered dataset to evaluate, e.g. forgery_val")
    model.add_argument(
        "--decision", help="decision-rule YAML fragment (FORGERY.DECISION) merged after the config"
    )
    model.add_argument(
        "--sweep",
        action="store_true",
        help="tune FORGERY.DECISION on the dataset (writes decision.yaml)",
    )
    model.add_argument(
        "--sweep-cache",
        help="reuse / write the raw-output cache here (pickle) instead of re-running the model",
    )
    model.add_argument(
        "--cache-score-floor",
        type=float,
        default=0.05,
        help="instances scoring below this are not cached (0 keeps every instance, e.g. for fusion)",
    )
    parser.add_argument("--output", help="directory for the metrics JSON and per-image CSV")
    parser.add_argument(
        "--verbose", action="store_true", help="also print forgery_d2's debug log lines"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    args = parser.parse_args(argv)
    if bool(args.solution) != bool(args.submission):
        parser.error("--solution and --submission go together")
    if args.solution and (args.config_file or args.dataset):
        parser.error(
            "score files (--solution/--submission) or run a model (--config-file/--dataset), not both"
        )
    if not args.solution and not args.dataset:
        parser.error("give --solution and --submission, or --dataset (with --config-file)")
    if args.dataset and not args.config_file:
        parser.error(
            "--dataset needs --config-file: the model to evaluate (without it, a randomly "
            "initialized default model would be scored)"
        )
    return args


def print_table(metrics, title):
    rows = [(k, f"{v:.6f}" if isinstance(v, float) else v) for k, v in metrics.items()]
    print(f"\n{title}")
    print(tabulate(rows, headers=["metric", "value"], tablefmt="github"))
    print_stages(metrics)


def print_stages(metrics):
    """The oracle diagnostics: the real oF1 beside its two upper bounds, and the loss per stage."""
    from forgery_d2.evaluation.oracle import ORACLE_KEYS, stage_losses

    if not all(k in metrics for k in ORACLE_KEYS):
        return
    bounds = [
        ("real (the decision rule)", metrics["oF1"]),
        ("oracle image decision (ground-truth label)", metrics[ORACLE_KEYS[0]]),
        (
            "oracle image decision + instance selection (matched instances only)",
            metrics[ORACLE_KEYS[1]],
        ),
    ]
    print("\nWhich stage limits oF1 (upper bounds of the same outputs):")
    print(
        tabulate(
            [(name, f"{value:.6f}") for name, value in bounds],
            headers=["oF1", "value"],
            tablefmt="github",
        )
    )
    print(
        tabulate(
            [(stage, f"{loss:.6f}") for stage, loss in stage_losses(metrics).items()],
            headers=["stage", "oF1 lost"],
            tablefmt="github",
        )
    )


def score_files(args):
    from forgery_d2.competition.submission import read_solution_csv, read_submission_csv, write_csv
    from forgery_d2.evaluation.evaluator import PER_IMAGE_COLUMNS, submission_records, summarize

    records = submission_records(
        read_solution_csv(args.solution), read_submission_csv(args.submission)
    )
    metrics = summarize(records)
    print_table(metrics, f"oF1 of {args.submission} against {args.solution}")
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        with open(os.path.join(args.output, "metrics.json"), "w") as f:
            json.dump(
                {"solution": args.solution, "submission": args.submission, "metrics": metrics},
                f,
                indent=2,
            )
        write_csv(
            os.path.join(args.output, "per_image.csv"),
            PER_IMAGE_COLUMNS[1:],
            [[r[c] for c in PER_IMAGE_COLUMNS[1:]] for r in records],
        )
        print(f"wrote {args.output}/metrics.json and per_image.csv")
    return metrics


def evaluate_model(args):
    from detectron2.data import build_detection_test_loader
    from detectron2.evaluation import DatasetEvaluators, inference_on_dataset
    from detectron2.utils.logger import setup_logger

    from forgery_d2.evaluation.decision import DecisionRule
    from forgery_d2.evaluation.evaluator import ForgeryEvaluator
    from forgery_d2.config import load_config
    from forgery_d2.engine.predictor import build_inference_model
    from forgery_d2.evaluation.ground_truth import check_labelled
    from forgery_d2.evaluation.sweep import (
        RawOutputCollector,
        cache_fingerprint,
        evaluate_cache,
        load_cache,
        save_cache,
        sweep,
        write_decision_yaml,
    )
    from forgery_d2.data.builtin import registered_names

    # forgery_d2's debug lines (e.g. the matcher's per-image statistics) only with --verbose.
    setup_logger(name="forgery_d2").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    setup_logger(name="detectron2", abbrev_name="d2")
    cfg = load_config(args.config_file, args.opts, overlays=[args.decision])
    rule = DecisionRule.from_config(cfg)
    registered_names([args.dataset])
    check_labelled(args.dataset)  # before any inference: an unlabelled dataset cannot be scored
    output = args.output
    fingerprint = cache_fingerprint(cfg, args.dataset) if args.sweep_cache else None
    if args.sweep_cache and os.path.exists(args.sweep_cache):
        cache = load_cache(args.sweep_cache, expected=fingerprint)
        logging.getLogger("forgery_d2").info(
            f"loaded {len(cache)} cached outputs from {args.sweep_cache}"
        )
        metrics = evaluate_cache(cache, rule, args.dataset, output)
    else:
        from forgery_d2.engine.inputs import build_mapper

        model = build_inference_model(cfg)
        loader = build_detection_test_loader(
            cfg, args.dataset, mapper=build_mapper(cfg, is_train=False)
        )
        evaluator = ForgeryEvaluator(args.dataset, decision=rule, output_dir=output)
        collector = (
            RawOutputCollector(args.dataset, score_floor=args.cache_score_floor)
            if (args.sweep or args.sweep_cache)
            else None
        )
        evaluators = DatasetEvaluators([evaluator] + ([collector] if collector else []))
        metrics = inference_on_dataset(model, loader, evaluators)["forgery"]
        cache = collector.cache if collector else None
        if args.sweep_cache and cache is not None:
            save_cache(cache, args.sweep_cache, fingerprint)
    print_table(metrics, f"{args.dataset} with FORGERY.DECISION {rule.to_config_dict()}")
    if args.sweep:
        result = sweep(cache, rule)
        path = os.path.join(output or ".", "decision.yaml")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        write_decision_yaml(
            result.rule,
            path,
            f"FORGERY.DECISION tuned on {args.dataset} by tools/eval_oF1.py --sweep"
            f"\noF1 {result.oF1:.6f} (before: {metrics['oF1']:.6f})",
        )
        tuned = evaluate_cache(
            cache, result.rule, args.dataset, os.path.join(output, "swept") if output else None
        )
        print_table(
            tuned,
            f"{args.dataset} with the swept rule {result.rule.to_config_dict()} (written to {path})",
        )
        metrics = tuned
    return metrics


def main(argv=None):
    args = parse_args(argv)
    from forgery_d2.config import ConfigError
    from forgery_d2.data.io import DataError
    from forgery_d2.competition.rle import RLEError
    from forgery_d2.competition.submission import SubmissionError
    from forgery_d2.evaluation.sweep import SweepCacheError

    try:
        return score_files(args) if args.solution else evaluate_model(args)
    except (
        SubmissionError,
        RLEError,
        DataError,
        ConfigError,
        SweepCacheError,
        FileNotFoundError,
        KeyError,
    ) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_INVALID)


if __name__ == "__main__":
    main()
