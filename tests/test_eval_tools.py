"""tools/eval_oF1.py on files (exit codes, one-line errors) and tools/predict.py on a folder."""

import importlib.util
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd

from forgery_d2.competition.submission import align_submission, read_submission_csv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore"}


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(ROOT, "tools", name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tool_in_process(name, capsys, *args):
    """Run a tool's main() here (no interpreter start-up); returns (exit code, stdout, stderr)."""
    try:
        _load_tool(name).main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _tool(name, *args):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=300,
    )


SOLUTION = (
    'case_id,annotation,shape\n0,"[101, 102];[300, 100]","[720, 960]"\n'
    '1,"[101, 102]","[720, 960]"\n2,authentic,"[720, 960]"\n'
)


def test_eval_files_scores_and_writes(tmp_path):
    (tmp_path / "sol.csv").write_text(SOLUTION)
    (tmp_path / "sub.csv").write_text(
        'case_id,annotation\n0,"[101, 102]"\n1,"[101, 102]"\n2,authentic\n'
    )
    run = _tool(
        "eval_oF1.py",
        "--solution",
        tmp_path / "sol.csv",
        "--submission",
        tmp_path / "sub.csv",
        "--output",
        tmp_path / "out",
    )
    assert run.returncode == 0, run.stderr
    assert "0.833333" in run.stdout and "oF1" in run.stdout
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"]
    assert metrics["oF1"] == 0.8333333333333334
    per_image = pd.read_csv(tmp_path / "out" / "per_image.csv")
    assert per_image["oF1"].tolist() == [0.5, 1.0, 1.0]


def test_eval_files_invalid_input_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "sol.csv").write_text(SOLUTION)
    (tmp_path / "sub.csv").write_text(
        'case_id,annotation\n0,"[101, 102, 5]"\n1,authentic\n2,authentic\n'
    )
    code, _, err = _tool_in_process(
        "eval_oF1.py",
        capsys,
        "--solution",
        tmp_path / "sol.csv",
        "--submission",
        tmp_path / "sub.csv",
    )
    assert code == 2 and "Traceback" not in err
    assert err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
    assert "line 2 (case_id 0)" in err and "odd-length" in err
    code, _, err = _tool_in_process(
        "eval_oF1.py",
        capsys,
        "--solution",
        tmp_path / "nope.csv",
        "--submission",
        tmp_path / "sub.csv",
    )
    assert code == 2 and "solution file not found" in err
    (tmp_path / "dup.csv").write_text("case_id,annotation\n0,authentic\n0,authentic\n")
    code, _, err = _tool_in_process(
        "eval_oF1.py",
        capsys,
        "--solution",
        tmp_path / "sol.csv",
        "--submission",
        tmp_path / "dup.csv",
    )
    assert code == 2 and "duplicate case_id" in err


def test_predict_folder_with_random_model(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    shapes = {"a": (70, 90), "b": (64, 100), "c": (81, 77)}
    for case_id, (h, w) in shapes.items():
        cv2.imwrite(str(images / f"{case_id}.png"), (rng.random((h, w, 3)) * 255).astype(np.uint8))
    (images / "d.png").write_bytes(b"not an image")
    out = tmp_path / "submission.csv"
    # A random model scores everything low: open the thresholds so instances reach the submission.
    run = _tool(
        "predict.py",
        "--config-file",
        "configs/quick/forgery_R_18_FPN_quick.yaml",
        "--input",
        images,
        "--output",
        out,
        "--vis",
        tmp_path / "vis",
        "--report",
        tmp_path / "report",
        "--batch-size",
        2,
        "--num-workers",
        0,
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
        0.0,
        "FORGERY.DECISION.IMAGE_THRESH",
        0.0,
        "FORGERY.DECISION.SCORE_THRESH",
        0.0,
        "FORGERY.DECISION.MASK_THRESH",
        0.0,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    submission = read_submission_csv(str(out))
    assert sorted(submission["case_id"]) == [
        "a",
        "b",
        "c",
        "d",
    ]  # a row per image, even the unreadable one
    assert submission.set_index("case_id").at["d", "annotation"] == "authentic"
    assert "unreadable" in run.stdout and "d.png" in run.stdout
    # Valid against each image's real shape (original resolution, not the resized input).
    solution = pd.DataFrame(
        {
            "case_id": list(shapes) + ["d"],
            "annotation": "authentic",
            "shape": [json.dumps(list(s)) for s in shapes.values()] + ["[1, 1]"],
        }
    )
    rows = align_submission(solution, submission)
    assert any(r.pred_runs for r in rows)  # the open thresholds produced instances
    assert sorted(os.listdir(tmp_path / "vis")) == ["a.png", "b.png", "c.png"]
    page = (tmp_path / "report" / "index.html").read_text()  # the analyst's report of the run
    assert "d.png" in page and page.count('class="card') == sum(bool(r.pred_runs) for r in rows)
    code, _, err = _tool_in_process(
        "predict.py",
        capsys,
        "--config-file",
        "configs/quick/forgery_R_18_FPN_quick.yaml",
        "--input",
        images,
        "--output",
        tmp_path / "strict.csv",
        "--strict",
        "--num-workers",
        0,
    )
    assert code == 2 and "d.png" in err and not (tmp_path / "strict.csv").exists()
