"""Generalized nearest-neighbour (g2NN) matching of an image's keypoints against themselves.

A duplicated region shows up as keypoints whose descriptors have a near-identical twin elsewhere
in the same image. The plain 2NN ratio test fails when a region is copied more than once (the two
twins are each other's runner-up), so, following Amerini et al. (2011, "A SIFT-based forensic
method for copy-move attack detection"), we look at the k nearest neighbours sorted by distance and
accept all neighbours before the first large jump ``d_i / d_{i+1} < ratio``. Neighbours closer
than ``min_distance`` pixels to the query (the keypoint itself, the same blob at another
orientation, or its own mirror image) are ignored, and each image location counts once.
"""

from dataclasses import dataclass

import numpy as np

from .features import SiftFeatures

__all__ = ["Matches", "g2nn_match"]


@dataclass
class Matches:
    """Matched point pairs in the working frame: ``p[i]`` looks like ``q[i]``; ``mirrored[i]`` when
    ``q[i]``'s neighbourhood is the mirror image of ``p[i]``'s. ``distance``: descriptor distance."""

    p: np.ndarray
    q: np.ndarray
    mirrored: np.ndarray
    distance: np.ndarray

    def __len__(self):
        return len(self.p)

    def subset(self, index) -> "Matches":
        return Matches(self.p[index], self.q[index], self.mirrored[index], self.distance[index])

    @staticmethod
    def empty() -> "Matches":
        return Matches(
            np.zeros((0, 2), np.float32),
            np.zeros((0, 2), np.float32),
            np.zeros(0, bool),
            np.zeros(0, np.float32),
        )


def _nearest_neighbours(queries: np.ndarray, database: np.ndarray, k: int, chunk: int = 1024):
    """Exact k nearest neighbours (Euclidean), chunked matrix products: (indices, distances)."""
    k = min(k, len(database))
    database_sq = (database**2).sum(axis=1)
    indices = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        block = queries[start : start + chunk]
        d2 = (block**2).sum(axis=1)[:, None] + database_sq[None, :] - 2.0 * block @ database.T
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        part_d2 = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(part_d2, axis=1, kind="stable")
        indices[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        distances[start : start + chunk] = np.sqrt(
            np.maximum(np.take_along_axis(part_d2, order, axis=1), 0)
        )
    return indices, distances


def _distinct_locations(
    neighbour_points: np.ndarray, candidate: np.ndarray, radius: float = 2.0
) -> np.ndarray:
    """Of each row's neighbours (sorted by distance), keep the closest one per image location: SIFT
    puts several descriptors on one spot (orientations; the mirrored set), and a twin counted twice
    would look like an ambiguous match to the ratio test. ``neighbour_points`` (R, K, 2),
    ``candidate`` (R, K) bool; returns the kept (R, K) bool, greedily in column order, all rows at
    once."""
    apart = (
        np.abs(neighbour_points[:, :, None, :] - neighbour_points[:, None, :, :]).max(axis=3)
        > radius
    )
    kept = np.zeros(candidate.shape, bool)
    for column in range(candidate.shape[1]):
        earlier = kept[:, :column]
        kept[:, column] = candidate[:, column] & (apart[:, column, :column] | ~earlier).all(axis=1)
    return kept


def g2nn_match(
    features: SiftFeatures, k: int = 10, ratio: float = 0.7, min_distance: float = 10.0
) -> Matches:
    """Self-matches of ``features`` (queries: the unmirrored keypoints; database: all keypoints,
    mirrored ones included). Each geometric pair is returned once."""
    query_index = np.flatnonzero(~features.mirrored)
    if len(query_index) < 2:
        return Matches.empty()
    # Extra neighbours make room for the near-self ones that get skipped.
    neighbours, distances = _nearest_neighbours(
        features.descriptors[query_index], features.descriptors, k + 4
    )
    points = features.points
    offsets = points[neighbours] - points[query_index][:, None, :]
    far_enough = np.hypot(offsets[..., 0], offsets[..., 1]) >= min_distance

    kept = _distinct_locations(points[neighbours], far_enough)
    kept &= np.cumsum(kept, axis=1) <= k  # the k closest distinct locations
    count = kept.sum(axis=1)
    # Each row's kept columns first (in distance order), then its ratio test: accept the
    # neighbours before the first jump d_i / d_{i+1} < ratio (rows without a jump give nothing).
    columns = np.argsort(~kept, axis=1, kind="stable")
    d = np.take_along_axis(distances, columns, axis=1)
    jump = (d[:, :-1] / np.maximum(d[:, 1:], 1e-12) < ratio) & (
        np.arange(d.shape[1] - 1)[None, :] < (count - 1)[:, None]
    )
    first_jump = np.where(jump.any(axis=1), jump.argmax(axis=1), -1)
    rows, positions = np.nonzero(np.arange(d.shape[1])[None, :] <= first_jump[:, None])
    if len(rows) == 0:
        return Matches.empty()
    src = query_index[rows]
    dst = neighbours[rows, columns[rows, positions]]
    dist = d[rows, positions]
    matches = Matches(points[src], points[dst], features.mirrored[dst], dist.astype(np.float32))
    return _unique_pairs(matches)


def _unique_pairs(matches: Matches) -> Matches:
    """Drop the reverse duplicates (a->b and b->a; for mirrored pairs a->mirror(b), b->mirror(a))."""
    p, q = np.rint(matches.p).astype(np.int64), np.rint(matches.q).astype(np.int64)
    swap = (p[:, 0] > q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] > q[:, 1]))
    first = np.where(swap[:, None], q, p)
    second = np.where(swap[:, None], p, q)
    keys = np.concatenate([first, second, matches.mirrored[:, None].astype(np.int64)], axis=1)
    _, unique_index = np.unique(keys, axis=0, return_index=True)
    return matches.subset(np.sort(unique_index))
