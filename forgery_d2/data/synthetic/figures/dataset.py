"""Write the figures dataset: the competition's layout, layout boxes as COCO, per-image records.

``generate_figures_dataset(output_dir, num_images, num_test, seed)`` writes::

    train_images/authentic/<case_id>.png   authentic figures
    train_images/forged/<case_id>.png      the same figures after 1-3 duplications (same case_ids)
    train_masks/<case_id>.npy              uint8 0/1 (N, H, W): one channel per event
    test_images/<case_id>.png              held-out figures, about half forged
    test_masks/<case_id>.npy               masks of the forged test figures
    solution.csv                           case_id,annotation,shape for every test image
    sample_submission.csv                  case_id,annotation (all "authentic")
    cases.jsonl                            one record per written image (see FigureCase.record)
    layout_train.json                      COCO boxes of every train image (authentic and forged)
    layout_test.json                       COCO boxes of every test image

Layout JSON: "images" (``id``, ``file_name`` relative to the dataset root, ``height``, ``width``),
"categories" ``panel`` (1), ``text`` (2), ``mark`` (3), "annotations" (``bbox`` [x, y, w, h] in px,
``area``, ``category_id``, ``iscrowd`` 0, ``image_id``, ``id``). Image ids count train images first,
then test images, in case order; annotation ids count in the same order.

Every case comes from its own generator seeded by ``(seed, split, index)``: the files are
byte-identical for a given seed whatever the number of worker processes.
"""

import json
import os
from collections import Counter

import numpy as np

from forgery_d2.competition.rle import AUTHENTIC, encode_annotation

from ..generator import forged_test_flags, map_cases, prepare_output, write_png, write_solution
from .case import LAYOUT_CATEGORIES, FigureOptions, generate_figure_case

__all__ = ["LAYOUT_FILES", "OUTPUTS", "generate_figures_dataset", "summarize_figures"]

LAYOUT_FILES = {"train": "layout_train.json", "test": "layout_test.json"}
OUTPUTS = (
    "train_images",
    "train_masks",
    "test_images",
    "test_masks",
    "solution.csv",
    "sample_submission.csv",
    "cases.jsonl",
    LAYOUT_FILES["train"],
    LAYOUT_FILES["test"],
)


def _write_case(task):
    """Generate and write one case (runs in worker processes); returns its per-image entries."""
    output_dir, seed, split, index, forged, options = task
    case = generate_figure_case(seed, split, index, forged, options)
    cid = case.case_id
    h, w = case.authentic.shape[:2]
    if split == "train":
        images = [
            (f"train_images/authentic/{cid}.png", case.authentic, False),
            (f"train_images/forged/{cid}.png", case.forged, True),
        ]
        np.save(os.path.join(output_dir, "train_masks", cid + ".npy"), case.masks)
    else:
        images = [(f"test_images/{cid}.png", case.forged if forged else case.authentic, forged)]
        if forged:
            np.save(os.path.join(output_dir, "test_masks", cid + ".npy"), case.masks)
    boxes = case.layout_boxes()
    entries = []
    for file_name, image, is_forged in images:
        write_png(os.path.join(output_dir, file_name), image)
        record = dict(case.record(is_forged), image=file_name)
        entries.append(
            {"record": record, "file_name": file_name, "height": h, "width": w, "boxes": boxes}
        )
    annotation = encode_annotation(case.masks) if (split == "test" and forged) else AUTHENTIC
    return entries, {"case_id": cid, "annotation": annotation, "height": h, "width": w}


def _coco(entries, first_image_id, first_annotation_id):
    images, annotations = [], []
    ann_id = first_annotation_id
    for image_id, entry in enumerate(entries, start=first_image_id):
        images.append(
            {
                "id": image_id,
                "file_name": entry["file_name"],
                "height": entry["height"],
                "width": entry["width"],
            }
        )
        for category_id, bbox in entry["boxes"]:
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": category_id,
                    "bbox": bbox,
                    "area": round(bbox[2] * bbox[3], 2),
                    "iscrowd": 0,
                }
            )
            ann_id += 1
    return {
        "info": {"description": "forgery_d2 synthetic figures: panel / text / mark boxes"},
        "images": images,
        "annotations": annotations,
        "categories": [dict(c) for c in LAYOUT_CATEGORIES],
    }


def generate_figures_dataset(
    output_dir,
    num_images=100,
    num_test=50,
    seed=0,
    options=None,
    workers=1,
    overwrite=False,
    progress=True,
):
    """Write ``num_images`` train pairs and ``num_test`` test figures under ``output_dir``.

    Args:
        output_dir: dataset root (created); see the module docstring for the layout.
        num_images: number of train cases (each one authentic + one forged figure).
        num_test: number of test figures, ``options.test_forged_fraction`` of them forged.
        seed: the output is byte-identical for the same seed and options.
        options: ``FigureOptions``.
        workers: processes used (1 = in this process).
        overwrite: replace an existing dataset in ``output_dir`` (else FileExistsError).
        progress: show a tqdm progress bar.

    Returns a summary dict (see :func:`summarize_figures`).
    """
    opts = options or FigureOptions()
    opts.validate()
    if num_images < 0 or num_test < 0:
        raise ValueError(f"num_images and num_test must be >= 0, got {num_images}, {num_test}")
    prepare_output(output_dir, overwrite, OUTPUTS)
    test_forged = forged_test_flags(seed, num_test, opts.test_forged_fraction)
    tasks = [(output_dir, seed, "train", i, True, opts) for i in range(num_images)]
    tasks += [(output_dir, seed, "test", j, bool(test_forged[j]), opts) for j in range(num_test)]

    results = map_cases(_write_case, tasks, workers, "figures", progress)

    entries = {"train": [], "test": []}
    for case_entries, _ in results:
        for entry in case_entries:
            entries[entry["record"]["split"]].append(entry)
    with open(os.path.join(output_dir, "cases.jsonl"), "w") as f:
        for split in ("train", "test"):
            for entry in entries[split]:
                f.write(json.dumps(entry["record"], sort_keys=True) + "\n")
    next_image, next_annotation = 1, 1
    for split in ("train", "test"):
        coco = _coco(entries[split], next_image, next_annotation)
        next_image += len(coco["images"])
        next_annotation += len(coco["annotations"])
        with open(os.path.join(output_dir, LAYOUT_FILES[split]), "w") as f:
            json.dump(coco, f)
    write_solution(output_dir, [solution for _, solution in results[num_images:]])
    return summarize_figures([e["record"] for split in ("train", "test") for e in entries[split]])


def summarize_figures(records):
    """Counts over per-image records: images, themes, colour modes, JPEG, panels, forgery kinds."""
    forged = [r for r in records if r["forged"]]
    fractions = np.array([r["forged_fraction"] for r in forged]) if forged else np.zeros(1)
    panels = np.array([r["panel_count"] for r in records]) if records else np.zeros(1)
    sides = np.array([max(r["height"], r["width"]) for r in records]) if records else np.zeros(1)
    count = lambda values: dict(sorted(Counter(values).items()))  # noqa: E731
    return {
        "train_images": sum(r["split"] == "train" for r in records),
        "test_images": sum(r["split"] == "test" for r in records),
        "test_forged": sum(r["split"] == "test" and r["forged"] for r in records),
        "themes": count(r["theme"] for r in records),
        "color_modes": count(r["color_mode"] for r in records),
        "jpeg_recompressed": sum(r["jpeg_quality"] is not None for r in records),
        "panel_kinds": count(k for r in records for k in r["panel_kinds"]),
        "panels_per_image": {
            "1": int((panels == 1).sum()),
            "2-5": int(((panels >= 2) & (panels <= 5)).sum()),
            "6-11": int(((panels >= 6) & (panels <= 11)).sum()),
            "12-16": int((panels >= 12).sum()),
        },
        "long_side_p05_median_p95": [int(np.quantile(sides, q)) for q in (0.05, 0.5, 0.95)],
        "event_kinds": count(e["kind"] for r in forged for e in r["events"]),
        "events_per_forged_image": count(len(r["events"]) for r in forged),
        "forged_fraction_p05_median_p95": [
            round(float(np.quantile(fractions, q)), 4) for q in (0.05, 0.5, 0.95)
        ],
    }
