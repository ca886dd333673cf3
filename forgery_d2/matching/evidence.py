"""Pixel evidence that one region of a figure is a copy of another.

A transform found by keypoints or by aligning panels only says that two regions *look* alike.
Scientific figures are full of regions that look alike without being copies: bands drawn with one
shape, wells of a plate, cells of one culture, the same label printed above every blot. What only a
copy shares with its source is its *fine texture*: film grain, sensor noise, JPEG-free detail, the
exact pixel pattern. So the evidence at a pixel of the candidate copy is measured on the
**residual** of the image: the image minus its local quadratic fit (a 5x5 Savitzky-Golay
smoother), which removes smooth shapes (band profiles, cell bodies, gradients: everything up to
second order) and keeps the grain. (A Gaussian high-pass would keep the curvature of smooth bands,
and look-alike bands drawn with one shape would correlate.) Measured in a small window:

- ``residual_zncc``: zero-normalized cross-correlation of the residuals of the copy and of the
  source warped onto it. Near 1 for a copy (also under brightness / contrast changes, which ZNCC
  ignores); near 0 for look-alikes, whose grain is independent. A copy that was blurred, rescaled
  or rotated keeps correlated grain at coarser scales, so both images are blurred by each of
  ``blur_levels`` before the residual is taken and the best level is kept.
- ``intensity_zncc``: ZNCC of the intensities themselves (the structure must agree too).
- ``texture``: the smaller local residual std of the two sides: flat areas (a saturated band core,
  a black background, the white canvas) carry no evidence, whatever their correlation.
- structure is left out: residual pixels beyond 3x the local grain level (and their fringe) are
  zeroed on both sides before any of these (:func:`grain_only`); rendered text, dashed lines and
  band edges repeat exactly by design, grain never does.
- ``noise_ratio``: how far the copy's residual is from the (gain-fitted) source residual, in units
  of the grain expected between two *independent* patches: ``std(r_copy - g r_source) / (sqrt(2)
  sigma_grain)``, with ``sigma_grain`` the local robust residual level (1.4826 x median |residual|
  over 15 x 15 px). ZNCC alone is not enough: where a window holds a sharp structure (the steep side of
  a band drawn from the same template as its neighbours) the residual is mostly shape, and
  look-alikes correlate although their grain differs; the difference of the residuals is then
  still a whole grain's worth (ratio >= 1), while a copy's is near 0.
- ``shifted_ratio``: the noise ratio of the same comparison with the source shifted by
  ``uniqueness_shift`` px along x or along y (the smaller of the two): grain matches only at the
  exact transform, while a straight line, a stripe or a periodic pattern also matches its shifted
  self (the aperture problem). Evidence needs it several times the exact ratio. (In a noise-free
  figure, from a digital imager, the residual is the 8-bit quantization: a copy reproduces it
  exactly, a look-alike does not, and neither does the copy shifted.)

Pixels may also be *excluded* from evidence: text and marks (their repetition is legitimate), the
figure canvas, and rendered graphics (:func:`rendered_graphics_mask`: flat constant-colour shapes
such as plot bars, axes, markers, and their anti-aliased edges), which repeat exactly by design.
"""

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "EvidenceMaps",
    "rendered_graphics_mask",
    "copy_evidence",
    "box_filter",
    "local_std",
    "grain_residual",
    "grain_level",
    "grain_only",
    "isotropic_grain_mask",
    "two_dimensional_structure",
]


def box_filter(values: np.ndarray, window: int) -> np.ndarray:
    """Mean over a ``window x window`` neighbourhood (reflected borders), float32."""
    return cv2.boxFilter(
        values, cv2.CV_32F, (window, window), normalize=True, borderType=cv2.BORDER_REFLECT
    )


def local_std(values: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of ``values`` over a ``window x window`` neighbourhood, float32."""
    mean = box_filter(values, window)
    return np.sqrt(np.maximum(box_filter(values * values, window) - mean * mean, 0))


def rendered_graphics_mask(gray: np.ndarray, min_run: int = 5, edge_reach: int = 2) -> np.ndarray:
    """Pixels of rendered graphics: runs of at least ``min_run`` exactly equal pixels along a row
    or a column (no sensor noise: plot bars, axes, frame lines, markers, letters, arrows, the
    canvas), plus ``edge_reach`` px around them (their anti-aliased edges). Photographic content
    (blots, micrographs) has grain everywhere except where it saturates, which carries no evidence
    anyway."""
    g = np.asarray(gray)
    flat = np.zeros(g.shape, np.uint8)
    for axis in (0, 1):
        same = np.zeros(g.shape, np.uint8)  # pixel equals its successor along the axis
        if axis == 1:
            same[:, :-1] = g[:, 1:] == g[:, :-1]
        else:
            same[:-1] = g[1:] == g[:-1]
        # min_run equal pixels = min_run - 1 consecutive equalities; erode then dilate (opening) the
        # equality map along the axis and add the run's last pixel.
        length = max(min_run - 1, 1)
        kernel = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
        runs = cv2.dilate(
            cv2.erode(same, kernel, anchor=(0, 0)),
            kernel,
            anchor=(length - 1, 0) if axis == 1 else (0, length - 1),
        )
        shifted = np.zeros_like(runs)
        if axis == 1:
            shifted[:, 1:] = runs[:, :-1]
        else:
            shifted[1:] = runs[:-1]
        flat |= runs | shifted
    if edge_reach > 0:
        flat = cv2.dilate(flat, np.ones((2 * edge_reach + 1,) * 2, np.uint8))
    return flat > 0


def _savitzky_golay_kernel(size: int = 5) -> np.ndarray:
    """The 2-D Savitzky-Golay smoothing kernel: the value at the centre of the least-squares
    quadratic surface fitted to a ``size x size`` window."""
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].reshape(2, -1).astype(np.float64)
    design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    return (np.linalg.pinv(design)[0]).reshape(size, size).astype(np.float32)


_SMOOTHER = _savitzky_golay_kernel(5)


def grain_residual(gray: np.ndarray, blur: float = 0.0) -> np.ndarray:
    """The image's fine texture: ``gray`` (optionally blurred by ``blur`` sigma first) minus its
    local quadratic fit. float32 (H, W)."""
    image = cv2.GaussianBlur(gray, (0, 0), blur) if blur > 0 else gray
    return image - cv2.filter2D(image, cv2.CV_32F, _SMOOTHER, borderType=cv2.BORDER_REFLECT)


def grain_only(residual: np.ndarray, level: np.ndarray, limit: float = 3.0) -> np.ndarray:
    """The residual with its *structure* removed: pixels beyond ``limit`` x the local grain level
    (and their 8 neighbours: the anti-aliased fringe) set to 0. Rendered structure (text, dashed
    lines, tick marks, band edges) repeats exactly by design and would correlate; grain stays."""
    strong = (np.abs(residual) > limit * level).astype(np.uint8)
    strong = cv2.dilate(strong, np.ones((3, 3), np.uint8)) > 0
    return np.where(strong, 0.0, residual).astype(np.float32)


def two_dimensional_structure(
    image: np.ndarray, window: int = 7, min_ratio: float = 0.2
) -> np.ndarray:
    """Pixels whose neighbourhood has structure in two directions: the smaller eigenvalue of the
    local structure tensor is at least ``min_ratio`` x the larger (corners, blob ends, texture).
    A straight edge or a band's long side has one direction only and matches itself shifted
    along it, so it cannot locate a copy."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    xx, yy, xy = (
        box_filter(gx * gx, window),
        box_filter(gy * gy, window),
        box_filter(gx * gy, window),
    )
    trace, det = xx + yy, xx * yy - xy * xy
    gap = np.sqrt(np.maximum(trace**2 / 4 - det, 0))
    small, large = trace / 2 - gap, trace / 2 + gap
    return small >= min_ratio * np.maximum(large, 1e-6)


def isotropic_grain_mask(
    residual: np.ndarray,
    window: int = 7,
    shift: int = 3,
    max_self_zncc: float = 0.5,
    min_texture: float = 1.0,
) -> np.ndarray:
    """Pixels whose residual is textured (local std >= ``min_texture``) and behaves like grain:
    it no longer correlates with itself ``shift`` px away along x or y (a straight line, a stripe
    or a periodic pattern does: it matches its own shifted self, so it cannot locate a copy)."""
    isotropic = local_std(residual, window) >= min_texture
    for dy, dx in ((0, shift), (shift, 0)):
        moved = np.roll(residual, (dy, dx), axis=(0, 1))
        isotropic &= _local_zncc(residual, moved, window)[0] < max_self_zncc
    return isotropic


def _local_zncc(a: np.ndarray, b: np.ndarray, window: int):
    """Windowed ZNCC of ``a`` and ``b``, the smaller local std of the two, and the local variance
    of ``a`` left unexplained by the best linear fit of ``b`` (``var_a (1 - zncc^2)``)."""
    mean_a, mean_b = box_filter(a, window), box_filter(b, window)
    var_a = np.maximum(box_filter(a * a, window) - mean_a**2, 0)
    var_b = np.maximum(box_filter(b * b, window) - mean_b**2, 0)
    cov = box_filter(a * b, window) - mean_a * mean_b
    zncc = cov / np.sqrt(var_a * var_b + 1e-6)
    unexplained = var_a * np.maximum(1.0 - np.clip(zncc, -1, 1) ** 2, 0)
    return zncc, np.sqrt(np.minimum(var_a, var_b)), unexplained


def grain_level(residual: np.ndarray, size: int = 61, floor: float = 0.5) -> np.ndarray:
    """Local robust std of the grain: 1.4826 x the median of |residual| over ``size x size``
    windows, at least ``floor``. float32 (H, W). The window is large (a median over ~60 px) so
    that the structure inside it (a ring, a band's edges: a small part of the window) does not
    inflate it; panels of one figure still keep their own level (film vs digital imager)."""
    scale = 8.0  # |residual| in 1/8 grey levels fits uint8 for the median filter
    magnitude = np.clip(np.abs(residual) * scale, 0, 255).astype(np.uint8)
    height, width = magnitude.shape
    # The median over a 61 px window, at half resolution (cost): 31 px there.
    half = cv2.resize(
        magnitude, (max(1, width // 2), max(1, height // 2)), interpolation=cv2.INTER_NEAREST
    )
    kernel = min(size // 2 | 1, (min(half.shape) - 1) | 1) if min(half.shape) > 2 else 1
    median = cv2.medianBlur(half, kernel) if kernel >= 3 else half
    median = (
        cv2.resize(median, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        / scale
    )
    return np.maximum(1.4826 * median, floor)


@dataclass
class EvidenceMaps:
    """Evidence maps of one candidate transform over ``box`` (x0, y0, x1, y1) of the image: each
    map is float32 / bool ``(y1 - y0, x1 - x0)`` in the copy's frame (see the module docstring)."""

    box: tuple
    residual_zncc: np.ndarray
    intensity_zncc: np.ndarray
    texture: np.ndarray  # smaller local residual std of copy and warped source
    noise_ratio: (
        np.ndarray
    )  # residual difference / independent-grain difference (copy ~0, look-alike >= 1)
    shifted_ratio: (
        np.ndarray
    )  # noise ratio with the source shifted along x or y (copy >= 1, a line ~0)
    copy: np.ndarray  # the image over the box
    source: np.ndarray  # the source warped onto the box
    valid: np.ndarray  # the warped source lies inside the image there

    def evidence(
        self,
        min_residual_zncc: float,
        min_intensity_zncc: float,
        min_texture: float,
        max_noise_ratio: float,
        min_shifted_ratio: float,
        shift_contrast: float,
    ) -> np.ndarray:
        """Pixels that show the copy's fine texture in its source, at this transform only: the
        shifted comparison must be worse than the exact one by ``shift_contrast`` times, and at
        least ``min_shifted_ratio``."""
        unique = self.shifted_ratio >= np.maximum(
            min_shifted_ratio, shift_contrast * self.noise_ratio
        )
        return (
            self.valid
            & (self.residual_zncc >= min_residual_zncc)
            & (self.intensity_zncc >= min_intensity_zncc)
            & (self.texture >= min_texture)
            & (self.noise_ratio <= max_noise_ratio)
            & unique
        )


def warped_source(gray, inverse, size, shift=(0.0, 0.0)):
    """The source seen from the copy crop (``inverse``: crop pixel -> source pixel), its sampling
    point moved by ``shift`` px in the source."""
    moved = inverse.copy()
    moved[:, 2] += shift
    return cv2.warpAffine(
        gray,
        moved,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def warped_inside(gray, inverse, size) -> np.ndarray:
    """bool (h, w) of ``size``: the crop pixels whose source point (``inverse``: crop pixel ->
    source pixel) lies inside ``gray``."""
    ones = cv2.warpAffine(
        np.ones_like(gray),
        inverse,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return ones > 0.999


def copy_evidence(
    gray: np.ndarray,
    matrix: np.ndarray,
    box,
    window: int = 7,
    blur_levels=(0.0, 1.0),
    uniqueness_shift: float = 3.0,
) -> EvidenceMaps:
    """Evidence maps for ``matrix`` (2x3, source (x, y) -> copy) over ``box`` of ``gray`` (float32
    (H, W)): the copy side is the box, the source side is what ``matrix`` maps onto it."""
    x0, y0, x1, y1 = (int(v) for v in box)
    height, width = gray.shape
    margin = 3 * int(np.ceil(max(blur_levels))) + window + 3
    # Work on the box plus a margin, so blurs and windows see real neighbours at the box's edge.
    cx0, cy0 = max(x0 - margin, 0), max(y0 - margin, 0)
    cx1, cy1 = min(x1 + margin, width), min(y1 + margin, height)
    copy = np.ascontiguousarray(gray[cy0:cy1, cx0:cx1])
    # Output pixel (u, v) of the crop is image pixel (u + cx0, v + cy0): its source is M^-1 of that.
    inverse = cv2.invertAffineTransform(matrix.astype(np.float64))
    inverse[:, 2] += inverse[:, :2] @ np.array([cx0, cy0], dtype=np.float64)
    size = (cx1 - cx0, cy1 - cy0)
    source = warped_source(gray, inverse, size)
    inside = warped_inside(gray, inverse, size)
    crop = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
    residual_zncc, texture, noise_ratio, shifted_ratio = None, None, None, None
    for blur in blur_levels:
        copy_residual = grain_residual(copy, blur)
        level = grain_level(copy_residual)
        copy_residual = grain_only(copy_residual, level)
        source_residual = grain_only(grain_residual(source, blur), level)
        grain = np.sqrt(2.0) * level
        zncc, std, unexplained = _local_zncc(copy_residual, source_residual, window)
        ratio = np.sqrt(unexplained) / grain
        shifted = None
        for shift in ((uniqueness_shift, 0.0), (0.0, uniqueness_shift)):
            moved = grain_only(
                grain_residual(warped_source(gray, inverse, size, shift), blur), level
            )
            ratio_moved = np.sqrt(_local_zncc(copy_residual, moved, window)[2]) / grain
            shifted = ratio_moved if shifted is None else np.minimum(shifted, ratio_moved)
        if residual_zncc is None:
            residual_zncc, texture, noise_ratio, shifted_ratio = zncc, std, ratio, shifted
        else:  # the blur level that explains the copy best
            better = ratio < noise_ratio
            residual_zncc = np.where(better, zncc, residual_zncc)
            texture = np.where(better, std, texture)
            noise_ratio = np.where(better, ratio, noise_ratio)
            shifted_ratio = np.where(better, shifted, shifted_ratio)
    intensity_zncc, _, _ = _local_zncc(copy, source, window)
    return EvidenceMaps(
        box=(x0, y0, x1, y1),
        residual_zncc=residual_zncc[crop],
        intensity_zncc=intensity_zncc[crop],
        texture=texture[crop],
        noise_ratio=noise_ratio[crop],
        shifted_ratio=shifted_ratio[crop],
        copy=copy[crop],
        source=source[crop],
        valid=inside[crop],
    )
