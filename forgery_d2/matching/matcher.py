"""The keypoint copy-move matcher: SIFT -> g2NN -> clustering -> RANSAC -> dense verification.

``CopyMoveMatcher(MatcherParams(...))(image)`` finds duplicated regions inside one figure and returns
one instance per verified transform; an instance's mask holds both the source region and its copy
(the competition's convention). No training is involved.

Scales: keypoints are detected on a working image whose longer side is in
``[detect_min_size, detect_max_size]`` (``CopyMoveResult.detect_scale``); verification runs at most
at ``verify_max_size`` (``verify_scale``); masks are returned at the input's resolution.
"""
import logging
from dataclasses import dataclass, field, fields

import cv2
import numpy as np

from .clustering import group_matches
from .features import detect_sift, resize_by, to_gray_uint8, working_scale
from .g2nn import g2nn_match
from .geometry import estimate_transforms, scale_transform
from .verification import refine_transform, verify_copy

__all__ = ["MatcherParams", "CopyMoveInstance", "CopyMoveResult", "CopyMoveMatcher", "mask_iou"]

logger = logging.getLogger(__name__)


@dataclass
class MatcherParams:
    """Matcher settings; each mirrors a ``MODEL.KEYPOINT_MATCHER`` key (see forgery_d2/config.py)."""

    max_keypoints: int = 4000
    detect_min_size: int = 768
    detect_max_size: int = 1600
    max_upscale: float = 3.0
    clahe: bool = True
    clahe_clip_limit: float = 2.0
    clahe_tile: int = 8
    sift_contrast_threshold: float = 0.02
    root_sift: bool = True
    match_flips: bool = True
    knn: int = 8
    ratio: float = 0.7
    min_match_distance: float = 12.0
    max_matches: int = 3000
    cluster_distance: float = 0.04
    transform: str = "similarity"
    ransac_reproj_threshold: float = 3.0
    min_inliers: int = 6
    max_scale_change: float = 2.0
    max_anisotropy: float = 1.5
    max_transforms: int = 12
    verify_max_size: int = 1024
    refine: bool = True
    verify_tolerance: int = 1
    verify_window: int = 7
    verify_min_zncc: float = 0.9
    verify_max_abs_diff: float = 12.0
    verify_min_std: float = 3.0
    morph_kernel: int = 5
    min_region_area: int = 64
    fill_hull: bool = True
    max_self_overlap: float = 0.5
    merge_iou: float = 0.5
    max_instances: int = 5
    inlier_saturation: float = 10.0

    @classmethod
    def from_config(cls, cfg) -> "MatcherParams":
        """Read ``cfg.MODEL.KEYPOINT_MATCHER`` (key ``FOO_BAR`` -> field ``foo_bar``)."""
        section = cfg.MODEL.KEYPOINT_MATCHER
        return cls(**{f.name: section[f.name.upper()] for f in fields(cls)})


@dataclass
class CopyMoveInstance:
    """One verified duplication, at the input image's resolution. ``mask`` = source | copy;
    ``matrix``: 2x3 source -> copy affine map in input pixels; ``score`` in [0, 1]."""

    mask: np.ndarray
    source_mask: np.ndarray
    copy_mask: np.ndarray
    score: float
    matrix: np.ndarray
    num_inliers: int
    mirrored: bool


@dataclass
class CopyMoveResult:
    """Instances (best first) plus what the matcher did (scales and counts, for logs and tests)."""

    instances: list
    image_size: tuple
    detect_scale: float
    verify_scale: float
    stats: dict = field(default_factory=dict)


def _is_pixel_permutation(matrix: np.ndarray) -> bool:
    """Translation, flip or quarter turn at scale 1: the copy's pixels are the source's exactly."""
    linear = matrix[:, :2]
    return bool(np.allclose(np.abs(linear), np.round(np.abs(linear)), atol=1e-6)
                and np.allclose(np.abs(np.linalg.det(linear)), 1.0, atol=1e-6))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


class CopyMoveMatcher:
    """Finds copy-moved regions inside one image. Call it on an ``(H, W)``, ``(H, W, 3)`` or
    ``(H, W, 4)`` array (``channel_order`` "RGB" or "BGR" for colour input)."""

    def __init__(self, params: MatcherParams = None):
        self.params = params or MatcherParams()
        if self.params.transform not in ("similarity", "affine"):
            raise ValueError(
                f"MODEL.KEYPOINT_MATCHER.TRANSFORM must be 'similarity' or 'affine', got {self.params.transform!r}"
            )

    def __call__(self, image: np.ndarray, channel_order: str = "RGB") -> CopyMoveResult:
        p = self.params
        gray = to_gray_uint8(image, channel_order)
        height, width = gray.shape
        detect_scale = working_scale(height, width, p.detect_min_size, p.detect_max_size, p.max_upscale)
        verify_scale = min(1.0, p.verify_max_size / max(height, width))
        stats = {}

        working = resize_by(gray, detect_scale)
        if p.clahe:
            clahe = cv2.createCLAHE(clipLimit=p.clahe_clip_limit, tileGridSize=(p.clahe_tile, p.clahe_tile))
            working = clahe.apply(working)
        features = detect_sift(working, p.max_keypoints, p.sift_contrast_threshold, p.root_sift, p.match_flips)
        matches = g2nn_match(features, k=p.knn, ratio=p.ratio, min_distance=p.min_match_distance)
        if len(matches) > p.max_matches:
            matches = matches.subset(np.sort(np.argsort(matches.distance, kind="stable")[: p.max_matches]))
        groups = group_matches(matches, p.cluster_distance * max(working.shape), p.min_inliers)
        transforms = []
        for group in groups:
            transforms += estimate_transforms(
                group, p.transform, p.ransac_reproj_threshold, p.min_inliers, p.max_scale_change,
                p.max_anisotropy, min_shift=p.min_match_distance,
            )
        transforms.sort(key=lambda t: t.num_inliers, reverse=True)
        transforms = transforms[: p.max_transforms]
        stats.update(keypoints=len(features), matches=len(matches), hypotheses=len(groups),
                     transforms=len(transforms))

        verify_gray = resize_by(gray, verify_scale)
        to_verify = verify_scale / detect_scale
        candidates = []
        for transform in transforms:
            matrix = scale_transform(transform.matrix, to_verify)
            if p.refine:
                matrix = refine_transform(verify_gray, matrix, transform.copy_points * to_verify,
                                          window=p.verify_window, min_std=p.verify_min_std)
            verified = verify_copy(
                verify_gray, matrix, transform.copy_points * to_verify, window=p.verify_window,
                min_zncc=p.verify_min_zncc, max_abs_diff=p.verify_max_abs_diff, min_std=p.verify_min_std,
                morph_kernel=p.morph_kernel, min_area=p.min_region_area, max_self_overlap=p.max_self_overlap,
                fill_hull=p.fill_hull, tolerance=0 if _is_pixel_permutation(matrix) else p.verify_tolerance,
            )
            if verified is None:
                continue
            score = verified.mean_zncc * (1.0 - np.exp(-transform.num_inliers / p.inlier_saturation))
            candidates.append((float(score), verified, transform))
        stats["verified"] = len(candidates)

        instances = [
            self._to_instance(score, verified, transform, verify_scale, detect_scale, (height, width))
            for score, verified, transform in self._merge(candidates)[: p.max_instances]
        ]
        logger.debug("copy-move matcher on %dx%d: %s", width, height, stats)
        return CopyMoveResult(instances, (height, width), detect_scale, verify_scale, stats)

    def _merge(self, candidates):
        """Greedy, best score first: a candidate overlapping a kept one (mask IoU > merge_iou) is
        folded into it (masks united) rather than reported twice."""
        kept = []
        for score, verified, transform in sorted(candidates, key=lambda c: c[0], reverse=True):
            for other_score, other, _ in kept:
                if mask_iou(verified.mask, other.mask) > self.params.merge_iou:
                    other.source_mask |= verified.source_mask
                    other.copy_mask |= verified.copy_mask
                    break
            else:
                kept.append((score, verified, transform))
        return kept

    @staticmethod
    def _to_instance(score, verified, transform, verify_scale, detect_scale, size):
        height, width = size

        def upsample(mask):
            if mask.shape == (height, width):
                return mask.copy()
            return cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5

        source_mask, copy_mask = upsample(verified.source_mask), upsample(verified.copy_mask)
        return CopyMoveInstance(
            mask=source_mask | copy_mask, source_mask=source_mask, copy_mask=copy_mask, score=score,
            matrix=scale_transform(transform.matrix, 1.0 / detect_scale),
            num_inliers=transform.num_inliers, mirrored=transform.mirrored,
        )
