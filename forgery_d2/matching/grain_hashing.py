"""Candidates for small copies from the figure's grain: patch hashing and offset voting.

Keypoints need distinctive structure, so a copied blot band (10-30 px) or a cell on a flat
background often yields none. But a copy carries its source's *grain* pixel for pixel. So:

1. patches of the grain residual (forgery_d2.matching.evidence.grain_residual) on a grid of
   textured, allowed pixels are normalized and hashed with random hyperplanes (SimHash: the signs
   of ``bits`` random projections, in ``tables`` independent tables); copies fall into the same
   bucket, unrelated patches almost never do;
2. candidate pairs from shared buckets are kept when their patches correlate (``min_correlation``)
   and lie ``min_shift`` px apart or more;
3. every pair votes for the transform it implies, for each flip of :data:`FLIPS` (the patch of
   one side is compared with the flipped patch of the other, so flipped and half-turned copies
   vote too): a translation, or the mirror axis and shift. Transforms with ``min_votes`` or more
   are candidates, verified like every other candidate.

Scaled or rotated copies change the grain's sampling and are left to keypoints. Cost is linear in
the number of grid patches (a sort per table), independent of the number of panels.
"""
from dataclasses import dataclass
from typing import List

import numpy as np

from .evidence import grain_residual

__all__ = ["FLIPS", "GrainCandidate", "grain_hash_candidates"]

# name -> (flip x, flip y) applied to the copy side's patch before comparison.
FLIPS = {"none": (False, False), "horizontal": (True, False), "vertical": (False, True), "rot180": (True, True)}


@dataclass
class GrainCandidate:
    matrix: np.ndarray  # 2x3 source -> copy
    votes: int
    copy_points: np.ndarray  # (n, 2) patch centres on the copy side
    flip: str


def _patches(residual: np.ndarray, allowed: np.ndarray, patch: int, stride: int):
    """Centres (n, 2) x, y and flattened patches (n, patch*patch) of the residual on a grid."""
    height, width = residual.shape
    half = patch // 2
    ys, xs = np.mgrid[half:height - half:stride, half:width - half:stride]
    keep = allowed[ys, xs]
    ys, xs = ys[keep], xs[keep]
    offsets = np.arange(patch) - half
    rows = (ys[:, None] + offsets[None, :])[:, :, None]
    cols = (xs[:, None] + offsets[None, :])[:, None, :]
    return np.stack([xs, ys], axis=1), residual[rows, cols].reshape(len(xs), -1)


def _normalize(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)


def grain_hash_candidates(gray: np.ndarray, allowed: np.ndarray, patch: int = 8, stride: int = 2,
                          tables: int = 6, bits: int = 20, min_correlation: float = 0.8, min_shift: float = 10.0,
                          min_votes: int = 6, vote_bin: int = 2, max_points: int = 60000,
                          max_candidates: int = 8, seed: int = 0) -> List[GrainCandidate]:
    """Candidate transforms of copies (see the module docstring). ``gray``: float32 (H, W);
    ``allowed``: bool (H, W), where patches may be centred (textured, not excluded)."""
    residual = grain_residual(gray)
    centres, patches = _patches(residual, allowed, patch, stride)
    if len(centres) < 2 * min_votes:
        return []
    if len(centres) > max_points:  # bounded cost on huge figures: a fixed random subset
        pick = np.sort(np.random.default_rng(seed).choice(len(centres), max_points, replace=False))
        centres, patches = centres[pick], patches[pick]
    query = _normalize(patches.astype(np.float32))
    grid = query.reshape(len(query), patch, patch)
    rng = np.random.default_rng(seed)
    planes = rng.standard_normal((tables, patch * patch, bits)).astype(np.float32)
    weights = (1 << np.arange(bits)).astype(np.int64)
    votes = {}
    for name, (fx, fy) in FLIPS.items():
        flipped = grid[:, ::-1 if fy else 1, ::-1 if fx else 1].reshape(len(query), -1)
        pairs = set()
        for table in range(tables):
            key_q = ((query @ planes[table]) > 0).astype(np.int64) @ weights
            key_f = ((flipped @ planes[table]) > 0).astype(np.int64) @ weights
            pairs.update(_bucket_pairs(key_q, key_f))
        if not pairs:
            continue
        # Each flip is an involution, so (i, j) and (j, i) state the same duplication: keep i < j
        # (raster order, so one duplication votes with one orientation).
        p, q = np.array(sorted((min(i, j), max(i, j)) for i, j in pairs)).T
        correlation = np.einsum("ij,ij->i", query[p], flipped[q])
        shift = np.hypot(*(centres[q] - centres[p]).T)
        ok = (correlation >= min_correlation) & (shift >= min_shift)
        p, q = p[ok], q[ok]
        if len(p) == 0:
            continue
        src, dst = centres[p].astype(np.int64), centres[q].astype(np.int64)
        # The quantity a flip leaves constant: translation dst - src, or the mirror axis dst + src.
        key_x = dst[:, 0] + src[:, 0] if fx else dst[:, 0] - src[:, 0]
        key_y = dst[:, 1] + src[:, 1] if fy else dst[:, 1] - src[:, 1]
        for kx, ky, point in zip(key_x, key_y, dst):
            votes.setdefault((name, int(kx) // vote_bin, int(ky) // vote_bin), []).append((kx, ky, *point))
    ranked = sorted(votes.items(), key=lambda item: len(item[1]), reverse=True)
    candidates = []
    for (name, _, _), entries in ranked:
        if len(entries) < min_votes or len(candidates) >= max_candidates:
            break
        fx, fy = FLIPS[name]
        entries = np.asarray(entries, dtype=np.float64)
        # The constant of the flip (translation, or twice the mirror axis): the median vote.
        cx, cy = np.median(entries[:, 0]), np.median(entries[:, 1])
        matrix = np.array([[-1.0 if fx else 1.0, 0.0, cx], [0.0, -1.0 if fy else 1.0, cy]])
        candidates.append(GrainCandidate(matrix, len(entries), entries[:, 2:], name))
    return candidates


def _bucket_pairs(key_a: np.ndarray, key_b: np.ndarray, max_bucket: int = 16):
    """Index pairs (i, j) with ``key_a[i] == key_b[j]``, from buckets of at most ``max_bucket``
    members per side (large buckets are flat or repetitive content, not copies)."""
    order_a, order_b = np.argsort(key_a, kind="stable"), np.argsort(key_b, kind="stable")
    sorted_a, sorted_b = key_a[order_a], key_b[order_b]
    common, start_a, count_a = np.unique(sorted_a, return_index=True, return_counts=True)
    in_b = np.searchsorted(sorted_b, common, side="left")
    end_b = np.searchsorted(sorted_b, common, side="right")
    count_b = end_b - in_b
    pairs = []
    for bucket in np.flatnonzero((count_b > 0) & (count_a <= max_bucket) & (count_b <= max_bucket)):
        members_a = order_a[start_a[bucket]:start_a[bucket] + count_a[bucket]]
        members_b = order_b[in_b[bucket]:end_b[bucket]]
        pairs.extend((int(i), int(j)) for i in members_a for j in members_b if i != j)
    return pairs
