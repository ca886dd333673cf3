"""Where the figure matcher's time goes on the 4-panel 1500 x 1000 cost figure of
bench_figure_matcher.panel_count_costs (cProfile, one thread, the second call after a warm-up).
Run from the repository root: OMP_NUM_THREADS=1 python docs/results/bench_figure_matcher/profile_D_4panels.py
"""

import cProfile
import pstats
import sys

sys.path[:0] = [".", "benchmarks"]
import numpy as np  # noqa: E402
from bench_figure_matcher import _grid_figure  # noqa: E402

from forgery_d2.matching.figure_matcher import FigureMatcher  # noqa: E402

image, _ = _grid_figure(np.random.default_rng(0), 4, (1000, 1500))
matcher = FigureMatcher()
matcher(image)
profile = cProfile.Profile()
profile.runcall(matcher, image)
print(matcher(image).stats)
pstats.Stats(profile).sort_stats("cumulative").print_stats("forgery_d2|detectAndCompute", 24)
