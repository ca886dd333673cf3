"""The saved-outputs contract: ``predictions.jsonl``, streamed and validated record by record.

``tools/predict.py`` writes one JSON object per figure and line::

    {"case_id", "file_name", "height", "width", "status": "ok" | "unreadable", "error" (unreadable),
     "annotation" (the submission row), "image_score", "seconds",
     "instances": [{"score", "mask": RLE,
                    "parts": [{"source": RLE, "copy": RLE, "transform": 2x3 | null, "score",
                               "evidence": {"method": "keypoint" | "dense" | "panel" | "network",
                                            ...numbers}}]}]}

RLEs are the competition's (column-major, 1-based; :mod:`forgery_d2.competition.rle`). Every problem
raises :class:`PredictionsError` naming the file, the line and the case_id; nothing is decoded to
masks here (RLEs are validated as runs, which is cheap), so reading thousands of records is fast.
"""

import json
import math
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Tuple

import numpy as np

from forgery_d2.competition.rle import AUTHENTIC, RLEError, parse_annotation, parse_rle

__all__ = [
    "EVIDENCE_METHODS",
    "STATUSES",
    "PredictionsError",
    "CopyMovePart",
    "PredictedInstance",
    "PredictionRecord",
    "parse_record",
    "read_predictions",
    "as_records",
]

STATUSES = ("ok", "unreadable")
# Every method a matcher or network writes (forgery_d2.matching.figure_matcher: keypoint, panel,
# grain; the fusion: network; dense self-similarity: dense).
EVIDENCE_METHODS = ("keypoint", "panel", "grain", "dense", "network")


class PredictionsError(ValueError):
    """A malformed predictions record: the message names the file, line and case_id."""


@dataclass(frozen=True)
class CopyMovePart:
    """One source/copy pair: runs arrays (0-based starts, lengths) of both regions, the 2x3
    source -> copy affine map in pixels (None when unknown), its score and evidence dict."""

    source: np.ndarray
    copy: np.ndarray
    transform: Optional[np.ndarray]
    score: float
    evidence: dict

    @property
    def method(self) -> str:
        """How the pair was found: keypoint, dense, panel or network."""
        return self.evidence["method"]


@dataclass(frozen=True)
class PredictedInstance:
    """One final instance: its score, mask runs and the copy-move parts merged into it."""

    score: float
    mask: np.ndarray
    parts: Tuple[CopyMovePart, ...]


@dataclass(frozen=True)
class PredictionRecord:
    """One figure of ``predictions.jsonl``; ``where`` says where it came from (file and line).
    An unreadable figure of unknown size has ``height = width = 0``."""

    case_id: str
    file_name: str
    height: int
    width: int
    status: str
    annotation: str
    image_score: Optional[float]
    seconds: Optional[float]
    instances: Tuple[PredictedInstance, ...]
    error: Optional[str] = None
    where: str = ""

    @property
    def shape(self) -> Tuple[int, int]:
        """``(height, width)`` of the figure."""
        return self.height, self.width

    @property
    def flagged(self) -> bool:
        """True when the submission row reports a forgery."""
        return self.annotation != AUTHENTIC

    @property
    def readable(self) -> bool:
        return self.status == "ok"


def _fail(where, message):
    raise PredictionsError(f"{where}: {message}")


def _require(obj, key, where, context=""):
    if key not in obj:
        _fail(where, f"missing key {key!r}{context}")
    return obj[key]


def _int(value, key, where):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        _fail(where, f"{key!r} must be a positive integer, got {value!r}")
    return value


def _number(value, key, where, allow_none=False, minimum=None):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(where, f"{key!r} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        _fail(where, f"{key!r} must be >= {minimum}, got {value!r}")
    return float(value)


def _runs(rle, key, shape, where):
    try:
        return parse_rle(rle, shape)
    except RLEError as e:
        _fail(where, f"{key}: {e}")


def _transform(value, key, where):
    if value is None:
        return None
    matrix = np.asarray(value, dtype=object)
    if matrix.shape != (2, 3) or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) for v in matrix.ravel()
    ):
        _fail(
            where,
            f"{key} must be a 2x3 list of numbers [[a, b, tx], [c, d, ty]] or null, "
            f"got {json.dumps(value)[:80]}",
        )
    matrix = matrix.astype(np.float64)
    if not np.isfinite(matrix).all():
        _fail(where, f"{key} has a non-finite value: {value}")
    return matrix


def _evidence(value, key, where):
    if not isinstance(value, dict):
        _fail(where, f"{key} must be an object with a 'method', got {type(value).__name__}")
    method = value.get("method")
    if method not in EVIDENCE_METHODS:
        _fail(where, f"{key}.method must be one of {list(EVIDENCE_METHODS)}, got {method!r}")
    for name, v in value.items():
        if name != "method" and not isinstance(v, (int, float, bool)):
            _fail(where, f"{key}.{name} must be a number, got {v!r}")
    return dict(value)


def _part(obj, key, shape, where):
    if not isinstance(obj, dict):
        _fail(where, f"{key} must be an object, got {type(obj).__name__}")
    return CopyMovePart(
        source=_runs(_require(obj, "source", where, f" in {key}"), f"{key}.source", shape, where),
        copy=_runs(_require(obj, "copy", where, f" in {key}"), f"{key}.copy", shape, where),
        transform=_transform(obj.get("transform"), f"{key}.transform", where),
        score=_number(_require(obj, "score", where, f" in {key}"), f"{key}.score", where),
        evidence=_evidence(
            _require(obj, "evidence", where, f" in {key}"), f"{key}.evidence", where
        ),
    )


def _instance(obj, key, shape, where):
    if not isinstance(obj, dict):
        _fail(where, f"{key} must be an object, got {type(obj).__name__}")
    parts = _require(obj, "parts", where, f" in {key}")
    if not isinstance(parts, list):
        _fail(where, f"{key}.parts must be a list, got {type(parts).__name__}")
    return PredictedInstance(
        score=_number(_require(obj, "score", where, f" in {key}"), f"{key}.score", where),
        mask=_runs(_require(obj, "mask", where, f" in {key}"), f"{key}.mask", shape, where),
        parts=tuple(_part(p, f"{key}.parts[{j}]", shape, where) for j, p in enumerate(parts)),
    )


def parse_record(obj, where: str) -> PredictionRecord:
    """Validate one decoded JSON object; ``where`` (e.g. ``"p.jsonl line 3"``) prefixes errors."""
    if not isinstance(obj, dict):
        _fail(where, f"a record must be a JSON object, got {type(obj).__name__}")
    case_id = _require(obj, "case_id", where)
    if not isinstance(case_id, str) or not case_id.strip():
        _fail(where, f"'case_id' must be a non-empty string, got {case_id!r}")
    where = f"{where} (case_id {case_id})"
    file_name = _require(obj, "file_name", where)
    if not isinstance(file_name, str) or not file_name:
        _fail(where, f"'file_name' must be a non-empty string, got {file_name!r}")
    status = _require(obj, "status", where)
    if status not in STATUSES:
        _fail(where, f"'status' must be one of {list(STATUSES)}, got {status!r}")
    height, width = _require(obj, "height", where), _require(obj, "width", where)
    if status == "unreadable" and height in (0, None) and width in (0, None):
        shape = (0, 0)  # the size of an unreadable image may be unknown
    else:
        shape = (_int(height, "height", where), _int(width, "width", where))
    error = obj.get("error")
    if status == "unreadable" and (not isinstance(error, str) or not error):
        _fail(where, "an unreadable figure needs its 'error' message (a non-empty string)")
    annotation = _require(obj, "annotation", where)
    try:
        parsed = parse_annotation(annotation, shape)
    except RLEError as e:
        _fail(where, f"annotation: {e}")
    instances = _require(obj, "instances", where)
    if not isinstance(instances, list):
        _fail(where, f"'instances' must be a list, got {type(instances).__name__}")
    instances = tuple(
        _instance(x, f"instances[{i}]", shape, where) for i, x in enumerate(instances)
    )
    if (parsed is None) != (not instances):
        _fail(
            where,
            f"annotation is {'authentic' if parsed is None else 'forged'} but there are "
            f"{len(instances)} instance(s); they must agree",
        )
    if status == "unreadable" and parsed is not None:
        _fail(where, "an unreadable figure must be written 'authentic'")
    readable = status == "ok"
    return PredictionRecord(
        case_id=case_id,
        file_name=file_name,
        height=shape[0],
        width=shape[1],
        status=status,
        annotation=annotation,
        image_score=_number(obj.get("image_score"), "image_score", where, allow_none=not readable),
        seconds=_number(obj.get("seconds"), "seconds", where, allow_none=not readable, minimum=0),
        instances=instances,
        error=error if status == "unreadable" else None,
        where=where,
    )


def read_predictions(path) -> Iterator[PredictionRecord]:
    """Stream validated records from a ``predictions.jsonl`` file (blank lines are skipped).

    Raises :class:`PredictionsError` naming the file and line for invalid JSON, a record that breaks
    the contract, or a case_id seen twice (with the line of its first occurrence).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PredictionsError(f"predictions file not found: {path}")
    seen = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path} line {number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise PredictionsError(
                    f"{where}: not valid JSON ({e.msg} at column {e.colno}): {line.strip()[:60]!r}"
                ) from None
            record = parse_record(obj, where)
            if record.case_id in seen:
                raise PredictionsError(
                    f"{record.where}: duplicate case_id, first seen on line {seen[record.case_id]}"
                )
            seen[record.case_id] = number
            yield record


def as_records(records) -> Iterator[PredictionRecord]:
    """Records from a ``predictions.jsonl`` path, or from an iterable of records / JSON dicts
    (dicts are validated; errors name their position, ``record k``)."""
    if isinstance(records, (str, os.PathLike)):
        yield from read_predictions(records)
        return
    seen = {}
    for k, record in enumerate(_iterate(records)):
        if not isinstance(record, PredictionRecord):
            record = parse_record(record, f"record {k}")
        if record.case_id in seen:
            raise PredictionsError(
                f"{record.where or f'record {k}'}: duplicate case_id, first "
                f"seen as record {seen[record.case_id]}"
            )
        seen[record.case_id] = k
        yield record


def _iterate(records) -> Iterable:
    try:
        return iter(records)
    except TypeError:
        raise PredictionsError(
            "records must be a predictions.jsonl path or an iterable of "
            f"records, got {type(records).__name__}"
        ) from None
