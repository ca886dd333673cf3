"""The figure-aware copy-move matcher: layout -> candidate transforms -> pixel evidence.

Real figures are full of legitimate repetition (lane labels above every blot, identical scale bars
and their "50 um", panel letters, arrows, tick labels, wells of a plate, bands drawn with one
shape). A matcher that reports every pair of regions that look alike accuses authentic figures.
:class:`FigureMatcher` therefore separates *finding* a hypothesis from *proving* it:

1. **Layout** (forgery_d2.layout): the figure's panels, its text / marks and its canvas.
2. **Candidates** (source -> copy transforms), from two searches that complement each other:
   - keypoints (:func:`forgery_d2.matching.keypoint_matcher.keypoint_transforms`: SIFT/RootSIFT and
     their mirror images, g2NN, clustering, RANSAC), detected only off text, marks and canvas, so
     they match within each panel and between any two panels;
   - a global alignment search between every ordered pair of panels over flips, the half turn
     and scales (forgery_d2.matching.panel_alignment): whole- and partial-panel reuse even when a
     panel has few keypoints.
3. **Proof** (forgery_d2.matching.copy_verification): a candidate is kept only where the copy's
   fine texture (the image's high-pass residual) correlates with its source, away from text,
   marks, canvas and rendered graphics (forgery_d2.matching.evidence). Look-alikes share shape,
   not grain, and fail; the mask holds only verified pixels (no hull over a panel). A merged
   overlay and one of its own channel panels, pixel for pixel alike where the other channels are
   dark, are told apart by the colour channel linking the overlay to another channel panel
   (forgery_d2.matching.channel_links).
4. Candidates describing the same duplication are merged (mask IoU > ``same_copy_iou``, or one
   transform for both: a copy that the layout split over two panels is one duplication); the best
   ``max_instances`` are returned, one instance (source and copy together, the competition's
   convention) per duplication, with its transform and evidence.

Scales: keypoints are detected on the keypoint stage's working image (MODEL.KEYPOINT_MATCHER
DETECT_*), the layout and grain hashing read the figure's own pixels, and alignment and
verification run on the figure brought to at most ``verify_max_size`` px on its long side, or
``verify_max_size_uncompressed`` px when it shows no JPEG compression
(:meth:`FigureMatcher._verify_scale`); masks are returned at the input's resolution.
"""

import logging
from dataclasses import dataclass
from typing import Callable, List

import cv2
import numpy as np

from forgery_d2.config import ConfigParams
from forgery_d2.layout import ClassicalLayoutAnalyzer, ClassicalLayoutParams
from forgery_d2.structures.masks import mask_box, mask_iou

from .channel_links import is_channel_composite, line_axis, neutral_planes
from .copy_verification import (
    VerificationParams,
    region_copy,
    transform_evidence,
    verify_candidate,
)
from .evidence import (
    grain_level,
    grain_only,
    grain_residual,
    isotropic_grain_mask,
    local_std,
    rendered_graphics_mask,
    two_dimensional_structure,
)
from .features import resize_by, to_gray_uint8, working_scale
from .geometry import scale_transform
from .grain_hashing import grain_hash_candidates
from .jpeg_grid import jpeg_grid_strength
from .keypoint_matcher import KeypointMatcherParams, keypoint_transforms
from .panel_alignment import panel_pair_candidates, refine_by_search
from .results import CopyMoveInstance, CopyMoveResult
from .verification import refine_transform

__all__ = ["FigureMatcherParams", "FigureMatcher", "CANDIDATE_METHODS"]

# How a candidate transform was found: its instances' ``evidence["method"]``.
CANDIDATE_METHODS = ("keypoint", "panel", "grain")

logger = logging.getLogger(__name__)

# Intensity-patch hashing (noise-free copies): patches need this much intensity structure (grey
# levels of std) and their normalized correlation this much to vote; look-alike bands drawn from
# one template correlate less once their sub-pixel placement and intensity differ.
INTENSITY_HASH_MIN_STD = 3.0
INTENSITY_HASH_MIN_CORRELATION = 0.97


@dataclass(frozen=True)
class FigureMatcherParams(ConfigParams):
    """Settings of :class:`FigureMatcher`: one field per ``MODEL.FIGURE_MATCHER`` key (documented,
    with its default, in forgery_d2/config.py), plus the keypoint stage's ``MODEL.KEYPOINT_MATCHER``."""

    keypoint: KeypointMatcherParams
    verification: VerificationParams
    verify_max_size: int
    verify_max_size_uncompressed: int
    jpeg_grid_min_strength: float
    use_keypoints: bool
    keypoint_region_margin: float
    use_panel_alignment: bool
    panel_thumb_size: int
    panel_scales: tuple
    panel_min_ncc: float
    use_grain_hashing: bool
    grain_min_votes: int
    grain_min_shift: float
    grain_max_candidates: int
    grain_min_residual_zncc: float
    min_verified_pixels: int
    grain_min_verified_pixels: int
    exclude_graphics: bool
    graphics_min_run: int
    same_copy_iou: float
    max_candidates: int
    max_instances: int

    @classmethod
    def from_config(cls, cfg) -> "FigureMatcherParams":
        f = cfg.MODEL.FIGURE_MATCHER
        return cls(
            # The keypoint stage of MODEL.KEYPOINT_MATCHER, scaled copies capped like the panel
            # search: a region shown again much larger is a zoom inset (legitimate), not a reuse.
            keypoint=KeypointMatcherParams.from_config(cfg).replace(
                max_scale_change=f.MAX_SCALE_CHANGE,
                ratio=f.KEYPOINT_RATIO,
                min_inliers=f.KEYPOINT_MIN_INLIERS,
                max_transforms=f.MAX_CANDIDATES,
            ),
            verification=VerificationParams(
                window=f.WINDOW,
                blur_levels=tuple(f.BLUR_LEVELS),
                min_residual_zncc=f.MIN_RESIDUAL_ZNCC,
                min_intensity_zncc=f.MIN_INTENSITY_ZNCC,
                min_texture=f.MIN_TEXTURE,
                max_noise_ratio=f.MAX_NOISE_RATIO,
                min_shifted_ratio=f.MIN_SHIFTED_RATIO,
                shift_contrast=f.SHIFT_CONTRAST,
                uniqueness_shift=f.UNIQUENESS_SHIFT,
                min_component_pixels=f.MIN_COMPONENT_PIXELS,
                min_evidence_pixels=f.MIN_EVIDENCE_PIXELS,
                max_gap=f.MAX_GAP,
                agree_tolerance=f.AGREE_TOLERANCE,
                min_region_agreement=f.MIN_REGION_AGREEMENT,
                min_colour_zncc=f.MIN_COLOUR_ZNCC,
                max_self_overlap=f.MAX_SELF_OVERLAP,
                evidence_saturation=f.EVIDENCE_SATURATION,
            ),
            verify_max_size=f.VERIFY_MAX_SIZE,
            verify_max_size_uncompressed=f.VERIFY_MAX_SIZE_UNCOMPRESSED,
            jpeg_grid_min_strength=f.JPEG_GRID_MIN_STRENGTH,
            use_keypoints=f.KEYPOINTS,
            keypoint_region_margin=f.KEYPOINT_REGION_MARGIN,
            use_panel_alignment=f.PANEL_ALIGNMENT,
            panel_thumb_size=f.PANEL_THUMB_SIZE,
            panel_scales=tuple(f.PANEL_SCALES),
            panel_min_ncc=f.PANEL_MIN_NCC,
            use_grain_hashing=f.GRAIN_HASHING,
            grain_min_votes=f.GRAIN_MIN_VOTES,
            grain_min_shift=f.GRAIN_MIN_SHIFT,
            grain_max_candidates=f.GRAIN_MAX_CANDIDATES,
            grain_min_residual_zncc=f.GRAIN_MIN_RESIDUAL_ZNCC,
            min_verified_pixels=f.MIN_VERIFIED_PIXELS,
            grain_min_verified_pixels=f.GRAIN_MIN_VERIFIED_PIXELS,
            exclude_graphics=f.EXCLUDE_GRAPHICS,
            graphics_min_run=f.GRAPHICS_MIN_RUN,
            same_copy_iou=f.SAME_COPY_IOU,
            max_candidates=f.MAX_CANDIDATES,
            max_instances=f.MAX_INSTANCES,
        )


@dataclass
class _Candidate:
    method: str  # one of CANDIDATE_METHODS
    matrix: np.ndarray  # verification frame
    box: tuple  # where its copy may lie (verification frame; a panel candidate: the copy panel)
    evidence: dict


def _expanded_box(points: np.ndarray, margin: float, size):
    """Bounding box of ``points`` grown by ``margin`` x its size (at least 16 px), clipped."""
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    grow = max(16.0, margin * max(x1 - x0, y1 - y0))
    height, width = size
    return (
        int(max(0, np.floor(x0 - grow))),
        int(max(0, np.floor(y0 - grow))),
        int(min(width, np.ceil(x1 + grow) + 1)),
        int(min(height, np.ceil(y1 + grow) + 1)),
    )


def _panel_interiors(panels, size, window: int) -> np.ndarray:
    """Pixels inside a panel and at least ``window // 2 + 2`` px from its border: panel borders are
    straight edges that every panel shares (under a flip or a shift along them they match
    themselves), so they are never evidence; neither is the canvas."""
    inside = np.zeros(size, bool)
    margin = window // 2 + 2
    for x0, y0, x1, y1 in panels:
        inside[y0 + margin : y1 - margin, x0 + margin : x1 - margin] = True
    return inside


def _colour_planes(rgb: np.ndarray, scale: float):
    """float32 (H, W, 3) colour planes at the verification scale, or None for a grey figure."""
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        return None
    planes = rgb[:, :, :3]
    if (planes[:, :, 0] == planes[:, :, 1]).all() and (planes[:, :, 0] == planes[:, :, 2]).all():
        return None
    return resize_by(np.ascontiguousarray(planes), scale).astype(np.float32)


def _affine3(matrix):
    return np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])


def _shared_side(a, b, min_overlap: float = 0.3):
    """When one side (source or copy mask) of duplication ``a`` overlaps one side of ``b`` by at
    least ``min_overlap`` of the smaller, returns (a's other side, b's other side, unused, a
    function giving the transform from a's other side to b's other side from their matrices);
    else None."""
    sides_a = {"source": a.source_mask, "copy": a.copy_mask}
    sides_b = {"source": b.source_mask, "copy": b.copy_mask}
    for name_a, mask_a in sides_a.items():
        for name_b, mask_b in sides_b.items():
            if not _overlapping(mask_a, mask_b, min_overlap):
                continue
            other_a = sides_a["copy" if name_a == "source" else "source"]
            other_b = sides_b["copy" if name_b == "source" else "source"]

            def link(matrix_a, matrix_b, name_a=name_a, name_b=name_b):
                # Maps to the shared region: a's other side -> shared, shared -> b's other side.
                to_shared = (
                    _affine3(matrix_a) if name_a == "copy" else np.linalg.inv(_affine3(matrix_a))
                )
                from_shared = (
                    np.linalg.inv(_affine3(matrix_b)) if name_b == "copy" else _affine3(matrix_b)
                )
                return (from_shared @ to_shared)[:2]

            return other_a, other_b, None, link
    return None


def _overlapping(mask_a: np.ndarray, mask_b: np.ndarray, min_overlap: float = 0.3) -> bool:
    """Whether two bool masks share at least ``min_overlap`` of the smaller one's pixels."""
    smaller = min(int(mask_a.sum()), int(mask_b.sum()))
    return smaller > 0 and (mask_a & mask_b).sum() >= min_overlap * smaller


def _compose(matrix):
    return matrix if matrix is not None and np.all(np.isfinite(matrix)) else None


def _same_transform(a, b, tolerance: float = 2.0, corners=None) -> bool:
    """Whether two 2x3 maps move ``corners`` (default: three corners of a 100 px square at the
    origin) to less than ``tolerance`` px apart."""
    if corners is None:
        corners = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    return (
        np.abs((corners @ a[:, :2].T + a[:, 2]) - (corners @ b[:, :2].T + b[:, 2])).max()
        < tolerance
    )


def _distinct(candidates):
    """Candidates (best first) without the later ones whose transform repeats an earlier one's."""
    kept = []
    for candidate in candidates:
        if not any(_same_transform(candidate.matrix, other.matrix) for other in kept):
            kept.append(candidate)
    return kept


def _panel_holding(mask: np.ndarray, panels):
    """The panel box holding most of ``mask`` (None when the mask lies outside every panel)."""
    counts = [int(mask[y0:y1, x0:x1].sum()) for x0, y0, x1, y1 in panels]
    return panels[int(np.argmax(counts))] if counts and max(counts) > 0 else None


def _one_object(mask: np.ndarray, share: float = 0.9) -> bool:
    """Whether one 8-connected component holds at least ``share`` of ``mask``'s pixels."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return count > 1 and areas.max() >= share * areas.sum()


def _resize_mask(mask: np.ndarray, size) -> np.ndarray:
    if mask.shape == tuple(size):
        return mask.copy()
    return (
        cv2.resize(mask.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST) > 0
    )


class FigureMatcher:
    """Finds copy-moved regions of a scientific figure (see the module docstring). Call it on an
    ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array (``channel_order`` "RGB" or "BGR")."""

    def __init__(self, params: FigureMatcherParams = None, layout_analyzer: Callable = None):
        """
        Args:
            params: settings (default: :meth:`FigureMatcherParams.default`).
            layout_analyzer: ``image (RGB) -> FigureLayout`` (default: the classical analyzer).
        """
        self.params = params or FigureMatcherParams.default()
        self.layout_analyzer = layout_analyzer or ClassicalLayoutAnalyzer(
            ClassicalLayoutParams.default()
        )

    def __call__(self, image: np.ndarray, channel_order: str = "RGB") -> CopyMoveResult:
        p = self.params
        image = np.asarray(image)
        rgb = (
            image[..., ::-1]
            if image.ndim == 3 and image.shape[2] >= 3 and channel_order.upper() == "BGR"
            else image
        )
        gray = to_gray_uint8(image, channel_order)
        height, width = gray.shape
        layout = self.layout_analyzer(np.ascontiguousarray(rgb[..., :3]) if rgb.ndim == 3 else rgb)
        stats = {}
        verify_scale = self._verify_scale(gray, stats)
        verify_gray = resize_by(gray, verify_scale)
        size = verify_gray.shape
        panels = [tuple(int(round(v * verify_scale)) for v in box) for box in layout.panel_crops()]
        exclude = _resize_mask(layout.mark_mask, size) | ~_panel_interiors(
            panels, size, p.verification.window
        )
        if p.exclude_graphics:
            exclude |= rendered_graphics_mask(verify_gray, p.graphics_min_run, edge_reach=2)
        gray32 = verify_gray.astype(np.float32)
        # The figure's own pixels, for the grain searches (at verify_scale 1 the same image).
        native32 = gray32 if verify_scale == 1.0 else gray.astype(np.float32)
        colour = _colour_planes(rgb, verify_scale)
        stats["panels"] = len(panels)

        candidates: List[_Candidate] = []
        # Each search gets its own budget of candidates (best first), so none crowds out another.
        if p.use_keypoints:
            candidates += self._keypoint_candidates(gray, layout, verify_scale, gray32, stats)[
                : p.max_candidates
            ]
        if p.use_panel_alignment and len(panels) > 1:
            candidates += self._panel_candidates(gray32, panels, stats)[: p.max_candidates]
        if p.use_grain_hashing:
            candidates += self._grain_candidates(native32, verify_scale, exclude, stats)[
                : p.max_candidates
            ]

        verified = []
        link_planes = None  # colour planes for channel_links, built on first use
        for candidate in candidates:
            result = verify_candidate(
                gray32, candidate.matrix, candidate.box, exclude, p.verification, colour
            )
            if result is None:
                continue
            pixels = result.evidence_pixels / verify_scale**2
            # Below min_verified_pixels only a grain match is kept, from grain_min_verified_pixels,
            # and only when its copy is one object (a band, a cell): a few agreeing spots scattered
            # over a figure are what channel panels of one field of view share.
            small_grain_copy = (
                candidate.method == "grain"
                and p.grain_min_verified_pixels <= pixels < p.min_verified_pixels
                and _one_object(result.copy_mask)
            )
            if (pixels < p.min_verified_pixels and not small_grain_copy) or (
                candidate.method == "grain"
                and self._grain_zncc(native32, candidate, result, verify_scale)
                < p.grain_min_residual_zncc
            ):
                continue
            if candidate.method == "panel":
                # A panel candidate says "this whole panel is a copy": only the whole panel agreeing
                # with its source proves it. Evidence on part of it is what two panels of one kind
                # share once aligned (dish rims, well rings stamped alike, lane edges): not a copy.
                result = region_copy(  # its box is the copy panel
                    gray32, candidate.matrix, result, candidate.box, exclude, p.verification
                )
                if result is None:
                    continue
            else:
                region = _panel_holding(result.copy_mask, panels)
                if region is not None:  # grown to its whole panel when that is a copy too
                    result = (
                        region_copy(
                            gray32, candidate.matrix, result, region, exclude, p.verification
                        )
                        or result
                    )
            if colour is not None and line_axis(candidate.matrix) is not None:
                if link_planes is None:  # built once, for the first move along a row or column
                    link_planes = neutral_planes(colour, exclude)
                if is_channel_composite(
                    link_planes, candidate.matrix, result.copy_mask, result.source_mask
                ):
                    continue  # a merged overlay and one of its channel panels
            verified.append((candidate, result))
        composites = self._composites(verified, gray32, exclude, colour)
        stats.update(candidates=len(candidates), verified=len(verified), composites=len(composites))
        verified = [entry for k, entry in enumerate(verified) if k not in composites]
        instances = [
            self._to_instance(c, v, u, verify_scale, (height, width))
            for c, v, u in self._merge(verified)
        ]
        logger.debug("figure matcher on %dx%d: %s", width, height, stats)
        return CopyMoveResult(
            instances[: p.max_instances], (height, width), verify_scale, verify_scale, stats
        )

    def _verify_scale(self, gray, stats) -> float:
        """The scale of the verification image: the figure's own pixels up to ``verify_max_size``
        on its long side; beyond, up to ``verify_max_size_uncompressed`` when the figure shows no
        JPEG grid (its grain is intact at its own pixels, and bringing it down averages it away),
        else down to ``verify_max_size`` (forgery_d2.matching.jpeg_grid says why)."""
        p = self.params
        longer = max(gray.shape)
        limit = p.verify_max_size
        if longer > limit and p.verify_max_size_uncompressed > limit:
            strength = jpeg_grid_strength(gray)
            stats["jpeg_grid"] = round(strength, 3)
            if strength < p.jpeg_grid_min_strength:
                limit = p.verify_max_size_uncompressed
        return min(1.0, limit / longer)

    def _keypoint_candidates(self, gray, layout, verify_scale, gray32, stats):
        kp = self.params.keypoint
        height, width = gray.shape
        detect_scale = working_scale(
            height, width, kp.detect_min_size, kp.detect_max_size, kp.max_upscale
        )
        working = resize_by(gray, detect_scale)
        allowed = ~_resize_mask(layout.mark_mask | layout.background_mask, working.shape)
        transforms, keypoint_stats = keypoint_transforms(
            working, kp, allowed.astype(np.uint8) * 255
        )
        stats.update(keypoint_stats)
        to_verify = verify_scale / detect_scale
        candidates = []
        for transform in transforms:
            matrix = scale_transform(transform.matrix, to_verify)
            copy_points = transform.copy_points * to_verify
            if kp.refine:
                matrix = refine_transform(
                    gray32,
                    matrix,
                    copy_points,
                    window=kp.verify_window,
                    min_std=kp.verify_min_std,
                    keep_unsnapped=True,
                )
            box = _expanded_box(copy_points, self.params.keypoint_region_margin, gray32.shape)
            candidates.append(
                _Candidate("keypoint", matrix, box, {"inliers": int(transform.num_inliers)})
            )
        return candidates

    def _grain_zncc(self, native32, candidate, result, verify_scale) -> float:
        """Mean residual ZNCC of a grain match over its evidence, at the figure's own resolution.

        A grain match is a whole-pixel move (or flip) of the figure's own pixels, so its copy
        repeats the source's grain exactly there. In a figure brought down to the verification
        size the two sides are resampled at different sub-pixel phases, which lowers the ZNCC of
        true copies (0.94-0.97 where they score > 0.99 at full size) below the threshold that
        separates them from look-alikes. The move is re-read at full size: the nearest whole
        pixels of the scaled constant (2 x 2 options), the best kept."""
        if verify_scale >= 1.0:
            return result.residual_zncc
        v = self.params.verification
        native = scale_transform(candidate.matrix, 1.0 / verify_scale)
        copy_mask = _resize_mask(result.copy_mask, native32.shape)
        box = mask_box(copy_mask)
        if box is None:
            return 0.0
        inside = copy_mask[box[1] : box[3], box[0] : box[2]]
        best = 0.0
        for tx in {np.floor(native[0, 2]), np.ceil(native[0, 2])}:
            for ty in {np.floor(native[1, 2]), np.ceil(native[1, 2])}:
                matrix = native.copy()
                matrix[:, 2] = (tx, ty)
                maps, evidence = transform_evidence(native32, matrix, box, v)
                evidence &= inside
                if evidence.sum() >= v.min_evidence_pixels:
                    best = max(best, float(maps.residual_zncc[evidence].mean()))
        return best

    def _grain_candidates(self, gray32, verify_scale, exclude, stats):
        """Hashing and offset voting on two textures: the grain (copies that kept their noise) and
        the intensities themselves (near-exact copies in noise-free figures, e.g. from digital
        imagers, where the residual is only quantization).

        Both run on the figure's own pixels (``gray32``), not on the verification image: a copy
        moved by whole pixels is moved by a fraction of one once the figure is brought down to
        ``verify_max_size``, and its grain, resampled at another phase than its source's, no
        longer hashes alike. Their cost is bounded by the number of patches, not the figure's
        size. The candidates are returned in the verification frame (``verify_scale``)."""
        p = self.params
        v = p.verification
        verify_size = exclude.shape
        exclude = _resize_mask(exclude, gray32.shape)
        residual = grain_residual(gray32)
        residual = grain_only(residual, grain_level(residual))
        grain_allowed = ~exclude & isotropic_grain_mask(
            residual, v.window, int(round(v.uniqueness_shift)), min_texture=v.min_texture
        )
        structured = (
            ~exclude
            & (local_std(gray32, v.window) >= INTENSITY_HASH_MIN_STD)
            & two_dimensional_structure(gray32, v.window)
        )
        found = grain_hash_candidates(
            residual,
            grain_allowed,
            min_votes=p.grain_min_votes,
            min_shift=p.grain_min_shift,
            max_candidates=p.grain_max_candidates,
        )
        found += grain_hash_candidates(
            gray32,
            structured,
            min_votes=p.grain_min_votes,
            min_shift=p.grain_min_shift,
            max_candidates=p.grain_max_candidates,
            min_correlation=INTENSITY_HASH_MIN_CORRELATION,
            # Grid against grid: 4x cheaper (this pass floods on smooth content); odd moves of
            # noise-free copies are left to the grain pass and keypoints.
            every_offset=False,
        )
        found = _distinct(sorted(found, key=lambda c: c.votes, reverse=True))
        stats["grain_candidates"] = len(found)
        candidates = []
        for candidate in found:
            box = _expanded_box(
                candidate.copy_points * verify_scale,
                self.params.keypoint_region_margin,
                verify_size,
            )
            matrix = scale_transform(candidate.matrix, verify_scale)
            candidates.append(_Candidate("grain", matrix, box, {"votes": int(candidate.votes)}))
        return candidates

    def _panel_candidates(self, gray32, panels, stats):
        p = self.params
        found = panel_pair_candidates(
            gray32, panels, p.panel_thumb_size, p.panel_scales, p.panel_min_ncc
        )
        stats["panel_pairs"] = len(found)
        candidates = []
        for candidate in sorted(found, key=lambda c: c.ncc, reverse=True):
            box = panels[candidate.copy_panel]
            matrix = refine_by_search(gray32, candidate.matrix, box)
            candidates.append(
                _Candidate("panel", matrix, box, {"panel_ncc": round(candidate.ncc, 4)})
            )
        return candidates

    def _composites(self, verified, gray32, exclude, colour):
        """Indices of duplications that are parts of a composite, not copies. A region that
        matches two *different* regions (a merged overlay holds each channel panel's pixels; a
        panel summing two others) is a composite when those two do not match each other: a
        region copied twice makes all three match each other (a forgery), a merge does not."""
        p = self.params
        composite = set()
        for i in range(len(verified)):
            for j in range(i + 1, len(verified)):
                (ci, ri), (cj, rj) = verified[i], verified[j]
                shared = _shared_side(ri, rj)
                if shared is None:
                    continue
                other_i, other_j, to_i, to_j = shared
                if _overlapping(other_i, other_j):
                    # Both sides shared: one duplication found twice (a keypoint transform and the
                    # panel search's, a scale 0.004 apart). Their "link" maps a region onto itself
                    # a few px off, which no verification passes: that is not a composite.
                    continue
                # The transform from i's other side to j's other side, through the shared region.
                link = _compose(to_j(ci.matrix, cj.matrix))
                if link is None or _same_transform(
                    link, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
                ):
                    continue
                box = mask_box(other_j)
                if box is None:
                    continue
                if verify_candidate(gray32, link, box, exclude, p.verification, colour) is None:
                    composite.update((i, j))
        return composite

    def _merge(self, verified):
        """Best score first; a duplication joins a kept one when their masks overlap (IoU >
        same_copy_iou) or when both copies come from their sources by one transform (the two
        transforms map every corner of the box around both copies to within 3 px of each other;
        a reused panel that the layout split in two): its pixels are added to the kept instance's
        mask. Returns (candidate, result, mask)."""
        kept = []
        for candidate, result in sorted(verified, key=lambda cv: cv[1].score, reverse=True):
            for entry in kept:
                overlaps = mask_iou(result.mask, entry[2]) > self.params.same_copy_iou
                if overlaps or self._one_transform(
                    candidate.matrix, entry[0].matrix, result.copy_mask | entry[1].copy_mask
                ):
                    entry[2] = entry[2] | result.mask
                    break
            else:
                kept.append([candidate, result, result.mask])
        return kept

    @staticmethod
    def _one_transform(matrix_a, matrix_b, copies, tolerance: float = 3.0) -> bool:
        ys, xs = np.nonzero(copies)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)
        return _same_transform(
            cv2.invertAffineTransform(matrix_a.astype(np.float64)),
            cv2.invertAffineTransform(matrix_b.astype(np.float64)),
            tolerance,
            corners,
        )

    @staticmethod
    def _to_instance(candidate, verified, union, verify_scale, size) -> CopyMoveInstance:
        source_mask, copy_mask = (
            _resize_mask(verified.source_mask, size),
            _resize_mask(verified.copy_mask, size),
        )
        matrix = scale_transform(candidate.matrix, 1.0 / verify_scale)
        evidence = {
            "method": candidate.method,
            **candidate.evidence,
            "verified_pixels": int(round(verified.evidence_pixels / verify_scale**2)),
            "residual_zncc": round(verified.residual_zncc, 4),
        }
        linear = matrix[:, :2]
        return CopyMoveInstance(
            mask=_resize_mask(union, size) | source_mask | copy_mask,
            source_mask=source_mask,
            copy_mask=copy_mask,
            score=float(verified.score),
            matrix=matrix,
            num_inliers=int(candidate.evidence.get("inliers", 0)),
            mirrored=bool(np.linalg.det(linear) < 0),
            evidence=evidence,
        )
