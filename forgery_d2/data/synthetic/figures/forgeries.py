"""Duplications as they occur in papers, planted into a composed figure with exact ground truth.

Four kinds (``FORGERY_KINDS``); every event records its kind, object, transform and boxes:

* ``panel_reuse``: a whole panel shown again as another panel of the same kind, possibly flipped
  (horizontal / vertical), turned 180 degrees, rescaled (0.75-1.3, the crop that fills the target),
  cropped, with brightness/contrast change, blur or a JPEG round-trip of the reused pixels.
  Ground truth: the source crop and the WHOLE target panel.
* ``partial_panel_reuse``: a crop of one panel (30-70% of each side) pasted as part of another.
* ``cross_panel_region``: a band, lane, cell, well or patch copied from one panel into another.
* ``intra_panel_region``: the same within one panel, down to a single blot band (~10x20 px), with
  small rotations (up to +-15 degrees) and rescales.

Region events reuse forgery_d2.data.synthetic.copy_move (``plant_copy_move``: warping, feathering,
photometric change, exact masks). Events never overlap each other (nor come within ``margin`` px):
every event copies authentic pixels. Copied regions (the two region kinds) stay clear of every
overlay box (labels, scale bars, arrows, letters), so no overlay is drawn over them; reused panels
keep the target panel's overlays on top, as a forger re-labels a reused image.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np

from forgery_d2.structures.masks import mask_box

from ..copy_move import CopyTransform, feather_reach, plant_copy_move
from ..regions import sample_region

__all__ = ["FORGERY_KINDS", "FigureEvent", "ForgeryOptions", "plant_forgeries"]

FORGERY_KINDS = ("panel_reuse", "partial_panel_reuse", "cross_panel_region", "intra_panel_region")
_REGION_OBJECTS = {  # panel kind -> relative frequency of what a region event copies
    "blot": {"band": 0.6, "lane": 0.15, "patch": 0.25},
    "gel": {"band": 0.5, "lane": 0.25, "patch": 0.25},
    "microscopy": {"cell": 0.55, "patch": 0.45},
    "plate": {"well": 0.7, "patch": 0.3},
}


@dataclass
class ForgeryOptions:
    """How often each forgery occurs and how it is transformed."""

    # P(1, 2, 3 events) per forged figure (the competition's masks: N=1 68%, 2 25.5%, 3 6.5%).
    event_count_probs: tuple = (0.68, 0.255, 0.065)
    kind_probs: dict = field(
        default_factory=lambda: {
            "panel_reuse": 0.3,
            "partial_panel_reuse": 0.2,
            "cross_panel_region": 0.25,
            "intra_panel_region": 0.25,
        }
    )
    flip_prob: float = 0.3  # reused panels / regions: horizontal or vertical flip
    rotate180_prob: float = 0.1  # reused panels
    rescale_prob: float = 0.3
    scale_range: tuple = (0.75, 1.3)  # reused panels and crops
    region_scale_range: tuple = (0.85, 1.2)  # copied regions
    rotation_prob: float = 0.2  # copied regions: small rotation
    max_angle: float = 15.0
    photometric_prob: float = 0.3  # brightness / contrast change
    blur_prob: float = 0.12  # reused panels: Gaussian blur of the reused pixels
    jpeg_prob: float = 0.12  # reused panels: JPEG round-trip of the reused pixels
    feather_prob: float = 0.25  # copied regions: soft pasted edge
    min_texture: float = 5.0  # grey-level std a copied region needs (no flat background copies)
    change_threshold: int = 8  # a pasted pixel "changed" when it moved by more grey levels
    min_changed_fraction: float = 0.3  # of the pasted region (no invisible copies)
    max_event_fraction: float = 0.35  # a reused panel pair covers at most this share of the figure
    margin: int = 3  # px kept free around every event
    tries: int = 25  # attempts per event

    def validate(self):
        unknown = set(self.kind_probs) - set(FORGERY_KINDS)
        if unknown:
            raise ValueError(
                f"kind_probs: unknown forgery kinds {sorted(unknown)}; "
                f"expected some of {FORGERY_KINDS}"
            )
        if any(v < 0 for v in self.kind_probs.values()) or sum(self.kind_probs.values()) <= 0:
            raise ValueError(
                f"kind_probs: weights must be >= 0 and not all 0, got {self.kind_probs}"
            )


@dataclass
class FigureEvent:
    """One planted duplication and its exact ground truth (figure coordinates)."""

    kind: str  # one of FORGERY_KINDS
    object: str  # panel / crop / band / lane / cell / well / patch
    source_panel: int
    target_panel: int
    source_mask: np.ndarray = field(repr=False)  # (H, W) bool
    target_mask: np.ndarray = field(repr=False)  # (H, W) bool
    matrix: np.ndarray = field(repr=False)  # (2, 3): source pixel (x, y) -> copied pixel (x, y)
    params: dict = field(default_factory=dict)  # the transform, JSON-able

    @property
    def mask(self):
        """(H, W) uint8 0/1: source and copy together (the competition's instance mask)."""
        return (self.source_mask | self.target_mask).astype(np.uint8)

    @property
    def exact(self):
        """True when every copied pixel equals its source pixel moved by ``matrix`` (no resampling,
        no photometric change)."""
        p = self.params
        return (
            p.get("scale", 1.0) == 1.0
            and p.get("angle", 0.0) == 0.0
            and p.get("gain", 1.0) == 1.0
            and p.get("bias", 0.0) == 0.0
            and not p.get("feather")
            and not p.get("blur_sigma")
            and not p.get("jpeg_quality")
        )

    @staticmethod
    def _box(mask):
        return list(mask_box(mask))

    def to_dict(self):
        return {
            "kind": self.kind,
            "object": self.object,
            "source_panel": self.source_panel,
            "target_panel": self.target_panel,
            "source_box": self._box(self.source_mask),
            "target_box": self._box(self.target_mask),
            "source_area": int(self.source_mask.sum()),
            "target_area": int(self.target_mask.sum()),
            "area": int(self.mask.sum()),
            "matrix": np.round(self.matrix, 6).tolist(),
            "transform": dict(self.params),
        }


# ----------------------------------------------------------------------------------------------
# Helpers


def _choose(rng, probs):
    names = [k for k, v in probs.items() if v > 0]
    weights = np.array([probs[k] for k in names], float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _box_mask(shape, box):
    mask = np.zeros(shape, bool)
    x0, y0, x1, y1 = (int(v) for v in box)
    mask[max(y0, 0) : y1, max(x0, 0) : x1] = True
    return mask


def _dilate_box(box, r, shape):
    x0, y0, x1, y1 = box
    return (max(x0 - r, 0), max(y0 - r, 0), min(x1 + r, shape[1]), min(y1 + r, shape[0]))


def _inside(inner, outer):
    return (
        inner[0] >= outer[0]
        and inner[1] >= outer[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def _free(forbidden, box):
    x0, y0, x1, y1 = (int(v) for v in box)
    return not forbidden[y0:y1, x0:x1].any()


def _grey(pixels):
    return pixels[..., :3].astype(np.float32).mean(axis=-1)


def _patch_size(region_h, region_w, transform):
    """(h, w) of the patch plant_copy_move pastes for a (region_h, region_w) region."""
    lin = transform.linear()
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * np.array(
        [region_w / 2.0, region_h / 2.0]
    )
    moved = corners @ lin.T
    pad = feather_reach(transform.feather) if transform.feather > 0 else 0
    w, h = (np.ceil(moved.max(axis=0) - moved.min(axis=0) - 1e-6).astype(int) + 2 * pad).tolist()
    return h, w


def _changed_enough(before, after, region, opts):
    diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).max(axis=-1)
    return (
        region.any() and (diff[region] > opts.change_threshold).mean() >= opts.min_changed_fraction
    )


class _Canvas:
    """The figure being forged, the events so far and what later events must avoid."""

    def __init__(self, image, panels, opts):
        self.image = image.copy()
        self.panels = panels
        self.opts = opts
        self.shape = image.shape[:2]
        self.blocked = np.zeros(self.shape, bool)  # events so far, grown by the margin
        self.events = []

    def block(self, box):
        x0, y0, x1, y1 = _dilate_box(box, self.opts.margin, self.shape)
        self.blocked[y0:y1, x0:x1] = True

    def keep_out(self, panel):
        """Where a copied region may not go in ``panel``: outside it, overlays, insets, events."""
        forbidden = ~_box_mask(self.shape, panel.box) | self.blocked
        for box in panel.keep_out:
            x0, y0, x1, y1 = _dilate_box(box, 1, self.shape)
            forbidden[y0:y1, x0:x1] = True
        return forbidden


# ----------------------------------------------------------------------------------------------
# Whole and partial panels


def _panel_pairs(canvas):
    """(source, target) panels of one forgeable kind, both untouched by earlier events."""
    pairs = []
    for s in canvas.panels:
        for t in canvas.panels:
            if s.index == t.index or not s.forgeable or s.kind != t.kind:
                continue
            if not (_free(canvas.blocked, s.box) and _free(canvas.blocked, t.box)):
                continue
            pairs.append((s, t))
    return pairs


def _panel_reuse(rng, canvas):
    opts = canvas.opts
    pairs = []
    budget = opts.max_event_fraction * canvas.shape[0] * canvas.shape[1]
    for s, t in _panel_pairs(canvas):
        (sw, sh), (tw, th) = s.size, t.size
        need = max(tw / sw, th / sh)  # the smallest scale whose crop of the source fills the target
        if need <= opts.scale_range[1] and min(tw, th) >= 8 and sw * sh + tw * th <= budget:
            pairs.append((s, t, need))
    if not pairs:
        return None
    # Prefer panels of one look (same channel, same style): what a forger would swap.
    alike = [
        p
        for p in pairs
        if p[0].style == p[1].style and p[0].tags.get("channel") == p[1].tags.get("channel")
    ]
    s, t, need = (alike or pairs)[int(rng.integers(0, len(alike or pairs)))]
    (sw, sh), (tw, th) = s.size, t.size
    low = max(need, opts.scale_range[0])
    smallest = float(np.ceil(need * 1000) / 1000)  # scales are recorded with 3 decimals
    if rng.random() < opts.rescale_prob and opts.scale_range[1] > low:
        scale = max(float(np.round(rng.uniform(low, opts.scale_range[1]), 3)), smallest)
    else:
        scale = max(1.0, smallest)
    crop_w, crop_h = tw / scale, th / scale
    ox = int(rng.integers(0, max(int(np.floor(sw - crop_w + 1e-6)), 0) + 1))
    oy = int(rng.integers(0, max(int(np.floor(sh - crop_h + 1e-6)), 0) + 1))
    flip = "none"
    if rng.random() < opts.flip_prob:
        flip = "horizontal" if rng.random() < 0.65 else "vertical"
    rotate180 = rng.random() < opts.rotate180_prob
    # target local (u, v) = scale * (source local - crop origin + 0.5) - 0.5, then flips / turn.
    a = np.array([[scale, 0.0, scale * (0.5 - ox) - 0.5], [0.0, scale, scale * (0.5 - oy) - 0.5]])
    mirror_x = (flip == "horizontal") != rotate180
    mirror_y = (flip == "vertical") != rotate180
    if mirror_x:
        a[0] = -a[0]
        a[0, 2] += tw - 1
    if mirror_y:
        a[1] = -a[1]
        a[1, 2] += th - 1
    # figure coordinates: source (X, Y) = (x + sx0, y + sy0); target (U, V) = (u + tx0, v + ty0)
    sx0, sy0 = s.box[:2]
    tx0, ty0 = t.box[:2]
    to_local = a.copy()
    to_local[:, 2] -= a[:, :2] @ np.array([sx0, sy0], float)
    patch = cv2.warpAffine(
        canvas.image, to_local, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    params = {
        "flip": flip,
        "rotate180": bool(rotate180),
        "scale": scale,
        "crop": [
            int(sx0 + ox),
            int(sy0 + oy),
            round(sx0 + ox + crop_w, 2),
            round(sy0 + oy + crop_h, 2),
        ],
    }
    patch = _photometric(rng, patch, opts, params)
    before = canvas.image[ty0 : ty0 + th, tx0 : tx0 + tw]
    if not _changed_enough(before, patch, np.ones((th, tw), bool), opts):
        return None
    canvas.image[ty0 : ty0 + th, tx0 : tx0 + tw] = patch
    source_box = (
        sx0 + ox,
        sy0 + oy,
        min(sx0 + ox + int(np.ceil(crop_w)), s.box[2]),
        min(sy0 + oy + int(np.ceil(crop_h)), s.box[3]),
    )
    matrix = to_local.copy()
    matrix[:, 2] += (tx0, ty0)
    return FigureEvent(
        "panel_reuse",
        "panel",
        s.index,
        t.index,
        _box_mask(canvas.shape, source_box),
        _box_mask(canvas.shape, t.box),
        matrix,
        params,
    ), (source_box, t.box)


def _photometric(rng, patch, opts, params):
    """Brightness/contrast, blur and JPEG changes of reused pixels (recorded in ``params``)."""
    out = patch
    if rng.random() < opts.photometric_prob:
        gain, bias = (
            float(np.round(rng.uniform(0.8, 1.25), 3)),
            float(np.round(rng.uniform(-20, 20), 1)),
        )
        colour = out.astype(np.float32)
        mean = colour.mean()
        out = np.clip(np.rint((colour - mean) * gain + mean + bias), 0, 255).astype(np.uint8)
        params.update(gain=gain, bias=bias)
    if rng.random() < opts.blur_prob:
        sigma = float(np.round(rng.uniform(0.5, 1.2), 2))
        out = cv2.GaussianBlur(out, (0, 0), sigma)
        params["blur_sigma"] = sigma
    if rng.random() < opts.jpeg_prob:
        quality = int(rng.integers(50, 86))
        ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
        params["jpeg_quality"] = quality
    return out


def _region_transform(rng, opts, free_geometry, scale_range):
    kw = {}
    if rng.random() < opts.flip_prob:
        kw["flip"] = "horizontal" if rng.random() < 0.65 else "vertical"
    if free_geometry and rng.random() < opts.rotation_prob:
        kw["angle"] = float(np.round(rng.uniform(-opts.max_angle, opts.max_angle), 2))
    if rng.random() < opts.rescale_prob:
        kw["scale"] = float(np.round(rng.uniform(*scale_range), 3))
    if rng.random() < opts.photometric_prob:
        kw["gain"] = float(np.round(rng.uniform(0.8, 1.25), 3))
        kw["bias"] = float(np.round(rng.uniform(-20, 20), 1))
    if free_geometry and rng.random() < opts.feather_prob:
        kw["feather"] = float(np.round(rng.uniform(0.7, 2.0), 2))
    return CopyTransform(**kw)


def _plant(canvas, source, source_box, target_panel, ox, oy, transform, shape):
    """plant_copy_move + the checks every event needs; the event and patch box, or None."""
    opts = canvas.opts
    try:
        forged, event = plant_copy_move(canvas.image, source, (ox, oy), transform, shape)
    except ValueError:  # leaves the image or touches its own source
        return None
    h, w = _patch_size(
        *((source_box[3] - source_box[1]), (source_box[2] - source_box[0])), transform
    )
    patch_box = (ox, oy, ox + w, oy + h)
    if not event.target_mask.any() or not _inside(patch_box, target_panel.box):
        return None
    if not _changed_enough(
        canvas.image[oy : oy + h, ox : ox + w],
        forged[oy : oy + h, ox : ox + w],
        event.target_mask[oy : oy + h, ox : ox + w],
        opts,
    ):
        return None
    return forged, event, patch_box


def _partial_panel_reuse(rng, canvas):
    opts = canvas.opts
    pairs = _panel_pairs(canvas)
    if not pairs:
        return None
    s, t = pairs[int(rng.integers(0, len(pairs)))]
    (sw, sh), (tw, th) = s.size, t.size
    transform = _region_transform(rng, opts, False, opts.scale_range)
    scale = transform.scale
    cw = int(min(sw * rng.uniform(0.3, 0.7), tw * 0.9 / scale))
    ch = int(min(sh * rng.uniform(0.3, 0.7), th * 0.9 / scale))
    if cw < 8 or ch < 8:
        return None
    x0 = s.box[0] + int(rng.integers(0, sw - cw + 1))
    y0 = s.box[1] + int(rng.integers(0, sh - ch + 1))
    source_box = (x0, y0, x0 + cw, y0 + ch)
    if _grey(canvas.image[y0 : y0 + ch, x0 : x0 + cw]).std() < opts.min_texture:
        return None
    h, w = _patch_size(ch, cw, transform)
    if w > tw or h > th:
        return None
    ox = t.box[0] + int(rng.integers(0, tw - w + 1))
    oy = t.box[1] + int(rng.integers(0, th - h + 1))
    planted = _plant(canvas, source_box, source_box, t, ox, oy, transform, "crop")
    if planted is None:
        return None
    forged, event, patch_box = planted
    canvas.image = forged
    return _from_copy_move("partial_panel_reuse", "crop", s, t, event, transform), (
        source_box,
        patch_box,
    )


def _from_copy_move(kind, obj, s, t, event, transform):
    params = {k: v for k, v in vars(transform).items()}
    return FigureEvent(
        kind, obj, s.index, t.index, event.source_mask, event.target_mask, event.matrix, params
    )


# ----------------------------------------------------------------------------------------------
# Regions: bands, lanes, cells, wells, patches


def _source_region(rng, canvas, panel, obj, forbidden):
    """(mask cropped to its box, XYXY box, object kind) of a region of ``panel``, or None."""
    h_img, w_img = canvas.shape
    px0, py0, px1, py1 = panel.box
    candidates = [o for o in panel.objects if o.kind == obj]
    if obj != "patch" and candidates:
        o = candidates[int(rng.integers(0, len(candidates)))]
        grow = 0 if obj in ("well", "lane") else int(rng.integers(1, 4))
        x0, y0, x1, y1 = _dilate_box(o.box, grow, canvas.shape)
        if o.mask is not None and rng.random() < 0.6:
            mask = np.zeros((y1 - y0, x1 - x0), bool)
            ox0, oy0 = o.box[0] - x0, o.box[1] - y0
            mask[oy0 : oy0 + o.mask.shape[0], ox0 : ox0 + o.mask.shape[1]] = o.mask
            if grow:
                mask = cv2.dilate(
                    mask.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)
                ).astype(bool)
        else:
            mask = np.ones((y1 - y0, x1 - x0), bool)
    else:
        pw, ph = px1 - px0, py1 - py0
        area = pw * ph * rng.uniform(0.01, 0.08)
        mask = sample_region(rng, area, str(rng.choice(["blob", "polygon", "rectangle"])))
        rh, rw = mask.shape
        if rh >= ph or rw >= pw:
            return None
        x0, y0 = px0 + int(rng.integers(0, pw - rw + 1)), py0 + int(rng.integers(0, ph - rh + 1))
        x1, y1 = x0 + rw, y0 + rh
        obj = "patch"
    if mask.sum() < 24 or x1 > w_img or y1 > h_img:
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    mask = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # tight: plant_copy_move's box
    x0, y0 = x0 + int(cols[0]), y0 + int(rows[0])
    x1, y1 = x0 + mask.shape[1], y0 + mask.shape[0]
    if (forbidden[y0:y1, x0:x1] & mask).any():
        return None
    if _grey(canvas.image[y0:y1, x0:x1][mask]).std() < canvas.opts.min_texture:
        return None
    return mask, (x0, y0, x1, y1), obj


def _target_offsets(rng, target, obj, size, tries=20):
    """Candidate top-left corners for a (h, w) patch in ``target``: onto like objects first."""
    h, w = size
    px0, py0, px1, py1 = target.box
    offsets = []
    like = [o for o in target.objects if o.kind == obj]
    for k in rng.permutation(len(like))[:8]:
        x0, y0, x1, y1 = like[k].box
        offsets.append((int(round((x0 + x1 - w) / 2.0)), int(round((y0 + y1 - h) / 2.0))))
    if px1 - px0 > w and py1 - py0 > h:
        offsets += [
            (
                px0 + int(rng.integers(0, px1 - px0 - w + 1)),
                py0 + int(rng.integers(0, py1 - py0 - h + 1)),
            )
            for _ in range(tries)
        ]
    return offsets


def _region_event(rng, canvas, kind):
    opts = canvas.opts
    if kind == "intra_panel_region":
        pool = [
            (p, p)
            for p in canvas.panels
            if p.forgeable and not canvas.blocked[p.box[1] : p.box[3], p.box[0] : p.box[2]].all()
        ]
    else:
        pool = [
            (s, t)
            for s in canvas.panels
            for t in canvas.panels
            if s.index != t.index and s.forgeable and s.kind == t.kind
        ]
    if not pool:
        return None
    s, t = pool[int(rng.integers(0, len(pool)))]
    obj = _choose(rng, _REGION_OBJECTS[s.kind])
    forbidden_s = canvas.keep_out(s)
    region = _source_region(rng, canvas, s, obj, forbidden_s)
    if region is None:
        return None
    mask, box, obj = region
    free_geometry = obj in ("cell", "patch", "band")
    scale_range = opts.region_scale_range
    transform = _region_transform(rng, opts, free_geometry, scale_range)
    if obj == "band" and transform.angle:
        transform = CopyTransform(
            **{**vars(transform), "angle": float(np.clip(transform.angle, -6, 6))}
        )
    x0, y0, x1, y1 = box
    source_full = np.zeros(canvas.shape, bool)
    source_full[y0:y1, x0:x1] = mask
    size = _patch_size(y1 - y0, x1 - x0, transform)
    forbidden_t = canvas.keep_out(t)
    own = _dilate_box(
        box,
        opts.margin + (feather_reach(transform.feather) if transform.feather else 0),
        canvas.shape,
    )
    forbidden_t[own[1] : own[3], own[0] : own[2]] = True  # never onto (or next to) its own source
    for ox, oy in _target_offsets(rng, t, obj, size):
        patch_box = (ox, oy, ox + size[1], oy + size[0])
        if not _inside(patch_box, t.box) or not _free(forbidden_t, patch_box):
            continue
        planted = _plant(canvas, source_full, box, t, ox, oy, transform, obj)
        if planted is None:
            continue
        forged, event, patch_box = planted
        canvas.image = forged
        return _from_copy_move(kind, obj, s, t, event, transform), (box, patch_box)
    return None


_PLANTERS = {
    "panel_reuse": _panel_reuse,
    "partial_panel_reuse": _partial_panel_reuse,
    "cross_panel_region": lambda rng, canvas: _region_event(rng, canvas, "cross_panel_region"),
    "intra_panel_region": lambda rng, canvas: _region_event(rng, canvas, "intra_panel_region"),
}


def plant_forgeries(rng, image, panels, options=None, num_events=None):
    """Plant 1-3 duplications into the uint8 RGB figure ``image`` with ``panels`` (Panel list).

    Returns ``(forged, events)``: the forged copy of ``image`` and the FigureEvent list (empty when
    nothing fits, e.g. a figure without two panels of a kind or any textured region).
    """
    opts = options or ForgeryOptions()
    if num_events is None:
        probs = np.asarray(opts.event_count_probs, float)
        num_events = 1 + int(rng.choice(len(probs), p=probs / probs.sum()))
    canvas = _Canvas(image, panels, opts)
    for _ in range(num_events):
        for _ in range(opts.tries):
            kind = _choose(rng, opts.kind_probs)
            placed = _PLANTERS[kind](rng, canvas)
            if placed is None:
                continue
            event, (source_box, target_box) = placed
            canvas.block(source_box)
            canvas.block(target_box)
            canvas.events.append(event)
            break
    return canvas.image, canvas.events
