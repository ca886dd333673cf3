#!/usr/bin/env python
"""Build a small screening example for tools/report.py: real figures, planted copy-moves, and the
keypoint matcher's predictions saved in the ``predictions.jsonl`` format.

  python scripts/make_report_demo.py --output output/report_demo
  python tools/report.py --predictions output/report_demo/predictions.jsonl \
      --output output/report_demo/report --gt-masks output/report_demo/gt_masks
  python scripts/check_report_browser.py output/report_demo/report \
      --screenshot docs/results/report_screenshot.png

Writes ``images/<case_id>.png`` (figures cut from the microscopy images shipped in scikit-image and
drawn blots; grey, RGB and RGBA; one corrupt file), ``gt_masks/<case_id>.npy`` (the planted
copy-moves, source and copy in one channel per event), ``predictions.jsonl`` (one record per
figure: :class:`forgery_d2.matching.KeypointMatcher` run on it, each instance with its
source/copy pair, transform and evidence), ``submission.csv`` and ``solution.csv``.
"""

import argparse
import csv
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from forgery_d2.data.io import DataError, read_image  # noqa: E402
from forgery_d2.data.synthetic import CopyTransform, draw_blot, plant_copy_move  # noqa: E402
from forgery_d2.data.synthetic.sources import skimage_image_paths  # noqa: E402
from forgery_d2.competition.rle import AUTHENTIC, encode_annotation, rle_encode  # noqa: E402
from forgery_d2.competition.submission import write_submission_csv  # noqa: E402
from forgery_d2.matching import KeypointMatcher  # noqa: E402


def _grey(name, height, width, top=0, left=0):
    path = next(iter(skimage_image_paths((name,))), None)
    if path is None:
        raise SystemExit(f"scikit-image's {name} is not installed; pip install scikit-image")
    image = np.asarray(Image.open(path).convert("RGB"))
    return np.ascontiguousarray(image[top : top + height, left : left + width])


def _blot(seed, height, width, style):
    image, bands = draw_blot(np.random.default_rng(seed), height, width, style)
    return image, bands


def _figures():
    """(case_id, pixels, PIL mode, planted events as (source box, target xy, transform))."""
    blot, bands = _blot(7, 280, 520, "film")
    x0, y0, x1, y1 = bands[1]
    band_box = (max(0, x0 - 4), max(0, y0 - 4), min(520, x1 + 4), min(280, y1 + 4))
    band_target = (max(0, bands[-2][0] - 4), band_box[1])  # pasted over another lane's band
    two_panel = np.full((360, 700, 3), 255, np.uint8)
    two_panel[20:340, 20:340] = _grey("ihc.png", 320, 320, 100, 60)
    two_panel[20:340, 360:680] = _grey("hubble_deep_field.jpg", 320, 320, 300, 400)
    return [
        ("blot_band_shift", blot, "L", [(band_box, band_target, CopyTransform())]),
        (
            "ihc_flipped",
            _grey("ihc.png", 380, 480, 60, 20),
            "RGB",
            [((40, 50, 150, 150), (320, 230), CopyTransform(flip="horizontal"))],
        ),
        (
            "cell_half_turn",
            _grey("cell.png", 400, 520, 60, 60)[..., 0],
            "L",
            [((290, 230, 450, 390), (40, 40), CopyTransform(rot90=2))],
        ),
        (
            "retina_rotated_scaled",
            cv2.resize(_grey("retina.jpg", 1411, 1411), (640, 640), interpolation=cv2.INTER_AREA),
            "RGB",
            [((180, 200, 300, 300), (380, 400), CopyTransform(angle=20.0, scale=1.2))],
        ),
        (
            "two_panels_two_copies",
            two_panel,
            "RGBA",
            [
                ((60, 60, 150, 140), (200, 220), CopyTransform()),
                ((420, 60, 520, 150), (560, 220), CopyTransform(flip="vertical")),
            ],
        ),
        ("coins_authentic", _grey("coins.png", 303, 384)[..., 0], "L", []),
        ("moon_authentic", _grey("moon.png", 400, 512)[..., 0], "L", []),
        ("gel_authentic", _blot(11, 300, 420, "gel")[0], "L", []),
        ("hubble_authentic", _grey("hubble_deep_field.jpg", 420, 560, 40, 40), "RGB", []),
        ("ihc_authentic", _grey("ihc.png", 300, 300, 200, 200), "RGB", []),
    ]


def _plant(pixels, events):
    masks = []
    for box, target, transform in events:
        pixels, event = plant_copy_move(pixels, box, target, transform)
        masks.append(event.mask)
    return pixels, masks


def _save(path, pixels, mode):
    if mode == "RGBA":
        pixels = np.dstack([pixels, np.full(pixels.shape[:2], 255, np.uint8)])
    Image.fromarray(pixels, mode).save(path)


def matcher_record(case_id, path, matcher):
    """A ``predictions.jsonl`` record of one figure: the matcher's instances, each as one
    source/copy part with its transform and keypoint evidence (status unreadable on a bad file)."""
    try:
        image = read_image(path, "RGB")
    except DataError as e:
        return {
            "case_id": case_id,
            "file_name": path,
            "height": 0,
            "width": 0,  # size unknown
            "status": "unreadable",
            "error": str(e),
            "annotation": AUTHENTIC,
            "image_score": None,
            "seconds": None,
            "instances": [],
        }
    start = time.perf_counter()
    result = matcher(image)
    seconds = time.perf_counter() - start
    instances = [
        {
            "score": float(inst.score),
            "mask": rle_encode(inst.mask),
            "parts": [
                {
                    "source": rle_encode(inst.source_mask),
                    "copy": rle_encode(inst.copy_mask),
                    "transform": np.asarray(inst.matrix, float).tolist(),
                    "score": float(inst.score),
                    "evidence": {
                        "method": "keypoint",
                        "inliers": int(inst.num_inliers),
                        "verified_pixels": int(inst.copy_mask.sum()),
                        "mirrored": bool(inst.mirrored),
                    },
                }
            ],
        }
        for inst in result.instances
    ]
    return {
        "case_id": case_id,
        "file_name": path,
        "height": image.shape[0],
        "width": image.shape[1],
        "status": "ok",
        "annotation": encode_annotation([inst.mask for inst in result.instances]),
        "image_score": max((i["score"] for i in instances), default=0.0),
        "seconds": round(seconds, 4),
        "instances": instances,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default="output/report_demo", help="folder to write")
    args = parser.parse_args(argv)
    images, gt = os.path.join(args.output, "images"), os.path.join(args.output, "gt_masks")
    os.makedirs(images, exist_ok=True)
    os.makedirs(gt, exist_ok=True)
    cases, solution = [], []
    for case_id, pixels, mode, events in _figures():
        forged, masks = _plant(pixels, events)
        path = os.path.join(images, f"{case_id}.png")
        _save(path, forged, mode)
        if masks:
            np.save(os.path.join(gt, f"{case_id}.npy"), np.stack(masks).astype(np.uint8))
        label = encode_annotation(masks) if masks else AUTHENTIC
        solution.append((case_id, label, json.dumps(list(forged.shape[:2]))))
        cases.append((case_id, path))
    corrupt = os.path.join(images, "truncated_upload.png")
    with open(cases[0][1], "rb") as f:
        data = f.read()
    with open(corrupt, "wb") as f:
        f.write(data[: len(data) // 3])
    cases.append(("truncated_upload", corrupt))
    solution.append(("truncated_upload", AUTHENTIC, solution[0][2]))  # cut from the first figure

    matcher = KeypointMatcher()
    records = []
    for case_id, path in cases:
        record = matcher_record(case_id, path, matcher)
        records.append(record)
        print(
            f"{case_id}: {record['status']}, {len(record['instances'])} instance(s), "
            f"score {record['image_score']}, {record['seconds']} s"
        )
    with open(os.path.join(args.output, "predictions.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    write_submission_csv(
        [(r["case_id"], r["annotation"]) for r in records],
        os.path.join(args.output, "submission.csv"),
    )
    with open(os.path.join(args.output, "solution.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("case_id", "annotation", "shape"))
        writer.writerows(solution)
    print(
        f"wrote {args.output}/predictions.jsonl ({len(records)} figures), submission.csv, "
        "solution.csv, images/, gt_masks/"
    )


if __name__ == "__main__":
    main()
