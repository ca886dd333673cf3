"""Whole- and partial-panel reuse: a global alignment search between every ordered pair of panels.

A panel reused as another panel (flipped, turned by 180 degrees, rescaled, cropped, with its
brightness or contrast changed) is the most common duplication in papers and often has too few
keypoints (smooth blots, dim micrographs). So for every ordered pair (A, B) of panels we look for
B's content inside A under each flip / half turn of :data:`DIHEDRAL` and each scale of ``scales``
(B = scale x A's crop): B, transformed and brought to A's pixel size, is the template of a
normalized cross-correlation search over A (``cv2.matchTemplate``) on thumbnails whose long side
is ``thumb_size`` px. Pairs whose best correlation reaches ``min_ncc`` become candidates; their
transform is then refined at full resolution by ECC image alignment (``cv2.findTransformECC``)
before the pixel evidence decides (forgery_d2.matching.copy_verification).

Cost: ``P (P - 1) x len(DIHEDRAL) x len(scales)`` template matches on thumbnails, each a fraction of
a millisecond, so a 16-panel figure stays well under a second (benchmarks/bench_figure_matcher.py
measures it against the panel count).
"""

from dataclasses import dataclass
from typing import List

import cv2
import numpy as np

__all__ = [
    "DIHEDRAL",
    "PanelCandidate",
    "panel_pair_candidates",
    "refine_by_ecc",
    "nearest_similarity",
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
    crops = [
        np.ascontiguousarray(gray[y0:y1, x0:x1], dtype=np.float32) for x0, y0, x1, y1 in panels
    ]
    usable = [min(c.shape) >= min_panel_size and float(c.std()) >= min_std for c in crops]
    candidates = []
    for a, (box_a, crop_a) in enumerate(zip(panels, crops)):
        if not usable[a]:
            continue
        factor = thumb_size / max(crop_a.shape)
        thumb_a = _thumbnail(crop_a, factor)
        for b, (box_b, crop_b) in enumerate(zip(panels, crops)):
            if b == a or not usable[b]:
                continue
            best = None
            for flip in DIHEDRAL:
                for scale in scales:
                    best = _better(
                        best, _match_scaled(thumb_a, crop_b, flip, scale, factor, min_std)
                    )
            if best is not None and best[0] >= REFINE_FRACTION * min_ncc:
                # The coarse grid is ~13% apart and thumbnails of fine texture decorrelate within a
                # few percent of scale: refine around the best scale, at its flip, before the test.
                coarse = best[2]
                for step in REFINE_STEPS:
                    best = _better(
                        best,
                        _match_scaled(thumb_a, crop_b, best[1], coarse * step, factor, min_std),
                    )
            if best is None or best[0] < min_ncc:
                continue
            value, flip, scale, u, v = best
            origin = (box_a[0] + u / factor, box_a[1] + v / factor)
            candidates.append(
                PanelCandidate(_matrix(origin, box_b, flip, scale), a, b, float(value), flip, scale)
            )
    return candidates


# Relative scale steps tried around the best coarse scale, and how close to ``min_ncc`` a coarse
# match must be to be refined.
REFINE_STEPS = (0.94, 0.97, 1.03, 1.06)
REFINE_FRACTION = 0.75


def _match_scaled(thumb_a, crop_b, flip, scale, factor, min_std):
    """Best thumbnail NCC of panel B (flipped, then shrunk by ``scale``) inside panel A's thumbnail:
    ``(ncc, flip, scale, u, v)``, or None when the template does not fit or is flat."""
    fx, fy = DIHEDRAL[flip]
    flipped = crop_b[:: -1 if fy else 1, :: -1 if fx else 1]
    # B is scale x (a crop of A): in A's pixels it is B / scale.
    height = int(round(crop_b.shape[0] * factor / scale))
    width = int(round(crop_b.shape[1] * factor / scale))
    if min(height, width) < 6 or height > thumb_a.shape[0] or width > thumb_a.shape[1]:
        return None
    template = cv2.resize(
        np.ascontiguousarray(flipped), (width, height), interpolation=cv2.INTER_AREA
    )
    if float(template.std()) < min_std:
        return None
    ncc = cv2.matchTemplate(thumb_a, template, cv2.TM_CCOEFF_NORMED)
    _, value, _, (u, v) = cv2.minMaxLoc(ncc)
    return value, flip, scale, u, v


def _better(best, found):
    return found if found is not None and (best is None or found[0] > best[0]) else best


def refine_by_ecc(
    gray: np.ndarray,
    matrix: np.ndarray,
    copy_box,
    iterations: int = 60,
    eps: float = 1e-4,
    max_size: int = 256,
    max_drift: float = 0.1,
):
    """Refine a source -> copy ``matrix`` by ECC alignment of the copy box onto the image
    (``cv2.findTransformECC``, invariant to brightness and contrast), on a copy of at most
    ``max_size`` px, projected back onto a similarity transform (:func:`nearest_similarity`).
    Returns None when ECC does not converge, or moves the box's corners by more than
    ``max_drift`` x the box size (it found another optimum than the hypothesis)."""
    x0, y0, x1, y1 = (int(v) for v in copy_box)
    template = np.ascontiguousarray(gray[y0:y1, x0:x1], dtype=np.float32)
    factor = min(1.0, max_size / max(template.shape))
    # Warp W: template pixel (u, v) -> image pixel, i.e. M^-1 of the copy pixel (u / f + x0, v / f +
    # y0).
    to_copy = np.array([[1.0 / factor, 0.0, x0], [0.0, 1.0 / factor, y0], [0.0, 0.0, 1.0]])
    inverse = np.vstack([cv2.invertAffineTransform(matrix.astype(np.float64)), [0.0, 0.0, 1.0]])
    image = gray.astype(np.float32)
    if factor < 1.0:
        template = cv2.resize(template, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        to_image = np.diag([factor, factor, 1.0])
    else:
        to_image = np.eye(3)
    warp = (to_image @ inverse @ to_copy)[:2].astype(np.float32)
    try:
        _, warp = cv2.findTransformECC(
            template,
            image,
            warp,
            cv2.MOTION_AFFINE,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps),
            None,
            5,
        )
    except cv2.error:
        return None
    refined_inverse = (
        np.linalg.inv(to_image)
        @ np.vstack([warp.astype(np.float64), [0.0, 0.0, 1.0]])
        @ np.linalg.inv(to_copy)
    )
    refined = nearest_similarity(cv2.invertAffineTransform(refined_inverse[:2]))
    # ECC can drift to another local optimum: keep it only near the hypothesis it started from.
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)
    drift = np.abs(
        _apply(cv2.invertAffineTransform(refined), corners)
        - _apply(cv2.invertAffineTransform(matrix), corners)
    )
    return refined if drift.max() <= max_drift * max(x1 - x0, y1 - y0) else None


def _apply(matrix, points):
    return points @ matrix[:, :2].T + matrix[:, 2]


def nearest_similarity(matrix: np.ndarray) -> np.ndarray:
    """The similarity transform (rotation or reflection, uniform scale, translation) closest to a
    2x3 affine ``matrix`` (orthogonal Procrustes on its linear part; the centre of the unit
    square keeps its image)."""
    linear = matrix[:, :2]
    u, singular, vt = np.linalg.svd(linear)
    similar = (u @ vt) * singular.mean()
    out = np.zeros((2, 3))
    out[:, :2] = similar
    centre = np.array([0.5, 0.5])
    out[:, 2] = linear @ centre + matrix[:, 2] - similar @ centre
    return out
