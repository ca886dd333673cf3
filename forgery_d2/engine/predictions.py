"""Per-figure prediction records (``predictions.jsonl``): one JSON object per line per figure.

``tools/predict.py`` writes them as it goes and builds the submission CSV from them; the analyst's
report (``forgery_d2.report``) reads them. One record::

    {"case_id": str, "file_name": str (image path), "height": int, "width": int,
     "status": "ok" | "unreadable", "error": str (only when unreadable),
     "annotation": str,      # exactly the submission row ("authentic" or ";"-joined RLEs)
     "image_score": float,   # image-level score the decision compared with its threshold
     "seconds": float,       # inference seconds for this figure
     "instances": [          # final instances after the decision rule, best first; [] = authentic
       {"score": float,
        "mask": [start, length, ...],          # competition RLE (column-major, 1-based)
        "parts": [                             # the copy-move pairs merged into this instance;
                                               # [] for an instance the network found without a pair
          {"source": RLE, "copy": RLE,         # competition RLEs of the source region and its copy
           "transform": [[a, b, tx], [c, d, ty]] | null,   # 2x3 affine, source (x, y) -> copy
           "score": float,
           "evidence": {"method": "keypoint" | "panel" | "grain" | "dense" | "network", ...numbers}}]}]}

Parts come from the model output: when its Instances carry ``pred_source_masks`` /
``pred_copy_masks`` (and optionally ``pred_transforms`` / ``pred_evidence``), as
``CopyMoveMatcher`` does, every output instance merged into a final instance
(``Decision.members``) is one part; otherwise ``parts`` is ``[]``. An unreadable image has height
and width 0 when even its header cannot be read.

Durability (a screening run can be killed at any moment): :class:`RecordWriter` appends each record
as one whole line with a single ``os.write`` on an ``O_APPEND`` descriptor, so once written it is in
the operating system's hands and a SIGKILL of the process cannot lose it; ``fsync`` runs at most
every ``sync_seconds`` and on close (what a power failure can lose). A kill in the middle of a
write leaves a torn last line: :func:`read_records` ignores it and :class:`RecordWriter` cuts it off
before appending.
"""

import json
import logging
import os
import time

from forgery_d2.competition.rle import AUTHENTIC, rle_encode, runs_to_rle
from forgery_d2.structures.masks import to_numpy

__all__ = [
    "figure_record",
    "unreadable_record",
    "instance_parts",
    "RecordWriter",
    "read_records",
    "read_record_at",
    "repair_tail",
]

logger = logging.getLogger(__name__)


def instance_parts(instances, members) -> list:
    """The copy-move parts (source, copy, transform, score, evidence) of the output instances
    ``members`` (indices into ``instances``); ``[]`` when the output has no parts."""
    if instances is None or not (
        instances.has("pred_source_masks") and instances.has("pred_copy_masks")
    ):
        return []
    transforms = to_numpy(instances.pred_transforms) if instances.has("pred_transforms") else None
    evidence = instances.pred_evidence if instances.has("pred_evidence") else None
    scores = to_numpy(instances.scores)
    parts = []
    for index in members:
        source = to_numpy(instances.pred_source_masks[index])
        copy = to_numpy(instances.pred_copy_masks[index])
        if not (source.any() and copy.any()):
            continue  # no pair behind this member (e.g. a network instance fused with matcher ones)
        parts.append(
            {
                "source": rle_encode(source),
                "copy": rle_encode(copy),
                "transform": None
                if transforms is None
                else [[float(v) for v in row] for row in transforms[index]],
                "score": float(scores[index]),
                "evidence": dict(evidence[index])
                if evidence is not None
                else {"method": "network"},
            }
        )
    return parts


def figure_record(case_id, file_name, output, decision, seconds) -> dict:
    """The record of a figure the model ran on: ``output`` is the model's output dict
    (``{"instances": Instances, ...}``), ``decision`` the
    :class:`~forgery_d2.evaluation.decision.Decision` made from it, ``seconds`` the figure's inference time."""
    instances = output.get("instances")
    height, width = (int(v) for v in decision.masks.shape[1:])
    final = []
    for k in range(len(decision.masks)):
        final.append(
            {
                "score": float(decision.scores[k]),
                "mask": runs_to_rle(decision.runs[k]),
                "parts": instance_parts(
                    instances, decision.members[k] if k < len(decision.members) else []
                ),
            }
        )
    return {
        "case_id": str(case_id),
        "file_name": str(file_name),
        "height": height,
        "width": width,
        "status": "ok",
        "annotation": decision.annotation,
        "image_score": float(decision.image_score),
        "seconds": round(float(seconds), 6),
        "instances": final,
    }


def unreadable_record(case_id, file_name, error, height=0, width=0) -> dict:
    """The record of a figure that could not be read: written ``authentic`` (the submission needs a
    row for every figure), with the reason."""
    return {
        "case_id": str(case_id),
        "file_name": str(file_name),
        "height": int(height),
        "width": int(width),
        "status": "unreadable",
        "error": str(error),
        "annotation": AUTHENTIC,
        "image_score": 0.0,
        "seconds": 0.0,
        "instances": [],
    }


def repair_tail(path) -> int:
    """Cut a torn last line (no final newline: a write interrupted by a kill) off a records file;
    returns the number of bytes removed (0 when the file ends cleanly or does not exist)."""
    if not os.path.exists(path):
        return 0
    size = os.path.getsize(path)
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        # Find the last newline, reading backwards in blocks.
        end = size
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            block = f.read(end - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    logger.warning(
        f"{path}: removed a torn last record ({size - keep} bytes) left by an interrupted run"
    )
    return size - keep


class RecordWriter:
    """Appends records to a JSON-lines file durably (see the module docstring); a context
    manager."""

    def __init__(self, path, sync_seconds: float = 2.0):
        self.path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        repair_tail(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._sync_seconds = sync_seconds
        self._last_sync = time.monotonic()

    def write(self, record: dict):
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        view = memoryview(line)
        while view:  # os.write on a regular file writes everything; loop for the rare short write
            view = view[os.write(self._fd, view) :]
        if time.monotonic() - self._last_sync >= self._sync_seconds:
            self.sync()

    def sync(self):
        os.fsync(self._fd)
        self._last_sync = time.monotonic()

    def close(self):
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def read_records(path, with_offsets=False):
    """The records of a JSON-lines file, in file order (with ``with_offsets``: ``(byte offset,
    record)`` pairs, for :func:`read_record_at`). A torn last line is ignored; a damaged line
    elsewhere is skipped with a warning (its figure counts as not done)."""
    offset = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                break  # torn last line
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "case_id" not in record:
                    raise ValueError("not a record")
            except ValueError as e:
                logger.warning(f"{path} line {number}: skipped a damaged record ({e})")
                continue
            yield (start, record) if with_offsets else record


def read_record_at(f, offset) -> dict:
    """The record starting at ``offset`` of an open (binary) records file."""
    f.seek(offset)
    return json.loads(f.readline())
