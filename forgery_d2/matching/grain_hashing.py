"""Candidates for small copies from the figure's grain: patch hashing and offset voting.

Keypoints need distinctive structure, so a copied blot band (10-30 px) or a cell on a flat
background often yields none. But a copy carries its source's *grain* pixel for pixel. So:

1. patches of the grain residual (forgery_d2.matching.evidence.grain_residual) on a grid of
   textured, allowed pixels (the queries) and at every allowed pixel (the patches they are looked
   up among) are normalized and hashed with random hyperplanes (SimHash: the signs of ``bits``
   random projections, in ``tables`` independent tables); copies fall into the same bucket,
   unrelated patches almost never do;
2. candidate pairs from shared buckets are kept when their patches correlate (``min_correlation``)
   and lie ``min_shift`` px apart or more;
3. every pair votes for the transform it implies, for each flip of :data:`FLIPS` (the patch of
   one side is compared with the flipped patch of the other, so flipped and half-turned copies
   vote too): a translation, or the mirror axis and shift. Transforms with ``min_votes`` or more
   are candidates, verified like every other candidate.

Scaled or rotated copies change the grain's sampling and are left to keypoints. Cost is linear in
the number of patches (a sort per table; at most ``max_points`` queries and ``stride**2`` times as
many looked-up patches), independent of the number of panels.
"""

from dataclasses import dataclass
from typing import List

import numpy as np

__all__ = ["FLIPS", "GrainCandidate", "grain_hash_candidates"]

# name -> (flip x, flip y) applied to the copy side's patch before comparison.
FLIPS = {
    "none": (False, False),
    "horizontal": (True, False),
    "vertical": (False, True),
    "rot180": (True, True),
}


@dataclass
class GrainCandidate:
    matrix: np.ndarray  # 2x3 source -> copy
    votes: int
    copy_points: np.ndarray  # (n, 2) patch centres on the copy side
    flip: str


def _grid_centres(allowed: np.ndarray, patch: int, stride: int, offset=(0, 0)) -> np.ndarray:
    """(n, 2) x, y centres of a ``stride`` grid shifted by ``offset``, where ``allowed``, with
    the whole patch inside the image."""
    height, width = allowed.shape
    half = patch // 2
    if height < patch or width < patch:  # no patch fits (a thin strip)
        return np.zeros((0, 2), np.int64)
    ys, xs = np.mgrid[
        half + offset[1] : height - half : stride, half + offset[0] : width - half : stride
    ]
    keep = allowed[ys, xs]
    return np.stack([xs[keep], ys[keep]], axis=1).astype(np.int64)


def _patches_at(residual: np.ndarray, centres: np.ndarray, patch: int) -> np.ndarray:
    """Flattened (n, patch * patch) patches of ``residual`` around ``centres``."""
    offsets = np.arange(patch) - patch // 2
    rows = (centres[:, 1, None] + offsets[None, :])[:, :, None]
    cols = (centres[:, 0, None] + offsets[None, :])[:, None, :]
    # An explicit width: a figure (or region) with no patch centre gives (0, patch * patch).
    return residual[rows, cols].reshape(len(centres), patch * patch)


def _at_most(centres: np.ndarray, limit: int, rng) -> np.ndarray:
    """``centres``, or a fixed random subset of ``limit`` of them (bounded cost on huge figures)."""
    if len(centres) <= limit:
        return centres
    return centres[np.sort(rng.choice(len(centres), limit, replace=False))]


def _normalize(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)


def grain_hash_candidates(
    residual: np.ndarray,
    allowed: np.ndarray,
    patch: int = 7,
    stride: int = 2,
    tables: int = 6,
    bits: int = 20,
    min_correlation: float = 0.8,
    min_shift: float = 10.0,
    min_votes: int = 6,
    vote_bin: int = 2,
    max_points: int = 60000,
    max_candidates: int = 8,
    seed: int = 0,
    every_offset: bool = True,
) -> List[GrainCandidate]:
    """Candidate transforms of copies (see the module docstring). ``residual``: the figure's grain
    (float32 (H, W), e.g. :func:`forgery_d2.matching.evidence.grain_residual`); ``allowed``: bool
    (H, W), where patches may be centred (textured, not excluded).

    Queries lie on a grid of ``stride`` px, the patches they are looked up among on that grid at
    every offset (every allowed pixel): a copy moved by any whole number of pixels then has
    exactly aligned pairs. (A grid matched against itself only sees moves by multiples of its
    stride: at stride 2, three copies in four were never aligned, and a grain shifted by 1 px no
    longer correlates.) ``every_offset=False`` matches the grid against itself: a quarter of the
    patches, only moves by multiples of the stride."""
    rng = np.random.default_rng(seed)
    query_centres = _at_most(_grid_centres(allowed, patch, stride), max_points, rng)
    if len(query_centres) < min_votes:
        return []
    query = _normalize(_patches_at(residual, query_centres, patch).astype(np.float32))
    if every_offset:
        base_centres = np.concatenate(
            [
                _grid_centres(allowed, patch, stride, (ox, oy))
                for oy in range(stride)
                for ox in range(stride)
            ]
        )
        base_centres = _at_most(base_centres, max_points * stride**2, rng)
        base = _normalize(_patches_at(residual, base_centres, patch).astype(np.float32))
    else:
        base_centres, base = query_centres, query
    grid = query.reshape(len(query), patch, patch)
    planes = rng.standard_normal((tables, patch * patch, bits)).astype(np.float32)
    base_keys, base_signs = _simhash(base, planes)
    base_keys = [_SortedKeys(k) for k in base_keys]
    max_differing = _max_differing_signs(min_correlation, (tables - 1) * bits)
    # 1-D coordinate arrays: gathers of 10^6 pairs from them are ~3x faster than of (n, 2) rows.
    query_x, query_y = query_centres.T.astype(np.int32)
    base_x, base_y = base_centres.T.astype(np.int32)
    width = residual.shape[1]
    votes = []  # per flip: (flip index, vote key x, vote key y, const x, const y, copy x, copy y)
    for flip_index, (fx, fy) in enumerate(FLIPS.values()):
        flipped = grid[:, :: -1 if fy else 1, :: -1 if fx else 1].reshape(len(query), -1)
        query_keys, query_signs = _simhash(flipped, planes)
        pairs = [_bucket_pairs(base_keys[t], _SortedKeys(key)) for t, key in enumerate(query_keys)]
        j, i = np.concatenate([x[0] for x in pairs]), np.concatenate([x[1] for x in pairs])
        # Most bucket pairs are far from min_correlation: their patches' signs on all the tables'
        # hyperplanes (a 16-byte read per pair, not two 196-byte patches) already differ too often.
        differing = sum(np.bitwise_count(q[i] ^ b[j]) for q, b in zip(query_signs, base_signs))
        i, j = _compress(differing <= max_differing, i, j)
        # Overlapping neighbours (the database is denser than a patch) are not copies.
        dx, dy = base_x[j] - query_x[i], base_y[j] - query_y[i]
        i, j = _compress(dx * dx + dy * dy >= min_shift**2, i, j)
        correlation = _paired_dot(flipped, i, base, j)
        i, j = _compress(correlation >= min_correlation, i, j)
        # A pair found in several tables is one pair. And a flip is an involution: (a, b) and
        # (b, a) state the same duplication, found from either side when both lie on the query
        # grid. Each is kept once, its source the earlier of the two in raster order (so one
        # duplication votes with one orientation).
        position_q = query_centres[i, 1] * width + query_centres[i, 0]
        position_b = base_centres[j, 1] * width + base_centres[j, 0]
        # (kind="stable": the first pair found of each, as np.unique's return_index gave)
        runs = _SortedKeys(
            np.minimum(position_q, position_b) * (width * residual.shape[0])
            + np.maximum(position_q, position_b),
            kind="stable",
        )
        first = runs.order[runs.start]
        i, j = i[first], j[first]
        query_first = position_q[first] < position_b[first]
        src = np.where(query_first[:, None], query_centres[i], base_centres[j])
        dst = np.where(query_first[:, None], base_centres[j], query_centres[i])
        # The quantity a flip leaves constant: translation dst - src, or the mirror axis dst + src.
        const_x = dst[:, 0] + src[:, 0] if fx else dst[:, 0] - src[:, 0]
        const_y = dst[:, 1] + src[:, 1] if fy else dst[:, 1] - src[:, 1]
        votes.append(
            np.stack(
                [
                    np.full(len(src), flip_index),
                    np.floor_divide(const_x, vote_bin),
                    np.floor_divide(const_y, vote_bin),
                    const_x,
                    const_y,
                    dst[:, 0],
                    dst[:, 1],
                ],
                axis=1,
            )
        )
    votes = np.concatenate(votes) if votes else np.zeros((0, 7), np.int64)
    if len(votes) == 0:
        return []
    bins, inverse, counts = np.unique(votes[:, :3], axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    names = list(FLIPS)
    candidates = []
    for b in np.argsort(-counts, kind="stable")[:max_candidates]:
        if counts[b] < min_votes:
            break
        entries = votes[inverse == b].astype(np.float64)
        fx, fy = FLIPS[names[int(bins[b][0])]]
        # The constant of the flip (translation, or twice the mirror axis): the median vote.
        cx, cy = np.median(entries[:, 3]), np.median(entries[:, 4])
        matrix = np.array([[-1.0 if fx else 1.0, 0.0, cx], [0.0, -1.0 if fy else 1.0, cy]])
        candidates.append(
            GrainCandidate(matrix, int(counts[b]), entries[:, 5:7], names[int(bins[b][0])])
        )
    return candidates


def _compress(keep: np.ndarray, *arrays):
    """``a[keep]`` for each of ``arrays``: ``np.compress`` is ~5x faster than boolean indexing
    on the 10^6-element arrays of the bucket pairs."""
    return tuple(np.compress(keep, a) for a in arrays)


def _paired_dot(a: np.ndarray, p: np.ndarray, b: np.ndarray, q: np.ndarray, chunk: int = 8192):
    """``(a[p] * b[q]).sum(axis=1)`` in blocks: the gathered rows of 10^6 pairs would be two
    ~150 MB temporaries; blocks that stay in cache are ~9x faster, with the same values (and
    ``np.take`` gathers rows ~2x faster than fancy indexing)."""
    out = np.empty(len(p), np.float32)
    for start in range(0, len(p), chunk):
        rows = slice(start, start + chunk)
        out[rows] = np.einsum("ij,ij->i", np.take(a, p[rows], axis=0), np.take(b, q[rows], axis=0))
    return out


def _simhash(x: np.ndarray, planes: np.ndarray):
    """The signs of the rows of ``x``'s projections on random hyperplanes (``planes``: (tables,
    dim, bits)): (tables, n) int64 keys, each table's ``bits`` signs as an integer, and (words, n)
    uint64, all the tables' signs packed (for :func:`np.bitwise_count`), one row per word."""
    tables, dim, bits = planes.shape
    signs = (x @ planes.transpose(1, 0, 2).reshape(dim, tables * bits)) > 0
    # Sums of distinct powers of two below 2^24 are exact in float32.
    weights = (2.0 ** np.arange(bits)).astype(np.float32)
    keys = signs.reshape(len(x), tables, bits).astype(np.float32) @ weights
    packed = np.packbits(signs, axis=1)
    words = -(-packed.shape[1] // 8)
    packed = np.pad(packed, ((0, 0), (0, words * 8 - packed.shape[1])))
    return keys.T.astype(np.int64), np.ascontiguousarray(packed.view(np.uint64).T)


def _max_differing_signs(min_correlation: float, signs: int, margin: float = 5.0) -> int:
    """How many of ``signs`` random-hyperplane signs two patches correlated at
    ``min_correlation`` may differ in, ``margin`` standard deviations above the mean.

    Two unit vectors at angle theta fall on opposite sides of a random hyperplane with probability
    theta / pi (Charikar, 2002), independently for each plane. A bucket pair agrees on its
    table's signs by construction, so its count over the other tables (``signs``) is binomial:
    at ``margin`` 5 a pair at ``min_correlation`` 0.8-0.97 exceeds it 1-2 times in 10^6, pairs
    that correlate more (copies) far less often, and a copy votes with many pairs."""
    p = np.arccos(np.clip(min_correlation, -1.0, 1.0)) / np.pi
    return int(np.ceil(signs * p + margin * np.sqrt(signs * p * (1.0 - p))))


class _SortedKeys:
    """Keys sorted, with their runs of equal keys (buckets: ``common`` key, ``start``, ``count``).
    A sort, not ``np.unique``: numpy 2.x's hash-based ``unique`` is ~100x slower at 10^6 keys."""

    def __init__(self, keys: np.ndarray, kind: str = None):
        self.order = np.argsort(keys, kind=kind)
        self.sorted = keys[self.order]
        new_run = np.ones(len(keys), bool)
        new_run[1:] = self.sorted[1:] != self.sorted[:-1]
        starts = np.flatnonzero(new_run)
        self.common = self.sorted[starts]
        self.start = starts
        self.count = np.diff(np.r_[starts, len(keys)])


def _bucket_pairs(key_a: _SortedKeys, key_b: _SortedKeys, max_bucket: int = 16):
    """Index arrays ``(i, j)`` of all pairs with ``key_a[i] == key_b[j]``, from buckets of at most
    ``max_bucket`` members per side (larger buckets are flat or repetitive content, not copies).
    ``key_b``'s buckets are looked up in ``key_a``: b is the smaller side."""
    if len(key_a.common) == 0 or len(key_b.common) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    run = np.minimum(np.searchsorted(key_a.common, key_b.common), len(key_a.common) - 1)
    start_a = key_a.start[run]
    count_a = np.where(key_a.common[run] == key_b.common, key_a.count[run], 0)
    start_b, count_b = key_b.start, key_b.count
    keep = (count_a > 0) & (count_a <= max_bucket) & (count_b <= max_bucket)
    start_a, count_a, start_b, count_b = _compress(keep, start_a, count_a, start_b, count_b)
    sizes = count_a * count_b
    if sizes.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bucket = np.repeat(np.arange(len(sizes)), sizes)
    within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    i = key_a.order[start_a[bucket] + within // count_b[bucket]]
    j = key_b.order[start_b[bucket] + within % count_b[bucket]]
    return i, j
