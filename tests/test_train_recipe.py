"""tools/run_recipe.py: three steps, weights carried from step to step, resumable (a second run
skips finished steps). Tiny dataset, 2 iterations per step."""

import os
import re
import subprocess
import sys

from test_train_cli import _env
from test_train_engine import REPO, make_tiny_dataset, tiny_overrides

RUN_RECIPE = os.path.join(REPO, "tools", "run_recipe.py")
STEPS = ("step1_overfit_one", "step2_five_alternating", "step3_full_res5_classifier")


def test_recipe_carries_weights_and_skips_finished_steps(tmp_path):
    make_tiny_dataset(str(tmp_path / "data"))
    opts = tiny_overrides("unused")[:-2] + [  # every override but OUTPUT_DIR (one folder per step)
        "FORGERY.DATA.ROOT",
        str(tmp_path / "data"),
        "FORGERY.DATA.VAL_FRACTION",
        "0.4",
        "SOLVER.MAX_ITER",
        "2",
        "FORGERY.HOOKS.BEST_METRIC",
        "",
    ]
    command = [sys.executable, RUN_RECIPE, "--output-dir", str(tmp_path / "recipe"), *opts]
    first = subprocess.run(
        command, cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=400
    )
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    logs = {step: (tmp_path / "recipe" / step / "log.txt").read_text() for step in STEPS}
    assert all((tmp_path / "recipe" / step / "model_final.pth").is_file() for step in STEPS)
    assert re.search(r"Training on 1 of \d+ images: forged/", logs[STEPS[0]])
    assert re.search(r"Training on 5 of \d+ images", logs[STEPS[1]])
    assert "Initializing model from scratch" in logs[STEPS[0]]
    for previous, step in zip(STEPS, STEPS[1:]):
        assert (
            os.path.join(str(tmp_path / "recipe"), previous, "model_final.pth")
            in logs[step].split("Starting training")[0]
        ), f"{step} did not start from {previous}'s weights"
    assert "Freeze stage 0 from iteration 0 (now at 0): training res5, classifier" in logs[STEPS[2]]

    again = subprocess.run(
        command, cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and again.stdout.count("done, skipped") == 3, again.stdout
