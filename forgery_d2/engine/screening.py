"""Screening a folder of figures at scale: the engine of ``tools/predict.py``.

- **Listing**: :func:`forgery_d2.data.io.list_images` (sorted by path; case_id = file stem). Only
  the paths are held (100,000 names are a few MB); images and outputs are never accumulated.
- **Shards**: figure ``i`` of the listing goes to rank ``i % world_size``: disjoint, balanced and
  independent of speed. Ranks are processes started by :func:`forgery_d2.engine.launch.launch`.
- **Records**: each rank appends one record per figure (:mod:`forgery_d2.engine.predictions`) to
  its own part file ``<records>.part-<rank>-of-<world size>``, as soon as the figure is done.
- **Resume**: every rank reads the case_ids already recorded in all part files and in the
  assembled records file (whatever world size wrote them) and skips them. A kill loses only the
  figures in flight; a torn last line is cut off and that figure is done again.
- **Assembly** (rank 0, once every rank has finished): every figure of the listing must have a
  record (the first one found is used); the records file (``predictions.jsonl``) and the submission
  CSV are written in listing order, each to a temporary file then renamed, and the part files are
  removed. So the submission is byte-identical to an uninterrupted run's, as long as the model's
  output for a figure depends on that figure only (one figure per forward pass, the default).
- **Run fingerprint** (``<records>.run.json``): the model and input config, the ``MODEL.WEIGHTS``
  file, the decision rule and the input folder. ``--resume`` refuses to mix records of another run.
"""

import glob
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import List, Optional

import cv2
import torch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from tqdm import tqdm

from forgery_d2.competition.rle import AUTHENTIC
from forgery_d2.competition.submission import SUBMISSION_COLUMNS, SubmissionError, write_csv
from forgery_d2.config import ConfigError, load_config
from forgery_d2.data.io import DataError, image_size, list_images, read_mask
from forgery_d2.evaluation.decision import DecisionRule
from forgery_d2.evaluation.visualize import draw_decision

from .predictions import (
    RecordWriter,
    figure_record,
    read_record_at,
    read_records,
    unreadable_record,
)
from .predictor import BatchPredictor, ImageFolder

__all__ = [
    "ScreeningOptions",
    "records_path_for",
    "part_path",
    "record_files",
    "finished_case_ids",
    "shard_of",
    "run_fingerprint",
    "prepare_run",
    "screen_worker",
    "screen_shard",
    "assemble",
    "ScreeningError",
    "MAX_BATCH_PIXELS",
    "EXIT_INVALID",
]

logger = logging.getLogger(__name__)

EXIT_INVALID = 2  # exit code of a run stopped by bad input
# a forward pass holds at most this many input pixels (one 4000 px figure)
MAX_BATCH_PIXELS = 16_000_000


class ScreeningError(ValueError):
    """A screening run that cannot start or finish as asked (existing records without --resume,
    records of another run, figures without a record at assembly): the message says what to do."""


@dataclass
class ScreeningOptions:
    """What a screening run was asked to do (picklable: sent to every process)."""

    config_file: str
    input_dir: str
    output: str  # the submission CSV
    records: str  # the assembled records file (predictions.jsonl)
    opts: tuple = ()
    decision: Optional[str] = None  # decision-rule YAML overlay
    batch_size: int = 1  # figures per forward pass
    num_workers: int = 2  # image-reading processes per rank
    strict: bool = False  # stop (exit 2) at an unreadable figure instead of recording it
    resume: bool = False
    overwrite: bool = False  # delete the records of an earlier run first (start over)
    vis: Optional[str] = None
    gt_masks: Optional[str] = None
    verbose: bool = False


def records_path_for(output: str) -> str:
    """The default records file of a submission CSV: ``<output without .csv>.predictions.jsonl``."""
    stem = output[:-4] if output.lower().endswith(".csv") else output
    return stem + ".predictions.jsonl"


def part_path(records: str, rank: int, world_size: int) -> str:
    return f"{records}.part-{rank:05d}-of-{world_size:05d}"


def record_files(records: str) -> List[str]:
    """Existing files holding records of this run: the assembled file first, then the part files."""
    parts = sorted(glob.glob(glob.escape(records) + ".part-*-of-*"))
    return ([records] if os.path.isfile(records) else []) + parts


def finished_case_ids(records: str) -> set:
    """case_ids with a complete record in any file of this run."""
    done = set()
    for path in record_files(records):
        done.update(str(r["case_id"]) for r in read_records(path))
    return done


def shard_of(num_figures: int, rank: int, world_size: int) -> range:
    """Indices of the listing that ``rank`` screens: ``rank, rank + world_size, ...``."""
    return range(rank, num_figures, world_size)


def run_fingerprint(cfg, input_dir: str) -> dict:
    """What the records of a run depend on (compared by ``--resume``)."""
    weights = cfg.MODEL.WEIGHTS
    weights_file = None
    if weights and os.path.isfile(weights):
        stat = os.stat(weights)
        weights_file = [os.path.abspath(weights), stat.st_size, stat.st_mtime_ns]
    model = hashlib.sha1((cfg.MODEL.dump() + cfg.INPUT.dump()).encode()).hexdigest()[:16]
    return {
        "input": os.path.abspath(input_dir),
        "model_config": model,
        "weights": weights,
        "weights_file": weights_file,
        "decision": DecisionRule.from_config(cfg).to_config_dict(),
    }


def _load_run_config(options: ScreeningOptions):
    return load_config(options.config_file, options.opts, overlays=[options.decision])


def prepare_run(options: ScreeningOptions) -> int:
    """Checks made once, before any process starts: the config loads, the folder has images, the
    records of a previous run are resumed only with ``--resume`` and only if they belong to the same
    run (fingerprint), or deleted with ``--overwrite``. Writes the fingerprint; returns the number
    of figures."""
    cfg = _load_run_config(options)
    figures = len(list_images(options.input_dir))
    if figures == 0:
        raise DataError(f"no image (.png/.jpg/.tif/...) in {options.input_dir}")
    fingerprint_path = options.records + ".run.json"
    if options.overwrite:
        for path in record_files(options.records) + [fingerprint_path]:
            if os.path.exists(path):
                os.remove(path)
    existing = record_files(options.records)
    fingerprint = run_fingerprint(cfg, options.input_dir)
    if existing and not options.resume:
        raise ScreeningError(
            f"{existing[0]} holds records of an earlier run: pass --resume to continue it, or "
            "--overwrite to start over"
        )
    if options.resume and os.path.isfile(fingerprint_path):
        with open(fingerprint_path) as f:
            previous = json.load(f)
        differences = [
            f"{key} {previous.get(key)!r} (this run: {value!r})"
            for key, value in fingerprint.items()
            if previous.get(key) != value
        ]
        if differences:
            raise ScreeningError(
                f"--resume: the records in {options.records} were written by another run: "
                + "; ".join(differences)
            )
    os.makedirs(os.path.dirname(os.path.abspath(options.records)), exist_ok=True)
    with open(fingerprint_path, "w") as f:
        json.dump(fingerprint, f, indent=1)
    return figures


def _pixel_groups(items, max_pixels=MAX_BATCH_PIXELS):
    """Consecutive groups of images whose pixel count stays under ``max_pixels`` (at least one image
    per group): a batch of 4000 px figures never holds several full-size outputs at once."""
    group, pixels = [], 0
    for item in items:
        size = item["image"].shape[0] * item["image"].shape[1]
        if group and pixels + size > max_pixels:
            yield group
            group, pixels = [], 0
        group.append(item)
        pixels += size
    if group:
        yield group


def _unreadable(item):
    try:
        height, width = image_size(item["file_name"])
    except DataError:
        height, width = 0, 0
    return unreadable_record(item["case_id"], item["file_name"], item["error"], height, width)


def _to_rgb(image, image_format):
    if image_format == "BGR":
        return image[..., ::-1]
    if image_format == "L":
        return image.repeat(3, axis=2)
    return image


def _write_overlay(options, item, decision, image_format):
    gt = None
    if options.gt_masks:
        path = os.path.join(options.gt_masks, item["case_id"] + ".npy")
        if os.path.exists(path):
            try:
                gt = read_mask(path, item["image"].shape[:2])
            except DataError as e:
                logger.warning(f"ground truth not drawn: {e}")
    overlay = draw_decision(
        _to_rgb(item["image"], image_format), decision, gt, title=item["case_id"]
    )
    cv2.imwrite(os.path.join(options.vis, item["case_id"] + ".png"), overlay[..., ::-1])


def screen_shard(
    cfg,
    options: ScreeningOptions,
    paths: List[str],
    rank: int,
    world_size: int,
    predictor=None,
    position: int = 0,
) -> dict:
    """Screen this rank's shard of ``paths`` (the sorted listing), skipping figures already
    recorded; returns counts ``{"shard", "skipped", "done", "unreadable"}``."""
    rule = DecisionRule.from_config(cfg)
    done = finished_case_ids(options.records)
    shard = [paths[i] for i in shard_of(len(paths), rank, world_size)]
    todo = [p for p in shard if os.path.splitext(os.path.basename(p))[0] not in done]
    counts = {"shard": len(shard), "skipped": len(shard) - len(todo), "done": 0, "unreadable": 0}
    if not todo:
        return counts
    predictor = predictor or BatchPredictor(cfg)
    loader = torch.utils.data.DataLoader(
        ImageFolder(todo, cfg.INPUT.FORMAT),
        batch_size=options.batch_size,
        num_workers=options.num_workers,
        collate_fn=list,
    )
    if options.vis:
        os.makedirs(options.vis, exist_ok=True)
    progress = tqdm(
        total=len(shard),
        initial=counts["skipped"],
        unit="fig",
        position=position,
        mininterval=1.0,
        desc=f"predict rank {rank}/{world_size}" if world_size > 1 else "predict",
        dynamic_ncols=True,
    )
    with RecordWriter(part_path(options.records, rank, world_size)) as writer:
        for batch in loader:
            readable = [item for item in batch if "error" not in item]
            for item in batch:
                if "error" in item:
                    if options.strict:
                        raise DataError(item["error"])
                    logger.error(f"unreadable image, written as '{AUTHENTIC}': {item['error']}")
                    writer.write(_unreadable(item))
                    counts["unreadable"] += 1
            for group in _pixel_groups(readable):
                start = time.perf_counter()
                outputs = predictor(
                    [item["image"] for item in group], [item["file_name"] for item in group]
                )
                seconds = (time.perf_counter() - start) / len(group)
                for item, output in zip(group, outputs):
                    decision = rule(output)
                    writer.write(
                        figure_record(item["case_id"], item["file_name"], output, decision, seconds)
                    )
                    if options.vis:
                        _write_overlay(options, item, decision, cfg.INPUT.FORMAT)
                del outputs
            counts["done"] += len(batch)
            progress.update(len(batch))
    progress.close()
    return counts


def assemble(paths: List[str], records: str, submission: str) -> dict:
    """Merge the records of a finished run into ``records`` and write the submission CSV, both in
    listing order; returns ``{"figures", "forged", "unreadable": [(file_name, error), ...]}``."""
    sources = record_files(records)
    index = {}  # case_id -> (source number, byte offset): offsets only, records stay on disk
    duplicates = 0
    for number, path in enumerate(sources):
        for offset, record in read_records(path, with_offsets=True):
            key = str(record["case_id"])
            if key in index:
                duplicates += 1
            else:
                index[key] = (number, offset)
    case_ids = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    missing = [c for c in case_ids if c not in index]
    if missing:
        raise ScreeningError(
            f"{len(missing)} of {len(case_ids)} figures have no record (first: {missing[0]}); "
            "run again with --resume to finish them"
        )
    if duplicates:
        logger.warning(
            f"{duplicates} figures were recorded twice; the first record of each is used"
        )
    summary = {"figures": len(case_ids), "forged": 0, "unreadable": []}
    files = [open(path, "rb") for path in sources]
    tmp_records, tmp_submission = records + ".tmp", submission + ".tmp"
    try:
        with open(tmp_records, "wb") as out:

            def rows():
                for case_id in case_ids:
                    number, offset = index[case_id]
                    record = read_record_at(files[number], offset)
                    out.write((json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8"))
                    summary["forged"] += record["annotation"] != AUTHENTIC
                    if record.get("status") == "unreadable":
                        summary["unreadable"].append((record["file_name"], record.get("error", "")))
                    yield case_id, record["annotation"]

            write_csv(tmp_submission, SUBMISSION_COLUMNS, rows())
            out.flush()
            os.fsync(out.fileno())
    finally:
        for f in files:
            f.close()
    os.replace(tmp_records, records)
    os.replace(tmp_submission, submission)
    for path in sources:
        if path != records:
            os.remove(path)
    return summary


def _set_threads():
    """CPU processes share the machine's cores (unless OMP_NUM_THREADS says otherwise)."""
    if torch.cuda.is_available() or "OMP_NUM_THREADS" in os.environ:
        return
    threads = max(1, (os.cpu_count() or 1) // comm.get_local_size())
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def _print_summary(options, summary, counts):
    n_unreadable = len(summary["unreadable"])
    print(
        f"wrote {options.output}: {summary['figures']} images, {summary['forged']} predicted "
        f"forged, {summary['figures'] - summary['forged'] - n_unreadable} authentic, "
        f"{n_unreadable} unreadable ({counts['skipped']} of rank 0's figures resumed from earlier "
        f"records); records: {options.records}"
    )
    for file_name, error in summary["unreadable"][:20]:
        print(f"  unreadable (written as authentic): {file_name}: {error}")
    if n_unreadable > 20:
        print(
            f"  ... and {n_unreadable - 20} more unreadable (status 'unreadable' in "
            f"{options.records})"
        )


def screen_worker(options: ScreeningOptions):
    """One process of a screening run (every rank runs it): its shard, then, on rank 0 once every
    rank is done, the assembly and the summary. Bad input ends the process with one line
    (exit 2)."""
    setup_logger(name="forgery_d2", distributed_rank=comm.get_rank()).setLevel(
        logging.DEBUG if options.verbose else logging.INFO
    )
    _set_threads()
    rank, world_size = comm.get_rank(), comm.get_world_size()
    try:
        cfg = _load_run_config(options)
        paths = list_images(options.input_dir)
        counts = screen_shard(cfg, options, paths, rank, world_size, position=comm.get_local_rank())
        comm.synchronize()  # every shard finished
        if comm.is_main_process():
            summary = assemble(paths, options.records, options.output)
            _print_summary(options, summary, counts)
            return summary
        return None
    except (DataError, ConfigError, SubmissionError, ScreeningError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_INVALID)
