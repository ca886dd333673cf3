"""A dense copy-evidence map of one figure, computed without learning: for every location, how
well its patch matches another patch of the same figure at least ``min_shift`` px away.

A copy-move is a non-local cue: a network that never compares one region with another cannot see
it, and a learned comparison has to be learned first. This map gives the network the comparison as
input channels (forgery_d2.modeling.copy_evidence), from the first iteration:

1. The figure is brought to at most ``max_size`` px (long side: grain survives no resampling, so
   the default keeps nearly every figure at full size), converted to grey, and its fine texture is
   taken at each of ``blur_levels``: the grain residual of
   :func:`forgery_d2.matching.evidence.grain_residual` (image minus its local quadratic fit).
   Rendered graphics (text, lines, plot marks:
   :func:`~forgery_d2.matching.evidence.rendered_graphics_mask`) and flat or line-like texture
   (:func:`~forgery_d2.matching.evidence.isotropic_grain_mask`) are left out: their repetition is
   legitimate or uninformative.
2. Patches (``patch x patch``, odd) are centred on the local maxima of the smoothed residual energy
   (``nms_radius``): the energy moves with the content, so a copy's patches are centred exactly
   where its source's are (a regular grid would align source and copy only for shifts that are
   multiples of its step, and grain decorrelates one pixel off). At most ``max_points`` maxima, the
   strongest, are kept: the cost is bounded on huge figures. They are normalized and hashed by
   the signs of random projections of their low-frequency DCT coefficients (``tables`` hash tables
   of ``bits`` bits). A patch is compared with the patches next to it in the sorted order of each
   table (``window``), also against the horizontally / vertically flipped and half-turned patches
   (a flip only changes the signs of DCT coefficients), so flipped copies are found too. Cost is a
   sort per table: linear in the number of patches, not quadratic.
3. A pair is kept when the patches correlate (``min_correlation``), lie ``min_shift`` px apart or
   more, their difference is well below the grain expected between two *independent* patches
   (``max_noise_ratio``, as in forgery_d2.matching.evidence: look-alikes drawn from one template
   share shape, not grain), every colour channel agrees (``min_colour_correlation``: a merged
   fluorescence panel carries one channel panel's grain in one colour only) and at least
   ``min_votes`` kept pairs imply the same transform (translation, or mirror axis, in 2 px bins):
   a copied region is many patches moved the same way, chance matches are isolated.

Output (:func:`self_similarity_map`): ``float32 (3, h, w)`` at the working scale, values in [0, 1]:

- ``0`` correlation: the best correlation of a kept pair covering the pixel (both source and copy
  are marked, as the competition's masks mark both);
- ``1`` votes: ``log(1 + votes) / log(1 + saturation_votes)`` of that transform, clipped to 1;
- ``2`` textured: where a patch could be compared at all (0 on graphics, canvas and flat areas), so
  that the absence of evidence can be read as such.

Scale changes and rotations other than flips and the half turn resample the grain and are not found
here (the keypoint stage of the matchers finds them). Cost is measured by
``benchmarks/bench_self_similarity_map.py`` (docs/MODELING.md).
"""

from dataclasses import dataclass, fields
from typing import Tuple

import cv2
import numpy as np

from forgery_d2.config import ConfigParams

from .evidence import grain_level, grain_residual, isotropic_grain_mask, rendered_graphics_mask
from .features import to_gray_uint8

__all__ = ["SelfSimilarityParams", "self_similarity_map", "MAP_CHANNELS"]

MAP_CHANNELS = ("correlation", "votes", "textured")

# (flip x, flip y) of the partner patch: none, horizontal, vertical, half turn.
_FLIPS = ((False, False), (True, False), (False, True), (True, True))


@dataclass(frozen=True)
class SelfSimilarityParams(ConfigParams):
    """Settings of :func:`self_similarity_map` (module docstring); one field per
    ``MODEL.COPY_EVIDENCE`` key, documented with its default in forgery_d2/config.py."""

    max_size: int
    blur_levels: Tuple[float, ...]
    patch: int
    nms_radius: int
    max_points: int
    dct_size: int
    tables: int
    bits: int
    window: int
    min_correlation: float
    max_noise_ratio: float
    min_shift: float
    min_votes: int
    saturation_votes: int
    min_texture: float
    min_colour_correlation: float
    graphics_min_run: int
    seed: int

    def __post_init__(self):
        if (
            self.patch < 3
            or self.patch % 2 == 0
            or self.nms_radius < 0
            or not 1 <= self.dct_size <= self.patch
        ):
            raise ValueError(
                f"copy evidence: need an odd patch >= 3, nms_radius >= 0, 1 <= dct_size <= patch, got "
                f"patch {self.patch}, nms_radius {self.nms_radius}, dct_size {self.dct_size}"
            )
        if self.max_size < 2 * self.patch or self.tables < 1 or not 1 <= self.bits <= 62:
            raise ValueError(
                f"copy evidence: need max_size >= 2 * patch, tables >= 1, 1 <= bits <= 62, got "
                f"max_size {self.max_size}, tables {self.tables}, bits {self.bits}"
            )
        if not self.blur_levels:
            raise ValueError(
                "copy evidence: blur_levels must list at least one blur sigma (0 = none)"
            )

    @classmethod
    def from_config(cls, cfg) -> "SelfSimilarityParams":
        c = cfg.MODEL.COPY_EVIDENCE
        values = {f.name: c[f.name.upper()] for f in fields(cls)}
        values["blur_levels"] = tuple(float(v) for v in values["blur_levels"])
        return cls(**values)

    def cache_key(self) -> str:
        """A string that changes whenever a setting changes (for caches of computed maps)."""
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


def _dct_basis(patch: int, size: int) -> np.ndarray:
    """``(patch * patch, size * size - 1)`` 2-D DCT-II basis vectors (the constant one left out)
    and the parity ``(size * size - 1, 2)`` of each (odd in x, odd in y)."""
    x = np.arange(patch)
    cosines = np.stack(
        [np.cos(np.pi * (2 * x + 1) * k / (2 * patch)) for k in range(size)]
    )  # (k, x)
    basis, parity = [], []
    for ky in range(size):
        for kx in range(size):
            if kx == 0 and ky == 0:
                continue
            basis.append(np.outer(cosines[ky], cosines[kx]).reshape(-1))
            parity.append((kx % 2, ky % 2))
    basis = np.stack(basis, axis=1).astype(np.float32)
    return basis / np.linalg.norm(basis, axis=0, keepdims=True), np.asarray(parity, dtype=bool)


def _sorted_neighbour_pairs(keys_a: np.ndarray, keys_b: np.ndarray, window: int, same_side: bool):
    """Index pairs ``(i, j)`` with ``keys_a[i] == keys_b[j]`` that lie within ``window`` places of
    each other in the sorted order of all keys. ``same_side``: ``keys_b`` is ``keys_a`` (one array)."""
    if same_side:
        order = np.argsort(keys_a, kind="stable")
        sorted_keys, index = keys_a[order], order
        side = None
    else:
        keys = np.concatenate([keys_a, keys_b])
        order = np.argsort(keys, kind="stable")
        sorted_keys, index = keys[order], order % len(keys_a)
        side = order >= len(keys_a)
    pairs_a, pairs_b = [], []
    for k in range(1, window + 1):
        equal = sorted_keys[k:] == sorted_keys[:-k]
        if side is not None:
            equal &= side[k:] != side[:-k]
        first, second = index[:-k][equal], index[k:][equal]
        if side is None:
            pairs_a += [first, second]
            pairs_b += [second, first]
        else:  # a from the query side, b from the flipped side
            b_first = side[:-k][equal]
            pairs_a.append(np.where(b_first, second, first))
            pairs_b.append(np.where(b_first, first, second))
    if not pairs_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(pairs_a), np.concatenate(pairs_b)


def _gather(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, patch: int) -> np.ndarray:
    """``(n, patch, patch)`` patches of ``image`` centred at ``(ys, xs)``."""
    offsets = np.arange(patch) - patch // 2
    return image[(ys[:, None] + offsets)[:, :, None], (xs[:, None] + offsets)[:, None, :]]


def _flipped(patches: np.ndarray, fx: bool, fy: bool) -> np.ndarray:
    return patches[:, :: -1 if fy else 1, :: -1 if fx else 1]


def _colour_consistent(colour_residuals, ys, xs, a, b, flip, p: SelfSimilarityParams) -> np.ndarray:
    """Pairs whose every colour channel that is textured on either side correlates too
    (``min_colour_correlation``). A merged fluorescence panel matches each single-channel panel in
    grey (same grain in one channel), never in all colours."""
    ok = np.ones(len(a), bool)
    for residual in colour_residuals:
        first = _gather(residual, ys[a], xs[a], p.patch)
        second = _gather(residual, ys[b], xs[b], p.patch)
        for flip_index, (fx, fy) in enumerate(_FLIPS):
            rows = flip == flip_index
            if rows.any():
                second[rows] = _flipped(second[rows], fx, fy)
        first = first.reshape(len(a), -1) - first.reshape(len(a), -1).mean(axis=1, keepdims=True)
        second = second.reshape(len(a), -1) - second.reshape(len(a), -1).mean(axis=1, keepdims=True)
        norm_a, norm_b = np.linalg.norm(first, axis=1), np.linalg.norm(second, axis=1)
        textured = np.maximum(norm_a, norm_b) / p.patch >= p.min_texture
        correlation = np.einsum("ij,ij->i", first, second) / (norm_a * norm_b + 1e-6)
        ok &= ~textured | (correlation >= p.min_colour_correlation)
    return ok


def _grain_points(residual: np.ndarray, allowed: np.ndarray, p: SelfSimilarityParams):
    """Patch centres: the local maxima of the smoothed residual energy over ``(2 * nms_radius + 1)``
    squares, on allowed pixels whose patch fits in the image. A copy has its maxima at the copied
    places of its source's (the energy moves with the content, also under flips), so source and copy
    patches are centred alike without comparing every pixel with every other."""
    energy = cv2.GaussianBlur(residual * residual, (0, 0), 1.0)
    size = 2 * p.nms_radius + 1
    peaks = (energy >= cv2.dilate(energy, np.ones((size, size), np.uint8))) & allowed
    half = p.patch // 2
    peaks[:half], peaks[-half:], peaks[:, :half], peaks[:, -half:] = False, False, False, False
    ys, xs = np.nonzero(peaks)
    if (
        len(ys) > p.max_points
    ):  # bounded cost: the strongest maxima (a copy's are as strong as its source's)
        keep = np.sort(np.argpartition(-energy[ys, xs], p.max_points - 1)[: p.max_points])
        ys, xs = ys[keep], xs[keep]
    return ys.astype(np.int64), xs.astype(np.int64)


def _level_pairs(
    residual: np.ndarray, colour_residuals, allowed: np.ndarray, p: SelfSimilarityParams, rng
):
    """Kept pairs of one residual: centres ``(n, 2)`` and per pair (a, b, correlation, transform key)."""
    ys, xs = _grain_points(residual, allowed, p)
    empty = (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.float32), np.zeros(0, np.int64))
    if len(xs) < 2 * p.min_votes:
        return ys, xs, empty
    patches = _gather(residual, ys, xs, p.patch)
    patches = patches - patches.mean(axis=(1, 2), keepdims=True)
    energy = np.sqrt((patches**2).sum(axis=(1, 2)))
    patches = (patches / (energy[:, None, None] + 1e-6)).astype(np.float32)
    patch_std = energy / p.patch
    grain = grain_level(residual)[ys, xs]
    flat = patches.reshape(len(xs), -1)
    basis, parity = _dct_basis(p.patch, p.dct_size)
    coefficients = flat @ basis
    planes = rng.standard_normal((p.tables, basis.shape[1], p.bits)).astype(np.float32)
    weights = np.int64(1) << np.arange(p.bits, dtype=np.int64)
    found = []
    for flip_index, (fx, fy) in enumerate(_FLIPS):
        # Flipping a patch in x (y) negates its DCT coefficients that are odd in x (y).
        signs = np.where((parity[:, 0] & fx) ^ (parity[:, 1] & fy), -1.0, 1.0).astype(np.float32)
        for table in range(p.tables):
            keys_a = ((coefficients @ planes[table]) > 0).astype(np.int64) @ weights
            if flip_index == 0:
                a, b = _sorted_neighbour_pairs(keys_a, keys_a, p.window, same_side=True)
            else:
                keys_b = (((coefficients * signs) @ planes[table]) > 0).astype(np.int64) @ weights
                a, b = _sorted_neighbour_pairs(keys_a, keys_b, p.window, same_side=False)
            ok = a != b
            found.append((a[ok], b[ok], np.full(int(ok.sum()), flip_index)))
    a = np.concatenate([f[0] for f in found])
    b = np.concatenate([f[1] for f in found])
    flip = np.concatenate([f[2] for f in found])
    if len(a) == 0:
        return ys, xs, empty
    unique = np.unique((a * len(xs) + b) * 4 + flip, return_index=True)[1]
    a, b, flip = a[unique], b[unique], flip[unique]
    shift = np.hypot(xs[b] - xs[a], ys[b] - ys[a])
    near = shift >= p.min_shift
    a, b, flip = a[near], b[near], flip[near]
    correlation = np.empty(len(a), np.float32)
    for flip_index, (fx, fy) in enumerate(_FLIPS):
        rows = np.flatnonzero(flip == flip_index)
        if len(rows):
            partner = _flipped(patches[b[rows]], fx, fy).reshape(len(rows), -1)
            correlation[rows] = np.einsum("ij,ij->i", flat[a[rows]], partner)
    # What the partner leaves unexplained, in units of the grain of two independent patches.
    unexplained = patch_std[a] * np.sqrt(np.maximum(1.0 - np.clip(correlation, -1, 1) ** 2, 0))
    ratio = unexplained / (np.sqrt(2.0) * grain[a])
    good = (correlation >= p.min_correlation) & (ratio <= p.max_noise_ratio)
    a, b, flip, correlation = a[good], b[good], flip[good], correlation[good]
    if colour_residuals and len(a):
        good = _colour_consistent(colour_residuals, ys, xs, a, b, flip, p)
        a, b, flip, correlation = a[good], b[good], flip[good], correlation[good]
    fx = np.array([f[0] for f in _FLIPS])[flip]
    fy = np.array([f[1] for f in _FLIPS])[flip]
    # The quantity the transform keeps constant: the translation, or the mirror axis (x_a + x_b).
    key_x = np.where(fx, xs[b] + xs[a], xs[b] - xs[a]) // 2 + (1 << 15)
    key_y = np.where(fy, ys[b] + ys[a], ys[b] - ys[a]) // 2 + (1 << 15)
    transform = (flip.astype(np.int64) << 40) | (key_x << 20) | key_y
    return ys, xs, (a, b, correlation, transform)


def _colour_channels(image: np.ndarray, channel_order: str):
    """The three colour planes of a colour figure (float32, alpha composited over white), or []
    for a grey one (also when its three channels are equal)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] < 3:
        return []
    planes = image[:, :, :3].astype(np.float32)
    if image.dtype != np.uint8:
        planes = np.stack(
            [
                to_gray_uint8(np.repeat(image[:, :, c : c + 1], 3, axis=2), channel_order)
                for c in range(3)
            ],
            axis=2,
        ).astype(np.float32)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / (
            255.0 if image.dtype == np.uint8 else float(image.max() or 1)
        )
        planes = planes * alpha + 255.0 * (1.0 - alpha)
    if np.array_equal(planes[:, :, 0], planes[:, :, 1]) and np.array_equal(
        planes[:, :, 1], planes[:, :, 2]
    ):
        return []
    return [np.ascontiguousarray(planes[:, :, c]) for c in range(3)]


def self_similarity_map(
    image: np.ndarray, params: SelfSimilarityParams = None, channel_order: str = "RGB"
) -> np.ndarray:
    """The copy-evidence map of ``image`` (any figure array :func:`to_gray_uint8` accepts):
    ``float32 (3, h, w)`` in [0, 1] at the working scale (long side at most ``params.max_size``);
    channels :data:`MAP_CHANNELS` (module docstring). ``params``: default
    :meth:`SelfSimilarityParams.default`."""
    p = params if params is not None else SelfSimilarityParams.default()
    gray = to_gray_uint8(image, channel_order)
    colour = _colour_channels(image, channel_order)
    scale = min(1.0, p.max_size / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        colour = [cv2.resize(c, size, interpolation=cv2.INTER_AREA) for c in colour]
    height, width = gray.shape
    out = np.zeros((len(MAP_CHANNELS), height, width), np.float32)
    if min(height, width) < 2 * p.patch:
        return out
    graphics = rendered_graphics_mask(gray, p.graphics_min_run, edge_reach=2)
    gray32 = gray.astype(np.float32)
    rng = np.random.default_rng(p.seed)
    textured = np.zeros((height, width), bool)
    centres, pairs = [], []
    for blur in p.blur_levels:
        residual = grain_residual(gray32, blur)
        allowed = ~graphics & isotropic_grain_mask(residual, 7, 3, min_texture=p.min_texture)
        textured |= allowed
        colour_residuals = [grain_residual(c, blur) for c in colour]
        ys, xs, level_pairs = _level_pairs(residual, colour_residuals, allowed, p, rng)
        centres.append((ys, xs))
        pairs.append(level_pairs)
    # Votes are counted over all blur levels together (one transform, whichever level found it).
    transforms = np.concatenate([pair[3] for pair in pairs])
    if len(transforms):
        _, inverse, counts = np.unique(transforms, return_inverse=True, return_counts=True)
        votes = counts[inverse]
        start = 0
        for (ys, xs), (a, b, correlation, _) in zip(centres, pairs):
            level_votes = votes[start : start + len(a)]
            start += len(a)
            keep = level_votes >= p.min_votes
            strength = np.minimum(np.log1p(level_votes[keep]) / np.log1p(p.saturation_votes), 1.0)
            for side in (a[keep], b[keep]):
                np.maximum.at(out[0], (ys[side], xs[side]), correlation[keep])
                np.maximum.at(out[1], (ys[side], xs[side]), strength.astype(np.float32))
    footprint = np.ones((p.patch, p.patch), np.uint8)
    out[0] = cv2.dilate(np.clip(out[0], 0, 1), footprint)
    out[1] = cv2.dilate(out[1], footprint)
    out[2] = textured
    return out
