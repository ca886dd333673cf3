"""Deciding which pixels a candidate transform really copies (figure-aware matcher).

Given a candidate source -> copy transform and the part of the figure where its copy may lie, the
copy mask is built from pixel evidence only (:mod:`forgery_d2.matching.evidence`):

1. **Evidence**: pixels whose fine texture (residual) correlates with the warped source, whose
   intensities correlate too, and that are textured; pixels excluded on either side (text, marks,
   the canvas, rendered graphics) never count.
2. **Regions**: connected components of the evidence with at least ``min_component_pixels``.
3. **Mask**: each region's evidence, its gaps of up to ``max_gap`` px closed and its enclosed holes
   filled, plus the rim of half a window the windowed evidence cannot reach, but only where the
   copy agrees with the photometrically fitted source pixel for pixel (a flat band core inside a
   verified band is part of the copy; the flat background around it is not). So the mask never
   grows across flat or textureless areas: every pixel of it is evidence, or agrees with its
   source and lies within ``max(max_gap, window // 2 + 2)`` px of evidence.
   **Colour**: in a colour figure the copy must be a copy in every channel. A merged "overlay"
   micrograph holds each channel panel's signal in one colour channel (legitimately: it is their
   composite), so in grey it correlates with each of them; channel by channel, the overlay has
   texture where the single-channel panel is black. Over the evidence, every colour channel with
   texture on either side must correlate (residual ZNCC >= ``min_colour_zncc``), or the candidate
   is rejected.
4. **Source**: the copy mask mapped back through the transform. A "copy" overlapping its own source
   by more than ``max_self_overlap`` (a symmetric object matched onto itself) is rejected. A flip
   or half turn is its own inverse, so when its box holds both sides, both are evidence and they
   overlap wholly: it is then verified again on one side of its fixed line (or point), and kept
   when that side repeats its source's grain (``SPLIT_MIN_RESIDUAL_ZNCC``).
5. **Whole region** (:func:`region_copy`): when a verified transform also makes a whole
   region (the panel holding the evidence, or the panel a panel-pair candidate copies) agree with
   its source pixel for pixel on at least ``min_region_agreement`` of it, and (pixel for pixel or
   once smoothed) on as much of its *informative* pixels (where the source's local std over a
   window reaches ``agree_tolerance``: two flat areas agree under any transform and prove nothing;
   a faint, smooth region with too few of them is judged on the first test alone), the region is
   a copy as a whole (a reused panel): the mask becomes its agreeing pixels, enclosed holes
   filled. A dark micrograph background counts then (it is part of the reused panel), but it
   cannot prove the region on its own.
   Once the region is proven, its pixels are also compared after both sides are smoothed
   (``REGION_SMOOTHING``): a reused panel blurred or rescaled differs from its source pixel for
   pixel by more than the tolerance over its grain, which no longer breaks its mask into speckles.
   The proof itself stays pixel for pixel.

The score grows with the amount and strength of the evidence:
``mean residual ZNCC x (1 - exp(-evidence pixels / evidence_saturation))``.
"""

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
from scipy import ndimage

from .evidence import copy_evidence, grain_residual, local_std, warped_inside, warped_source

__all__ = [
    "VerificationParams",
    "VerifiedCopy",
    "verify_candidate",
    "transform_evidence",
    "region_copy",
    "warp_mask",
]


@dataclass(frozen=True)
class VerificationParams:
    """Settings of :func:`verify_candidate`; one field per ``MODEL.FIGURE_MATCHER`` key of the
    same name (forgery_d2/config.py documents each and holds the defaults)."""

    window: int
    blur_levels: tuple
    min_residual_zncc: float
    min_intensity_zncc: float
    min_texture: float
    max_noise_ratio: float
    min_shifted_ratio: float
    shift_contrast: float
    uniqueness_shift: float
    min_component_pixels: int
    min_evidence_pixels: int
    max_gap: int
    agree_tolerance: float
    min_region_agreement: float
    min_colour_zncc: float
    max_self_overlap: float
    evidence_saturation: float


@dataclass
class VerifiedCopy:
    """A verified duplication in the verification frame: bool ``(H, W)`` masks of the source and
    of the copy, the number of evidence pixels, their mean residual ZNCC and the score."""

    source_mask: np.ndarray
    copy_mask: np.ndarray
    evidence_pixels: int
    residual_zncc: float
    score: float
    gain: float = 1.0  # photometric fit copy ~ gain * source + bias over the evidence
    bias: float = 0.0

    @property
    def mask(self) -> np.ndarray:
        return self.source_mask | self.copy_mask


def warp_mask(mask: np.ndarray, matrix: np.ndarray, size) -> np.ndarray:
    """Map a bool mask through a 2x3 transform (nearest neighbour) into an image of ``size`` (H, W)."""
    return (
        cv2.warpAffine(
            mask.astype(np.uint8),
            matrix.astype(np.float64),
            (size[1], size[0]),
            flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        > 0
    )


def _photometric_fit(copy: np.ndarray, source: np.ndarray, where: np.ndarray):
    """Least-squares ``copy ~ gain * source + bias`` over ``where`` (gain kept in [0.5, 2])."""
    c, s = copy[where].astype(np.float64), source[where].astype(np.float64)
    var = s.var()
    gain = (
        float(np.clip(((c - c.mean()) * (s - s.mean())).mean() / var, 0.5, 2.0))
        if var > 1e-6
        else 1.0
    )
    return gain, float(c.mean() - gain * s.mean())


def _colour_consistent(
    colour: np.ndarray,
    inverse: np.ndarray,
    evidence: np.ndarray,
    allowed: np.ndarray,
    box,
    min_zncc: float,
    min_texture: float,
    min_signal: float = 8.0,
    max_imbalance: float = 0.5,
) -> bool:
    """Whether the copy is a copy in every colour channel (``evidence``, ``allowed``: bool over
    ``box``; ``allowed``: the figure's data on both sides, not its canvas, text or graphics):

    - over the allowed pixels near the evidence, in the connected regions of ``allowed`` that hold
      it (its own panels), the copy's colours vary along the same colour directions as the
      source's: a merged overlay adds, to one channel panel's colour, the colours of the others
      (its colour variance off the source's main colour direction is many times the source's);
    - over the evidence, every channel textured on either side is textured on both (residual std
      ratio >= ``max_imbalance``) and correlates (residual ZNCC >= ``min_zncc``)."""
    x0, y0, x1, y1 = box
    local = inverse.copy()
    local[:, 2] += inverse[:, :2] @ np.array([x0, y0], dtype=np.float64)
    size = (x1 - x0, y1 - y0)
    # The colour composition is compared near the evidence (within ``reach`` px), where source and
    # copy must be the same picture, and only in the connected data regions holding the evidence:
    # 25 px from a panel's edge lies the next panel, across a canvas gutter. A neighbouring panel
    # of another colour (the blue nuclei panel beside the red one) gave the single-channel side the
    # off-colour variance of a composite, and a merged overlay then passed as its copy.
    reach = 25
    near = (
        cv2.dilate(evidence.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
    )
    _, regions = cv2.connectedComponents(allowed.astype(np.uint8), connectivity=4)
    holding = np.unique(regions[evidence])
    inside = allowed & near & np.isin(regions, holding[holding > 0])
    copies, sources = [], []
    for channel in range(colour.shape[2]):
        plane = np.ascontiguousarray(colour[:, :, channel])
        copies.append(plane[y0:y1, x0:x1])
        sources.append(
            cv2.warpAffine(
                plane,
                local,
                size,
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REFLECT,
            )
        )
    source_pixels = np.stack([p[inside] for p in sources], axis=1).astype(np.float64)
    copy_pixels = np.stack([p[inside] for p in copies], axis=1).astype(np.float64)
    if len(source_pixels) > 1:
        source_pixels -= source_pixels.mean(axis=0)
        copy_pixels -= copy_pixels.mean(axis=0)
        # Either side may be the composite (which side is "source" is arbitrary): compare both ways.
        for reference, other in ((source_pixels, copy_pixels), (copy_pixels, source_pixels)):
            main = np.linalg.svd(reference, full_matrices=False)[2][0]
            off_reference = np.mean(np.sum(reference**2, axis=1) - (reference @ main) ** 2)
            off_other = np.mean(np.sum(other**2, axis=1) - (other @ main) ** 2)
            if off_other > off_reference / max_imbalance**2 + min_signal**2:
                return False
    native = _native_source_pixels(inverse, evidence, box, colour.shape[:2])
    for channel, (copy, source) in enumerate(zip(copies, sources)):
        copy_residual, source_residual = (
            grain_residual(copy)[evidence],
            grain_residual(source)[evidence],
        )
        # How textured the source is, read at its own pixels: the warp resamples it, and at a
        # half-pixel phase (a whole-pixel move in a figure brought down to the verification size,
        # any rescale) bilinear interpolation halves its grain, which would look like a channel
        # flat on one side.
        native_std = _native_residual_std(colour[:, :, channel], native)
        texture = sorted((float(copy_residual.std()), native_std))
        if texture[1] < min_texture:
            continue  # flat in this channel on both sides: says nothing
        if (
            texture[0] < max_imbalance * texture[1]
            or np.corrcoef(copy_residual, source_residual)[0, 1] < min_zncc
        ):
            return False
    return True


# px (Gaussian sigma): a region proven to be a copy as a whole (region_copy) has its mask read at
# this smoothing, which divides independent per-pixel noise by about 5.
REGION_SMOOTHING = 1.5

# A flip or half turn found with both sides in its box is kept on one side only when that side
# repeats its source's grain pixel for pixel: a symmetric object matched onto itself (one object,
# split at its own axis) mirrors its shape, not its grain. Rendered symmetric shapes come close: a
# row of wells drawn from one ring template, mirrored onto the row beside it, verified at 0.981
# (an authentic figure of seed 2035), and two forged figures' flips onto their own symmetric
# objects at 0.983 and 0.987 (development seeds 5 and 11), against 0.998-0.999 for the three
# copies beside their sources found there.
SPLIT_MIN_RESIDUAL_ZNCC = 0.99

# Pixels around the source that grain_residual's smoothing filter (5 x 5) reads.
_SMOOTHER_REACH = 3


def _native_source_pixels(inverse: np.ndarray, evidence: np.ndarray, box, shape):
    """(crop box, rows, cols): the figure's pixels nearest to where ``inverse`` (copy (x, y) ->
    source) sends the ``evidence`` pixels of ``box``, as indices into the crop box (the source's
    bounding box with a margin for :func:`grain_residual`'s filter, inside the figure)."""
    ys, xs = np.nonzero(evidence)
    points = np.stack([xs + box[0], ys + box[1], np.ones(len(xs))], axis=0)
    sx, sy = np.rint(inverse @ points).astype(np.int64)
    height, width = shape
    inside = (sx >= 0) & (sx < width) & (sy >= 0) & (sy < height)
    sx, sy = sx[inside], sy[inside]
    if len(sx) == 0:
        return None
    margin = _SMOOTHER_REACH
    x0, y0 = max(int(sx.min()) - margin, 0), max(int(sy.min()) - margin, 0)
    x1, y1 = min(int(sx.max()) + margin + 1, width), min(int(sy.max()) + margin + 1, height)
    return (x0, y0, x1, y1), sy - y0, sx - x0


def _native_residual_std(plane: np.ndarray, native) -> float:
    if native is None:
        return 0.0
    (x0, y0, x1, y1), rows, cols = native
    return float(grain_residual(np.ascontiguousarray(plane[y0:y1, x0:x1]))[rows, cols].std())


def transform_evidence(gray: np.ndarray, matrix: np.ndarray, box, params: VerificationParams):
    """The evidence maps of ``matrix`` over ``box`` of ``gray`` and their evidence pixels (bool,
    the box's shape) under ``params``' thresholds: (EvidenceMaps, evidence)."""
    maps = copy_evidence(
        gray,
        matrix,
        box,
        params.window,
        params.blur_levels,
        uniqueness_shift=params.uniqueness_shift,
    )
    return maps, maps.evidence(
        params.min_residual_zncc,
        params.min_intensity_zncc,
        params.min_texture,
        params.max_noise_ratio,
        params.min_shifted_ratio,
        params.shift_contrast,
    )


def verify_candidate(
    gray: np.ndarray,
    matrix: np.ndarray,
    box,
    exclude: np.ndarray,
    params: VerificationParams,
    colour: np.ndarray = None,
) -> Optional[VerifiedCopy]:
    """Verify ``matrix`` (2x3 source (x, y) -> copy) for copies inside ``box`` (x0, y0, x1, y1) of
    ``gray`` (float32 (H, W)). ``exclude``: bool (H, W), pixels that are never evidence (text,
    marks, canvas, rendered graphics), on the copy side and, mapped through the transform, on the
    source side. ``colour``: the figure as float32 (H, W, 3) when it has colour (None: grey).
    Returns None when there is not enough evidence (see the module docstring)."""
    height, width = gray.shape
    x0, y0, x1, y1 = box
    if x1 - x0 < params.window or y1 - y0 < params.window:
        return None
    inverse = cv2.invertAffineTransform(matrix.astype(np.float64))
    # Excluded pixels of the source, seen from the copy: exclude(M^-1 p) for p in the box.
    shifted = inverse.copy()
    shifted[:, 2] += inverse[:, :2] @ np.array([x0, y0], dtype=np.float64)
    source_excluded = (
        cv2.warpAffine(
            exclude.astype(np.uint8),
            shifted,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=1,
        )
        > 0
    )
    maps, evidence = transform_evidence(gray, matrix, box, params)
    allowed = maps.valid & ~exclude[y0:y1, x0:x1] & ~source_excluded
    evidence &= allowed
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        evidence.astype(np.uint8), connectivity=8
    )
    keep = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= params.min_component_pixels) + 1
    if len(keep) == 0:
        return None
    evidence = np.isin(labels, keep)
    evidence_pixels = int(evidence.sum())
    if evidence_pixels < params.min_evidence_pixels:
        return None
    if colour is not None and not _colour_consistent(
        colour,
        inverse,
        evidence,
        allowed,
        (x0, y0, x1, y1),
        params.min_colour_zncc,
        params.min_texture,
    ):
        return None
    result = _verified_copy(maps, evidence, allowed, inverse, box, exclude, params)
    if result is None and _is_involution(matrix):
        # A flip or half turn is its own inverse: when the box holds both sides, both are evidence
        # (each is the other's copy) and the "copy" overlaps its "source" wholly. Kept when one
        # side alone is a copy that repeats its source's grain (see SPLIT_MIN_RESIDUAL_ZNCC).
        side = _side_of_involution(matrix, evidence, box)
        one_side = evidence & side
        if (
            one_side.sum() >= params.min_evidence_pixels
            and maps.residual_zncc[one_side].mean() >= SPLIT_MIN_RESIDUAL_ZNCC
        ):
            result = _verified_copy(maps, one_side, allowed & side, inverse, box, exclude, params)
    return result


def _verified_copy(maps, evidence, allowed, inverse, box, exclude, params):
    """The copy and source masks grown from ``evidence`` (bool, the box's frame) and the score
    (module docstring, steps 3-4); None when the copy overlaps its own source."""
    x0, y0, x1, y1 = box
    height, width = exclude.shape
    evidence_pixels = int(evidence.sum())
    gain, bias = _photometric_fit(maps.copy, maps.source, evidence)
    agrees = allowed & (np.abs(maps.copy - (gain * maps.source + bias)) <= params.agree_tolerance)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * params.max_gap + 1,) * 2)
    # The window-based evidence stops about half a window short of a copy's border: agreeing
    # pixels within that reach (and within max_gap) belong to the copy too.
    reach = max(params.max_gap, params.window // 2 + 2)
    near = (
        cv2.dilate(
            evidence.astype(np.uint8),
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2),
        )
        > 0
    )
    closed = cv2.morphologyEx(evidence.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    filled = ndimage.binary_fill_holes(closed)
    copy_local = evidence | (agrees & (near | filled))
    copy_mask = np.zeros((height, width), bool)
    copy_mask[y0:y1, x0:x1] = copy_local
    source_mask = warp_mask(copy_mask, inverse, (height, width)) & ~exclude
    source_area, copy_area = int(source_mask.sum()), int(copy_mask.sum())
    if min(source_area, copy_area) == 0:
        return None
    if (source_mask & copy_mask).sum() / min(source_area, copy_area) > params.max_self_overlap:
        return None
    zncc = float(np.clip(maps.residual_zncc[evidence].mean(), 0.0, 1.0))
    score = zncc * (1.0 - np.exp(-evidence_pixels / params.evidence_saturation))
    return VerifiedCopy(
        source_mask=source_mask,
        copy_mask=copy_mask,
        evidence_pixels=evidence_pixels,
        residual_zncc=zncc,
        score=float(score),
        gain=gain,
        bias=bias,
    )


def _is_involution(matrix: np.ndarray, tolerance: float = 0.5) -> bool:
    """Whether the 2x3 map is its own inverse (a mirror flip or a half turn, up to ``tolerance``
    px over a 100 px square: M(M(p)) ~ p)."""
    square = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    once = square @ matrix[:, :2].T + matrix[:, 2]
    twice = once @ matrix[:, :2].T + matrix[:, 2]
    return bool(np.abs(twice - square).max() < tolerance)


def _side_of_involution(matrix: np.ndarray, evidence: np.ndarray, box) -> np.ndarray:
    """The pixels of the box (bool, its frame) on one side of an involution's fixed line or point:
    a pixel p and its image M(p) always fall on opposite sides. The dividing line runs through
    the evidence's midpoints (p + M(p)) / 2, across the direction that separates its pixels from
    their images most (the principal axis of p - M(p))."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    moves = points - (points @ matrix[:, :2].T + matrix[:, 2])  # p - M(p)
    at = evidence.ravel()
    _, vectors = np.linalg.eigh(moves[at].T @ moves[at])
    return (moves @ vectors[:, -1] > 0).reshape(evidence.shape)


def region_copy(
    gray: np.ndarray,
    matrix: np.ndarray,
    verified: VerifiedCopy,
    region_box,
    exclude: np.ndarray,
    params: VerificationParams,
) -> Optional[VerifiedCopy]:
    """Step 5 of the module docstring: ``verified`` with its masks grown to the agreeing pixels of
    ``region_box`` (x0, y0, x1, y1) when that whole region agrees with its source; None when it
    does not."""
    height, width = gray.shape
    x0, y0, x1, y1 = (int(v) for v in region_box)
    if x1 - x0 < params.window or y1 - y0 < params.window:
        return None
    inverse = cv2.invertAffineTransform(matrix.astype(np.float64))
    local = inverse.copy()
    local[:, 2] += inverse[:, :2] @ np.array([x0, y0], dtype=np.float64)
    size = (x1 - x0, y1 - y0)
    source = warped_source(gray, local, size)
    inside = warped_inside(gray, local, size)
    # The region's own excluded pixels (its border margin, text, marks) say nothing either way; of
    # the rest, at least half must have a source inside the figure. (Measured against the whole
    # box, the border margin alone failed every blot strip under ~40 px.)
    allowed = ~exclude[y0:y1, x0:x1]
    usable = inside & allowed
    if usable.sum() < max(params.min_evidence_pixels, 0.5 * allowed.sum()):
        return None
    agrees = usable & (
        np.abs(gray[y0:y1, x0:x1] - (verified.gain * source + verified.bias))
        <= params.agree_tolerance
    )
    if agrees.sum() < params.min_region_agreement * usable.sum():
        return None
    # Both sides smoothed (REGION_SMOOTHING), so that grain, JPEG and resampling noise do not
    # decide: a copy rescaled or blurred differs from its source by more than the tolerance pixel
    # for pixel wherever the source is steep.
    smooth = (0, 0)
    copy_smooth = cv2.GaussianBlur(gray[y0:y1, x0:x1], smooth, REGION_SMOOTHING)
    source_smooth = cv2.GaussianBlur(source, smooth, REGION_SMOOTHING)
    agrees_smoothed = inside & (
        np.abs(copy_smooth - (verified.gain * source_smooth + verified.bias))
        <= params.agree_tolerance
    )
    # Flat areas agree under any transform, so agreement (pixel for pixel or smoothed) is also
    # required on the pixels where a wrong alignment would show: where the source varies by at
    # least the tolerance within a window. A fluorescence panel is mostly black: one cell copied
    # into it "proved" the whole panel a copy, and the mask covered the panel (development seed 5,
    # figure 0: pixel F1 0.16; 64 % of such pixels agree there, 81-92 % on two reused panels). A
    # region with too little such structure to tell (a faint, smooth panel) is judged as before,
    # on the first test alone.
    agrees_either = agrees | agrees_smoothed
    informative = usable & (
        local_std(source, params.window) * verified.gain >= params.agree_tolerance
    )
    if informative.sum() >= params.min_evidence_pixels and (
        (agrees_either & informative).sum() < params.min_region_agreement * informative.sum()
    ):
        return None
    # The region is a copy as a whole. Its mask is every pixel of it that agrees with its source,
    # pixel for pixel or once both are smoothed (grain, JPEG and resampling noise left a speckled
    # mask over the background of a reused blot strip); the region's own excluded margin (half a
    # window along each panel edge, a third of a 30 px blot strip) counts too.
    agrees = agrees_either
    copy_local = ndimage.binary_fill_holes(agrees)
    copy_mask = verified.copy_mask.copy()
    copy_mask[y0:y1, x0:x1] |= copy_local
    source_mask = warp_mask(copy_mask, inverse, (height, width))
    if (source_mask & copy_mask).sum() / max(
        1, min(source_mask.sum(), copy_mask.sum())
    ) > params.max_self_overlap:
        return None
    return VerifiedCopy(
        source_mask=source_mask,
        copy_mask=copy_mask,
        evidence_pixels=verified.evidence_pixels,
        residual_zncc=verified.residual_zncc,
        score=verified.score,
        gain=verified.gain,
        bias=verified.bias,
    )
