"""Write a synthetic copy-move dataset in the competition's exact layout.

``generate_dataset(output_dir, num_images, num_test, seed)`` writes::

    train_images/authentic/<case_id>.png   authentic images
    train_images/forged/<case_id>.png      the same images after 1-3 copy-moves (same case_ids)
    train_masks/<case_id>.npy              uint8 0/1 (N, H, W): one channel per copy-move event
    test_images/<case_id>.png              held-out images, about half forged (other source pixels)
    test_masks/<case_id>.npy               masks of the forged test images
    solution.csv                           case_id,annotation,shape for every test image
    sample_submission.csv                  case_id,annotation (all "authentic")
    cases.jsonl                            per image: split, kind, colour mode, source files, events

Every case is drawn from its own generator seeded by ``(seed, split, index)``, so the output is
byte-identical for a given seed whatever the number of worker processes.
"""

import json
import multiprocessing
import os
import shutil
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from forgery_d2.competition.rle import AUTHENTIC, encode_annotation
from forgery_d2.competition.submission import SOLUTION_COLUMNS, SUBMISSION_COLUMNS, write_csv

from .copy_move import CopyMoveOptions, ForgeryPlacementError, make_forgery
from .sources import SourceOptions, sample_authentic

__all__ = [
    "SyntheticCase",
    "SyntheticOptions",
    "TEST_CASE_ID_OFFSET",
    "map_cases",
    "case_rng",
    "generate_case",
    "generate_dataset",
    "forged_test_flags",
    "init_worker",
    "prepare_output",
    "write_png",
    "write_solution",
]

TEST_CASE_ID_OFFSET = 1_000_000  # test case_ids start here, so they never collide with train ones
_OUTPUTS = (
    "train_images",
    "train_masks",
    "test_images",
    "test_masks",
    "solution.csv",
    "sample_submission.csv",
    "cases.jsonl",
)
_SPLIT_CODE = {"train": 0, "test": 1}


@dataclass
class SyntheticOptions:
    """Everything that shapes the synthetic data besides its size and seed."""

    sources: SourceOptions = field(default_factory=SourceOptions)
    forgery: CopyMoveOptions = field(default_factory=CopyMoveOptions)
    test_forged_fraction: float = 0.5  # share of forged images in the test set
    max_redraws: int = 20  # authentic images redrawn when no copy-move fits in one


@dataclass
class SyntheticCase:
    """One generated case: an authentic image and, if forged, its forgery and masks."""

    case_id: str
    split: str
    authentic: np.ndarray
    forged: np.ndarray = None  # None for an authentic test image
    masks: np.ndarray = None  # (N, H, W) uint8
    record: dict = None  # JSON-able description (cases.jsonl)


def case_rng(seed, split, index):
    """The random generator of one case: independent of every other case and of worker count."""
    return np.random.default_rng([int(seed), _SPLIT_CODE[split], int(index)])


def generate_case(seed, split, index, forged=True, options=None):
    """Generate case ``index`` of ``split`` ("train" or "test"); ``forged=False`` skips the forgery."""
    opts = options or SyntheticOptions()
    rng = case_rng(seed, split, index)
    case_id = str(index if split == "train" else TEST_CASE_ID_OFFSET + index)
    for _ in range(opts.max_redraws):
        source = sample_authentic(rng, split, opts.sources)
        record = {
            "case_id": case_id,
            "split": split,
            "kind": source.kind,
            "color_mode": source.color_mode,
            "height": source.image.shape[0],
            "width": source.image.shape[1],
            "sources": source.sources,
        }
        if not forged:
            return SyntheticCase(
                case_id, split, source.image, record=dict(record, forged=False, events=[])
            )
        try:
            image, masks, events = make_forgery(
                source.image, rng, options=opts.forgery, anchors=source.anchors
            )
        except ForgeryPlacementError:
            continue  # too flat or too small: draw another authentic image
        record.update(
            forged=True,
            forged_fraction=round(float(masks.any(axis=0).mean()), 6),
            events=[e.to_dict() for e in events],
        )
        return SyntheticCase(case_id, split, source.image, image, masks, record)
    raise ForgeryPlacementError(
        f"case {split}/{index}: no copy-move fitted in {opts.max_redraws} authentic images"
    )


def write_png(path, image):
    """Write a uint8 grey / RGB / RGBA array as PNG (OSError naming the file when it fails)."""
    if image.ndim == 3:
        image = cv2.cvtColor(
            image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        )
    if not cv2.imwrite(path, image):
        raise OSError(f"could not write {path}")


def _write_case(task):
    """Generate and write one case (runs in worker processes); returns its record."""
    output_dir, seed, split, index, forged, options = task
    case = generate_case(seed, split, index, forged, options)
    cid = case.case_id
    if split == "train":
        write_png(
            os.path.join(output_dir, "train_images", "authentic", cid + ".png"), case.authentic
        )
        write_png(os.path.join(output_dir, "train_images", "forged", cid + ".png"), case.forged)
        np.save(os.path.join(output_dir, "train_masks", cid + ".npy"), case.masks)
    else:
        write_png(
            os.path.join(output_dir, "test_images", cid + ".png"),
            case.forged if forged else case.authentic,
        )
        if forged:
            np.save(os.path.join(output_dir, "test_masks", cid + ".npy"), case.masks)
    record = dict(case.record)
    record["annotation"] = encode_annotation(case.masks) if forged else AUTHENTIC
    return record


def map_cases(function, tasks, workers, desc, progress, chunksize=2):
    """``[function(task) for task in tasks]``, in order, in ``workers`` processes when > 1, with a
    tqdm progress bar. Workers are spawned, not forked: forking a process whose OpenCV / torch
    thread pools already ran can deadlock the children (seen in the test suite)."""
    bar = dict(total=len(tasks), desc=desc, unit="case", disable=not progress)
    if workers > 1 and len(tasks) > 1:
        with multiprocessing.get_context("spawn").Pool(workers, initializer=init_worker) as pool:
            return list(tqdm(pool.imap(function, tasks, chunksize=chunksize), **bar))
    return [function(task) for task in tqdm(tasks, **bar)]


def init_worker():
    """Worker process setup: one OpenCV thread per process."""
    cv2.setNumThreads(1)


def prepare_output(output_dir, overwrite, outputs=_OUTPUTS):
    """Create the dataset folders; existing ``outputs`` are an error unless ``overwrite``."""
    existing = [n for n in outputs if os.path.exists(os.path.join(output_dir, n))]
    if existing and not overwrite:
        raise FileExistsError(
            f"{output_dir} already holds a dataset ({', '.join(existing)}); pass overwrite=True "
            "(--overwrite) to replace it"
        )
    for name in existing:
        path = os.path.join(output_dir, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    for sub in (
        "train_images/authentic",
        "train_images/forged",
        "train_masks",
        "test_images",
        "test_masks",
    ):
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)


def generate_dataset(
    output_dir,
    num_images=100,
    num_test=50,
    seed=0,
    options=None,
    workers=1,
    overwrite=False,
    progress=True,
):
    """Write ``num_images`` train pairs and ``num_test`` test images under ``output_dir``.

    Args:
        output_dir: dataset root (created); see the module docstring for the layout.
        num_images: number of train cases (each one authentic + one forged image).
        num_test: number of test images, ``options.test_forged_fraction`` of them forged.
        seed: the output is byte-identical for the same seed and options.
        options: ``SyntheticOptions``.
        workers: processes used (1 = in this process).
        overwrite: replace an existing dataset in ``output_dir`` (else FileExistsError).
        progress: show a tqdm progress bar.

    Returns a summary dict: counts, source kinds, colour modes and forged pixel fraction quantiles.
    """
    opts = options or SyntheticOptions()
    opts.sources.validate()
    if num_images < 0 or num_test < 0:
        raise ValueError(f"num_images and num_test must be >= 0, got {num_images}, {num_test}")
    prepare_output(output_dir, overwrite)
    test_forged = forged_test_flags(seed, num_test, opts.test_forged_fraction)
    tasks = [(output_dir, seed, "train", i, True, opts) for i in range(num_images)]
    tasks += [(output_dir, seed, "test", j, bool(test_forged[j]), opts) for j in range(num_test)]

    records = map_cases(_write_case, tasks, workers, "synthetic", progress, chunksize=4)

    with open(os.path.join(output_dir, "cases.jsonl"), "w") as f:
        for r in records:
            f.write(
                json.dumps({k: v for k, v in r.items() if k != "annotation"}, sort_keys=True) + "\n"
            )
    write_solution(output_dir, [r for r in records if r["split"] == "test"])
    return summarize(records)


def forged_test_flags(seed, num_test, forged_fraction):
    """Which test images are forged: a seeded choice of ``round(num_test * forged_fraction)``."""
    flags = np.zeros(num_test, bool)
    order = np.random.default_rng([int(seed), 2]).permutation(num_test)
    flags[order[: int(round(num_test * forged_fraction))]] = True
    return flags


def write_solution(output_dir, test_records):
    """solution.csv (case_id,annotation,shape) and sample_submission.csv (all authentic).

    ``test_records``: dicts with case_id, annotation, height and width, in case order.
    """
    write_csv(
        os.path.join(output_dir, "solution.csv"),
        SOLUTION_COLUMNS,
        [(r["case_id"], r["annotation"], f"[{r['height']}, {r['width']}]") for r in test_records],
    )
    write_csv(
        os.path.join(output_dir, "sample_submission.csv"),
        SUBMISSION_COLUMNS,
        [(r["case_id"], AUTHENTIC) for r in test_records],
    )


def summarize(records):
    """Counts and forged pixel fraction quantiles of generated case records."""
    forged = [r for r in records if r["forged"]]
    fractions = np.array([r["forged_fraction"] for r in forged]) if forged else np.zeros(1)
    count = lambda key: {
        v: sum(r[key] == v for r in records) for v in sorted({r[key] for r in records})
    }
    return {
        "train_cases": sum(r["split"] == "train" for r in records),
        "test_images": sum(r["split"] == "test" for r in records),
        "test_forged": sum(r["split"] == "test" and r["forged"] for r in records),
        "kinds": count("kind"),
        "color_modes": count("color_mode"),
        "events_per_forged_image": {
            n: sum(len(r["events"]) == n for r in forged) for n in (1, 2, 3)
        },
        "forged_fraction_p05_median_p95": [
            round(float(np.quantile(fractions, q)), 4) for q in (0.05, 0.5, 0.95)
        ],
    }
