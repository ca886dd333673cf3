#!/usr/bin/env python
"""Fuse cached network and matcher outputs offline, tune each fusion's decision rule, and compare:
network alone, matcher alone, and every fusion mode, on the same images.

    # raw outputs of each model on one dataset (the model runs once; cached by tools/eval_oF1.py)
    python tools/eval_oF1.py --config-file configs/dense/dense_mnv3_quick.yaml --dataset forgery_figures_val \
        --sweep --sweep-cache output/net_val.pkl --cache-score-floor 0 MODEL.WEIGHTS output/dense/model_final.pth
    python tools/eval_oF1.py --config-file configs/matcher/keypoint_matcher.yaml --dataset forgery_figures_val \
        --sweep --sweep-cache output/matcher_val.pkl
    # every fusion mode of forgery_d2.modeling.meta_arch.fusion on those outputs
    python benchmarks/fusion_from_caches.py --network output/net_val.pkl --matcher output/matcher_val.pkl \
        --output docs/results/fusion_val.json

Each output is rebuilt from the cache (scores, masks, image score: what FusionRCNN's two parts return)
and fused with :func:`~forgery_d2.modeling.meta_arch.fusion.fuse_instances` and
:func:`~forgery_d2.modeling.meta_arch.fusion.fused_image_score`, exactly as FusionRCNN does at
inference, for each ``--modes`` entry (``verify_and_add`` once per ``--verify-weights`` value). The
decision rule of every row is tuned on these images by forgery_d2.evaluation.sweep (optimistic in
absolute terms; tune on validation images and score held-out ones with ``--rules``). Rows: oF1,
false-alarm rate on authentic figures, image recall, image AUC, pixel F1 and the oracle bounds.
"""

import argparse
import dataclasses
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
from detectron2.structures import Instances  # noqa: E402

from forgery_d2.config import get_forgery_cfg  # noqa: E402
from forgery_d2.evaluation.decision import DecisionRule  # noqa: E402
from forgery_d2.evaluation.sweep import (
    CachedImage,
    CompactOutput,
    evaluate_cache,
    load_cache,
    sweep,
)  # noqa: E402
from forgery_d2.modeling.meta_arch.fusion import FusionRule, fuse_instances, fused_image_score  # noqa: E402

KEYS = (
    "oF1",
    "false_alarm_rate",
    "image_recall",
    "image_AUC",
    "pixel_F1",
    "oF1_oracle_image",
    "oF1_oracle_instances",
    "n_images",
)


def to_output(compact: CompactOutput) -> dict:
    """A cached output as a model output ``{"instances", "image_score"}``."""
    instances = Instances(compact.hw)
    instances.pred_masks = torch.as_tensor(compact.dense_masks())
    instances.scores = torch.as_tensor(compact.scores, dtype=torch.float32)
    return {"instances": instances, "image_score": compact.image_score}


def fuse_cache(network, matcher, rule: FusionRule):
    """The fused cache of two caches of the same images."""
    by_id = {im.image_id: im for im in matcher}
    fused = []
    for im in network:
        if im.image_id not in by_id:
            raise SystemExit(
                f"image {im.image_id} is in the network cache but not in the matcher cache"
            )
        net, match = to_output(im.output), to_output(by_id[im.image_id].output)
        instances = fuse_instances(net["instances"], match["instances"], rule)
        score = fused_image_score(
            rule.mode, float(net["image_score"]), instances, match["instances"]
        )
        output = CompactOutput.from_output(
            {"instances": instances, "image_score": score}, score_floor=0.0
        )
        fused.append(CachedImage(im.image_id, im.case_id, output, im.gt_runs))
    return fused


def row(name, cache, rules, base_rule):
    """Metrics of ``cache`` with its rule: ``rules[name]`` when given (a held-out run), else swept."""
    if name in rules:
        rule = DecisionRule(**rules[name])
    else:
        rule = sweep(cache, base_rule, log=False).rule
    metrics = evaluate_cache(cache, rule)
    return {"row": name, **{k: metrics[k] for k in KEYS}, "rule": dataclasses.asdict(rule)}


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--network",
        required=True,
        help="sweep cache of the network (tools/eval_oF1.py --sweep-cache)",
    )
    p.add_argument("--matcher", required=True, help="sweep cache of the matcher on the same images")
    p.add_argument(
        "--modes",
        nargs="+",
        default=["union", "boost", "network_if_matcher", "matcher_if_network", "verify_and_add"],
    )
    p.add_argument("--verify-weights", type=float, nargs="+", default=[0.5])
    p.add_argument(
        "--rules", help="JSON of a previous run: score with its tuned rules instead of sweeping"
    )
    p.add_argument("--output", help="JSON file for the rows (and their tuned rules)")
    args = p.parse_args(argv)
    network, matcher = load_cache(args.network), load_cache(args.matcher)
    rules = {}
    if args.rules:
        with open(args.rules) as f:
            rules = {r["row"]: r["rule"] for r in json.load(f)["rows"]}
    base_rule, base_fusion = DecisionRule.default(), FusionRule.from_config(get_forgery_cfg())
    rows = [
        row("network alone", network, rules, base_rule),
        row("matcher alone", matcher, rules, base_rule),
    ]
    for mode in args.modes:
        weights = args.verify_weights if mode == "verify_and_add" else [None]
        for weight in weights:
            changes = {"mode": mode} if weight is None else {"mode": mode, "verify_weight": weight}
            name = mode if weight is None else f"{mode} (verify weight {weight})"
            rows.append(
                row(
                    name,
                    fuse_cache(network, matcher, dataclasses.replace(base_fusion, **changes)),
                    rules,
                    base_rule,
                )
            )
            print(json.dumps(rows[-1]), flush=True)
    header = "| " + " | ".join(("row",) + KEYS) + " |"
    print(
        "\n".join(
            [header, "|" + "---|" * (len(KEYS) + 1)]
            + [
                "| "
                + " | ".join(
                    [r["row"]]
                    + [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in KEYS]
                )
                + " |"
                for r in rows
            ]
        )
    )
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(
                {"command": " ".join([sys.executable.split("/")[-1]] + sys.argv), "rows": rows},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
