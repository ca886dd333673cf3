"""The figure-aware matcher: planted duplications of each kind are found with masks that hold only
verified pixels; figures whose only repetition is legitimate (labels, scale bars, look-alike
bands, merged channels, well plates, dashed lines) stay authentic."""

import os

import cv2
import numpy as np
import pytest
import skimage

from forgery_d2.data.synthetic.blots import draw_blot
from forgery_d2.data.synthetic.copy_move import CopyTransform, plant_copy_move
from forgery_d2.data.synthetic.figures.case import generate_figure_case
from forgery_d2.data.synthetic.generator import generate_case
from forgery_d2.matching.copy_verification import verify_candidate
from forgery_d2.matching.evidence import copy_evidence, rendered_graphics_mask
from forgery_d2.matching.figure_matcher import FigureMatcher, FigureMatcherParams
from forgery_d2.matching.grain_hashing import (
    _max_differing_signs,
    _simhash,
    grain_hash_candidates,
)
from forgery_d2.matching.panel_alignment import panel_pair_candidates, refine_by_search
from forgery_d2.matching.verification import refine_transform

SKIMAGE_DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
THRESHOLD = 0.5  # FORGERY.DECISION's default score threshold


def pixel_f1(pred, gt):
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    return 2.0 * (pred & gt).sum() / max(pred.sum() + gt.sum(), 1)


@pytest.fixture(scope="module")
def matcher():
    return FigureMatcher()


@pytest.fixture(scope="module")
def micrograph():
    """A real immunohistochemistry image (RGB) shipped with scikit-image."""
    return cv2.cvtColor(cv2.imread(os.path.join(SKIMAGE_DATA, "ihc.png")), cv2.COLOR_BGR2RGB)


def _canvas(height, width):
    return np.full((height, width, 3), 255, np.uint8)


def _put_text(image, text, x, y):
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)


def _reported(result):
    return [inst for inst in result.instances if inst.score >= THRESHOLD]


def _micrograph_figure(micrograph, crops, gap=10, size=200):
    """Panels cut from the micrograph at ``crops`` (x, y) on a white canvas, a letter above each."""
    figure = _canvas(size + 2 * gap + 20, len(crops) * (size + gap) + gap)
    boxes = []
    for k, (cx, cy) in enumerate(crops):
        x0, y0 = gap + k * (size + gap), gap + 20
        figure[y0 : y0 + size, x0 : x0 + size] = micrograph[cy : cy + size, cx : cx + size]
        _put_text(figure, "ABCDEFG"[k], x0, y0 - 5)
        boxes.append((x0, y0, x0 + size, y0 + size))
    return figure, boxes


def _best_f1(result, mask):
    return max((pixel_f1(inst.mask, mask) for inst in _reported(result)), default=0.0)


# ---------------------------------------------------------------- planted duplications, per kind


@pytest.mark.parametrize("flip", ["none", "horizontal", "vertical"])
def test_panel_reuse_between_panels_is_found(matcher, micrograph, flip):
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40), (30, 300)])
    x0, y0, x1, y1 = boxes[0]
    reused = figure[y0:y1, x0:x1].copy()
    reused = (
        reused[:, ::-1] if flip == "horizontal" else reused[::-1] if flip == "vertical" else reused
    )
    bx0, by0, bx1, by1 = boxes[2]
    figure[by0:by1, bx0:bx1] = reused
    truth = np.zeros(figure.shape[:2], bool)
    truth[y0:y1, x0:x1] = truth[by0:by1, bx0:bx1] = True
    assert _best_f1(matcher(figure), truth) > 0.8


def test_rescaled_panel_is_found_by_the_panel_search(micrograph):
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40)])
    x0, y0, x1, y1 = boxes[0]
    crop = figure[
        y0 + 20 : y1 - 20, x0 + 20 : x1 - 20
    ]  # a crop of panel A, enlarged to fill panel B
    bx0, by0, bx1, by1 = boxes[1]
    figure[by0:by1, bx0:bx1] = cv2.resize(
        crop, (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_CUBIC
    )
    candidates = panel_pair_candidates(
        cv2.cvtColor(figure, cv2.COLOR_RGB2GRAY).astype(np.float32), boxes
    )
    assert any(
        c.source_panel == 0 and c.copy_panel == 1 and abs(c.scale - 200 / 160) < 0.15
        for c in candidates
    )


def test_panel_reuse_is_tried_when_the_copy_box_is_larger_than_its_source(micrograph):
    """Layout boxes jitter by a pixel or two (anti-aliased borders, a touching neighbour's edge
    column). Panel B, an exact copy of A, has a box 2 px larger on every side than A's: at scale 1
    it did not fit inside A, and the reuse was never tried (development seed 5, figure 118)."""
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40), (30, 300)])
    x0, y0, x1, y1 = boxes[0]
    bx0, by0, bx1, by1 = boxes[2]
    figure[by0:by1, bx0:bx1] = figure[y0:y1, x0:x1]
    grown = [boxes[0], boxes[1], (bx0 - 2, by0 - 2, bx1 + 2, by1 + 2)]
    gray = cv2.cvtColor(figure, cv2.COLOR_RGB2GRAY).astype(np.float32)
    found = [
        c
        for c in panel_pair_candidates(gray, grown)
        if c.source_panel == 0 and c.copy_panel == 2 and c.flip == "none"
    ]
    assert found and abs(found[0].scale - 1.0) < 0.05
    # The hypothesis maps B's interior onto A's pixels within the search's refinement radius.
    corner = found[0].matrix @ np.array([x0 + 10.0, y0 + 10.0, 1.0])
    assert np.abs(corner - [bx0 + 10.0, by0 + 10.0]).max() < 3.0


def test_rescaled_copy_whose_box_fits_is_searched_by_its_whole_box(matcher):
    """A rectangle of a smooth blot pasted 1.165 x larger (old generator, seed 2026, test figure
    99). Searched by its interior, the copy matched its source 18 % off its true scale better than
    its whole box did at the true one, and the refinement could not come back: the copy was lost
    (oF1 0.98 -> 0). The interior is tried only where the whole box does not fit."""
    case = generate_case(2026, "test", 99)
    assert case.record["events"][0]["transform"]["scale"] == pytest.approx(1.165)
    assert _best_f1(matcher(case.forged), case.masks[0].astype(bool)) > 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blot_strip_reused_rescaled_is_found(seed):
    """Three 520 x 30 px blot strips; the third is a crop of the first enlarged 1.2x. A thumbnail
    with a 64 px long side made such strips 64 x 4 px (no candidate), and ECC settled on a wrong
    scale; both fail this test."""
    rng = np.random.default_rng(seed)
    figure = _canvas(200, 600)
    for k in range(3):
        figure[20 + 60 * k : 50 + 60 * k, 40:560] = draw_blot(rng, 30, 520, style="film")[0][
            :, :, None
        ]
    crop = figure[22:47, 83:516]  # 433 x 25 px of strip 0 -> 520 x 30 px: 1.2x both ways
    figure[140:170, 40:560] = cv2.resize(crop, (520, 30), interpolation=cv2.INTER_CUBIC)
    truth = np.zeros(figure.shape[:2], bool)
    truth[22:47, 83:516] = truth[140:170, 40:560] = True
    assert _best_f1(FigureMatcher()(figure), truth) > 0.6


def test_panel_search_refines_a_rough_hypothesis_to_subpixel(micrograph):
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40)])
    x0, y0, x1, y1 = boxes[0]
    bx0, by0, bx1, by1 = boxes[1]
    crop = figure[y0 + 16 : y1 - 16, x0 + 16 : x1 - 16]  # 168 px -> 200 px: 1.19x
    figure[by0:by1, bx0:bx1] = cv2.resize(crop, (200, 200), interpolation=cv2.INTER_CUBIC)
    gray = cv2.cvtColor(figure, cv2.COLOR_RGB2GRAY).astype(np.float32)
    scale = 200 / 168
    # Pixel centres: copy (u + 0.5) = scale (source (x + 0.5) - origin) + box origin.
    offset = 0.5 * (scale - 1)
    truth = np.array(
        [
            [scale, 0.0, bx0 - scale * (x0 + 16) + offset],
            [0.0, scale, by0 - scale * (y0 + 16) + offset],
        ]
    )
    rough = truth.copy()
    rough[:, :2] *= 1.02  # the panel search's scale steps are 3 % apart
    rough[:, 2] += (2.5, -2.0)
    refined = refine_by_search(gray, rough, boxes[1])
    corners = np.array([[bx0, by0], [bx1, by0], [bx0, by1], [bx1, by1]], np.float64)

    def to_source(m):
        inverse = cv2.invertAffineTransform(m)
        return corners @ inverse[:, :2].T + inverse[:, 2]

    assert np.abs(to_source(rough) - to_source(truth)).max() > 3.0
    assert np.abs(to_source(refined) - to_source(truth)).max() < 0.5


@pytest.mark.parametrize(
    "transform",
    [
        CopyTransform(),
        CopyTransform(flip="horizontal"),
        CopyTransform(angle=8.0),
        CopyTransform(gain=1.15, bias=10.0),
    ],
    ids=["shift", "flip", "rotation", "brightness"],
)
def test_region_copied_between_panels_is_found(matcher, micrograph, transform):
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40)])
    forged, event = plant_copy_move(figure, (40, 80, 120, 150), (300, 90), transform)
    result = matcher(forged)
    assert _best_f1(result, event.mask) > 0.6, result.stats


def test_panel_reuse_found_by_two_searches_is_not_a_composite(matcher):
    """A generated figure whose micrograph panel is reused flipped upside down at 1.187 x. The
    keypoint stage and the panel search both find it, at scales 0.004 apart. The composite rule
    took the two for a region matching two different regions, whose other sides do not match
    each other (they are one region, 3 px off), and dropped the reuse (oF1 0.23 -> 0.71)."""
    case = generate_figure_case(5, "train", 86)
    assert case.events[0].kind == "panel_reuse"
    reuse = case.masks[0].astype(bool)
    assert _best_f1(matcher(case.forged), reuse) > 0.9


@pytest.mark.parametrize(
    "index",
    [8, 62],
    ids=["blot_strip_flipped_blurred", "plate_flipped_rescaled_blurred"],
)
def test_reused_panel_is_masked_whole(matcher, index):
    """Generated figures whose panel is reused with a flip, blur (sigma 0.5-0.8) and, for the
    plate, a 1.22 x rescale. The reuse was proven, but its mask held only the pixels agreeing
    with the source within the tolerance pixel for pixel: the blur and the resampling left a
    speckled mask over the strip's background, without the panel-edge margins (pixel F1 0.51 and
    0.28). A region proven whole is now read at REGION_SMOOTHING."""
    case = generate_figure_case(5, "train", index)
    assert [event.kind for event in case.events] == ["panel_reuse"]
    assert _best_f1(matcher(case.forged), case.masks[0].astype(bool)) > 0.95


def test_half_turned_panel_reuse_beside_its_source_is_found(matcher):
    """A generated figure whose micrograph crop is reused turned by 180 degrees right above its
    source. A half turn is its own inverse: the candidate's box held both sides, both were
    evidence (each is the other's copy), and the copy was rejected as overlapping its own source
    (oF1 0)."""
    case = generate_figure_case(5, "train", 60)
    assert [event.kind for event in case.events] == ["panel_reuse"]
    assert _best_f1(matcher(case.forged), case.masks[0].astype(bool)) > 0.8


@pytest.mark.parametrize("index", [5, 99], ids=["band", "patch"])
def test_small_exact_copy_proven_by_its_grain_is_reported(matcher, index):
    """Generated figures (development seed 11) with one small copy moved by whole pixels: 251 and
    228 verified pixels, its grain repeating its source's (full-resolution residual ZNCC >= 0.975).
    Below MIN_VERIFIED_PIXELS (400) it went unreported; a grain match needs
    GRAIN_MIN_VERIFIED_PIXELS (200). The same figure without the copy stays authentic."""
    case = generate_figure_case(11, "train", index)
    assert len(case.events) == 1
    assert _best_f1(matcher(case.forged), case.masks[0].astype(bool)) > 0.7
    assert not _reported(matcher(case.authentic))


@pytest.mark.parametrize(
    "index, event",
    [(14, 1), (115, 0)],
    ids=["uncompressed_crop_reused_brighter", "jpeg_patch_flipped_and_turned"],
)
def test_large_figure_is_verified_at_the_size_its_compression_allows(matcher, index, event):
    """Generated figures wider than VERIFY_MAX_SIZE (development seed 5). Figure 14 (1703 px, not
    compressed): a crop reused 1.2 x brighter verified too few pixels once the figure was brought
    down to 1280 px (its grain averaged away) and was missed; it is found at the figure's own
    pixels. Figure 115 (1724 px, JPEG quality 85): a patch copied flipped and turned by 11 degrees
    is found at 1280 px and was lost at its own pixels (block noise the averaging removed)."""
    case = generate_figure_case(5, "train", index)
    assert (case.jpeg_quality is None) == (index == 14)
    assert _best_f1(matcher(case.forged), case.masks[event].astype(bool)) > 0.75


def test_channel_panels_sharing_scattered_grain_stay_authentic(matcher):
    """An authentic row of fluorescence channel panels and their merge (held-out seed 2036, where it
    was found), touching, so the layout takes three of them for one panel. Shifted by one panel
    pitch, the merge repeats a channel's grain at a few scattered spots: a grain match of 204
    verified pixels, above GRAIN_MIN_VERIFIED_PIXELS. A small copy is one object; this is not."""
    figure = generate_figure_case(2036, "test", 137).authentic
    assert not _reported(matcher(figure))


def _mirrored_grain(mirrored_share: float) -> np.ndarray:
    """A blob symmetric about x = 99.5 on grain whose right half is ``mirrored_share`` the mirror
    image of its left half (1: a copy flipped beside its source), the rest its own."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:160, 0:200]
    gray = 120.0 + 60.0 * np.exp(-(((xs - 100) / 30.0) ** 2 + ((ys - 80) / 25.0) ** 2))
    grain = rng.normal(0.0, 6.0, (160, 200))
    own = np.sqrt(1.0 - mirrored_share**2) * grain[:, 100:160]
    grain[:, 100:160] = mirrored_share * grain[:, 40:100][:, ::-1] + own
    return (gray + grain).astype(np.float32)


@pytest.mark.parametrize(
    "mirrored_share, found", [(1.0, True), (0.95, False), (0.8, False)], ids=["copy", "0.95", "0.8"]
)
def test_mirror_with_both_sides_in_its_box_is_split_only_for_a_grain_copy(mirrored_share, found):
    """A mirror flip whose box holds both sides verifies on one side when that side repeats its
    source's grain (the other side is then its source, never part of its copy mask). A symmetric
    object whose grain is only partly mirrored (residual ZNCC 0.91-0.95, above the evidence
    threshold, below SPLIT_MIN_RESIDUAL_ZNCC) stays rejected: one object matched onto itself."""
    params = FigureMatcherParams.default().verification
    mirror = np.array([[-1.0, 0.0, 199.0], [0.0, 1.0, 0.0]])
    result = verify_candidate(
        _mirrored_grain(mirrored_share),
        mirror,
        (30, 40, 170, 120),
        np.zeros((160, 200), bool),
        params,
    )
    assert (result is not None) == found
    if found:
        assert result.evidence_pixels > 4000 and result.residual_zncc > 0.99
        assert not (result.copy_mask & result.source_mask).any()
        sides = result.copy_mask[:, :100].any(), result.copy_mask[:, 100:].any()
        assert sides in [(True, False), (False, True)]


@pytest.mark.xfail(
    strict=True,
    reason="known limitation (issue 9): the grain-hash offset vote keeps "
    "12 candidates and none is the band's translation on a film blot; fails loudly once fixed",
)
def test_single_band_copied_inside_a_blot_is_found(matcher):
    blot, bands = draw_blot(np.random.default_rng(3), 120, 420, style="film")
    figure = _canvas(160, 460)
    figure[20:140, 20:440] = blot[:, :, None]
    x0, y0, x1, y1 = max(bands, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    source = (x0 + 20, y0 + 20, x1 + 20, y1 + 20)
    target_x = 60 if source[0] > 230 else 330
    forged, event = plant_copy_move(figure, source, (target_x, source[1]))
    assert _best_f1(matcher(forged), event.mask) > 0.5


# ---------------------------------------------------------------- legitimate repetition


def test_repeated_labels_scale_bars_and_letters_stay_authentic(matcher, micrograph):
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40), (30, 300)])
    for x0, _y0, x1, y1 in boxes:  # the same scale bar and "50 um" in every panel
        cv2.rectangle(figure, (x1 - 60, y1 - 15), (x1 - 15, y1 - 11), (255, 255, 255), -1)
        cv2.putText(
            figure,
            "50 um",
            (x1 - 62, y1 - 20),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        _put_text(figure, "Ctrl  siRNA  +  -", x0, y1 + 15) if y1 + 15 < figure.shape[0] else None
    assert not _reported(matcher(figure))


def test_look_alike_bands_drawn_from_one_shape_stay_authentic(matcher):
    """Bands of one template in every lane, each with its own grain (a blot's look-alikes)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:18, 0:40].astype(np.float32)
    band = 120.0 * np.exp(-(np.abs((x - 20) / 16) ** 4) - ((y - 9) / 4) ** 2)
    strip = np.full((60, 480), 215.0, np.float32)
    for lane in range(10):
        strip[20:38, 10 + lane * 46 : 50 + lane * 46] -= band * rng.uniform(0.8, 1.0)
    strip += rng.normal(0, 3.0, strip.shape)
    figure = _canvas(100, 520)
    figure[20:80, 20:500] = np.clip(strip, 0, 255).astype(np.uint8)[:, :, None]
    assert not _reported(matcher(figure))


@pytest.mark.parametrize("index", [44, 50, 55, 59])
def test_dishes_with_one_rim_shape_stay_authentic(matcher, index):
    """Generated figures of culture dishes, each dish with its own colonies and noise but the rim
    shape every dish shares. Aligned precisely, two dishes' rims and dark surroundings agree over
    a few hundred pixels (each of these four was flagged so); a panel candidate must make the whole
    panel agree with its source."""
    case = generate_figure_case(5, "train", index, forged=False)
    assert "plate" in {panel.kind for panel in case.layout.panels}  # still a figure of dishes
    assert not _reported(matcher(case.authentic))


def test_merged_overlay_beside_panels_of_other_colours_stays_authentic(matcher):
    """A generated row of DAPI (blue), phalloidin (red) and YAP (green) panels and their merged
    overlay, 5 px gutters. The overlay's red channel is the phalloidin panel's pixels, legitimately.
    The colour test must read each side's colours inside its own panel: within its 25 px reach of
    the evidence lay the blue panel next door, whose colours made the red panel look like a
    composite too, and the overlay was reported as its copy (score 0.93)."""
    case = generate_figure_case(11, "train", 9, forged=False)
    kinds = [panel.kind for panel in case.layout.panels]
    assert kinds.count("microscopy") >= 12  # still the grid of channel panels and overlays
    assert not _reported(matcher(case.authentic))


def test_merged_overlay_matching_one_channel_panel_stays_authentic(matcher):
    """A generated grid of Hoechst / Ki67 / merge panels (40 px). Where the merge's other channel
    is dark it is the Hoechst panel pixel for pixel, and the two verified as a copy along their row
    (score 0.93); the merge's link to its other channel panel, in one colour channel, is what
    tells the composite (forgery_d2.matching.channel_links)."""
    case = generate_figure_case(5, "train", 0, forged=False)
    assert any(panel.tags.get("channel") == "merge" for panel in case.layout.panels)
    assert not _reported(matcher(case.authentic))


def test_region_copied_along_a_row_of_colour_panels_is_found(matcher, micrograph):
    """A copy moved along a row of colour panels is not taken for a merged overlay: any third
    region correlates with its two sides alike (they are one picture)."""
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40), (30, 300)])
    forged, event = plant_copy_move(figure, (40, 80, 120, 150), (290, 80), CopyTransform())
    assert _best_f1(matcher(forged), event.mask) > 0.6


def test_merged_channels_stay_authentic(matcher, micrograph):
    """Fluorescence channels and their merge: the merge holds each channel's pixels, legitimately."""
    field = cv2.cvtColor(micrograph[:200, :200], cv2.COLOR_RGB2GRAY).astype(np.float32)
    rng = np.random.default_rng(1)
    red = np.clip(field * 0.8 + rng.normal(0, 3, field.shape), 0, 255)
    green = np.clip(255 - field + rng.normal(0, 3, field.shape), 0, 255) * 0.7
    zero = np.zeros_like(field)
    panels = [
        np.dstack([red, zero, zero]),
        np.dstack([zero, green, zero]),
        np.dstack([red, green, zero]),
    ]
    figure = _canvas(240, 3 * 210 + 10)
    for k, panel in enumerate(panels):
        figure[20:220, 10 + k * 210 : 210 + k * 210] = panel.astype(np.uint8)
    assert not _reported(matcher(figure))


def test_dashed_lines_and_plots_stay_authentic(matcher, micrograph):
    figure, boxes = _micrograph_figure(micrograph, [(0, 0), (250, 40)])
    for x in range(20, 420, 12):  # a dashed line across both panels
        cv2.line(figure, (x, 120), (x + 6, 120), (200, 200, 200), 1)
    plot = _canvas(200, 200)
    for k in range(5):  # bars with error bars and ticks
        cv2.rectangle(
            plot, (20 + k * 35, 190 - 30 * (k + 1) // 2), (45 + k * 35, 190), (80, 80, 80), -1
        )
        cv2.line(plot, (32 + k * 35, 150 - 30 * k // 2), (32 + k * 35, 170), (0, 0, 0), 1)
    wide = _canvas(figure.shape[0], figure.shape[1] + 220)
    wide[:, : figure.shape[1]] = figure
    wide[30:230, figure.shape[1] + 10 : figure.shape[1] + 210] = plot
    assert not _reported(matcher(wide))


# ---------------------------------------------------------------- masks hold verified pixels only


def test_masks_do_not_grow_over_flat_areas(matcher, micrograph):
    """A textured patch copied onto a flat, almost noise-free panel: the reported masks stay on the
    source and the copy (a few px of rim at most), never spreading over the flat panel."""
    figure, _ = _micrograph_figure(micrograph, [(0, 0)], size=200)
    figure = np.concatenate([figure, _canvas(figure.shape[0], 240)], axis=1)
    flat = 40 + np.random.default_rng(0).integers(0, 3, (200, 220, 1))
    figure[30:230, 230:450] = flat.astype(np.uint8)
    forged, event = plant_copy_move(figure, (60, 80, 120, 140), (300, 100))
    best = max(_reported(matcher(forged)), key=lambda inst: pixel_f1(inst.mask, event.mask))
    assert pixel_f1(best.mask, event.mask) > 0.6
    near_truth = cv2.dilate(event.mask, np.ones((11, 11), np.uint8)) > 0
    assert not (best.mask & ~near_truth).any()


def _fluorescence_panel(rng, height, width, centres):
    """A dark fluorescence micrograph: near-black background, bright grainy nuclei at ``centres``."""
    yy, xx = np.mgrid[0:height, 0:width]
    signal = np.zeros((height, width))
    for cy, cx in centres:
        radius = rng.uniform(4, 6)
        signal += 160 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    grain = rng.normal(0, 1.5, (height, width)) * (1.0 + 0.05 * signal)
    return np.clip(signal + grain + 6, 0, 255).astype(np.uint8)


def test_one_cell_copied_into_a_dark_panel_does_not_mask_the_panel(matcher):
    """A nucleus copied from one mostly black fluorescence panel into its neighbour. Black agrees
    with black under any move, so the neighbour's agreement with the panel beside it "proved" it a
    copy as a whole, and the mask covered the panel (development seed 5, figure 0: pixel F1 0.16).
    Only pixels where a wrong alignment would show now count towards proving a whole region."""
    rng = np.random.default_rng(3)
    figure = _canvas(260, 480)
    left = [(40, 40), (150, 170), (180, 60)]
    right = [(60, 160), (170, 90)]
    figure[20:240, 20:240] = _fluorescence_panel(rng, 220, 220, left)[:, :, None]
    figure[20:240, 250:470] = _fluorescence_panel(rng, 220, 220, right)[:, :, None]
    forged, event = plant_copy_move(figure, (45, 45, 75, 75), (275, 50))  # nucleus (40, 40)
    best = max(_reported(matcher(forged)), key=lambda inst: pixel_f1(inst.mask, event.mask))
    assert pixel_f1(best.mask, event.mask) > 0.5
    assert best.mask.sum() < 3 * event.mask.sum()


def test_evidence_ignores_look_alikes_and_graphics():
    rng = np.random.default_rng(2)
    image = rng.normal(128, 6, (80, 160)).astype(np.float32)
    shifted = np.array([[1.0, 0.0, 80.0], [0.0, 1.0, 0.0]])
    maps = copy_evidence(image, shifted, (80, 0, 160, 80))  # independent grain: no evidence
    assert not maps.evidence(0.6, 0.7, 0.1, 0.6, 0.15, 2.0)[10:-10, 10:-10].any()
    image[:, 80:] = image[:, :80]  # now an exact copy: evidence nearly everywhere inside
    maps = copy_evidence(image, shifted, (80, 0, 160, 80))
    assert maps.evidence(0.6, 0.7, 0.1, 0.6, 0.15, 2.0)[10:-10, 10:-10].mean() > 0.9
    graphics = np.full((40, 40), 255, np.uint8)
    cv2.line(graphics, (5, 20), (35, 20), 0, 1)
    assert rendered_graphics_mask(graphics, 5, 0)[20, 10]


@pytest.mark.parametrize("shape", [(5, 300), (300, 4), (40, 40)])
def test_grain_hashing_of_a_figure_without_patches_finds_nothing(shape):
    """Strips thinner than a patch, or nothing allowed: no candidate, no crash (a legacy-set case)."""
    residual = np.random.default_rng(0).normal(0, 1, shape).astype(np.float32)
    allowed = np.zeros(shape, bool) if shape == (40, 40) else np.ones(shape, bool)
    assert grain_hash_candidates(residual, allowed) == []


@pytest.mark.parametrize("move", [(60, 20), (61, 20), (60, 21), (61, 21)])
def test_grain_hashing_finds_a_copy_moved_by_any_whole_number_of_pixels(move):
    """A 24 x 24 px grain copy, moved by an even or odd number of pixels along each axis, gets
    the move as its best candidate (the hashing grid has a stride of 2 px: a grid matched against
    itself aligned only even moves)."""
    residual = np.random.default_rng(1).normal(0, 1, (90, 120)).astype(np.float32)
    dx, dy = move
    residual[10 + dy : 34 + dy, 10 + dx : 34 + dx] = residual[10:34, 10:34]
    found = grain_hash_candidates(residual, np.ones(residual.shape, bool))
    assert found and found[0].flip == "none"
    assert np.allclose(found[0].matrix, [[1, 0, dx], [0, 1, dy]]), found[0].matrix


@pytest.mark.parametrize("correlation", [0.8, 0.97])
def test_sign_prefilter_keeps_pairs_correlated_at_the_threshold(correlation):
    """Grain hashing drops a bucket pair before its dot product when the patches' signs on the
    other tables' hyperplanes differ too often: pairs correlated exactly at ``min_correlation``
    must survive (the bound is 5 standard deviations above the binomial mean), while most
    unrelated pairs do not."""
    rng = np.random.default_rng(0)
    tables, bits, dim, n = 6, 20, 49, 20000
    planes = rng.standard_normal((tables, dim, bits)).astype(np.float32)
    a = rng.standard_normal((n, dim))
    noise = rng.standard_normal((n, dim))
    noise -= (noise * a).sum(1, keepdims=True) / (a * a).sum(1, keepdims=True) * a
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    b = correlation * a + np.sqrt(1 - correlation**2) * noise  # unit, a . b == correlation
    unrelated = rng.standard_normal((n, dim))
    limit = _max_differing_signs(correlation, (tables - 1) * bits)

    def differing(x, y):
        (_, sx), (_, sy) = (
            _simhash(x.astype(np.float32), planes),
            _simhash(y.astype(np.float32), planes),
        )
        return sum(np.bitwise_count(u ^ v) for u, v in zip(sx, sy)).astype(int)

    # Over all 120 signs (a bucket pair agrees on one table's 20 more): still within the bound.
    assert (differing(a, b) > limit).mean() < 1e-3
    assert (differing(a, unrelated) <= limit).mean() < 0.05


def test_colour_copy_at_a_half_pixel_move_after_downscaling_is_found(matcher):
    """A tinted micrograph copied by a whole-pixel move, in a figure brought down to
    MODEL.FIGURE_MATCHER.VERIFY_MAX_SIZE, sits half a pixel off in the verification frame: the
    warped source's grain, interpolated there, is about half as strong as the copy's. The
    colour test must read the source's texture at its own pixels, or it rejects the copy as a
    channel flat on one side (it did: nothing was reported)."""
    rng = np.random.default_rng(3)
    figure = _canvas(700, 1700)
    blobs = cv2.GaussianBlur(rng.random((620, 1620)).astype(np.float32), (0, 0), 6)
    blobs = (blobs - blobs.min()) / np.ptp(blobs)
    texture = np.clip(blobs * 200 + rng.normal(0, 4, blobs.shape), 0, 255)
    figure[40:660, 40:1660] = (texture[:, :, None] * np.array([0.3, 1.0, 0.4])).astype(np.uint8)
    scale = 1280 / 1700  # the move (1002, 2) px is (754.45, 1.51) px in the verification frame
    assert matcher.params.verify_max_size == 1280 and (1002 * scale) % 1 == pytest.approx(
        0.5, abs=0.06
    )
    forged, event = plant_copy_move(figure, (200, 300, 330, 420), (1202, 302))
    assert _best_f1(matcher(forged), event.mask) > 0.5


def _grain_figure_above_the_verification_size():
    """A 1700 x 700 px figure (above VERIFY_MAX_SIZE) with one panel of pure grain."""
    rng = np.random.default_rng(5)
    figure = _canvas(700, 1700)
    figure[40:660, 40:1660] = np.clip(rng.normal(120, 9, (620, 1620, 1)), 0, 255).astype(np.uint8)
    return figure


def test_copy_in_a_figure_above_the_verification_size_is_found_at_an_odd_move(matcher):
    """Above MODEL.FIGURE_MATCHER.VERIFY_MAX_SIZE both sides are resampled at different sub-pixel
    phases: the grain match is re-read at full size before its grain threshold."""
    figure = _grain_figure_above_the_verification_size()
    forged, event = plant_copy_move(figure, (200, 300, 260, 340), (1131, 301))
    assert _best_f1(matcher(forged), event.mask) > 0.5


@pytest.mark.parametrize("move", [(1002, 1), (1003, 2)])
def test_small_copy_in_a_figure_above_the_verification_size_is_hashed_at_full_size(matcher, move):
    """A small copy of pure grain (no keypoint can place it) moved by whole pixels is moved by a
    fraction of a pixel in the verification frame (here 754.45 and 755.2 px): grain hashing runs
    on the figure's own pixels, where the copy repeats its source exactly (on the verification
    image nothing was found)."""
    figure = _grain_figure_above_the_verification_size()
    dx, dy = move
    forged, event = plant_copy_move(figure, (200, 300, 250, 340), (200 + dx, 300 + dy))
    assert _best_f1(matcher(forged), event.mask) > 0.5


def _slightly_rescaled_copy(micrograph, scale):
    """The micrograph (one 512 px panel) with its top-left 230 px square pasted, rescaled by
    ``scale`` about its centre, into the bottom-right; returns (figure, copy mask, source -> copy)."""
    figure = micrograph.copy()
    side, (sx, sy), (cx, cy) = 230, (15, 15), (270, 268)
    centre = np.array([sx + side / 2, sy + side / 2])
    matrix = np.hstack(
        [scale * np.eye(2), (np.array([cx, cy]) + side / 2 - scale * centre)[:, None]]
    )
    warped = cv2.warpAffine(micrograph, matrix, micrograph.shape[1::-1], flags=cv2.INTER_LINEAR)
    copy = np.zeros(micrograph.shape[:2], bool)
    copy[cy : cy + side, cx : cx + side] = True
    figure[copy] = warped[copy]
    return figure, copy, matrix


def test_copy_rescaled_by_one_percent_is_not_snapped_to_a_shift(micrograph, matcher):
    """A copy rescaled by 1.5% is within the 2% of a plain shift that keypoint refinement snaps to.
    Snapped, it is a pixel off at its edges and its grain no longer matches there; the refinement
    keeps whichever of the two hypotheses aligns the copy better."""
    figure, copy, _ = _slightly_rescaled_copy(micrograph, 1.015)
    reported = _reported(matcher(figure))
    assert reported, "the rescaled copy was not found"
    best = max(reported, key=lambda inst: (inst.copy_mask & copy).sum())
    assert abs(best.matrix[0, 0] - 1.015) < 0.004 and abs(best.matrix[1, 1] - 1.015) < 0.004
    assert (best.mask & copy).sum() > 0.6 * copy.sum()


def test_keypoint_refinement_still_snaps_a_noisy_shift(micrograph):
    """An exact shift estimated with a little scale noise is still returned as the exact shift."""
    gray = cv2.cvtColor(micrograph, cv2.COLOR_RGB2GRAY).astype(np.float32)
    figure = gray.copy()
    figure[268:498, 270:500] = gray[15:245, 15:245]
    # copy = source + (255, 253); the estimate is off in scale by 0.4% about source pixel (130, 130)
    noisy = np.array([[1.004, 0.0, 255.0 - 0.004 * 130], [0.0, 0.996, 253.0 + 0.004 * 130]])
    points = np.array([[x, y] for x in range(290, 490, 40) for y in range(290, 490, 40)], float)
    refined = refine_transform(figure, noisy, points, keep_unsnapped=True)
    np.testing.assert_array_equal(refined[:, :2], np.eye(2))
    np.testing.assert_allclose(refined[:, 2], (255.0, 253.0), atol=0.1)
