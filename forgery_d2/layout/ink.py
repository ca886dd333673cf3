"""Ink: the pixels of rendered text and marks, and per-component measurements.

Text and marks are drawn, not photographed: flat strokes of one extreme colour (black, white or a
saturated primary / secondary colour: a corner of the RGB cube), a few px wide, with a sharp
anti-aliased edge against whatever lies under them. Inside panels, ink candidates are the pixels
within ``tolerance`` of a cube corner, split into 8-connected components per corner colour;
each component is measured (box, area, stroke width, contrast against the pixels 2 px around
it) so that :mod:`forgery_d2.layout.marks` can keep the ones that look drawn.
"""

from dataclasses import dataclass, fields

import cv2
import numpy as np
from scipy import ndimage

__all__ = ["InkComponents", "corner_colour_class", "ink_components", "measure_components"]

CORNERS = np.array([[(k >> 2) & 1, (k >> 1) & 1, k & 1] for k in range(8)], np.int16) * 255


@dataclass
class InkComponents:
    """Connected components of ink candidates; arrays indexed by component (``labels`` value - 1).

    labels: int32 (H, W), 0 = no component, k + 1 = component k.
    boxes: int64 (K, 4) XYXY (exclusive end). areas: int64 (K,) pixel counts.
    strokes: float32 (K,) stroke width, 2 * (max distance to the component's edge) - 1, px.
    contrasts: float32 (K,) median colour distance (max over channels) between the component's
        colour and the pixels at 2 px from it.
    sharpness: float32 (K,) that contrast over the same at 4 px: ~1 for drawn ink (its
        surroundings start right after the anti-aliased edge), lower for soft-edged objects.
    flatness: float32 (K,) fraction of its pixels close to its colour (a third of the candidate
        tolerance): drawn strokes have a flat core, dark or bright texture does not.
    colour_classes: int64 (K,) RGB-cube corner (0 = black ... 7 = white; -1 = not an ink colour).
    """

    labels: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    strokes: np.ndarray
    contrasts: np.ndarray
    sharpness: np.ndarray
    flatness: np.ndarray
    colour_classes: np.ndarray

    def __len__(self):
        return len(self.areas)

    def _per_component(self):
        return [f.name for f in fields(self) if f.name != "labels"]

    def select(self, keep: np.ndarray) -> "InkComponents":
        """The components where ``keep`` (bool (K,)) is True, relabelled 1..K'."""
        keep = np.asarray(keep, bool)
        lookup = np.zeros(len(self) + 1, np.int32)
        lookup[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        kept = {name: getattr(self, name)[keep] for name in self._per_component()}
        return InkComponents(labels=lookup[self.labels], **kept)

    @staticmethod
    def concatenate(parts) -> "InkComponents":
        """One set from disjoint sets of components of the same image."""
        parts = list(parts)
        labels = np.zeros_like(parts[0].labels)
        offset = 0
        for part in parts:
            labels = np.where(part.labels > 0, part.labels + offset, labels)
            offset += len(part)
        joined = {
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in parts[0]._per_component()
        }
        joined["boxes"] = joined["boxes"].reshape(-1, 4)
        return InkComponents(labels=labels.astype(np.int32), **joined)


def corner_colour_class(rgb: np.ndarray, tolerance: int):
    """``(H, W)`` int64: the RGB-cube corner each pixel is within ``tolerance`` of (every channel
    <= tolerance or >= 255 - tolerance), -1 for the others."""
    high = rgb >= 128
    distance = np.where(high, 255 - rgb.astype(np.int16), rgb.astype(np.int16))
    distance = np.maximum(np.maximum(distance[:, :, 0], distance[:, :, 1]), distance[:, :, 2])
    classes = (
        (high[:, :, 0].astype(np.int64) << 2)
        | (high[:, :, 1].astype(np.int64) << 1)
        | high[:, :, 2]
    )
    return np.where(distance <= tolerance, classes, -1)


def label_max(values, labels, count):
    """float32 (count,): the maximum of ``values`` over the pixels of each label 1..count
    (-inf for a label without pixels)."""
    out = np.full(count + 1, -np.inf, np.float32)
    inside = labels > 0
    np.maximum.at(out, labels[inside], values[inside].astype(np.float32))
    return out[1:]


def label_median(values, labels, count):
    """float32 (count,): the median of ``values`` over the pixels of each label 1..count (NaN for
    a label without pixels); sorts only the labelled pixels."""
    inside = labels > 0
    lab, val = labels[inside], values[inside].astype(np.float32)
    order = np.lexsort((val, lab))
    lab, val = lab[order], val[order]
    counts = np.bincount(lab, minlength=count + 1)[1:]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(count, np.nan, np.float32)
    some = counts > 0
    low = starts[some] + (counts[some] - 1) // 2
    high = starts[some] + counts[some] // 2
    out[some] = (val[low] + val[high]) / 2
    return out


def _ring_median(values, labels, inside, count, radius, region=None):
    """Per component: median of ``values`` over the pixels at Chebyshev distance ``radius`` from
    it (a pixel reached by several components counts for the largest-numbered one), inside the
    bool ``region`` if given; NaN if none."""
    near = cv2.dilate(inside, np.ones((2 * radius - 1,) * 2, np.uint8)).astype(bool)
    kernel = np.ones((2 * radius + 1,) * 2, np.uint8)
    ring_labels = cv2.dilate(labels.astype(np.float32), kernel).astype(np.int32)
    ring_labels[near] = 0
    if region is not None:
        ring_labels[~region] = 0
    return label_median(values, ring_labels, count)


def _empty_components(labels):
    empty, nothing = np.zeros(0, np.float32), np.zeros(0, np.int64)
    return InkComponents(
        labels, np.zeros((0, 4), np.int64), nothing, empty, empty, empty, empty, nothing
    )


def measure_components(
    rgb,
    mask,
    colour,
    colour_class=-1,
    min_area=1,
    bridge=0,
    region=None,
    keep=None,
    contrast=True,
    core_tolerance=16,
):
    """8-connected components of the bool ``mask`` with at least ``min_area`` px, measured against
    ``colour`` (their ink colour, RGB) in ``rgb``: see :class:`InkComponents`.

    ``bridge`` > 0 joins pieces up to ``2 * bridge`` px apart into one component (glyph parts split
    by anti-aliasing). ``region``: bool (H, W); contrasts only look at surroundings inside it.
    ``keep(boxes, strokes) -> bool (K,)`` drops components before their contrasts are measured
    (the costly part); ``contrast=False`` skips contrasts and flatness (left at 0);
    ``core_tolerance``: how close to ``colour`` a pixel counts as flat core."""
    mask8 = mask.astype(np.uint8)
    connect = cv2.dilate(mask8, np.ones((2 * bridge + 1,) * 2, np.uint8)) if bridge > 0 else mask8
    count, labels = cv2.connectedComponents(connect, connectivity=8)
    labels = labels * mask8
    areas = np.bincount(labels.ravel(), minlength=count)
    chosen = np.flatnonzero(areas[1:] >= min_area) + 1
    lookup = np.zeros(count, np.int32)
    lookup[chosen] = np.arange(1, len(chosen) + 1, dtype=np.int32)
    labels = lookup[labels]
    k = len(chosen)
    if k == 0:
        return _empty_components(labels)
    boxes = np.array(
        [(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels, k)],
        np.int64,
    )
    inside = (labels > 0).astype(np.uint8)
    # Distance to the nearest pixel outside the component; the figure's border counts as outside.
    padded = cv2.copyMakeBorder(inside, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    strokes = 2.0 * label_max(distance, labels, k) - 1.0
    components = InkComponents(
        labels,
        boxes,
        areas[chosen].astype(np.int64),
        strokes,
        np.zeros(k, np.float32),
        np.zeros(k, np.float32),
        np.zeros(k, np.float32),
        np.full(k, colour_class, np.int64),
    )
    if keep is not None:
        components = components.select(keep(boxes, strokes))
    if not contrast or len(components) == 0:
        return components
    k, labels = len(components), components.labels
    inside = (labels > 0).astype(np.uint8)
    diff = np.abs(rgb.astype(np.int16) - np.asarray(colour, np.int16).reshape(1, 1, 3))
    diff = np.maximum(np.maximum(diff[:, :, 0], diff[:, :, 1]), diff[:, :, 2])
    near = _ring_median(diff, labels, inside, k, 2, region)
    far = _ring_median(diff, labels, inside, k, 4, region)
    components.contrasts = np.nan_to_num(near, nan=0.0)  # NaN: nothing around the component
    components.sharpness = np.nan_to_num(near / np.maximum(far, 1.0), nan=0.0)
    own = labels > 0
    core = np.bincount(labels[own], weights=diff[own] <= core_tolerance, minlength=k + 1)[1:]
    components.flatness = (core / np.maximum(components.areas, 1)).astype(np.float32)
    return components


def ink_components(rgb, region, tolerance, min_area=4, bridge=1, keep=None):
    """Ink candidates inside the bool ``region`` (the panels): components of pixels near one RGB
    cube corner, per corner, measured against that corner's colour and the region's pixels;
    ``keep``: see :func:`measure_components`."""
    classes = corner_colour_class(rgb, tolerance)
    classes[~region] = -1
    parts = [
        measure_components(
            rgb,
            classes == k,
            CORNERS[k],
            int(k),
            min_area,
            bridge,
            region,
            keep,
            core_tolerance=tolerance // 3,
        )
        for k in np.unique(classes)
        if k >= 0
    ]
    if not parts:
        return _empty_components(np.zeros(rgb.shape[:2], np.int32))
    return InkComponents.concatenate(parts)


def grow_ink(rgb, components, keep, margin=1, min_coverage=0.25, max_steps=32):
    """int32 (H, W), 0 or component index + 1: the pixels of the kept components (``keep``: bool
    (K,)) grown, one px per step,
    over neighbouring pixels whose estimated ink coverage ``1 - distance(pixel, ink colour) /
    contrast`` is at least ``min_coverage``, without leaving the component's box grown by
    ``margin`` px: the anti-aliased edges, and thin strokes that fall between pixels and so have
    no pure-colour core. Components without an ink colour (class -1: canvas labels, already
    whole) are taken as they are."""
    keep = np.asarray(keep, bool)
    lookup = np.zeros(len(components) + 1, np.int32)
    lookup[1:][keep] = np.flatnonzero(keep) + 1
    labels = lookup[components.labels]
    mask = labels > 0
    grows = np.flatnonzero(keep & (components.colour_classes >= 0))
    if len(grows) == 0:
        return labels
    h, w = mask.shape
    allowed = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in components.boxes[grows]:
        allowed[max(y0 - margin, 0) : y1 + margin, max(x0 - margin, 0) : x1 + margin] = True
    owner = np.where(np.isin(labels, grows + 1), labels, 0).astype(np.float32)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for _ in range(max_steps):
        nearby = cv2.dilate(owner, cross).astype(np.int64)
        ys, xs = np.nonzero((nearby > 0) & ~mask & allowed)
        if len(ys) == 0:
            break
        k = nearby[ys, xs] - 1
        distance = np.abs(rgb[ys, xs].astype(np.int16) - CORNERS[components.colour_classes[k]]).max(
            axis=1
        )
        covered = 1.0 - distance / np.maximum(components.contrasts[k], 1.0) >= min_coverage
        if not covered.any():
            break
        mask[ys[covered], xs[covered]] = True
        owner[ys[covered], xs[covered]] = k[covered] + 1
        labels[ys[covered], xs[covered]] = k[covered] + 1
    return labels
