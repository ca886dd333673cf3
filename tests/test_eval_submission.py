"""Submission / solution CSVs: clear errors naming the row, writing from a registered dataset."""

import json

import numpy as np
import pandas as pd
import pytest
from detectron2.data import DatasetCatalog

from forgery_d2.competition.rle import rle_decode
from forgery_d2.competition.submission import (
    SubmissionError,
    align_submission,
    read_solution_csv,
    read_submission_csv,
    write_submission_csv,
)
from forgery_d2.evaluation.ground_truth import write_solution_csv
from forgery_d2.evaluation.metric import score

SOLUTION = 'case_id,annotation,shape\n10,authentic,"[10, 10]"\n11,"[1, 10]","[10, 10]"\n12,"[5, 3]","[4, 4]"\n'


def _write(path, text):
    path.write_text(text)
    return str(path)


def _score_files(tmp_path, submission_text):
    sol = read_solution_csv(_write(tmp_path / "solution.csv", SOLUTION))
    sub = read_submission_csv(_write(tmp_path / "submission.csv", submission_text))
    return score(sol, sub)


def test_valid_files_score(tmp_path):
    text = 'case_id,annotation\n12,"[5, 3]"\n10,authentic\n11,"[1, 10];[11, 10]"\n'
    assert (
        _score_files(tmp_path, text) == (1.0 + 0.5 + 1.0) / 3
    )  # rows matched by case_id, not order


@pytest.mark.parametrize(
    "rows, message",
    [
        ('11,"[1, 10, 3]"', r"line 3 \(case_id 11\).*odd-length"),
        ('11,"[20, 2, 1, 2]"', r"line 3 \(case_id 11\).*ascending"),
        ('11,"[1, 10, 5, 2]"', r"line 3 \(case_id 11\).*overlap"),
        ('11,"[95, 10]"', r"line 3 \(case_id 11\).*past the image"),
        ('11,"[1, 10"', r"line 3 \(case_id 11\).*not valid JSON"),
        ("11,", r"line 3 \(case_id 11\).*empty annotation"),
    ],
)
def test_malformed_annotation_names_the_row(tmp_path, rows, message):
    text = f"case_id,annotation\n10,authentic\n{rows}\n12,authentic\n"
    with pytest.raises(SubmissionError, match=message):
        _score_files(tmp_path, text)


def test_key_errors(tmp_path):
    with pytest.raises(
        SubmissionError, match=r"line 4 \(case_id 10\): duplicate case_id, first seen at .* line 2"
    ):
        _score_files(
            tmp_path, "case_id,annotation\n10,authentic\n11,authentic\n10,authentic\n12,authentic\n"
        )
    with pytest.raises(SubmissionError, match=r"1 case_id\(s\) of the solution have no row: 12"):
        _score_files(tmp_path, "case_id,annotation\n10,authentic\n11,authentic\n")
    with pytest.raises(SubmissionError, match=r"line 5 \(case_id 99\): unknown case_id"):
        _score_files(
            tmp_path, "case_id,annotation\n10,authentic\n11,authentic\n12,authentic\n99,authentic\n"
        )
    with pytest.raises(
        SubmissionError, match="has header 'id,annotation'; expected 'case_id,annotation'"
    ):
        _score_files(tmp_path, "id,annotation\n10,authentic\n")
    with pytest.raises(SubmissionError, match="file not found"):
        read_submission_csv(str(tmp_path / "missing.csv"))
    with pytest.raises(SubmissionError, match="is empty"):
        read_submission_csv(_write(tmp_path / "empty.csv", ""))


def test_solution_errors(tmp_path):
    bad_shape = 'case_id,annotation,shape\n1,authentic,"[10]"\n'
    with pytest.raises(SubmissionError, match=r"solution.csv line 2 \(case_id 1\): shape"):
        read_solution_csv(_write(tmp_path / "solution.csv", bad_shape))


def test_case_ids_stay_text(tmp_path):
    sol = read_solution_csv(
        _write(tmp_path / "s.csv", 'case_id,annotation,shape\n007,authentic,"[2, 2]"\n')
    )
    sub = read_submission_csv(_write(tmp_path / "p.csv", "case_id,annotation\n007,authentic\n"))
    assert align_submission(sol, sub)[0].case_id == "007"


def test_write_submission_csv(tmp_path):
    path = write_submission_csv(
        [("1", "authentic"), {"case_id": 2, "annotation": "[1, 2]"}], tmp_path / "out" / "s.csv"
    )
    df = pd.read_csv(path, dtype=str)
    assert list(df.columns) == ["case_id", "annotation"] and df["annotation"].tolist() == [
        "authentic",
        "[1, 2]",
    ]
    with pytest.raises(SubmissionError, match="duplicate case_id '1'"):
        write_submission_csv([("1", "authentic"), ("1", "authentic")], tmp_path / "d.csv")
    with pytest.raises(SubmissionError, match="row 0 .*annotation must be"):
        write_submission_csv([("1", "")], tmp_path / "e.csv")


def test_write_solution_csv_from_dataset(tmp_path):
    mask = np.zeros((2, 6, 5), np.uint8)
    mask[0, 1:3, 1:3] = 1
    mask[1, 4:, 3:] = 1
    np.save(tmp_path / "7.npy", mask)
    dicts = [
        {
            "file_name": "a/7.png",
            "image_id": "authentic/7",
            "case_id": "7",
            "height": 6,
            "width": 5,
            "label": 0,
            "mask_file": None,
            "annotations": [],
        },
        {
            "file_name": "f/7.png",
            "image_id": "forged/7",
            "case_id": "7",
            "height": 6,
            "width": 5,
            "label": 1,
            "mask_file": str(tmp_path / "7.npy"),
            "annotations": [],
        },
    ]
    DatasetCatalog.register("_test_eval_solution", lambda: dicts)
    try:
        path = write_solution_csv("_test_eval_solution", tmp_path / "solution.csv")
    finally:
        DatasetCatalog.remove("_test_eval_solution")
    sol = read_solution_csv(path)
    # case_id 7 is shared by the authentic and the forged image: rows are keyed by image_id.
    assert sol["case_id"].tolist() == ["authentic/7", "forged/7"]
    assert sol["annotation"][0] == "authentic" and sol["shape"][1] == "[6, 5]"
    channels = sol["annotation"][1].split(";")
    assert len(channels) == 2
    for k, rle in enumerate(channels):
        np.testing.assert_array_equal(rle_decode(rle, (6, 5)), mask[k])
    sub = pd.DataFrame({"case_id": sol["case_id"], "annotation": sol["annotation"]})
    assert score(sol, sub) == 1.0
    assert json.loads(sol["shape"][0]) == [6, 5]
