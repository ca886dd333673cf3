"""Submission and solution CSVs: read, validate, write.

- A **submission** has the header ``case_id,annotation``: one row per image, the annotation is
  ``authentic`` or ``;``-joined competition RLEs (:mod:`forgery_d2.competition.rle`).
- A **solution** (the scorer's ground truth) has ``case_id,annotation,shape`` with shape ``"[H, W]"``.

Every problem raises :class:`SubmissionError` naming the file, the CSV line (the physical line
in the file, the header is line 1; blank lines are skipped but counted) and the case_id: bad
header, a row with too few or too many fields (e.g. a trailing comma), text that is not UTF-8,
missing / duplicate / unknown case_ids, malformed JSON, odd-length lists, unsorted starts,
overlapping runs, runs past the image, integers too large for any image.

Accepted as the competition's scorer accepts them: a UTF-8 byte-order mark, CRLF line ends, quoted
fields, fields of any length, and a solution in the scorer's docstring format, where authentic rows
have the shape ``authentic`` (a prediction on such a row scores 0 whatever it is; it is still
checked, except against the image bounds).

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

    Kept as a numpy array, not a dict: pandas deep-copies ``attrs`` on every ``.at`` access, and
    copying a per-row dict made reading N rows cost O(N^2) (26 s for 5,000 rows); an array copies
    in microseconds. (Blank lines make the numbers irregular, so one offset is not enough.)
    """
    lines = df.attrs.get("lines")
    if (
        lines is None
        or not isinstance(index, (int, np.integer))
        or not 0 <= int(index) < len(lines)
    ):
        return None
    return int(lines[int(index)])


def _where(df, index, what):
    """``"<file> line N (case_id X)"`` for a row of a frame read by this module."""
    source = df.attrs.get("source", what)
    line = _line(df, index)
    case_id = df.at[index, "case_id"]
    return (
        f"{source} line {line} (case_id {case_id})"
        if line
        else f"{source} row {index} (case_id {case_id})"
    )


def _csv_rows(path, what):
    """``[(line number, fields)]`` of the non-blank CSV records of a UTF-8 file (BOM allowed).
    A list, not a generator: the csv module's process-wide field size limit, raised while reading,
    is restored before returning (a suspended generator would leave it raised)."""
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # one RLE of a large image outgrows csv's 128 KiB default
    line, rows = 0, []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for fields in reader:
                start, line = line + 1, reader.line_num
                if fields:  # csv gives [] for a blank line
                    rows.append((start, fields))
        return rows
    except UnicodeDecodeError as e:
        raise SubmissionError(
            f"{what} file {path} is not UTF-8 text (byte {e.start}: {e.reason})"
        ) from None
    except csv.Error as e:
        raise SubmissionError(
            f"{what} file {path} line {line + 1}: not a readable CSV record ({e})"
        ) from None
    finally:
        csv.field_size_limit(previous_limit)


def _read_csv(path, columns, what):
    """A CSV with exactly ``columns`` read as text (case_ids like "007" and the literal
    "authentic" stay as written); ``attrs["lines"]`` holds each row's line in the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SubmissionError(f"{what} file not found: {path}")
    rows = iter(_csv_rows(path, what))
    first = next(rows, None)
    if first is None:
        raise SubmissionError(f"{what} file is empty: {path}")
    header = tuple(first[1])
    expected = ",".join(columns)
    if header != columns:
        hint = " (a trailing comma?)" if header[:-1] == columns and header[-1] == "" else ""
        raise SubmissionError(
            f"{what} file {path} has header {','.join(header)!r}{hint}; expected {expected!r}"
        )
    records, lines = [], []
    for line, fields in rows:
        if len(fields) != len(columns):
            trailing = len(fields) > len(columns) and fields[-1] == ""
            hint = ", the last one empty (a trailing comma?)" if trailing else ""
            raise SubmissionError(
                f"{what} file {path} line {line} has {len(fields)} "
                f"field(s){hint}; expected {len(columns)}: {expected}"
            )
        records.append(fields)
        lines.append(line)
    df = pd.DataFrame(records, columns=list(columns), dtype=str)
    df.attrs["source"] = path
    df.attrs["lines"] = np.asarray(lines, dtype=np.int64)  # see _line
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
        raise SubmissionError(
            f"{_where(df, i, what)}: duplicate case_id, first seen at {_where(df, first, what)}"
        )


def _parse_shape(text, where, annotation=None):
    """``(H, W)`` of a solution row, or None for the shape ``authentic`` of an authentic row (the
    scorer's docstring format: it never decodes such a row)."""
    if text == AUTHENTIC:
        if annotation == AUTHENTIC:
            return None
        raise SubmissionError(
            f"{where}: shape 'authentic' is only valid on an authentic row; a "
            'forged row needs its image\'s shape "[H, W]" to decode its masks'
        )
    try:
        shape = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise SubmissionError(f'{where}: shape {text[:60]!r} is not a JSON list "[H, W]"') from None
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
    ):
        raise SubmissionError(
            f'{where}: shape {text[:60]!r} must be "[H, W]" with two positive integers'
        )
    return tuple(shape)


def read_solution_csv(path) -> pd.DataFrame:
    """Read and validate a solution CSV (header, unique case_ids, shapes, label annotations)."""
    df = _read_csv(path, SOLUTION_COLUMNS, "solution")
    _check_keys(df, "solution")
    for i in df.index:
        where = _where(df, i, "solution")
        shape = _parse_shape(df.at[i, "shape"], where, df.at[i, "annotation"])
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
    shape: Optional[tuple]  # None: an authentic solution row written with the shape "authentic"
    gt_runs: Optional[list]  # None = authentic, else one runs array per instance
    pred_runs: Optional[list]
    prediction: str


def align_submission(solution: pd.DataFrame, submission: pd.DataFrame) -> List[AlignedRow]:
    """Match a submission to a solution by case_id and validate every prediction against its
    image's shape. Rows come back in the solution's order."""
    for df, columns, what in (
        (solution, SOLUTION_COLUMNS, "solution"),
        (submission, SUBMISSION_COLUMNS, "submission"),
    ):
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise SubmissionError(
                f"{df.attrs.get('source', what)} lacks column(s) {missing}; expected {list(columns)}"
            )
        _check_keys(df, what)
    sub_keys = submission["case_id"].astype(str)
    sol_keys = solution["case_id"].astype(str)
    unknown = ~sub_keys.isin(set(sol_keys))
    if unknown.any():
        i = submission.index[unknown][0]
        raise SubmissionError(
            f"{_where(submission, i, 'submission')}: unknown case_id (not in the solution; "
            f"{int(unknown.sum())} unknown in all)"
        )
    missing = ~sol_keys.isin(set(sub_keys))
    if missing.any():
        ids = sol_keys[missing].tolist()
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise SubmissionError(
            f"{submission.attrs.get('source', 'submission')}: {len(ids)} case_id(s) of the "
            f"solution have no row: {shown}"
        )
    sub_index = dict(zip(sub_keys, submission.index))
    rows = []
    for i in solution.index:
        case_id = str(solution.at[i, "case_id"])
        where_gt = _where(solution, i, "solution")
        shape = _parse_shape(solution.at[i, "shape"], where_gt, solution.at[i, "annotation"])
        try:
            gt_runs = parse_annotation(solution.at[i, "annotation"], shape)
        except RLEError as e:
            raise SubmissionError(f"{where_gt}: {e}") from None
        j = sub_index[case_id]
        prediction = submission.at[j, "annotation"]
        try:
            pred_runs = parse_annotation(prediction, shape)
        except RLEError as e:
            if "(shape [" in str(e):
                shown = ""
            elif shape is None:
                shown = " (image shape unknown: authentic row)"
            else:
                shown = f" (image shape {list(shape)})"
            raise SubmissionError(f"{_where(submission, j, 'submission')}: {e}{shown}") from None
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
            raise SubmissionError(
                f"write_submission_csv: row {k} (case_id {case_id}): annotation must be "
                f"'{AUTHENTIC}' or RLEs, got {annotation!r}"
            )
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
