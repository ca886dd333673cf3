#!/usr/bin/env python
"""Render synthetic figures side by side: the authentic figure | the forged one with every event's
mask outlined (one colour per event: red, green, blue), for a look at what the generator makes.

    python examples/show_synthetic_figures.py --output docs/results/figures_examples \
        --themes blots micrographs mixed gels --seed 3

Writes ``<theme>.png`` per theme (long side at most --max-side px) and prints each figure's events.
"""

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401
from forgery_d2.data.synthetic.figures import (  # noqa: E402
    FIGURE_THEMES,
    FigureOptions,
    LayoutOptions,
    generate_figure_case,  # noqa: E402
)

OUTLINE_COLOURS = ((230, 0, 0), (0, 190, 0), (0, 60, 255))


def _rgb(image):
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def side_by_side(case, max_side):
    """authentic | forged-with-outlines, downscaled so the long side is at most ``max_side``."""
    authentic, forged = _rgb(case.authentic), _rgb(case.forged).copy()
    thickness = max(2, max(forged.shape[:2]) // 250)
    for k, mask in enumerate(case.masks):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(forged, contours, -1, OUTLINE_COLOURS[k % 3], thickness)
    gap = np.full((authentic.shape[0], max(8, authentic.shape[1] // 40), 3), 255, np.uint8)
    pair = np.concatenate([authentic, gap, forged], axis=1)
    scale = min(1.0, max_side / max(pair.shape[:2]))
    if scale < 1.0:
        pair = cv2.resize(
            pair,
            (round(pair.shape[1] * scale), round(pair.shape[0] * scale)),
            interpolation=cv2.INTER_AREA,
        )
    return pair


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--output", required=True, help="folder for the PNGs")
    p.add_argument(
        "--themes",
        nargs="+",
        default=["blots", "micrographs", "mixed", "gels"],
        choices=FIGURE_THEMES,
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-side", type=int, default=1400)
    args = p.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    for theme in args.themes:
        options = FigureOptions(
            layout=LayoutOptions(theme_probs={theme: 1.0}, max_size=1400), jpeg_prob=0.0
        )
        case = generate_figure_case(args.seed, "train", FIGURE_THEMES.index(theme), options=options)
        cv2.imwrite(
            os.path.join(args.output, f"{theme}.png"), side_by_side(case, args.max_side)[:, :, ::-1]
        )
        events = ", ".join(
            f"{e.kind} ({e.object}, panels {e.source_panel}->{e.target_panel})" for e in case.events
        )
        h, w = case.authentic.shape[:2]
        print(f"{theme}.png: {w}x{h}, {len(case.layout.panels)} panels, {events}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
