"""Issue 11: each bad input a new user hands the tools ends as ONE clear line naming the file /
row / key (exit code 2), or is accepted where the competition accepts it. In-process where possible (no
interpreter start-up); one real subprocess per tool checks the exit code end to end."""

import argparse
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from _fixtures import make_kaggle_layout
from detectron2.engine import default_argument_parser
from detectron2.modeling import build_model
from test_eval_tools import ENV, ROOT, _load_tool
from test_eval_tools import _tool_in_process as _eval_tools_in_process

from forgery_d2.competition.rle import RLEError, parse_annotation
from forgery_d2.competition.submission import read_solution_csv, read_submission_csv
from forgery_d2.config import ConfigError, load_config
from forgery_d2.data.kaggle import register_forgery_dataset
from forgery_d2.engine import freeze
from forgery_d2.engine.hooks import FreezeSchedule
from forgery_d2.engine.runner import preflight
from forgery_d2.evaluation.decision import DecisionRule
from forgery_d2.evaluation.metric import score
from forgery_d2.evaluation.sweep import best_image_thresh, write_decision_yaml

QUICK = os.path.join(ROOT, "configs", "quick", "forgery_R_18_FPN_quick.yaml")
MATCHER = os.path.join(ROOT, "configs", "matcher", "keypoint_matcher.yaml")


def _tool_in_process(name, capsys, *args):
    """test_eval_tools' in-process runner, after pointing the cached log handlers of detectron2's
    ``setup_logger`` (bound to the stdout of the test that first called it, closed since) at this
    test's captured stdout."""
    for logger_name in ("forgery_d2", "detectron2"):
        for handler in logging.getLogger(logger_name).handlers:
            if type(handler) is logging.StreamHandler:
                handler.stream = sys.stdout  # (setStream would flush the closed one)
    return _eval_tools_in_process(name, capsys, *args)


def _one_error_line(err):
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err and lines, err
    return lines[-1]


# ------------------------------------------------------------------ solution / submission files


def test_solution_in_the_scorers_docstring_format_is_accepted(tmp_path, capsys):
    """The scorer's own docstring examples: authentic rows with the shape 'authentic'."""
    sol = tmp_path / "sol.csv"
    sol.write_text(
        "case_id,annotation,shape\n0,authentic,authentic\n1,authentic,authentic\n"
        '2,"[101, 102]","[720, 960]"\n'
    )
    sub = tmp_path / "sub.csv"
    sub.write_text('case_id,annotation\n0,authentic\n1,"[101, 102]"\n2,"[101, 102]"\n')
    code, out, err = _tool_in_process("eval_oF1.py", capsys, "--solution", sol, "--submission", sub)
    assert code == 0, err
    assert score(read_solution_csv(sol), read_submission_csv(sub)) == pytest.approx(2 / 3, abs=0)
    assert "0.666667" in out
    # A prediction on such a row is still checked (not against bounds: the shape is unknown) ...
    sub.write_text('case_id,annotation\n0,authentic\n1,"[5, 3, 1, 2]"\n2,"[101, 102]"\n')
    code, _, err = _tool_in_process("eval_oF1.py", capsys, "--solution", sol, "--submission", sub)
    line = _one_error_line(err)
    assert (
        code == 2
        and "line 3 (case_id 1)" in line
        and "ascending" in line
        and "(image shape unknown: authentic row)" in line
    )
    # ... and a forged row needs a real shape.
    sol.write_text('case_id,annotation,shape\n0,"[1, 2]",authentic\n')
    code, _, err = _tool_in_process("eval_oF1.py", capsys, "--solution", sol, "--submission", sub)
    line = _one_error_line(err)
    assert code == 2 and "line 2 (case_id 0)" in line and "only valid on an authentic row" in line


def test_trailing_comma_is_one_line_naming_file_and_line(tmp_path, capsys):
    sol = tmp_path / "sol.csv"
    sol.write_text('case_id,annotation,shape\n0,authentic,"[4, 4]"\n1,authentic,"[4, 4]"\n')
    sub = tmp_path / "sub.csv"
    sub.write_text(
        "case_id,annotation\n0,authentic,\n1,authentic,\n"
    )  # pandas would infer an index
    code, _, err = _tool_in_process("eval_oF1.py", capsys, "--solution", sol, "--submission", sub)
    line = _one_error_line(err)
    assert (
        code == 2 and f"{sub} line 2 has 3 field(s), the last one empty (a trailing comma?)" in line
    )
    sub.write_text("case_id,annotation,\n0,authentic\n")
    code, _, err = _tool_in_process("eval_oF1.py", capsys, "--solution", sol, "--submission", sub)
    assert code == 2 and "header 'case_id,annotation,' (a trailing comma?)" in _one_error_line(err)


def test_huge_rle_integers_are_an_rle_error_not_an_overflow():
    for rle, expected in (
        ("[1, 99999999999999999999999]", "longer than the image's 16 pixels"),
        ("[99999999999999999999999, 1]", "past the image's 16 pixels"),
        ("[-99999999999999999999999, 1]", "must be >= 1"),
        ("[1, -99999999999999999999999]", "must be >= 0"),
        ("[" + "9" * 5000 + ", 1]", "not a usable JSON list"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ):
        with pytest.raises(RLEError, match=expected):
            parse_annotation(rle, (4, 4))
    with pytest.raises(RLEError, match="too large to be a pixel index"):
        parse_annotation("[99999999999999999999999, 1]", None)


def test_blank_lines_do_not_shift_the_reported_line(tmp_path, capsys):
    sol = tmp_path / "sol.csv"
    sol.write_text('case_id,annotation,shape\n\n0,authentic,"[4, 4]"\n\n\n1,authentic,"[4, 4]"\n')
    sub = tmp_path / "sub.csv"
    sub.write_text('case_id,annotation\n\n0,authentic\n\n\n1,"[1, 99999999999999999999999]"\n\n')
    code, _, err = _tool_in_process("eval_oF1.py", capsys, "--solution", sol, "--submission", sub)
    line = _one_error_line(err)
    assert (
        code == 2 and "line 6 (case_id 1)" in line and "longer than the image's 16 pixels" in line
    )
    assert read_solution_csv(sol).attrs["lines"].tolist() == [3, 6]


# ------------------------------------------------------------------------- eval_oF1 on a model


@pytest.fixture(scope="module")
def labelled_and_unlabelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    make_kaggle_layout(str(root), n_cases=2, n_supplemental=1, n_test=2)
    for name, split in (
        ("bad_input_train", "train_all"),
        ("bad_input_supplemental", "supplemental"),
        ("bad_input_test", "test"),
    ):
        register_forgery_dataset(name, str(root), split, cache_dir=False, overwrite=True)
    return root


# The matcher on small images in seconds: no upscaling for detection, no data-loader workers.
FAST_MATCHER = ["MODEL.KEYPOINT_MATCHER.DETECT_MIN_SIZE", "64", "DATALOADER.NUM_WORKERS", "0"]


def test_dataset_without_config_file_is_refused(capsys):
    code, _, err = _tool_in_process("eval_oF1.py", capsys, "--dataset", "bad_input_train")
    assert code == 2 and "--dataset needs --config-file" in err


def test_unlabelled_dataset_fails_before_inference(labelled_and_unlabelled, capsys, monkeypatch):
    import forgery_d2.engine.predictor as predictor

    def no_model(cfg):
        raise AssertionError("the model was built: the label check must come first")

    monkeypatch.setattr(predictor, "build_inference_model", no_model)
    code, _, err = _tool_in_process(
        "eval_oF1.py",
        capsys,
        "--config-file",
        MATCHER,
        "--dataset",
        "bad_input_test",
        *FAST_MATCHER,
    )
    line = _one_error_line(err)
    assert code == 2
    assert "dataset bad_input_test: 2 of 2 images cannot be scored" in line and "test/5000" in line


def test_sweep_cache_is_never_reused_for_another_run(
    labelled_and_unlabelled, tmp_path, capsys, monkeypatch
):
    cache = tmp_path / "cache.pkl"
    run = ("eval_oF1.py", capsys, "--config-file", MATCHER, "--sweep-cache", cache)
    code, out, err = _tool_in_process(*run, "--dataset", "bad_input_train", *FAST_MATCHER)
    assert code == 0 and cache.is_file(), err
    import forgery_d2.engine.predictor as predictor

    def no_model(cfg):
        raise AssertionError("the model ran again: the cache was not used")

    monkeypatch.setattr(predictor, "build_inference_model", no_model)
    code, out_again, err = _tool_in_process(*run, "--dataset", "bad_input_train", *FAST_MATCHER)
    assert code == 0 and "loaded 4 cached outputs" in out_again, err
    assert out_again.split("\n| oF1")[1].split("\n")[0] == out.split("\n| oF1")[1].split("\n")[0]
    code, _, err = _tool_in_process(*run, "--dataset", "bad_input_supplemental", *FAST_MATCHER)
    line = _one_error_line(err)
    assert (
        code == 2 and "was written for another run" in line and "dataset 'bad_input_train'" in line
    )
    code, _, err = _tool_in_process(
        *run, "--dataset", "bad_input_train", *FAST_MATCHER, "MODEL.KEYPOINT_MATCHER.RATIO", "0.6"
    )
    line = _one_error_line(err)
    assert code == 2 and "model_config" in line and "dataset" not in line.split("another run:")[1]
    cache.write_bytes(b"not a pickle")
    code, _, err = _tool_in_process(*run, "--dataset", "bad_input_train", *FAST_MATCHER)
    assert code == 2 and "is not readable" in _one_error_line(err)


# -------------------------------------------------------------------------------- train_net


def _train_args(*opts, config=QUICK):
    return default_argument_parser().parse_args(["--config-file", config, *opts])


@pytest.mark.parametrize(
    "opts, expected",
    [
        (["DATASETS.TRAIN", "('no_such_dataset',)"], "dataset(s) not registered: no_such_dataset"),
        (
            ["MODEL.WEIGHTS", "/nonexistent/model_final.pth"],
            "MODEL.WEIGHTS file not found: /nonexistent/model_final.pth",
        ),
        (
            ["FORGERY.DECISON.IMAGE_THRESH", "0.3"],
            "unknown config key FORGERY.DECISON.IMAGE_THRESH; did you mean "
            "FORGERY.DECISION.IMAGE_THRESH",
        ),
        (["SOLVER.MAX_ITER"], "the last one ('SOLVER.MAX_ITER') has no value"),
        (
            ["FORGERY.DECISION.SCORE_THRESH", "1.5"],
            "FORGERY.DECISION.SCORE_THRESH must be in [0, 1], got 1.5",
        ),
        (["FORGERY.DECISION.MIN_AREA", "-3"], "FORGERY.DECISION.MIN_AREA must be >= 0, got -3"),
        (
            ["FORGERY.DECISION.MIN_AREA", "abc"],
            "override FORGERY.DECISION.MIN_AREA 'abc': expected type int, like the default 16",
        ),
    ],
)
def test_train_net_bad_config_is_one_line(labelled_and_unlabelled, capsys, opts, expected):
    base = ["DATASETS.TRAIN", "('bad_input_train',)", "DATASETS.TEST", "('bad_input_train',)"]
    with pytest.raises(SystemExit) as exit_info:
        preflight(_train_args(*base, *opts))
    line = _one_error_line(capsys.readouterr().err)
    assert exit_info.value.code == 2 and line.startswith("train_net: error: ") and expected in line


def test_train_net_refuses_an_unlabelled_evaluation_dataset(labelled_and_unlabelled, capsys):
    with pytest.raises(SystemExit) as exit_info:
        preflight(
            _train_args(
                "DATASETS.TRAIN", "('bad_input_train',)", "DATASETS.TEST", "('bad_input_test',)"
            )
        )
    assert (
        exit_info.value.code == 2
        and "bad_input_test: 2 of 2 images cannot be scored" in capsys.readouterr().err
    )


def test_train_net_subprocess_exit_code(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "train_net.py"),
            "--config-file",
            QUICK,
            "OUTPUT_DIR",
            str(tmp_path),
            "SOLVER.MAX_ITER",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("train_net: error: config overrides are KEY VALUE")
    )


def test_config_files_and_overlays_fail_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    for text, expected in (
        ("MODEL:\n  DEVICE: [", "is not valid YAML"),
        ("- 1\n- 2\n", "must hold a mapping of config keys"),
        ("MODEL: 5\n", "MODEL is a section of keys"),
        ("_BASE_: missing.yaml\n", "file not found"),
        (
            "FORGERY:\n  DECISION:\n    IMAGE_TRESH: 0.3\n",
            "did you mean FORGERY.DECISION.IMAGE_THRESH",
        ),
    ):
        bad.write_text(text)
        for kwargs in ({"config_file": str(bad)}, {"overlays": [str(bad)]}):
            with pytest.raises(ConfigError, match=expected) as info:
                load_config(**kwargs)
            assert str(bad) in str(info.value)
    with pytest.raises(ConfigError, match="config file not found: /nonexistent.yaml"):
        load_config("/nonexistent.yaml")
    bad.write_text("# nothing but a comment\n")
    assert load_config(overlays=[str(bad)]).FORGERY.DECISION == load_config().FORGERY.DECISION
    bad.write_text("!!python/object/apply:os.getcwd []\n")  # overlays are safe YAML only
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(overlays=[str(bad)])


# ---------------------------------------------------------------------------- make_synthetic


def test_make_synthetic_placement_failure_and_bad_fraction(tmp_path, capsys):
    import cv2

    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(2):
        cv2.imwrite(str(flat / f"{i}.png"), np.full((200, 200, 3), 128, np.uint8))
    tool = _load_tool("make_synthetic.py")
    code = tool.main(
        [
            "--output",
            str(tmp_path / "out"),
            "--num-images",
            "1",
            "--num-test",
            "0",
            "--style",
            "legacy",
            "--source-dir",
            str(flat),
            "--kind-probs",
            "folder=1",
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and "no copy-move fitted" in line and "too small or too flat" in line, line
    for value in ("-0.5", "1.5", "half"):
        with pytest.raises(SystemExit) as exit_info:
            tool.main(["--output", str(tmp_path / "out2"), "--test-forged-fraction", value])
        assert exit_info.value.code == 2
        assert (
            f"--test-forged-fraction: expected a fraction in [0, 1], got '{value}'"
            in capsys.readouterr().err
        )


# ------------------------------------------------------------------------------ decision rule


def test_all_authentic_sweep_rule_with_a_top_score_of_one_flags_nothing(tmp_path):
    # Calling every image authentic is best, and the top image score is exactly 1.0.
    thresh, value = best_image_thresh(
        [0.2, 1.0, 1.0], forged_scores=[0.0, 0.0, 0.0], authentic_scores=[1.0, 1.0, 1.0]
    )
    assert value == 1.0 and thresh > 1.0
    rule = DecisionRule.default().replace(image_thresh=thresh, score_thresh=0.0)
    masks = np.ones((1, 8, 8), bool)
    assert not rule.apply(np.array([1.0]), masks, image_score=1.0).forged
    path = write_decision_yaml(rule, str(tmp_path / "decision.yaml"))
    assert DecisionRule.from_config(load_config(overlays=[path])) == rule
    with pytest.raises(ConfigError, match="IMAGE_THRESH must be a finite number >= 0"):
        DecisionRule.default().replace(image_thresh=-0.1)


# ---------------------------------------------------------------------------------- freezing


def test_stages_never_train_what_freeze_at_froze(tmp_path):
    cfg = load_config(
        QUICK, ["MODEL.BACKBONE.FREEZE_AT", "2", "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(tmp_path)]
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    frozen = freeze.frozen_parameter_names(model)
    assert frozen and all(
        n.startswith(("backbone.bottom_up.stem.", "backbone.bottom_up.res2.")) for n in frozen
    )
    parts = freeze.part_patterns(model)
    trainable, total = freeze.apply_stage(
        model, freeze.FreezeStage(0, ("all",)), parts, never_train=frozen
    )
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == frozen
    assert trainable == total - sum(p.numel() for n, p in model.named_parameters() if n in frozen)
    # The hook, without being told, takes what is frozen when training starts.
    hook = FreezeSchedule(freeze.parse_schedule([[0, "backbone"], [1, "all"]], parts), parts)
    hook.trainer = argparse.Namespace(model=model, iter=0)
    model2 = build_model(cfg)
    hook.trainer.model = model2
    hook.before_train()
    assert hook.never_train == frozen
    hook._apply(1, 1)
    assert {n for n, p in model2.named_parameters() if not p.requires_grad} == frozen


def test_compare_submissions_takes_the_docstring_solution_format(tmp_path, capsys):
    sol = tmp_path / "sol.csv"
    sol.write_text('case_id,annotation,shape\n0,authentic,authentic\n1,"[1, 4]","[2, 4]"\n')
    sub = tmp_path / "sub.csv"
    sub.write_text('case_id,annotation\n0,authentic\n1,"[1, 4]"\n')
    code, out, err = _tool_in_process(
        "compare_submissions.py", capsys, "--solution", sol, f"mine={sub}"
    )
    assert code == 0, err
    rows = {line.split("|")[1].strip(): float(line.split("|")[2]) for line in out.splitlines()[3:]}
    # full-image mask: 0 on the authentic row, F1 2*4/(8+4) on the forged one
    assert rows == {
        "all authentic": 0.5,
        "full-image mask": round((0 + 8 / 12) / 2, 4),
        "mine": 1.0,
    }
