"""Counts quoted in docs/BENCHMARKS.md for stages F and G (no timings).
Run from the repository root:
  OMP_NUM_THREADS=1 python docs/results/bench_figure_matcher/counts_F_G.py \
      /tmp/heldout/figures2031 /tmp/heldout/figures2032

1. Share of held-out test figures whose long side exceeds the figure matcher's VERIFY_MAX_SIZE.
2. On the 4- and 16-panel cost figures of bench_figure_matcher (1500 x 1000 px):
   - panel search: template lookups (each one a cv2.resize before the templates were shared) and
     the templates made now;
   - grain hashing (both passes, all flips): bucket pairs, pairs reaching the dot product, and
     pairs reaching the de-duplication sort (before F every far-enough bucket pair was sorted).
"""

import glob
import os
import sys

sys.path[:0] = [".", "benchmarks"]
import numpy as np  # noqa: E402
from bench_figure_matcher import _grid_figure  # noqa: E402
from PIL import Image  # noqa: E402

import forgery_d2.matching.grain_hashing as grain_hashing  # noqa: E402
import forgery_d2.matching.panel_alignment as panel_alignment  # noqa: E402
from forgery_d2.matching.figure_matcher import FigureMatcher  # noqa: E402

matcher = FigureMatcher()
limit = matcher.params.verify_max_size
for folder in sys.argv[1:]:
    sizes = [
        max(Image.open(p).size) for p in glob.glob(os.path.join(folder, "test_images", "*.png"))
    ]
    larger = sum(s > limit for s in sizes)
    print(
        f"{folder}: {larger} of {len(sizes)} test figures above {limit} px ({larger / len(sizes):.0%})"
    )

counts = {}


def count(name, n):
    counts[name] = counts.get(name, 0) + n


match_scaled = panel_alignment._match_scaled


def counted_match_scaled(thumb_a, crop_b, flip, scale, factor, min_std, templates):
    height = int(round(crop_b.shape[0] * factor / scale))
    width = int(round(crop_b.shape[1] * factor / scale))
    if not (min(height, width) < 6 or height > thumb_a.shape[0] or width > thumb_a.shape[1]):
        count("panel template lookups", 1)
        count("panel templates made", int((flip, width, height) not in templates))
    return match_scaled(thumb_a, crop_b, flip, scale, factor, min_std, templates)


bucket_pairs = grain_hashing._bucket_pairs


def counted_bucket_pairs(key_a, key_b, *rest):
    i, j = bucket_pairs(key_a, key_b, *rest)
    count("grain bucket pairs", len(i))
    return i, j


paired_dot = grain_hashing._paired_dot


def counted_paired_dot(a, p, b, q, *rest):
    count("grain pairs to the dot product", len(p))
    return paired_dot(a, p, b, q, *rest)


class CountedKeys(grain_hashing._SortedKeys):
    def __init__(self, keys, kind=None):
        if kind == "stable":  # the de-duplication of the pairs; the buckets use the default sort
            count("grain pairs to the de-duplication sort", len(keys))
        super().__init__(keys, kind)


panel_alignment._match_scaled = counted_match_scaled
grain_hashing._bucket_pairs = counted_bucket_pairs
grain_hashing._paired_dot = counted_paired_dot
grain_hashing._SortedKeys = CountedKeys
for panels in (4, 16):
    counts.clear()
    image, _ = _grid_figure(np.random.default_rng(0), panels, (1000, 1500))
    matcher(image)
    print(f"{panels}-panel cost figure:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
