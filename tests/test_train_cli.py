"""tools/train_net.py end to end, as subprocesses on a tiny synthetic-layout dataset (CPU, 64 px):
a short training run writes checkpoints, metrics, curves and the best model; ``--eval-only``
reproduces the final evaluation; a run SIGKILLed after a checkpoint resumes with ``--resume`` from
that checkpoint, in the same freeze stage, with its optimizer state and iteration."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from test_train_engine import QUICK_CONFIG, REPO, make_tiny_dataset, tiny_overrides

TRAIN_NET = os.path.join(REPO, "tools", "train_net.py")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_data")
    make_tiny_dataset(str(root))
    return root


def _command(data_root, output_dir, *extra, eval_only=False, resume=False):
    flags = (["--eval-only"] if eval_only else []) + (["--resume"] if resume else [])
    return [
        sys.executable,
        TRAIN_NET,
        "--config-file",
        QUICK_CONFIG,
        *flags,
        *tiny_overrides(output_dir),
        "FORGERY.DATA.ROOT",
        str(data_root),
        "FORGERY.DATA.VAL_FRACTION",
        "0.4",
        *extra,
    ]


def _env(tmp_path):
    return dict(
        os.environ,
        OMP_NUM_THREADS="1",
        CUDA_VISIBLE_DEVICES="",
        FORGERY_D2_CACHE=str(tmp_path / "cache"),
    )


def _run(command, tmp_path):
    result = subprocess.run(
        command, cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _last_values(metrics_path, prefix):
    values = {}
    with open(metrics_path) as f:
        for line in f:
            record = json.loads(line)
            values.update({k: v for k, v in record.items() if k.startswith(prefix)})
    return values


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_train_then_eval_only_reproduces_the_evaluation(data_root, tmp_path):
    out = tmp_path / "train"
    result = _run(
        _command(
            data_root,
            out,
            "SOLVER.MAX_ITER",
            "6",
            "SOLVER.CHECKPOINT_PERIOD",
            "3",
            "TEST.EVAL_PERIOD",
            "3",
            "FORGERY.HOOKS.VAL_LOSS.PERIOD",
            "3",
            "FORGERY.HOOKS.SEPARABILITY.PERIOD",
            "3",
            "MODEL.DEVICE",
            "cuda",  # the configs' default: no GPU here, so it must fall back to CPU
        ),
        tmp_path,
    )
    log = (out / "log.txt").read_text()
    assert "No CUDA GPU available: running on CPU" in log
    for name in (
        "model_0000002.pth",
        "model_final.pth",
        "model_best.pth",
        "metrics.json",
        "training_curves.png",
        "config.yaml",
    ):
        assert (out / name).is_file(), f"{name} missing; output: {result.stdout[-2000:]}"
    assert (out / "last_checkpoint").read_text().strip() == "model_final.pth"
    best = torch.load(out / "model_best.pth", map_location="cpu", weights_only=False)
    assert set(best) == {
        "model",
        "iteration",
    }  # weights only: the trainer state is in model_final.pth

    records = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    keys = set().union(*records)
    assert {
        "total_loss",
        "loss_mask",
        "val_loss",
        "val_loss_cls",
        "sep/probe_acc",
        "sep/norm_dist",
        "forgery/oF1",
    } <= keys
    assert sorted(r["iteration"] for r in records if "val_loss" in r) == [2, 5]
    assert sorted(r["iteration"] for r in records if "forgery/oF1" in r) == [
        2,
        6,
    ]  # after_step at 2, after_train at 6

    evaluation = tmp_path / "eval"
    _run(
        _command(
            data_root, evaluation, "MODEL.WEIGHTS", str(out / "model_final.pth"), eval_only=True
        ),
        tmp_path,
    )
    reproduced = json.loads((evaluation / "eval_results.json").read_text())["forgery"]
    during_training = _last_values(out / "metrics.json", "forgery/")
    assert during_training and set(during_training) == {f"forgery/{k}" for k in reproduced}
    for key, value in reproduced.items():
        assert _same(value, during_training[f"forgery/{key}"]), key


def test_killed_run_resumes_from_its_checkpoint_in_the_same_stage(data_root, tmp_path):
    """Stage 0 trains everything, stage 1 (from iteration 4) only the heads. After a SIGKILL the
    resumed run starts at the checkpoint's iteration + 1, in stage 1; the backbone then neither
    moves nor changes its (restored) SGD momentum, while the heads train on."""
    out = tmp_path / "run"
    stages = [
        "FORGERY.FREEZE.STAGES",
        "[[0, 'all'], [4, 'heads']]",
        "SOLVER.CHECKPOINT_PERIOD",
        "4",
    ]
    process = subprocess.Popen(
        _command(data_root, out, "SOLVER.MAX_ITER", "200", *stages),
        cwd=REPO,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(4800):  # poll every 50 ms, a hang guard of about 4 minutes
            if (out / "last_checkpoint").exists():
                break
            assert process.poll() is None, "training exited before writing a checkpoint"
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint written after polling for about 4 minutes")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    checkpoint_name = (out / "last_checkpoint").read_text().strip()
    checkpoint = torch.load(out / checkpoint_name, map_location="cpu", weights_only=False)
    start = checkpoint["iteration"] + 1
    assert checkpoint_name == f"model_{checkpoint['iteration']:07d}.pth" and start % 4 == 0

    _run(
        _command(data_root, out, "SOLVER.MAX_ITER", str(start + 2), *stages, resume=True), tmp_path
    )
    log = (out / "log.txt").read_text()
    assert f"Starting training from iteration {start}" in log
    assert f"Freeze stage 1 from iteration 4 (now at {start}): training rpn, box_head" in log

    final = torch.load(out / "model_final.pth", map_location="cpu", weights_only=False)
    assert final["iteration"] == start + 1
    before, after = checkpoint["model"], final["model"]
    unchanged = {k for k in before if torch.equal(before[k], after[k])}
    heads = ("proposal_generator.", "roi_heads.")
    assert {k for k in before if not k.startswith(heads)} <= unchanged, (
        "frozen backbone moved after resume"
    )
    assert sum(not k.startswith(heads) for k in unchanged) > 0
    assert not any(k.startswith(heads) for k in unchanged if k.endswith("weight")), (
        "heads did not train"
    )

    # The optimizer state was restored: every parameter of the checkpoint keeps its momentum buffer;
    # the frozen ones unchanged (SGD skips parameters without gradient), the trained ones updated.
    state_before = checkpoint["trainer"]["_trainer"]["optimizer"]["state"]
    state_after = final["trainer"]["_trainer"]["optimizer"]["state"]
    assert state_before and set(state_before) == set(state_after)
    same_momentum = [
        i
        for i in state_before
        if torch.equal(state_before[i]["momentum_buffer"], state_after[i]["momentum_buffer"])
    ]
    backbone_params = sum(
        1
        for k in before
        if k.startswith("backbone.") and "running_" not in k and "num_batches" not in k
    )
    assert len(same_momentum) == backbone_params
    assert len(state_after) > len(same_momentum)


def test_bad_config_is_one_clear_line(data_root, tmp_path):
    result = subprocess.run(
        _command(
            data_root, tmp_path / "bad", "FORGERY.FREEZE.STAGES", "[[0, 'backbone'], [5, 'res6']]"
        ),
        cwd=REPO,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        "train_net: error: unknown part 'res6' in FORGERY.FREEZE.STAGES; valid names:"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
