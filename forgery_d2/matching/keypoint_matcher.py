"""The keypoint copy-move matcher: SIFT -> g2NN -> clustering -> RANSAC -> dense verification.

``KeypointMatcher(KeypointMatcherParams.from_config(cfg))(image)`` finds duplicated regions inside
one figure and returns
one instance per verified transform; an instance's mask holds both the source region and its copy
(the competition's convention). No training is involved.

Scales: keypoints are detected on a working image whose longer side is in
``[detect_min_size, detect_max_size]`` (``CopyMoveResult.detect_scale``); verification runs at most
at ``verify_max_size`` (``verify_scale``); masks are returned at the input's resolution.
"""

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from forgery_d2.config import ConfigParams
from forgery_d2.structures.masks import mask_iou

from .clustering import group_matches
from .features import detect_sift, resize_by, to_gray_uint8, working_scale
from .g2nn import g2nn_match
from .geometry import estimate_transforms, scale_transform
from .results import CopyMoveInstance, CopyMoveResult
from .verification import refine_transform, verify_copy

__all__ = ["KeypointMatcherParams", "KeypointMatcher", "keypoint_transforms"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeypointMatcherParams(ConfigParams):
    """Matcher settings: one field per ``MODEL.KEYPOINT_MATCHER`` key, whose comment in
    forgery_d2/config.py gives its meaning and default (the one place defaults are written).
    :meth:`default` is the configured default."""

    max_keypoints: int
    detect_min_size: int
    detect_max_size: int
    max_upscale: float
    clahe: bool
    clahe_clip_limit: float
    clahe_tile: int
    sift_contrast_threshold: float
    root_sift: bool
    match_flips: bool
    knn: int
    ratio: float
    min_match_distance: float
    max_matches: int
    cluster_distance: float
    transform: str
    ransac_reproj_threshold: float
    min_inliers: int
    max_scale_change: float
    max_anisotropy: float
    max_transforms: int
    verify_max_size: int
    refine: bool
    verify_tolerance: int
    verify_window: int
    verify_min_zncc: float
    verify_max_abs_diff: float
    verify_min_std: float
    morph_kernel: int
    min_region_area: int
    fill_hull: bool
    max_self_overlap: float
    same_copy_iou: float
    max_instances: int
    inlier_saturation: float

    @classmethod
    def from_config(cls, cfg) -> "KeypointMatcherParams":
        """Read ``cfg.MODEL.KEYPOINT_MATCHER``."""
        m = cfg.MODEL.KEYPOINT_MATCHER
        return cls(
            max_keypoints=m.MAX_KEYPOINTS,
            detect_min_size=m.DETECT_MIN_SIZE,
            detect_max_size=m.DETECT_MAX_SIZE,
            max_upscale=m.MAX_UPSCALE,
            clahe=m.CLAHE,
            clahe_clip_limit=m.CLAHE_CLIP_LIMIT,
            clahe_tile=m.CLAHE_TILE,
            sift_contrast_threshold=m.SIFT_CONTRAST_THRESHOLD,
            root_sift=m.ROOT_SIFT,
            match_flips=m.MATCH_FLIPS,
            knn=m.KNN,
            ratio=m.RATIO,
            min_match_distance=m.MIN_MATCH_DISTANCE,
            max_matches=m.MAX_MATCHES,
            cluster_distance=m.CLUSTER_DISTANCE,
            transform=m.TRANSFORM,
            ransac_reproj_threshold=m.RANSAC_REPROJ_THRESHOLD,
            min_inliers=m.MIN_INLIERS,
            max_scale_change=m.MAX_SCALE_CHANGE,
            max_anisotropy=m.MAX_ANISOTROPY,
            max_transforms=m.MAX_TRANSFORMS,
            verify_max_size=m.VERIFY_MAX_SIZE,
            refine=m.REFINE,
            verify_tolerance=m.VERIFY_TOLERANCE,
            verify_window=m.VERIFY_WINDOW,
            verify_min_zncc=m.VERIFY_MIN_ZNCC,
            verify_max_abs_diff=m.VERIFY_MAX_ABS_DIFF,
            verify_min_std=m.VERIFY_MIN_STD,
            morph_kernel=m.MORPH_KERNEL,
            min_region_area=m.MIN_REGION_AREA,
            fill_hull=m.FILL_HULL,
            max_self_overlap=m.MAX_SELF_OVERLAP,
            same_copy_iou=m.SAME_COPY_IOU,
            max_instances=m.MAX_INSTANCES,
            inlier_saturation=m.INLIER_SATURATION,
        )


def _is_pixel_permutation(matrix: np.ndarray) -> bool:
    """Translation, flip or quarter turn at scale 1: the copy's pixels are the source's exactly."""
    linear = matrix[:, :2]
    return bool(
        np.allclose(np.abs(linear), np.round(np.abs(linear)), atol=1e-6)
        and np.allclose(np.abs(np.linalg.det(linear)), 1.0, atol=1e-6)
    )


def keypoint_transforms(working: np.ndarray, p: KeypointMatcherParams, mask: np.ndarray = None):
    """The keypoint stage on a ``uint8`` working image: CLAHE, SIFT/RootSIFT (+ mirrored), g2NN
    self-matching, clustering, sequential RANSAC. ``mask`` (uint8, nonzero = allowed) restricts
    where keypoints are detected. Returns ``(transforms best first, stats)`` in the working frame."""
    if p.clahe:
        clahe = cv2.createCLAHE(
            clipLimit=p.clahe_clip_limit, tileGridSize=(p.clahe_tile, p.clahe_tile)
        )
        working = clahe.apply(working)
    features = detect_sift(
        working, p.max_keypoints, p.sift_contrast_threshold, p.root_sift, p.match_flips, mask
    )
    matches = g2nn_match(features, k=p.knn, ratio=p.ratio, min_distance=p.min_match_distance)
    if len(matches) > p.max_matches:
        matches = matches.subset(
            np.sort(np.argsort(matches.distance, kind="stable")[: p.max_matches])
        )
    groups = group_matches(matches, p.cluster_distance * max(working.shape), p.min_inliers)
    transforms = []
    for group in groups:
        transforms += estimate_transforms(
            group,
            p.transform,
            p.ransac_reproj_threshold,
            p.min_inliers,
            p.max_scale_change,
            p.max_anisotropy,
            min_shift=p.min_match_distance,
        )
    transforms.sort(key=lambda t: t.num_inliers, reverse=True)
    transforms = transforms[: p.max_transforms]
    stats = dict(
        keypoints=len(features),
        matches=len(matches),
        hypotheses=len(groups),
        transforms=len(transforms),
    )
    return transforms, stats


class KeypointMatcher:
    """Finds copy-moved regions inside one image. Call it on an ``(H, W)``, ``(H, W, 3)`` or
    ``(H, W, 4)`` array (``channel_order`` "RGB" or "BGR" for colour input)."""

    def __init__(self, params: KeypointMatcherParams = None):
        self.params = params or KeypointMatcherParams.default()
        if self.params.transform not in ("similarity", "affine"):
            raise ValueError(
                f"MODEL.KEYPOINT_MATCHER.TRANSFORM must be 'similarity' or 'affine', got {self.params.transform!r}"
            )

    def __call__(self, image: np.ndarray, channel_order: str = "RGB") -> CopyMoveResult:
        p = self.params
        gray = to_gray_uint8(image, channel_order)
        height, width = gray.shape
        detect_scale = working_scale(
            height, width, p.detect_min_size, p.detect_max_size, p.max_upscale
        )
        verify_scale = min(1.0, p.verify_max_size / max(height, width))
        stats = {}

        transforms, keypoint_stats = keypoint_transforms(resize_by(gray, detect_scale), p)
        stats.update(keypoint_stats)

        verify_gray = resize_by(gray, verify_scale)
        to_verify = verify_scale / detect_scale
        candidates = []
        for transform in transforms:
            matrix = scale_transform(transform.matrix, to_verify)
            if p.refine:
                matrix = refine_transform(
                    verify_gray,
                    matrix,
                    transform.copy_points * to_verify,
                    window=p.verify_window,
                    min_std=p.verify_min_std,
                )
            verified = verify_copy(
                verify_gray,
                matrix,
                transform.copy_points * to_verify,
                window=p.verify_window,
                min_zncc=p.verify_min_zncc,
                max_abs_diff=p.verify_max_abs_diff,
                min_std=p.verify_min_std,
                morph_kernel=p.morph_kernel,
                min_area=p.min_region_area,
                max_self_overlap=p.max_self_overlap,
                fill_hull=p.fill_hull,
                tolerance=0 if _is_pixel_permutation(matrix) else p.verify_tolerance,
            )
            if verified is None:
                continue
            score = verified.mean_zncc * (
                1.0 - np.exp(-transform.num_inliers / p.inlier_saturation)
            )
            candidates.append((float(score), verified, transform))
        stats["verified"] = len(candidates)

        instances = [
            self._to_instance(
                score, verified, transform, verify_scale, detect_scale, (height, width)
            )
            for score, verified, transform in self._merge(candidates)[: p.max_instances]
        ]
        logger.debug("copy-move matcher on %dx%d: %s", width, height, stats)
        return CopyMoveResult(instances, (height, width), detect_scale, verify_scale, stats)

    def _merge(self, candidates):
        """Greedy, best score first: a candidate overlapping a kept one (mask IoU > same_copy_iou) is
        folded into it (masks united) rather than reported twice."""
        kept = []
        for score, verified, transform in sorted(candidates, key=lambda c: c[0], reverse=True):
            for _, other, _ in kept:
                if mask_iou(verified.mask, other.mask) > self.params.same_copy_iou:
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
            return (
                cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
                >= 0.5
            )

        source_mask, copy_mask = upsample(verified.source_mask), upsample(verified.copy_mask)
        return CopyMoveInstance(
            mask=source_mask | copy_mask,
            source_mask=source_mask,
            copy_mask=copy_mask,
            score=score,
            matrix=scale_transform(transform.matrix, 1.0 / detect_scale),
            num_inliers=transform.num_inliers,
            mirrored=transform.mirrored,
            evidence={
                "method": "keypoint",
                "inliers": int(transform.num_inliers),
                "verified_pixels": int(copy_mask.sum()),
                "mean_zncc": round(float(verified.mean_zncc), 4),
            },
        )
