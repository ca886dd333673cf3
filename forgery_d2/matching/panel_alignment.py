"""Whole- and partial-panel reuse: a global alignment search between every ordered pair of panels.

A panel reused as another panel (flipped, turned by 180 degrees, rescaled, cropped, with its
brightness or contrast changed) is the most common duplication in papers and often has too few
keypoints (smooth blots, dim micrographs). So for every ordered pair (A, B) of panels we look for
B's content inside A under each flip / half turn of :data:`DIHEDRAL` and each scale of ``scales``
(B = scale x A's crop): B (its interior, where its whole box does not fit inside A), transformed
and brought to A's pixel size, is the template of a normalized cross-correlation search over A
(``cv2.matchTemplate``) on thumbnails of about
``thumb_size`` x ``thumb_size`` pixels in area (not on the long side: a blot strip of 700 x 24 px
would shrink to 64 x 2 px, too thin to correlate; at equal area it is 343 x 12 px). Pairs whose
best correlation reaches ``min_ncc`` become candidates; their transform is then refined to
sub-pixel precision by a coarse-to-fine search (:func:`refine_by_search`) before the pixel
evidence decides (forgery_d2.matching.copy_verification).

Cost: ``P (P - 1) x len(DIHEDRAL) x len(scales)`` template matches on thumbnails (at most twice
that where B's interior is tried too), each a fraction of a millisecond, so a 16-panel figure stays
well under a second (benchmarks/bench_figure_matcher.py measures it against the panel count).
"""

import functools
from dataclasses import dataclass
from typing import List

import cv2
import numpy as np

__all__ = [
    "DIHEDRAL",
    "PanelCandidate",
    "panel_pair_candidates",
    "refine_by_search",
]

# The panel transforms searched: name -> (flip x, flip y). Quarter turns change a panel's aspect
# ratio and are rare for whole panels; keypoints cover them.
DIHEDRAL = {
    "none": (False, False),
    "horizontal": (True, False),
    "vertical": (False, True),
    "rot180": (True, True),
}


@dataclass
class PanelCandidate:
    """A hypothesis "panel ``copy_panel`` is a (transformed) copy of a part of ``source_panel``"."""

    matrix: np.ndarray  # 2x3 float64: source (x, y) -> copy (x, y), image pixels
    source_panel: int
    copy_panel: int
    ncc: float  # thumbnail correlation of the hypothesis
    flip: str
    scale: float


def _thumbnail(crop: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, int(round(crop.shape[1] * factor))), max(1, int(round(crop.shape[0] * factor))))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)


def _matrix(source_origin, copy_box, flip, scale):
    """Source (x, y) -> copy (x, y) for "copy = flip(scale x the source region at source_origin)"."""
    bx0, by0, bx1, by1 = copy_box
    fx, fy = DIHEDRAL[flip]
    flip_matrix = np.array(
        [
            [-1.0 if fx else 1.0, 0.0, (bx1 - bx0 - 1.0) if fx else 0.0],
            [0.0, -1.0 if fy else 1.0, (by1 - by0 - 1.0) if fy else 0.0],
            [0.0, 0.0, 1.0],
        ]
    )
    to_copy = np.array([[1.0, 0.0, bx0], [0.0, 1.0, by0], [0.0, 0.0, 1.0]])
    scaling = np.diag([scale, scale, 1.0])
    from_source = np.array(
        [[1.0, 0.0, -source_origin[0]], [0.0, 1.0, -source_origin[1]], [0.0, 0.0, 1.0]]
    )
    return (to_copy @ flip_matrix @ scaling @ from_source)[:2]


def panel_pair_candidates(
    gray: np.ndarray,
    panels,
    thumb_size: int = 64,
    scales=(0.77, 0.87, 1.0, 1.15, 1.3),
    min_ncc: float = 0.85,
    min_std: float = 4.0,
    min_panel_size: int = 24,
) -> List[PanelCandidate]:
    """Candidates for every ordered panel pair (see the module docstring). ``gray``: float32 or
    uint8 (H, W); ``panels``: integer XYXY boxes. At most one candidate (the best) per pair."""
    boxes = [tuple(int(v) for v in box) for box in panels]
    crops = [np.ascontiguousarray(gray[y0:y1, x0:x1], dtype=np.float32) for x0, y0, x1, y1 in boxes]
    usable = [min(c.shape) >= min_panel_size and float(c.std()) >= min_std for c in crops]
    # Where B, at a scale tried, does not fit inside A, its interior is tried instead: a layout box
    # a pixel or two too large (an anti-aliased or JPEG-blurred border, a touching neighbour's edge
    # column) made B wider than its source A at scale 1, and the reuse was never tried. Only then:
    # the whole box holds B's own edges, which pin its scale (the interior of a smooth blot matched
    # 18 % off its true scale better than its whole box did at the true one).
    inner_boxes = [_inset(box) for box in boxes]
    inner_crops = [
        np.ascontiguousarray(gray[y0:y1, x0:x1], dtype=np.float32) for x0, y0, x1, y1 in inner_boxes
    ]
    # Panel B's shrunk templates depend only on B, the flip and the size: panels of one size
    # (a row of blot strips, a grid of micrographs) share them across every A.
    templates = [{} for _ in crops]
    inner_templates = [{} for _ in crops]
    candidates = []
    for a, (box_a, crop_a) in enumerate(zip(boxes, crops)):
        if not usable[a]:
            continue
        factor = min(1.0, thumb_size / float(np.sqrt(crop_a.shape[0] * crop_a.shape[1])))
        thumb_a = _thumbnail(crop_a, factor)
        for b in range(len(boxes)):
            if b == a or not usable[b]:
                continue
            whole = (boxes[b], crops[b], templates[b])
            inner = (inner_boxes[b], inner_crops[b], inner_templates[b])
            match = functools.partial(_match_panel, thumb_a, factor, whole, inner, min_std=min_std)
            best = None
            for flip in DIHEDRAL:
                for scale in scales:
                    best = _better(best, match(flip, scale))
            if best is not None and best[0] >= REFINE_FRACTION * min_ncc:
                # The coarse grid is ~13% apart and thumbnails of fine texture decorrelate within a
                # few percent of scale: refine around the best scale, at its flip, before the test.
                coarse = best[2]
                for step in REFINE_STEPS:
                    best = _better(best, match(best[1], coarse * step))
            if best is None or best[0] < min_ncc:
                continue
            value, flip, scale, u, v, box_b = best
            origin = (box_a[0] + u / factor, box_a[1] + v / factor)
            candidates.append(
                PanelCandidate(_matrix(origin, box_b, flip, scale), a, b, float(value), flip, scale)
            )
    return candidates


# A panel's interior (tried where its whole box does not fit) is its box less this fraction of its
# shorter side (at least 2 px) on each side.
PANEL_INSET = 0.03


def _inset(box):
    x0, y0, x1, y1 = box
    margin = max(2, int(round(PANEL_INSET * min(x1 - x0, y1 - y0))))
    if min(x1 - x0, y1 - y0) <= 4 * margin:  # too small to lose its border: kept whole
        return x0, y0, x1, y1
    return x0 + margin, y0 + margin, x1 - margin, y1 - margin


# Relative scale steps tried around the best coarse scale, and how close to ``min_ncc`` a coarse
# match must be to be refined.
REFINE_STEPS = (0.94, 0.97, 1.03, 1.06)
REFINE_FRACTION = 0.75


def _match_panel(thumb_a, factor, whole, inner, flip, scale, min_std):
    """:func:`_match_scaled` of B's whole box, or of its interior where the whole does not fit:
    ``(ncc, flip, scale, u, v, box matched)`` or None. ``whole``, ``inner``: (box, crop, templates)."""
    box, crop, templates = whole
    found = _match_scaled(thumb_a, crop, flip, scale, factor, min_std, templates)
    if found is None and inner[0] != box:
        box, crop, templates = inner
        found = _match_scaled(thumb_a, crop, flip, scale, factor, min_std, templates)
    return None if found is None else found + (box,)


def _match_scaled(thumb_a, crop_b, flip, scale, factor, min_std, templates):
    """Best thumbnail NCC of panel B (flipped, then shrunk by ``scale``) inside panel A's thumbnail:
    ``(ncc, flip, scale, u, v)``, or None when the template does not fit or is flat.
    ``templates``: B's shrunk templates by (flip, width, height), filled as they are made."""
    # B is scale x (a crop of A): in A's pixels it is B / scale.
    height = int(round(crop_b.shape[0] * factor / scale))
    width = int(round(crop_b.shape[1] * factor / scale))
    if min(height, width) < 6 or height > thumb_a.shape[0] or width > thumb_a.shape[1]:
        return None
    key = (flip, width, height)
    if key not in templates:
        fx, fy = DIHEDRAL[flip]
        flipped = np.ascontiguousarray(crop_b[:: -1 if fy else 1, :: -1 if fx else 1])
        template = cv2.resize(flipped, (width, height), interpolation=cv2.INTER_AREA)
        templates[key] = template if float(template.std()) >= min_std else None
    template = templates[key]
    if template is None:
        return None
    ncc = cv2.matchTemplate(thumb_a, template, cv2.TM_CCOEFF_NORMED)
    _, value, _, (u, v) = cv2.minMaxLoc(ncc)
    return value, flip, scale, u, v


def _better(best, found):
    return found if found is not None and (best is None or found[0] > best[0]) else best


def refine_by_search(
    gray: np.ndarray,
    matrix: np.ndarray,
    copy_box,
    coarse_size: int = 128,
    radius: int = 3,
    coarse_scale_steps: int = 2,
):
    """Refine a source -> copy ``matrix`` to the precision pixel evidence needs (a fraction of a
    pixel over the whole copy box), by a coarse-to-fine exhaustive search.

    At each level (the copy box's long side ``coarse_size`` px first, then twice as fine, up to the
    figure's own pixels) the source is warped into the copy box under the current hypothesis
    rescaled about the box's centre by a few relative steps (one step moves the box's ends by one
    pixel of that level; ``coarse_scale_steps`` each way at the first level, one after), and the
    copy box is found in it by normalized cross-correlation (``cv2.matchTemplate``, invariant to
    brightness and contrast) within ``radius`` pixels; the best scale and shift become the next
    hypothesis. The last level adds a sub-pixel shift (a parabola through the peak). Flip and
    rotation are kept. Since the hypothesis itself is always among those tried, the correlation
    never gets worse; and no step can move the box by more than ``radius`` + the scale steps'
    pixels of its level, so it cannot wander to another optimum far away (ECC image alignment,
    tried first, did: it moved development hypotheses that were within 1 px of the truth several
    pixels away, and settled on the wrong scale in smooth blot strips).
    Returns the refined 2x3 matrix (``matrix`` itself when the copy box is flat)."""
    x0, y0, x1, y1 = (int(v) for v in copy_box)
    copy = np.ascontiguousarray(gray[y0:y1, x0:x1], dtype=np.float32)
    if min(copy.shape) < 8 or float(copy.std()) < 1e-3:
        return matrix
    image = np.ascontiguousarray(gray, dtype=np.float32)
    centre = np.array([(x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0])
    half_extent = max(x1 - x0, y1 - y0) / 2.0
    current = np.asarray(matrix, dtype=np.float64).copy()
    factor = min(1.0, coarse_size / max(copy.shape))
    steps = coarse_scale_steps
    while True:
        current = _search_level(
            image,
            copy,
            current,
            (x0, y0),
            centre,
            factor,
            radius,
            steps,
            half_extent,
            subpixel=factor >= 1.0,
        )
        if factor >= 1.0:
            return current
        factor = min(1.0, 2.0 * factor)
        steps = 1


def _search_level(
    image, copy, matrix, origin, centre, factor, radius, steps, half_extent, subpixel
):
    """One level of :func:`refine_by_search`: the best of ``2 steps + 1`` scales x the shifts
    within ``radius`` (pixels of this level), at ``factor`` x the figure's resolution."""
    x0, y0 = origin
    if factor < 1.0:
        template = cv2.resize(copy, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        source_image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    else:
        template, source_image = copy, image
    if min(template.shape) < 4 or float(template.std()) < 1e-3:
        return matrix
    height, width = template.shape
    # Level pixel p of the search window <-> figure pixel x0 - radius / factor + p / factor.
    to_figure = np.array(
        [
            [1.0 / factor, 0.0, x0 - radius / factor],
            [0.0, 1.0 / factor, y0 - radius / factor],
            [0.0, 0.0, 1.0],
        ]
    )
    to_level = np.diag([factor, factor, 1.0])
    step = 1.0 / max(1.0, factor * half_extent)
    best = None
    for k in range(-steps, steps + 1):
        rho = 1.0 + k * step
        # copy = centre + rho (M(source) - centre): the hypothesis rescaled about the box's centre.
        scaled = np.vstack([matrix, [0.0, 0.0, 1.0]])
        scaled[:2] *= rho
        scaled[:2, 2] += (1.0 - rho) * centre
        # Search pixel -> source pixel of this level.
        warp = (to_level @ np.linalg.inv(scaled) @ to_figure)[:2]
        window = cv2.warpAffine(
            source_image,
            warp,
            (width + 2 * radius, height + 2 * radius),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        ncc = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, value, _, (u, v) = cv2.minMaxLoc(ncc)
        if best is None or value > best[0]:
            best = (value, scaled, ncc, u, v)
    _, scaled, ncc, u, v = best
    du, dv = float(u), float(v)
    if subpixel:
        du += _parabola_peak(ncc[v, max(u - 1, 0) : u + 2]) if 0 < u < ncc.shape[1] - 1 else 0.0
        dv += _parabola_peak(ncc[max(v - 1, 0) : v + 2, u]) if 0 < v < ncc.shape[0] - 1 else 0.0
    # The copy pixel q shows the source of search pixel q + (du, dv): M_new(s) = M'(s) - shift.
    refined = scaled[:2].copy()
    refined[:, 2] -= np.array([du - radius, dv - radius]) / factor
    return refined


def _parabola_peak(values: np.ndarray) -> float:
    """Offset in (-0.5, 0.5) of the vertex of the parabola through three samples around a peak."""
    left, centre, right = (float(v) for v in values)
    curvature = left - 2.0 * centre + right
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
