#!/usr/bin/env python
"""Run seed 1's stepwise fine-tuning recipe in one command, carrying weights from step to step.

    python tools/run_recipe.py --output-dir output/recipe                         # quick CPU config
    python tools/run_recipe.py --config-file configs/forgery_R_50_FPN.yaml --output-dir out/r50 \\
        SOLVER.IMS_PER_BATCH 8                                                   # + overrides

Each step's overlay (configs/recipe/step*.yaml: data subset, freeze schedule, schedule length) is
merged over ``--config-file``, then ``MODEL.WEIGHTS`` = the previous step's ``model_final.pth``,
``OUTPUT_DIR`` = ``<output-dir>/<step name>``, then the trailing KEY VALUE overrides. The merged
config is written to ``<step dir>/recipe_config.yaml`` and trained by ``tools/train_net.py`` in a
subprocess. Resumable: a finished step (its ``model_final.pth`` is the last checkpoint) is skipped,
an interrupted one continues with ``--resume``.
"""

import argparse
import os
import subprocess
import sys

import forgery_d2  # noqa: F401  (first: detectron2 build shims)
from forgery_d2.config import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_STEPS = [
    os.path.join(REPO, "configs", "recipe", name)
    for name in (
        "step1_overfit_one.yaml",
        "step2_five_alternating.yaml",
        "step3_full_res5_classifier.yaml",
    )
]
FINAL = "model_final.pth"


def step_config(base_config, overlay, weights, output_dir, opts):
    """The full config of one step (a CfgNode)."""
    step_opts = (
        (["MODEL.WEIGHTS", weights] if weights else []) + ["OUTPUT_DIR", output_dir] + list(opts)
    )
    return load_config(
        base_config, step_opts, overlays=[overlay], freeze=False, device_fallback=False
    )


def step_state(output_dir):
    """ "done", "interrupted" (a checkpoint to resume) or "new"."""
    last = os.path.join(output_dir, "last_checkpoint")
    if not os.path.exists(last):
        return "new"
    with open(last) as f:
        return "done" if f.read().strip() == FINAL else "interrupted"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config-file",
        default=os.path.join(REPO, "configs", "quick", "forgery_R_18_FPN_quick.yaml"),
        help="model config the step overlays are merged over",
    )
    parser.add_argument("--output-dir", required=True, help="one sub-folder per step")
    parser.add_argument("--steps", nargs="+", default=DEFAULT_STEPS, help="overlay YAMLs, in order")
    parser.add_argument("--weights", default="", help="initial MODEL.WEIGHTS of the first step")
    parser.add_argument("--num-gpus", type=int, default=1, help="passed to tools/train_net.py")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every step")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for path in [args.config_file, *args.steps]:
        if not os.path.isfile(path):
            sys.exit(f"run_recipe: config file not found: {path}")
    weights = args.weights
    for index, overlay in enumerate(args.steps, 1):
        name = os.path.splitext(os.path.basename(overlay))[0]
        output_dir = os.path.join(args.output_dir, name)
        state = step_state(output_dir)
        if state == "done":
            print(f"[run_recipe] step {index} ({name}): done, skipped", flush=True)
        else:
            os.makedirs(output_dir, exist_ok=True)
            cfg = step_config(args.config_file, overlay, weights, output_dir, args.opts)
            config_path = os.path.join(output_dir, "recipe_config.yaml")
            with open(config_path, "w") as f:
                f.write(cfg.dump())
            command = [
                sys.executable,
                os.path.join(REPO, "tools", "train_net.py"),
                "--config-file",
                config_path,
                "--num-gpus",
                str(args.num_gpus),
            ] + (["--resume"] if state == "interrupted" else [])
            print(
                f"[run_recipe] step {index} ({name}): {'resuming' if state == 'interrupted' else 'training'}"
                f" from {cfg.MODEL.WEIGHTS or 'scratch'}: {' '.join(command)}",
                flush=True,
            )
            result = subprocess.run(command)
            if result.returncode != 0:
                sys.exit(
                    f"run_recipe: step {index} ({name}) failed with exit code {result.returncode}; "
                    "run the same command again to resume it"
                )
        weights = os.path.join(output_dir, FINAL)
    print(f"[run_recipe] all steps done; final weights: {weights}", flush=True)
    return weights


if __name__ == "__main__":
    main()
