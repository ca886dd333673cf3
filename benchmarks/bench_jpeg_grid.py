#!/usr/bin/env python
"""The JPEG grid strength (forgery_d2.matching.jpeg_grid) on generated figures, by JPEG quality.

The figure generator round-trips about a third of its figures through JPEG (quality 60-95,
recorded per figure). For every figure of ``--cases`` training cases of generator ``--seed``
(authentic and forged), the strength is computed on its luminance at its own pixels; the table
gives its range per quality (``none``: not compressed) against the figure matcher's threshold
``MODEL.FIGURE_MATCHER.JPEG_GRID_MIN_STRENGTH``, and the mean seconds per figure (process CPU
time, one thread; the figure is generated before the clock starts).

    OMP_NUM_THREADS=1 python benchmarks/bench_jpeg_grid.py --seed 5 --cases 120 \\
        --output docs/results/jpeg_grid_seed5.txt
"""

import argparse
import os
import shlex
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from forgery_d2.data.synthetic.figures.case import generate_figure_case  # noqa: E402
from forgery_d2.matching.features import to_gray_uint8  # noqa: E402
from forgery_d2.matching.figure_matcher import FigureMatcherParams  # noqa: E402
from forgery_d2.matching.jpeg_grid import jpeg_grid_strength  # noqa: E402


def measure(seed: int, cases: int):
    """``{quality or None: [strengths]}`` and the seconds of every call."""
    strengths, seconds = defaultdict(list), []
    for index in range(cases):
        case = generate_figure_case(seed, "train", index)
        for figure in (case.authentic, case.forged):
            gray = to_gray_uint8(figure)
            start = time.process_time()
            strengths[case.jpeg_quality].append(jpeg_grid_strength(gray))
            seconds.append(time.process_time() - start)
    return strengths, seconds


def table(strengths, seconds, threshold) -> str:
    lines = [
        f"threshold (MODEL.FIGURE_MATCHER.JPEG_GRID_MIN_STRENGTH): {threshold}",
        "",
        "| JPEG quality | figures | strength min | strength max | counted as compressed |",
        "|---|---|---|---|---|",
    ]
    for quality in sorted(strengths, key=lambda q: (q is not None, q or 0)):
        values = np.asarray(strengths[quality])
        lines.append(
            f"| {quality or 'none'} | {len(values)} | {values.min():.2f} | {values.max():.2f} "
            f"| {int((values >= threshold).sum())} |"
        )
    lines += ["", f"seconds per figure: mean {np.mean(seconds):.4f}, max {np.max(seconds):.4f}"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=5, help="figure generator seed")
    parser.add_argument("--cases", type=int, default=120, help="training cases (2 figures each)")
    parser.add_argument("--output", help="also write the table to this text file")
    args = parser.parse_args()
    strengths, seconds = measure(args.seed, args.cases)
    text = (
        "$ OMP_NUM_THREADS=1 python benchmarks/bench_jpeg_grid.py "
        + " ".join(shlex.quote(a) for a in sys.argv[1:])
        + "\n"
        + table(strengths, seconds, FigureMatcherParams.default().jpeg_grid_min_strength)
    )
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
