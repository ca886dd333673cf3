#!/usr/bin/env python
"""Seconds per image of the keypoint copy-move matcher vs image size (256 px to 4000 px).

For each size, a real textured image (scikit-image's ``ihc.png``, resized so its longer side is
SIZE) gets one planted copy-move (forgery_d2.data.synthetic.plant_copy_move: a block of 18% of the
side, shifted); the matcher runs ``--repeats`` times and the median wall time is kept, with the
working scales (detection / verification), the keypoint count and whether the copy was found
(pixel F1 of the best instance). Time should flatten above ``DETECT_MAX_SIZE`` / ``VERIFY_MAX_SIZE``
(bounded work) except for the full-resolution steps (grey conversion, mask upsampling).

    OMP_NUM_THREADS=1 python benchmarks/bench_matcher_scaling.py --output output/bench_matcher_scaling

Writes ``scaling.json``, ``scaling.md`` and ``scaling.png`` in ``--output``.
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401
import skimage  # noqa: E402

from forgery_d2.data.synthetic.copy_move import plant_copy_move  # noqa: E402
from forgery_d2.matching import KeypointMatcher, KeypointMatcherParams  # noqa: E402


def planted_image(size: int, aspect: float = 0.75):
    """(forged RGB image of longer side ``size``, ground-truth mask)."""
    base = cv2.cvtColor(
        cv2.imread(os.path.join(os.path.dirname(skimage.__file__), "data", "ihc.png")),
        cv2.COLOR_BGR2RGB,
    )
    width, height = size, max(32, int(round(size * aspect)))
    image = cv2.resize(
        base, (width, height), interpolation=cv2.INTER_AREA if size < 512 else cv2.INTER_CUBIC
    )
    block = max(8, int(0.18 * height))
    x0, y0 = int(0.08 * width), int(0.1 * height)
    forged, event = plant_copy_move(
        image, (x0, y0, x0 + block, y0 + block), (int(0.6 * width), int(0.55 * height))
    )
    return forged, event.mask.astype(bool)


def measure(sizes, repeats, params):
    matcher = KeypointMatcher(params)
    rows = []
    for size in sizes:
        image, gt = planted_image(size)
        times, result = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            result = matcher(image)
            times.append(time.perf_counter() - start)
        f1 = max(
            (2 * (i.mask & gt).sum() / (i.mask.sum() + gt.sum()) for i in result.instances),
            default=0.0,
        )
        rows.append(
            {
                "size": size,
                "height": image.shape[0],
                "width": image.shape[1],
                "megapixels": image.shape[0] * image.shape[1] / 1e6,
                "s_per_image": statistics.median(times),
                "detect_scale": result.detect_scale,
                "verify_scale": result.verify_scale,
                "keypoints": result.stats["keypoints"],
                "transforms": result.stats["transforms"],
                "found_f1": float(f1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def report(rows, output, command):
    lines = [
        "| longer side px | MP | s / image | detect scale | verify scale | keypoints | planted copy F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['megapixels']:.2f} | {r['s_per_image']:.2f} | {r['detect_scale']:.2f} | "
            f"{r['verify_scale']:.2f} | {r['keypoints']} | {r['found_f1']:.2f} |"
        )
    lines += ["", f"Command: `{command}`"]
    with open(os.path.join(output, "scaling.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["size"] for r in rows], [r["s_per_image"] for r in rows], "o-")
    ax.set_xscale("log")
    ax.set_xlabel("longer side (px)")
    ax.set_ylabel("s / image (median)")
    ax.set_title("keypoint matcher time vs image size")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(output, "scaling.png"), dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="256,512,1024,2000,3000,4000", help="longer sides, px")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="output/bench_matcher_scaling")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    rows = measure(
        [int(s) for s in args.sizes.split(",")], args.repeats, KeypointMatcherParams.default()
    )
    command = "python " + " ".join(sys.argv)
    with open(os.path.join(args.output, "scaling.json"), "w") as f:
        json.dump(
            {
                "rows": rows,
                "params": dataclasses.asdict(KeypointMatcherParams.default()),
                "command": command,
                "threads": os.environ.get("OMP_NUM_THREADS", ""),
            },
            f,
            indent=1,
        )
    report(rows, args.output, command)


if __name__ == "__main__":
    main()
