"""Submission and solution CSVs: read, validate, write.

- A **submission** has the header ``case_id,annotation``: one row per image, the annotation is
  ``authentic`` or ``;``-joined competition RLEs (:mod:`forgery_d2.competition.rle`).
- A **solution** (the scorer's ground truth) has ``case_id,annotation,shape`` with shape ``"[H, W]"``.

Every problem raises :class:`SubmissionError` naming the file, the CSV line (the header is line 1)
and the case_id: bad header, missing / duplicate / unknown case_ids, malformed JSON, odd-length
lists, unsorted starts, overlapping runs, runs past the image.

Validation is stricter than the scorer in one respect: every row of a submission is validated, while
the scorer never parses a prediction on an image whose label is ``authentic`` (it scores 0 there
whatever it is). A submission must be valid whatever the hidden labels are.

Keys: the competition's keys are case_ids. In the train layout an authentic and a forged image share
a case_id, so a dataset whose case_ids are not unique is keyed by its dicts' ``image_id``
(``"<split-tag>/<case_id>"``) on every row: see :func:`dataset_keys`.
"""
import csv
import json
import os
from typing import Iterable, List, NamedTuple, Optional

import numpy as np
import pandas as pd

from .rle import AUTHENTIC, RLEError, parse_annotation

__all__ = [
    "SubmissionError",
    "SOLUTION_COLUMNS",
    "SUBMISSION_COLUMNS",
    "read_solution_csv",
    "read_submission_csv",
    "align_submission",
    "AlignedRow",
    "dataset_keys",
    "write_csv",
    "write_submission_csv",
]

SOLUTION_COLUMNS = ("case_id", "annotation", "shape")
SUBMISSION_COLUMNS = ("case_id", "annotation")


class SubmissionError(ValueError):
    """An invalid submission or solution: the message names the file, row and case_id."""


def _line(df, index):
    """CSV line of a row of a frame read by this module (the header is line 1), else None.

    Kept as one offset, not a per-row map: pandas deep-copies ``attrs`` on every ``.at`` access,
    so a map of N rows made reading N rows cost O(N^2) (26 s for 5,000 rows).
    """
    first = df.attrs.get("first_line")
    if first is None or not isinstance(index, (int, np.integer)):
        return None
    return first + int(index)


def _where(df, index, what):
    """``"<file> line N (case_id X)"`` for a row of a frame read by this module."""
    source = df.attrs.get("source", what)
    line = _line(df, index)
    case_id = df.at[index, "case_id"]
    return f"{source} line {line} (case_id {case_id})" if line else f"{source} row {index} (case_id {case_id})"


def _read_csv(path, columns, what):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SubmissionError(f"{what} file not found: {path}")
    try:
        # Everything as text: case_ids like "007" and the literal "authentic" stay as written.
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise SubmissionError(f"{what} file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise SubmissionError(f"{what} file is not a readable CSV: {path} ({str(e).strip()})") from None
    if tuple(df.columns) != columns:
        raise SubmissionError(
            f"{what} file {path} has header {','.join(map(str, df.columns))!r}; expected {','.join(columns)!r}"
        )
    df.attrs["source"] = path
    df.attrs["first_line"] = 2  # row i is on line i + 2
    return df


def _check_keys(df, what):
    source = df.attrs.get("source", what)
    empty = df.index[df["case_id"].astype(str).str.strip() == ""]
    if len(empty):
        raise SubmissionError(f"{source}: empty case_id on line {_line(df, empty[0]) or empty[0]}")
    dup = df["case_id"].duplicated(keep="first")
    if dup.any():
        i = df.index[dup][0]
        first = df.index[(df["case_id"] == df.at[i, "case_id"])][0]
        raise SubmissionError(f"{_where(df, i, what)}: duplicate case_id, first seen at {_where(df, first, what)}")


def _parse_shape(text, where):
    try:
        shape = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise SubmissionError(f"{where}: shape {text!r} is not a JSON list \"[H, W]\"") from None
    if (not isinstance(shape, list) or len(shape) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
        raise SubmissionError(f"{where}: shape {text!r} must be \"[H, W]\" with two positive integers")
    return tuple(shape)


def read_solution_csv(path) -> pd.DataFrame:
    """Read and validate a solution CSV (header, unique case_ids, shapes, label annotations)."""
    df = _read_csv(path, SOLUTION_COLUMNS, "solution")
    _check_keys(df, "solution")
    for i in df.index:
        where = _where(df, i, "solution")
        shape = _parse_shape(df.at[i, "shape"], where)
        try:
            parse_annotation(df.at[i, "annotation"], shape)
        except RLEError as e:
            raise SubmissionError(f"{where}: {e}") from None
    return df


def read_submission_csv(path) -> pd.DataFrame:
    """Read a submission CSV and check its header and case_ids (annotations are checked against a
    solution's shapes by :func:`align_submission`)."""
    df = _read_csv(path, SUBMISSION_COLUMNS, "submission")
    _check_keys(df, "submission")
    return df


class AlignedRow(NamedTuple):
    """One image of a submission aligned with its solution row."""

    case_id: str
    shape: tuple
    gt_runs: Optional[list]  # None = authentic, else one runs array per instance
    pred_runs: Optional[list]
    prediction: str


def align_submission(solution: pd.DataFrame, submission: pd.DataFrame) -> List[AlignedRow]:
    """Match a submission to a solution by case_id and validate every prediction against its
    image's shape. Rows come back in the solution's order."""
    for df, columns, what in ((solution, SOLUTION_COLUMNS, "solution"), (submission, SUBMISSION_COLUMNS, "submission")):
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise SubmissionError(f"{df.attrs.get('source', what)} lacks column(s) {missing}; expected {list(columns)}")
        _check_keys(df, what)
    sub_keys = submission["case_id"].astype(str)
    sol_keys = solution["case_id"].astype(str)
    unknown = ~sub_keys.isin(set(sol_keys))
    if unknown.any():
        i = submission.index[unknown][0]
        raise SubmissionError(f"{_where(submission, i, 'submission')}: unknown case_id (not in the solution; "
                              f"{int(unknown.sum())} unknown in all)")
    missing = ~sol_keys.isin(set(sub_keys))
    if missing.any():
        ids = sol_keys[missing].tolist()
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise SubmissionError(f"{submission.attrs.get('source', 'submission')}: {len(ids)} case_id(s) of the "
                              f"solution have no row: {shown}")
    sub_index = dict(zip(sub_keys, submission.index))
    rows = []
    for i in solution.index:
        case_id = str(solution.at[i, "case_id"])
        where_gt = _where(solution, i, "solution")
        shape = _parse_shape(solution.at[i, "shape"], where_gt)
        try:
            gt_runs = parse_annotation(solution.at[i, "annotation"], shape)
        except RLEError as e:
            raise SubmissionError(f"{where_gt}: {e}") from None
        j = sub_index[case_id]
        prediction = submission.at[j, "annotation"]
        try:
            pred_runs = parse_annotation(prediction, shape)
        except RLEError as e:
            raise SubmissionError(f"{_where(submission, j, 'submission')}: {e} (image shape {list(shape)})") from None
        rows.append(AlignedRow(case_id, shape, gt_runs, pred_runs, prediction))
    return rows


def write_submission_csv(rows: Iterable, path) -> str:
    """Write ``(case_id, annotation)`` pairs (or dicts with those keys) as a submission CSV.

    Checks that case_ids are unique and annotations are non-empty strings; returns the path.
    """
    seen = set()
    records = []
    for k, row in enumerate(rows):
        case_id, annotation = (row["case_id"], row["annotation"]) if isinstance(row, dict) else row
        case_id = str(case_id)
        if case_id in seen:
            raise SubmissionError(f"write_submission_csv: duplicate case_id {case_id!r} (row {k})")
        if not isinstance(annotation, str) or not annotation:
            raise SubmissionError(f"write_submission_csv: row {k} (case_id {case_id}): annotation must be "
                                  f"'{AUTHENTIC}' or RLEs, got {annotation!r}")
        seen.add(case_id)
        records.append((case_id, annotation))
    return write_csv(path, SUBMISSION_COLUMNS, records)


def write_csv(path, header, records) -> str:
    """Write ``header`` and ``records`` (rows) as a CSV file (folders created); returns the path."""
    path = os.fspath(path)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(records)
    return path


def dataset_keys(dataset_dicts) -> List[str]:
    """The submission key of each dataset dict: its ``case_id`` when the dataset's case_ids are
    unique (the competition's layout), else its ``image_id`` for every row (the train layout, where
    an authentic and a forged image share a case_id)."""
    case_ids = [str(d["case_id"]) for d in dataset_dicts]
    if len(set(case_ids)) == len(case_ids):
        return case_ids
    image_ids = [str(d["image_id"]) for d in dataset_dicts]
    if len(set(image_ids)) != len(image_ids):
        dup = pd.Series(image_ids)[pd.Series(image_ids).duplicated()].iloc[0]
        raise SubmissionError(f"dataset has duplicate image_id {dup!r}: image_ids must be unique")
    return image_ids
