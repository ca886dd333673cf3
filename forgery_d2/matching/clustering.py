"""Grouping matched pairs into copy-move hypotheses with a consistent source -> copy direction.

Following Amerini et al. (2011), matched keypoints are clustered spatially (single linkage at a
distance threshold, computed as connected components of the radius graph so memory stays linear);
the matches between one pair of clusters (A, B) form one hypothesis, oriented from A to B. When
source and copy touch (adjacent blot lanes) both ends fall in one cluster; those matches are
oriented along their principal displacement direction. Each hypothesis may still hold several
transforms: RANSAC peels them off one by one (see geometry.py).
"""

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .g2nn import Matches

__all__ = ["cluster_points", "group_matches"]


def cluster_points(points: np.ndarray, distance: float) -> np.ndarray:
    """Single-linkage cluster labels of (N, 2) points cut at ``distance``."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(points).query_pairs(r=float(distance), output_type="ndarray")
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(len(points),) * 2
    )
    _, labels = connected_components(graph, directed=False)
    return labels


def _orient_along_principal_direction(matches: Matches) -> Matches:
    displacement = (matches.q - matches.p).astype(np.float64)
    # Principal axis of the undirected displacements (sign-free second moment).
    _, vectors = np.linalg.eigh(displacement.T @ displacement)
    axis = vectors[:, -1]
    flip = displacement @ axis < 0
    p = np.where(flip[:, None], matches.q, matches.p)
    q = np.where(flip[:, None], matches.p, matches.q)
    return Matches(p, q, matches.mirrored, matches.distance)


def group_matches(matches: Matches, cluster_distance: float, min_size: int) -> list:
    """Split ``matches`` into oriented hypotheses (``Matches`` whose ``p`` side is the presumed
    source and ``q`` side the copy), largest first; groups smaller than ``min_size`` are dropped."""
    if len(matches) < min_size:
        return []
    labels = cluster_points(np.concatenate([matches.p, matches.q]), cluster_distance)
    label_p, label_q = labels[: len(matches)], labels[len(matches) :]
    groups = []
    keys = np.stack(
        [np.minimum(label_p, label_q), np.maximum(label_p, label_q), matches.mirrored], axis=1
    )
    unique_keys, inverse = np.unique(keys, axis=0, return_inverse=True)
    for group_id, (low, high, _) in enumerate(unique_keys):
        index = np.flatnonzero(inverse.ravel() == group_id)
        if len(index) < min_size:
            continue
        group = matches.subset(index)
        if low == high:
            group = _orient_along_principal_direction(group)
        else:
            swap = label_p[index] != low
            group = Matches(
                np.where(swap[:, None], group.q, group.p),
                np.where(swap[:, None], group.p, group.q),
                group.mirrored,
                group.distance,
            )
        groups.append(group)
    groups.sort(key=len, reverse=True)
    return groups
