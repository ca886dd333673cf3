#!/usr/bin/env python
"""Exploratory analysis of registered forgery datasets: tables on stdout, plots and samples as PNGs.

Example:
    python tools/analyze_dataset.py --dataset forgery_train forgery_val --output out/eda

Per dataset: images per label, image sizes, colour modes (from the file headers), instances per
forged image and the forged-pixel fraction (from the RLE annotations; no mask is decoded).
With ``--output``: sizes.png, instances.png, forged_fraction.png, colour_modes.png and
samples_<dataset>.png (a grid of images with their masks overlaid, forged images first).
"""

import argparse
import collections
import logging
import os
import sys

import numpy as np

import forgery_d2  # noqa: F401  (detectron2 build shims first)
from forgery_d2.data.builtin import add_datasets_root_argument, registered_names
from forgery_d2.data.io import DataError

LABEL_NAMES = {1: "forged", 0: "authentic", None: "unlabeled"}


def image_mode(path):
    """Pillow's colour mode of an image file (header only)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.mode


def forged_fraction(record):
    """Fraction of the image's pixels covered by the union of its instances (RLE, not decoded)."""
    import pycocotools.mask as mask_util

    annotations = record.get("annotations") or []
    if not annotations:
        return 0.0
    rles = [
        {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode("ascii")}
        if isinstance(a["segmentation"]["counts"], str)
        else a["segmentation"]
        for a in annotations
    ]
    union = mask_util.merge(rles) if len(rles) > 1 else rles[0]
    return float(mask_util.area(union)) / float(record["height"] * record["width"])


def summarize(records):
    """Statistics of one dataset's records as a dict of plain values and arrays."""
    labels = collections.Counter(r.get("label") for r in records)
    forged = [r for r in records if r.get("label") == 1 and r.get("annotations") is not None]
    return {
        "labels": labels,
        "heights": np.array([r["height"] for r in records]),
        "widths": np.array([r["width"] for r in records]),
        "modes": collections.Counter(image_mode(r["file_name"]) for r in records),
        "instances": collections.Counter(len(r["annotations"]) for r in forged),
        "fractions": np.array([forged_fraction(r) for r in forged]),
    }


def _quantiles(values, qs=(0, 5, 50, 95, 100), fmt="{:.0f}"):
    if len(values) == 0:
        return "-"
    return " / ".join(fmt.format(v) for v in np.percentile(values, qs))


def print_tables(stats):
    from tabulate import tabulate

    rows = []
    for name, s in stats.items():
        rows.append(
            [name, sum(s["labels"].values()), s["labels"][1], s["labels"][0], s["labels"][None]]
        )
    print(
        tabulate(rows, ["dataset", "images", "forged", "authentic", "unlabeled"], tablefmt="github")
    )
    print()
    rows = [
        [
            name,
            _quantiles(s["widths"]),
            _quantiles(s["heights"]),
            ", ".join(f"{m}: {c}" for m, c in s["modes"].most_common()),
        ]
        for name, s in stats.items()
    ]
    print(
        tabulate(
            rows,
            [
                "dataset",
                "width min/p5/median/p95/max",
                "height min/p5/median/p95/max",
                "colour modes",
            ],
            tablefmt="github",
        )
    )
    print()
    rows = [
        [
            name,
            ", ".join(f"{n}: {c}" for n, c in sorted(s["instances"].items())),
            _quantiles(100 * s["fractions"], fmt="{:.2f}"),
        ]
        for name, s in stats.items()
    ]
    print(
        tabulate(
            rows,
            ["dataset", "instances per forged image (N: images)", "forged % p0/p5/p50/p95/p100"],
            tablefmt="github",
        )
    )


def save_plots(stats, output_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig, name):
        path = os.path.join(output_dir, name)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, s in stats.items():
        ax.scatter(s["widths"], s["heights"], s=6, alpha=0.5, label=name)
    ax.set(xlabel="width (px)", ylabel="height (px)", title="Image sizes")
    ax.legend()
    save(fig, "sizes.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / max(len(stats), 1)
    for i, (name, s) in enumerate(stats.items()):
        counts = sorted(s["instances"].items())
        ax.bar([n + i * width for n, _ in counts], [c for _, c in counts], width=width, label=name)
    ax.set(xlabel="instances per forged image", ylabel="images", title="Instances per forged image")
    ax.legend()
    save(fig, "instances.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in stats.items():
        fractions = s["fractions"][s["fractions"] > 0]
        if len(fractions):
            ax.hist(100 * fractions, bins=np.logspace(-3, 2, 40), alpha=0.5, label=name)
    ax.set(
        xscale="log",
        xlabel="forged pixels (% of image)",
        ylabel="forged images",
        title="Forged-pixel fraction",
    )
    ax.legend()
    save(fig, "forged_fraction.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    modes = sorted({m for s in stats.values() for m in s["modes"]})
    for i, (name, s) in enumerate(stats.items()):
        ax.bar(
            [j + i * width for j in range(len(modes))],
            [s["modes"][m] for m in modes],
            width=width,
            label=name,
        )
    ax.set_xticks(range(len(modes)), modes)
    ax.set(ylabel="images", title="Colour modes")
    ax.legend()
    save(fig, "colour_modes.png")
    return written


def save_sample_grid(name, records, output_path, count=12, seed=0):
    """A grid of ``count`` images (forged first) with their instances drawn by detectron2's Visualizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from detectron2.data import MetadataCatalog
    from detectron2.utils.visualizer import Visualizer

    from forgery_d2.data.io import read_image

    rng = np.random.default_rng(seed)
    forged = [r for r in records if r.get("label") == 1]
    others = [r for r in records if r.get("label") != 1]
    n_forged = min(len(forged), (count + 1) // 2 if others else count)
    picks = [forged[i] for i in rng.permutation(len(forged))[:n_forged]]
    picks += [others[i] for i in rng.permutation(len(others))[: count - n_forged]]
    if not picks:
        return None
    cols = min(4, len(picks))
    rows = (len(picks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    metadata = MetadataCatalog.get(name)
    for ax, record in zip(axes.flat, picks):
        image = read_image(record["file_name"], "RGB")
        drawn = Visualizer(image, metadata, scale=512 / max(image.shape[:2])).draw_dataset_dict(
            record
        )
        ax.imshow(drawn.get_image())
        n = len(record.get("annotations") or [])
        ax.set_title(
            f"{record['image_id']} ({LABEL_NAMES[record.get('label')]}, {n} inst)", fontsize=9
        )
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(output_path, dpi=100)
    plt.close(fig)
    return output_path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", nargs="+", required=True, help="registered dataset name(s)")
    parser.add_argument("--output", default=None, help="folder for the PNG plots and sample grids")
    parser.add_argument(
        "--samples", type=int, default=12, help="images in each sample grid (0: none)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample choice")
    add_datasets_root_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from detectron2.data import DatasetCatalog

    try:
        registered_names(args.dataset, args.datasets_root)
        records = {name: DatasetCatalog.get(name) for name in args.dataset}
        stats = {name: summarize(r) for name, r in records.items()}
    except DataError as e:
        sys.exit(f"error: {e}")
    print_tables(stats)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        written = save_plots(stats, args.output)
        if args.samples > 0:
            for name, recs in records.items():
                grid = save_sample_grid(
                    name,
                    recs,
                    os.path.join(args.output, f"samples_{name}.png"),
                    args.samples,
                    args.seed,
                )
                if grid:
                    written.append(grid)
        print("\nwrote " + ", ".join(written))


if __name__ == "__main__":
    main()
