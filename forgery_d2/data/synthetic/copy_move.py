"""Plant copy-move forgeries with exact ground truth.

Two entry points:

* ``plant_copy_move(image, source, target_xy, transform)`` plants ONE known copy-move: copy the
  ``source`` region (a box or a mask), transform it, and paste it with its bounding box's top-left
  corner at ``target_xy``. Use it in tests that need a forgery at a known place::

      forged, event = plant_copy_move(img, source=(10, 20, 60, 50), target_xy=(120, 80))
      event.mask              # (H, W) uint8: source region + pasted region
      event.matrix            # 2x3 affine map, source pixel (x, y) -> pasted pixel

* ``make_forgery(image, rng)`` plants 1-3 random events the way the synthetic dataset does
  (region shapes, sizes matching the competition's statistics, flips/rotations/scaling,
  brightness/contrast changes, hard or feathered edges) and returns ``(forged, masks, events)``
  with ``masks`` in the competition's ``(N, H, W)`` uint8 layout: one channel per event, marking
  both its source and its pasted region.

Ground-truth conventions: the pasted region is where the blend weight (alpha) is >= 0.5. A
hard-pasted event changes pixels only inside its mask; a feathered one (``transform.feather > 0``,
a Gaussian edge) pastes its whole region at full weight and also changes a thin band just outside
its mask (weights below 0.5, at most ``feather_reach(feather)`` px away). Regions of
different events (sources and pastes) never overlap, so every event copies authentic pixels.
"""

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from forgery_d2.structures.masks import mask_box

from .regions import sample_region

__all__ = [
    "Anchors",
    "CopyMoveEvent",
    "CopyMoveOptions",
    "CopyTransform",
    "ForgeryPlacementError",
    "feather_reach",
    "make_forgery",
    "plant_copy_move",
    "sample_forged_fraction",
]


class ForgeryPlacementError(RuntimeError):
    """No copy-move could be placed (image too small or too flat for a visible copy)."""


@dataclass(frozen=True)
class CopyTransform:
    """How the copy differs from its source. The defaults give an exact, hard-pasted copy."""

    flip: str = "none"  # "none", "horizontal" or "vertical", applied first
    rot90: int = 0  # quarter turns, counter-clockwise as displayed
    angle: float = 0.0  # extra rotation in degrees, counter-clockwise as displayed
    scale: float = 1.0  # isotropic scale of the copy
    gain: float = 1.0  # contrast change around the region's mean
    bias: float = 0.0  # brightness change in grey levels
    feather: float = 0.0  # Gaussian sigma (px) of a soft pasted edge; 0 = hard paste

    def linear(self) -> np.ndarray:
        """The 2x2 matrix acting on (x, y) image coordinates (y pointing down)."""
        if self.flip not in ("none", "horizontal", "vertical"):
            raise ValueError(f"flip must be 'none', 'horizontal' or 'vertical', got {self.flip!r}")
        flip = np.diag(
            [-1.0, 1.0]
            if self.flip == "horizontal"
            else [1.0, -1.0]
            if self.flip == "vertical"
            else [1.0, 1.0]
        )
        k = int(self.rot90) % 4
        quarter = np.array([[1, 0], [0, 1]], float)
        for _ in range(k):  # exact integer matrices for quarter turns
            quarter = np.array([[0.0, 1.0], [-1.0, 0.0]]) @ quarter
        a = np.deg2rad(self.angle)
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        return self.scale * rot @ quarter @ flip

    @property
    def is_geometric_only(self) -> bool:
        """True when pasted pixels are exactly the (interpolated) source pixels: no photometric change."""
        return self.gain == 1.0 and self.bias == 0.0 and self.feather == 0.0

    @property
    def is_pixel_exact(self) -> bool:
        """True when the copy is a pure permutation of source pixels (flips/quarter turns, no blending)."""
        return self.is_geometric_only and self.angle % 360 == 0 and self.scale == 1.0


@dataclass
class CopyMoveEvent:
    """One planted copy-move, with its exact ground truth."""

    source_mask: np.ndarray  # (H, W) bool: the copied region
    target_mask: np.ndarray  # (H, W) bool: the pasted region (alpha >= 0.5)
    matrix: np.ndarray  # (2, 3) float64: source pixel (x, y) -> pasted pixel (x, y)
    transform: CopyTransform
    shape: str  # region shape: blob / polygon / rectangle / band / panel / custom

    @property
    def mask(self) -> np.ndarray:
        """(H, W) uint8 0/1: the competition's instance mask (source and copy together)."""
        return (self.source_mask | self.target_mask).astype(np.uint8)

    @staticmethod
    def _box(mask):
        return list(mask_box(mask))

    @property
    def source_box(self):
        """XYXY (exclusive end) bounding box of the source region."""
        return self._box(self.source_mask)

    @property
    def target_box(self):
        """XYXY (exclusive end) bounding box of the pasted region."""
        return self._box(self.target_mask)

    def to_dict(self) -> dict:
        """A JSON-able summary (no masks)."""
        return {
            "shape": self.shape,
            "source_box": self.source_box,
            "target_box": self.target_box,
            "source_area": int(self.source_mask.sum()),
            "target_area": int(self.target_mask.sum()),
            "matrix": np.round(self.matrix, 6).tolist(),
            "transform": asdict(self.transform),
        }


@dataclass(frozen=True)
class Anchors:
    """Meaningful objects of a figure that realistic forgeries copy: XYXY boxes (exclusive end)."""

    bands: tuple = ()  # blot / gel bands: copied whole onto another band's place
    panels: tuple = ()  # panels of a compound figure: a crop copied into another panel; copies
    # stay inside panels (the canvas between them is off limits)


@dataclass
class CopyMoveOptions:
    """Random forgery settings for ``make_forgery``. Defaults follow the competition's statistics."""

    # P(1, 2, 3 events): the competition's forged images have N=1: 68%, 2: 25.5%, 3: 6.5%.
    event_count_probs: tuple = (0.68, 0.255, 0.065)
    # Forged pixel fraction per image (all events, source + copy): median, 5th and 95th percentile.
    forged_fraction: tuple = (0.027, 0.0026, 0.185)
    # Relative frequency of free-form region shapes.
    shape_probs: dict = field(
        default_factory=lambda: {"blob": 0.4, "polygon": 0.25, "rectangle": 0.35}
    )
    anchor_prob: float = 0.5  # P(an event copies a whole band / a panel crop) when anchors exist
    flip_prob: float = 0.25  # P(horizontal or vertical flip)
    rot90_prob: float = 0.15  # P(quarter-turn rotation)
    small_rotation_prob: float = 0.15  # P(extra rotation of up to max_angle degrees)
    max_angle: float = 15.0
    scale_prob: float = 0.2  # P(rescaled copy)
    scale_range: tuple = (0.75, 1.33)
    photometric_prob: float = 0.3  # P(brightness / contrast change)
    gain_range: tuple = (0.8, 1.25)
    bias_range: tuple = (-20.0, 20.0)
    feather_prob: float = 0.3  # P(soft, alpha-blended edge)
    feather_range: tuple = (0.7, 2.5)  # Gaussian sigma of the edge, px
    min_region_area: int = 36  # px; smaller regions are not drawn
    min_texture: float = 6.0  # min grey-level std inside a source region (rejects flat background)
    change_threshold: int = 8  # grey levels: a pasted pixel "changed" when it moved by more
    # min fraction of the pasted region that changed (no no-op copies)
    min_changed_fraction: float = 0.3
    margin: int = 3  # px kept free between any two regions (plus 3 sigma of feathering)
    region_tries: int = 25  # region draws per event before the event is dropped
    offset_tries: int = 40  # paste positions tried per region


def sample_forged_fraction(rng, quantiles=(0.027, 0.0026, 0.185)) -> float:
    """Draw an image's forged pixel fraction from a two-sided log-normal fitted to (median, p5, p95)."""
    median, p05, p95 = quantiles
    z = rng.standard_normal()
    sigma = np.log(median / p05) / 1.645 if z < 0 else np.log(p95 / median) / 1.645
    return float(np.clip(median * np.exp(z * sigma), 1e-4, 0.45))


def feather_reach(sigma) -> int:
    """How far (px) outside its mask a paste feathered with Gaussian ``sigma`` may change pixels."""
    return int(np.ceil(3.0 * sigma)) + 1


# ----------------------------------------------------------------------------------------------
# The warped copy, built once per (region, transform) and placed by integer translation.


@dataclass
class _WarpedRegion:
    content: (
        np.ndarray
    )  # (h, w, C) float32: the transformed source pixels (photometric change applied)
    alpha: np.ndarray  # (h, w) float32 blend weights
    target: np.ndarray  # (h, w) bool: alpha >= 0.5
    support: np.ndarray  # (h, w) bool: alpha > 0 (every pixel the paste touches)
    local_matrix: np.ndarray  # (2, 3): image (x, y) -> patch (x, y)


def _as_hwc(image):
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim == 3 and image.shape[2] in (1, 3, 4):
        return image
    raise ValueError(f"expected an (H, W) or (H, W, 1|3|4) image, got shape {image.shape}")


def _grey(pixels):
    """Grey levels of (..., C) pixels (colour channels only, alpha ignored)."""
    c = min(pixels.shape[-1], 3)
    return pixels[..., :c].astype(np.float32).mean(axis=-1)


def _warp_region(image, region, origin, transform):
    """Transform the source ``region`` (cropped bool mask whose top-left is at ``origin``)."""
    h_img, w_img, channels = image.shape
    sh, sw = region.shape
    x0, y0 = origin
    lin = transform.linear()
    center = np.array([x0 + (sw - 1) / 2.0, y0 + (sh - 1) / 2.0])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * np.array([sw / 2.0, sh / 2.0])
    moved = corners @ lin.T
    lo, hi = moved.min(axis=0), moved.max(axis=0)
    pad = feather_reach(transform.feather) if transform.feather > 0 else 0
    w, h = (np.ceil(hi - lo - 1e-6).astype(int) + 2 * pad).tolist()
    # Pixel centres: the region's bounding box maps onto [pad, pad + size) of the patch.
    shift = -lo + pad - 0.5 - lin @ center
    local = np.concatenate([lin, shift[:, None]], axis=1)

    # Crop of the image the patch reads from (inverse map of the patch, plus interpolation slack).
    inv = cv2.invertAffineTransform(local)
    patch_corners = np.array([[-1, -1], [w, -1], [w, h], [-1, h]], float)
    src = patch_corners @ inv[:, :2].T + inv[:, 2]
    cx0, cy0 = np.maximum(np.floor(src.min(axis=0)).astype(int) - 2, 0)
    cx1, cy1 = np.minimum(np.ceil(src.max(axis=0)).astype(int) + 3, [w_img, h_img])
    crop = image[cy0:cy1, cx0:cx1]
    crop_matrix = local.copy()
    crop_matrix[:, 2] += lin @ np.array([cx0, cy0], float)

    def warp(array, border):
        out = cv2.warpAffine(array, crop_matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
        return out.reshape(h, w, -1)

    content = warp(crop, cv2.BORDER_REPLICATE).astype(np.float32)
    source = np.zeros(crop.shape[:2], np.uint8)
    source[y0 - cy0 : y0 - cy0 + sh, x0 - cx0 : x0 - cx0 + sw] = region * 255
    target = warp(source, cv2.BORDER_CONSTANT)[:, :, 0] >= 128
    if transform.feather > 0:
        # The whole region is pasted at full weight; its edge fades out over a few sigma.
        blurred = cv2.GaussianBlur(target.astype(np.float32), (0, 0), transform.feather)
        alpha = np.minimum(2.0 * blurred, 1.0)
        alpha[alpha < 0.02] = 0.0  # no invisible changes far from the edge
        target = alpha >= 0.5
        reach = feather_reach(transform.feather)
        near = cv2.dilate(target.astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8)).astype(
            bool
        )
        alpha[~near] = 0.0  # a feathered paste changes pixels only within `reach` px of its mask
    else:
        alpha = target.astype(np.float32)
    if transform.gain != 1.0 or transform.bias != 0.0:
        colour = content[:, :, : min(channels, 3)]
        mean = colour[target].mean() if target.any() else 0.0
        content[:, :, : min(channels, 3)] = (colour - mean) * transform.gain + mean + transform.bias
    return _WarpedRegion(content, alpha, target, alpha > 0, local)


def _pasted_pixels(image, warped, ox, oy):
    """The image pixels under the patch placed at (ox, oy), after pasting."""
    h, w = warped.alpha.shape
    before = image[oy : oy + h, ox : ox + w]
    a = warped.alpha[:, :, None]
    after = np.clip(np.rint(a * warped.content + (1.0 - a) * before), 0, 255).astype(np.uint8)
    return before, np.where(warped.support[:, :, None], after, before)


def _full_mask(shape, local_mask, ox, oy):
    mask = np.zeros(shape, bool)
    h, w = local_mask.shape
    mask[oy : oy + h, ox : ox + w] = local_mask
    return mask


def _placed_matrix(warped, ox, oy):
    matrix = warped.local_matrix.copy()
    matrix[:, 2] += (ox, oy)
    return matrix


# ----------------------------------------------------------------------------------------------
# One known event.


def plant_copy_move(image, source, target_xy, transform=None, shape="custom"):
    """Copy the ``source`` region of ``image`` to ``target_xy``; returns ``(forged, event)``.

    Args:
        image: uint8 ``(H, W)`` or ``(H, W, C)`` array (C = 1, 3 or 4); not modified.
        source: an XYXY box ``(x0, y0, x1, y1)`` (exclusive end) or an ``(H, W)`` bool mask.
        target_xy: ``(x, y)`` of the top-left corner of the transformed copy's bounding box (for a
            feathered copy, of its patch, which extends ``ceil(3 * feather) + 1`` px further).
        transform: a ``CopyTransform`` (default: exact copy, hard paste).
        shape: a label stored in the event.

    Raises ValueError if the copy leaves the image or touches its own source region.
    """
    transform = transform or CopyTransform()
    hwc = _as_hwc(image)
    h_img, w_img = hwc.shape[:2]
    if isinstance(source, np.ndarray) and source.shape == (h_img, w_img):
        full = source.astype(bool)
        if not full.any():
            raise ValueError("plant_copy_move: the source mask is empty")
    else:
        x0, y0, x1, y1 = (int(v) for v in source)
        if not (0 <= x0 < x1 <= w_img and 0 <= y0 < y1 <= h_img):
            raise ValueError(
                f"plant_copy_move: source box {tuple(source)} is not inside the {w_img}x{h_img} image"
            )
        full = np.zeros((h_img, w_img), bool)
        full[y0:y1, x0:x1] = True
    ys, xs = np.nonzero(full)
    origin = (int(xs.min()), int(ys.min()))
    region = full[origin[1] : ys.max() + 1, origin[0] : xs.max() + 1]
    warped = _warp_region(hwc, region, origin, transform)
    ox, oy = (int(v) for v in target_xy)
    h, w = warped.alpha.shape
    if not (0 <= ox and ox + w <= w_img and 0 <= oy and oy + h <= h_img):
        raise ValueError(
            f"plant_copy_move: a {w}x{h} copy at {(ox, oy)} leaves the {w_img}x{h_img} image"
        )
    if (full[oy : oy + h, ox : ox + w] & warped.support).any():
        raise ValueError(f"plant_copy_move: the copy at {(ox, oy)} overlaps its own source region")
    forged = hwc.copy()
    forged[oy : oy + h, ox : ox + w] = _pasted_pixels(hwc, warped, ox, oy)[1]
    event = CopyMoveEvent(
        full,
        _full_mask((h_img, w_img), warped.target, ox, oy),
        _placed_matrix(warped, ox, oy),
        transform,
        shape,
    )
    return forged.reshape(np.shape(image)), event


# ----------------------------------------------------------------------------------------------
# Random events.


def _sample_transform(rng, opts, free_geometry=True):
    kw = {}
    if rng.random() < opts.flip_prob:
        kw["flip"] = "horizontal" if rng.random() < 0.6 else "vertical"
    if free_geometry:
        if rng.random() < opts.rot90_prob:
            kw["rot90"] = int(rng.integers(1, 4))
        if rng.random() < opts.small_rotation_prob:
            kw["angle"] = float(np.round(rng.uniform(-opts.max_angle, opts.max_angle), 2))
        if rng.random() < opts.scale_prob:
            kw["scale"] = float(np.round(np.exp(rng.uniform(*np.log(opts.scale_range))), 3))
    if rng.random() < opts.photometric_prob:
        kw["gain"] = float(np.round(rng.uniform(*opts.gain_range), 3))
        kw["bias"] = float(np.round(rng.uniform(*opts.bias_range), 1))
    if rng.random() < opts.feather_prob:
        kw["feather"] = float(np.round(rng.uniform(*opts.feather_range), 2))
    return CopyTransform(**kw)


def _box_region(box, h_img, w_img):
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w_img), min(y1, h_img)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.ones((y1 - y0, x1 - x0), bool), (x0, y0)


def _draw_anchored(rng, anchors, area, h_img, w_img):
    """A band or panel-crop source region and the preferred paste positions (patch centres)."""
    use_bands = len(anchors.bands) >= 2 and (not anchors.panels or rng.random() < 0.5)
    if use_bands:
        # A band of about the requested area (region sizes follow the real statistics).
        areas = np.array([(b[2] - b[0]) * (b[3] - b[1]) for b in anchors.bands], float)
        fitting = np.flatnonzero((areas > area / 4) & (areas < area * 4))
        if len(fitting) == 0:
            return None
        first = int(rng.choice(fitting))
        order = [first] + [int(i) for i in rng.permutation(len(anchors.bands)) if i != first]
        box = np.asarray(anchors.bands[first], float)
        grow = rng.integers(1, 5)
        placed = _box_region(box + [-grow, -grow, grow, grow], h_img, w_img)
        if placed is None:
            return None
        bw, bh = box[2] - box[0], box[3] - box[1]
        centres = []
        for i in order[1:]:
            other = np.asarray(anchors.bands[i], float)
            ow, oh = other[2] - other[0], other[3] - other[1]
            if 0.6 < ow / bw < 1.6 and 0.6 < oh / bh < 1.6:
                centres.append(((other[0] + other[2]) / 2.0, (other[1] + other[3]) / 2.0))
        return placed + ("band", centres)
    if len(anchors.panels) < 2:
        return None
    order = rng.permutation(len(anchors.panels))
    px0, py0, px1, py1 = anchors.panels[order[0]]
    pw, ph = px1 - px0, py1 - py0
    same_size = [
        i
        for i in order[1:]
        if tuple(np.subtract(anchors.panels[i][2:], anchors.panels[i][:2])) == (pw, ph)
    ]
    if area >= 0.6 * pw * ph and same_size:  # a whole panel duplicated onto another one
        centres = [
            ((q[0] + q[2] - 1) / 2.0, (q[1] + q[3] - 1) / 2.0)
            for q in (anchors.panels[i] for i in same_size)
        ]
        return _box_region((px0, py0, px1, py1), h_img, w_img) + ("panel", centres)
    aspect = np.exp(rng.uniform(-0.7, 0.7))
    w = int(np.clip(np.sqrt(area * aspect), 4, pw * 0.9))
    h = int(np.clip(area / max(w, 1), 4, ph * 0.9))
    x = px0 + int(rng.integers(0, max(pw - w, 0) + 1))
    y = py0 + int(rng.integers(0, max(ph - h, 0) + 1))
    placed = _box_region((x, y, x + w, y + h), h_img, w_img)
    if placed is None:
        return None
    centres = []
    for i in order[1:]:  # the same relative place in another panel
        qx0, qy0, qx1, qy1 = anchors.panels[i]
        if qx1 - qx0 >= w and qy1 - qy0 >= h:
            cx = qx0 + min(x - px0, qx1 - qx0 - w) + (w - 1) / 2.0
            cy = qy0 + min(y - py0, qy1 - qy0 - h) + (h - 1) / 2.0
            centres.append((cx, cy))
    return placed + ("panel", centres)


def _try_event(rng, image, blocked, outside, area, opts, anchors):
    """Draw one event that fits; returns (event, pasted patch, offset, guard, support) or None.

    ``blocked``: pixels near other events' regions; ``outside``: pixels no region may cover.
    """
    h_img, w_img = image.shape[:2]
    anchored = None
    if anchors is not None and rng.random() < opts.anchor_prob:
        anchored = _draw_anchored(rng, anchors, area, h_img, w_img)
    if anchored is not None:
        region, (x0, y0), shape, centres = anchored
    else:
        names = list(opts.shape_probs)
        probs = np.array([opts.shape_probs[n] for n in names], float)
        shape = names[int(rng.choice(len(names), p=probs / probs.sum()))]
        region = sample_region(rng, area, shape)
        rh, rw = region.shape
        if rh >= h_img or rw >= w_img:
            return None
        x0, y0 = int(rng.integers(0, w_img - rw + 1)), int(rng.integers(0, h_img - rh + 1))
        centres = []
    rh, rw = region.shape
    if ((blocked | outside)[y0 : y0 + rh, x0 : x0 + rw] & region).any():
        return None
    if _grey(image[y0 : y0 + rh, x0 : x0 + rw][region]).std() < opts.min_texture:
        return None  # flat background: its copy would be invisible
    transform = _sample_transform(rng, opts, free_geometry=shape not in ("band", "panel"))
    # Keep every pixel this event reads or writes away from the other events' regions.
    guard = opts.margin + (feather_reach(transform.feather) if transform.feather > 0 else 0)
    source_full = _full_mask((h_img, w_img), region, x0, y0)
    own = cv2.dilate(source_full.astype(np.uint8), np.ones((2 * guard + 1,) * 2, np.uint8)).astype(
        bool
    )
    if (blocked & own).any():
        return None
    warped = _warp_region(image, region, (x0, y0), transform)
    h, w = warped.alpha.shape
    if h >= h_img or w >= w_img or not warped.target.any():
        return None
    forbidden = blocked | own | outside
    offsets = [
        (int(round(cx - (w - 1) / 2.0)), int(round(cy - (h - 1) / 2.0))) for cx, cy in centres
    ]
    offsets += [
        (int(rng.integers(0, w_img - w + 1)), int(rng.integers(0, h_img - h + 1)))
        for _ in range(opts.offset_tries)
    ]
    for ox, oy in offsets:
        if not (0 <= ox <= w_img - w and 0 <= oy <= h_img - h):
            continue
        if (forbidden[oy : oy + h, ox : ox + w] & warped.support).any():
            continue
        before, after = _pasted_pixels(image, warped, ox, oy)
        diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).max(axis=-1)
        if (diff[warped.target] > opts.change_threshold).mean() < opts.min_changed_fraction:
            continue  # the copy would look like what it covers
        target_full = _full_mask((h_img, w_img), warped.target, ox, oy)
        event = CopyMoveEvent(
            source_full, target_full, _placed_matrix(warped, ox, oy), transform, shape
        )
        return event, after, (ox, oy), guard, _full_mask((h_img, w_img), warped.support, ox, oy)
    return None


def make_forgery(image, rng, num_events=None, options=None, anchors=None):
    """Plant random copy-move events in ``image``.

    Args:
        image: uint8 ``(H, W)`` or ``(H, W, C)`` array (C = 1, 3 or 4); not modified.
        rng: a ``numpy.random.Generator`` (or an int seed).
        num_events: how many events to try (default: drawn from ``options.event_count_probs``).
        options: ``CopyMoveOptions``.
        anchors: optional ``Anchors`` (band / panel boxes) for band- and panel-level copies; with
            panels, every region lies inside a panel.

    Returns:
        ``(forged, masks, events)``: the forged image (same shape and dtype), the ``(N, H, W)``
        uint8 0/1 competition mask (one channel per event: source + copy), the ``CopyMoveEvent`` list.
        Fewer than ``num_events`` events come back when no more fit.

    Raises ForgeryPlacementError when not a single event fits (image too small or too flat).
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    opts = options or CopyMoveOptions()
    hwc = _as_hwc(image)
    h_img, w_img = hwc.shape[:2]
    if num_events is None:
        probs = np.asarray(opts.event_count_probs, float)
        num_events = 1 + int(rng.choice(len(probs), p=probs / probs.sum()))
    fraction = sample_forged_fraction(rng, opts.forged_fraction)
    shares = rng.dirichlet(np.full(num_events, 2.0)) if num_events > 1 else np.ones(1)

    forged = hwc.copy()
    blocked = np.zeros((h_img, w_img), bool)
    outside = np.zeros((h_img, w_img), bool)
    if (
        anchors is not None and anchors.panels
    ):  # a figure: copy only within panels, never the canvas
        outside[:] = True
        for x0, y0, x1, y1 in anchors.panels:
            outside[y0:y1, x0:x1] = False
    events = []
    for share in shares:
        # Source and copy together cover the event's share (the copy's area scales with scale**2).
        area = max(fraction * share * h_img * w_img / 2.0, opts.min_region_area)
        placed = None
        for attempt in range(opts.region_tries):
            placed = _try_event(rng, forged, blocked, outside, area, opts, anchors)
            if placed is not None:
                break
            if attempt % 5 == 4:  # regions that do not fit: try smaller ones
                area = max(area * 0.7, opts.min_region_area)
        if placed is None:
            continue
        event, after, (ox, oy), guard, support = placed
        h, w = after.shape[:2]
        forged[oy : oy + h, ox : ox + w] = after
        kernel = np.ones((2 * guard + 1,) * 2, np.uint8)
        blocked |= cv2.dilate((event.source_mask | support).astype(np.uint8), kernel).astype(bool)
        events.append(event)
    if not events:
        raise ForgeryPlacementError(
            f"no copy-move fits in this {w_img}x{h_img} image (too small or too flat: min texture "
            f"{opts.min_texture}, min changed fraction {opts.min_changed_fraction})"
        )
    masks = np.stack([e.mask for e in events])
    return forged.reshape(np.shape(image)), masks, events
