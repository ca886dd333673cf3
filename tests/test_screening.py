"""Screening a folder (tools/predict.py, forgery_d2.engine.screening / predictions): the record
contract with copy-move parts, durable records (torn lines), disjoint shards resumed by another
number of processes, and a real run of two CPU processes (gloo) SIGKILLed in the middle that
resumes to the single process's submission byte for byte, no figure lost or written
twice."""

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import skimage.data
from test_eval_tools import _load_tool

from forgery_d2.competition.rle import decode_annotation, rle_decode
from forgery_d2.config import load_config
from forgery_d2.data.synthetic.copy_move import plant_copy_move
from forgery_d2.engine.predictions import (
    RecordWriter,
    figure_record,
    read_records,
    repair_tail,
    unreadable_record,
)
from forgery_d2.engine.predictor import BatchPredictor
from forgery_d2.engine.screening import (
    ScreeningError,
    ScreeningOptions,
    assemble,
    part_path,
    prepare_run,
    screen_shard,
    screen_worker,
)
from forgery_d2.evaluation.decision import DecisionRule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MATCHER = os.path.join(ROOT, "configs", "matcher", "keypoint_matcher.yaml")
PREDICT = os.path.join(ROOT, "tools", "predict.py")
N_FIGURES = 10


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """Nine real photo crops (scikit-image's coffee), three with a planted copy-move, plus one
    unreadable file: the folder a user points the tool at."""
    folder = tmp_path_factory.mktemp("figures")
    photo = skimage.data.coffee()
    for i in range(N_FIGURES - 1):
        crop = np.ascontiguousarray(photo[25 * i : 25 * i + 120, 35 * i : 35 * i + 160])
        if i in (1, 2, 4):  # crops where the matcher finds the planted copy
            crop, _ = plant_copy_move(crop, source=(10, 10, 50, 45), target_xy=(110, 75))
        cv2.imwrite(str(folder / f"fig{i:02d}.png"), crop[..., ::-1])
    (folder / "fig99.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def _options(folder, out, **kwargs):
    return ScreeningOptions(
        config_file=MATCHER,
        input_dir=str(folder),
        output=str(out / "submission.csv"),
        records=str(out / "submission.predictions.jsonl"),
        num_workers=0,
        **kwargs,
    )


@pytest.fixture(scope="module")
def reference(figures, tmp_path_factory):
    """An uninterrupted single-process run, in this process."""
    out = tmp_path_factory.mktemp("reference")
    options = _options(figures, out)
    prepare_run(options)
    summary = screen_worker(options)
    return out, summary


# ------------------------------------------------------------------------------ the records


def test_record_contract_with_copy_move_parts(figures):
    cfg = load_config(MATCHER)
    image = cv2.imread(str(figures / "fig02.png"))  # BGR
    image = image[..., ::-1].copy() if cfg.INPUT.FORMAT == "RGB" else image
    output = BatchPredictor(cfg)([image])[0]
    decision = DecisionRule.from_config(cfg)(output)
    record = figure_record("fig02", str(figures / "fig02.png"), output, decision, 0.5)
    json.loads(json.dumps(record))  # JSON-able as written
    assert set(record) == {
        "case_id",
        "file_name",
        "height",
        "width",
        "status",
        "annotation",
        "image_score",
        "seconds",
        "instances",
    }
    assert (record["height"], record["width"], record["status"]) == (120, 160, "ok")
    assert record["annotation"] == decision.annotation != "authentic"
    (instance,) = record["instances"]
    masks = decode_annotation(record["annotation"], (120, 160))
    assert np.array_equal(rle_decode(instance["mask"], (120, 160)), masks[0])
    (part,) = instance["parts"]
    source, copy = rle_decode(part["source"], (120, 160)), rle_decode(part["copy"], (120, 160))
    assert not (source & copy).any() and ((source | copy) <= masks[0]).all()
    # The transform maps the source onto its copy: planted at +100 px in x, +65 px in y.
    transform = np.array(part["transform"])
    assert transform.shape == (2, 3) and np.allclose(transform[:, 2], (100, 65), atol=1.5)
    ys, xs = np.nonzero(source)
    mapped = transform[:, :2] @ np.stack([xs.mean(), ys.mean()]) + transform[:, 2]
    ys, xs = np.nonzero(copy)
    assert np.allclose(mapped, (xs.mean(), ys.mean()), atol=2.0)
    assert part["evidence"]["method"] == "keypoint" and part["evidence"]["inliers"] >= 6
    assert part["score"] == pytest.approx(instance["score"])
    # Without copy-move fields in the output (a network), an instance has no parts.
    for name in ("pred_source_masks", "pred_copy_masks", "pred_transforms", "pred_evidence"):
        output["instances"].remove(name)
    assert figure_record("fig02", "x.png", output, decision, 0.5)["instances"][0]["parts"] == []
    bad = unreadable_record("fig99", "fig99.png", "truncated")
    assert (bad["status"], bad["annotation"], bad["instances"], bad["error"]) == (
        "unreadable",
        "authentic",
        [],
        "truncated",
    )


def test_records_survive_a_torn_last_line(tmp_path):
    path = str(tmp_path / "part")
    with RecordWriter(path) as writer:
        for i in range(3):
            writer.write(unreadable_record(f"c{i}", f"c{i}.png", "x"))
    with open(path, "ab") as f:
        f.write(b'{"case_id": "c3", "file_na')  # killed in the middle of a write
    assert [r["case_id"] for r in read_records(path)] == ["c0", "c1", "c2"]
    with RecordWriter(path) as writer:  # cuts the torn line off before appending
        writer.write(unreadable_record("c3", "c3.png", "x"))
    assert [r["case_id"] for r in read_records(path)] == ["c0", "c1", "c2", "c3"]
    assert repair_tail(path) == 0
    with open(path, "ab") as f:
        f.write(b"no newline at all")
    assert repair_tail(path) == len(b"no newline at all")


def test_shards_are_disjoint_and_resume_skips_finished_figures(figures, tmp_path, reference):
    cfg = load_config(MATCHER)
    options = _options(figures, tmp_path)
    prepare_run(options)
    paths = sorted(str(p) for p in figures.iterdir())
    predictor = BatchPredictor(cfg)
    counts = screen_shard(cfg, options, paths, rank=1, world_size=3, predictor=predictor)
    shard = [os.path.splitext(os.path.basename(p))[0] for p in paths[1::3]]
    assert counts == {"shard": len(shard), "skipped": 0, "done": len(shard), "unreadable": 0}
    assert [r["case_id"] for r in read_records(part_path(options.records, 1, 3))] == shard
    with pytest.raises(
        ScreeningError, match=r"have no record \(first: fig00\); run again with --resume"
    ):
        assemble(paths, options.records, options.output)
    # Rank 0 of a 1-process resume skips what rank 1 of 3 did; the assembly matches the reference.
    counts = screen_shard(cfg, options, paths, rank=0, world_size=1, predictor=predictor)
    assert counts["skipped"] == len(shard) and counts["done"] == len(paths) - len(shard)
    assemble(paths, options.records, options.output)
    out, _ = reference
    assert open(options.output, "rb").read() == (out / "submission.csv").read_bytes()
    assert not [p for p in os.listdir(tmp_path) if ".part-" in p]


def test_reference_run_summary_and_records(reference, figures):
    out, summary = reference
    assert summary["figures"] == N_FIGURES and summary["forged"] == 3
    assert summary["unreadable"][0][0] == str(figures / "fig99.png")
    records = list(read_records(str(out / "submission.predictions.jsonl")))
    assert [r["case_id"] for r in records] == [f"fig{i:02d}" for i in range(N_FIGURES - 1)] + [
        "fig99"
    ]
    lines = (out / "submission.csv").read_text().splitlines()
    assert lines[0] == "case_id,annotation" and len(lines) == N_FIGURES + 1


def test_existing_records_need_resume_and_the_same_run(reference, figures, capsys):
    out, _ = reference
    options = _options(figures, out)
    with pytest.raises(ScreeningError, match="holds records of an earlier run: pass --resume"):
        prepare_run(options)
    changed = _options(figures, out, resume=True, opts=("FORGERY.DECISION.SCORE_THRESH", "0.9"))
    with pytest.raises(ScreeningError, match="written by another run: decision"):
        prepare_run(changed)


def test_overwrite_starts_over(figures, tmp_path):
    options = _options(figures, tmp_path)
    prepare_run(options)
    with RecordWriter(part_path(options.records, 0, 1)) as writer:
        writer.write(unreadable_record("fig00", "fig00.png", "x"))
    with pytest.raises(ScreeningError, match="pass --resume to continue it, or --overwrite"):
        prepare_run(options)
    options.overwrite = True
    prepare_run(options)
    assert not list(tmp_path.glob("*.part-*"))


# --------------------------------------------------------------------------------- real runs


def _env():
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONWARNINGS": "ignore",
    }


def _predict(out, figures, *extra):
    return [
        sys.executable,
        PREDICT,
        "--config-file",
        MATCHER,
        "--input",
        str(figures),
        "--output",
        str(out / "submission.csv"),
        "--num-workers",
        "0",
        *extra,
    ]


def _record_lines(folder):
    return sum(
        len(list(read_records(str(p)))) for p in folder.glob("submission.predictions.jsonl.part-*")
    )


def test_sigkilled_run_resumes_to_the_same_submission(figures, reference, tmp_path, capsys):
    """Two CPU processes (gloo) SIGKILLed, the whole process group, once a few figures are
    recorded, then resumed by two processes: nothing redone, nothing lost or doubled, and the
    submission assembled by rank 0 is byte-identical to the uninterrupted single process's."""
    process = subprocess.Popen(
        _predict(tmp_path, figures, "--num-gpus", "2"),
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(6000):  # poll every 50 ms, a hang guard of about 5 minutes
            if _record_lines(tmp_path) >= 3:
                break
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no record written after polling for about 5 minutes")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    recorded = _record_lines(tmp_path)
    assert 3 <= recorded < N_FIGURES and not (tmp_path / "submission.csv").exists()

    # Without --resume the tool refuses to touch the records (one line, exit 2).
    with pytest.raises(SystemExit) as refused:
        _load_tool("predict.py").main(_predict(tmp_path, figures)[2:])
    assert (
        refused.value.code == 2
        and "pass --resume" in capsys.readouterr().err.strip().splitlines()[-1]
    )

    resumed = subprocess.run(
        _predict(tmp_path, figures, "--resume", "--num-gpus", "2"),
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "predict rank 1/2" in resumed.stderr and "predict rank 0/2" in resumed.stderr
    assert "1 unreadable" in resumed.stdout and "fig99.png" in resumed.stdout
    out, _ = reference
    assert (tmp_path / "submission.csv").read_bytes() == (out / "submission.csv").read_bytes()
    records = list(read_records(str(tmp_path / "submission.predictions.jsonl")))
    expected = list(read_records(str(out / "submission.predictions.jsonl")))
    assert [r["case_id"] for r in records] == [
        r["case_id"] for r in expected
    ]  # each once, in order
    for record, reference_record in zip(records, expected):
        record.pop("seconds"), reference_record.pop("seconds")
        assert record == reference_record
