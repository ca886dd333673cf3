"""The copy-move planter: masks match the pixels actually copied, no no-op copies, real statistics."""

import cv2
import numpy as np
import pytest

from forgery_d2.data.synthetic.blots import draw_blot
from forgery_d2.data.synthetic.copy_move import (
    CopyMoveOptions,
    CopyTransform,
    ForgeryPlacementError,
    feather_reach,
    make_forgery,
    plant_copy_move,
    sample_forged_fraction,
)
from forgery_d2.data.synthetic.regions import REGION_SHAPES, sample_region

EXACT_TRANSFORMS = [
    CopyTransform(),
    CopyTransform(flip="horizontal"),
    CopyTransform(flip="vertical"),
    CopyTransform(rot90=1),
    CopyTransform(rot90=2),
    CopyTransform(rot90=3, flip="horizontal"),
]


def _noise_image(seed, shape=(180, 240, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _smooth_image(seed, shape=(180, 240)):
    noise = np.random.default_rng(seed).random((12, 16)).astype(np.float32)
    return np.rint(
        cv2.resize(noise, shape[::-1], interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255
    ).astype(np.uint8)


def _warp(image, matrix):
    h, w = image.shape[:2]
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR).reshape(image.shape)


def _changed(a, b):
    diff = a.astype(np.int16) != b.astype(np.int16)
    return diff.any(axis=-1) if diff.ndim == 3 else diff


def _halo(mask, feather):
    """Pixels a feathered paste may touch: the mask grown by the Gaussian edge's reach."""
    r = feather_reach(feather)
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)


@pytest.mark.parametrize("transform", EXACT_TRANSFORMS, ids=lambda t: f"{t.flip}-rot{t.rot90}")
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_plant_exact_copy_equals_transformed_source(transform, channels):
    shape = (150, 200) if channels is None else (150, 200, channels)
    image = _noise_image(1, shape)
    source = (12, 20, 62, 50)  # 50 x 30 box
    forged, event = plant_copy_move(image, source, (120, 90), transform)
    assert forged.shape == image.shape and forged.dtype == np.uint8
    assert event.source_mask.sum() == 50 * 30 and event.target_mask.sum() == 50 * 30
    assert event.target_box[:2] == [120, 90]
    assert not (event.source_mask & event.target_mask).any()
    reference = _warp(image, event.matrix)
    np.testing.assert_array_equal(forged[event.target_mask], reference[event.target_mask])
    changed = _changed(forged, image)
    assert not changed[~event.target_mask].any(), "pixels outside the pasted region changed"
    assert changed[event.target_mask].mean() > 0.9  # noise: nearly every pasted pixel differs
    if transform == CopyTransform():  # identity: a plain shifted copy
        np.testing.assert_array_equal(forged[90:120, 120:170], image[20:50, 12:62])


def test_plant_irregular_mask_source():
    image = _noise_image(2, (160, 220))
    region = sample_region(np.random.default_rng(0), 900, "blob")
    source = np.zeros(image.shape, bool)
    source[10 : 10 + region.shape[0], 15 : 15 + region.shape[1]] = region
    forged, event = plant_copy_move(
        image, source, (130, 70), CopyTransform(rot90=1, flip="vertical")
    )
    assert event.source_mask.sum() == event.target_mask.sum() == region.sum()
    np.testing.assert_array_equal(
        forged[event.target_mask], _warp(image, event.matrix)[event.target_mask]
    )
    assert not _changed(forged, image)[~event.target_mask].any()


def test_plant_rotated_scaled_copy_follows_its_matrix():
    image = _smooth_image(3)
    transform = CopyTransform(angle=11.0, scale=1.25)
    forged, event = plant_copy_move(image, (10, 10, 60, 50), (120, 80), transform)
    assert abs(event.target_mask.sum() / event.source_mask.sum() - 1.25**2) < 0.1
    reference = _warp(image, event.matrix)
    diff = np.abs(forged.astype(int) - reference.astype(int))[event.target_mask]
    assert diff.mean() < 0.5 and diff.max() <= 3  # only fixed-point interpolation differences
    assert not _changed(forged, image)[~event.target_mask].any()


def test_plant_rejects_bad_placements():
    image = _noise_image(4, (100, 100, 3))
    with pytest.raises(ValueError, match="leaves the"):
        plant_copy_move(image, (0, 0, 40, 40), (80, 80))
    with pytest.raises(ValueError, match="overlaps its own source"):
        plant_copy_move(image, (0, 0, 40, 40), (20, 20))
    with pytest.raises(ValueError, match="not inside"):
        plant_copy_move(image, (50, 50, 140, 60), (0, 0))


def _check_forgery(image, forged, masks, events):
    h, w = image.shape[:2]
    assert forged.shape == image.shape and forged.dtype == np.uint8
    assert (
        masks.dtype == np.uint8
        and masks.shape == (len(events), h, w)
        and set(np.unique(masks)) <= {0, 1}
    )
    assert 1 <= len(events) <= 3
    regions = [r for e in events for r in (e.source_mask, e.target_mask)]
    assert all(r.any() for r in regions)
    assert sum(r.astype(int) for r in regions).max() == 1, "regions of one image overlap"
    changed = _changed(forged, image)
    allowed = np.zeros((h, w), bool)
    for e, m in zip(events, masks):
        np.testing.assert_array_equal(m, e.source_mask | e.target_mask)
        assert not changed[e.source_mask].any(), "a source region was modified"
        allowed |= (
            _halo(e.target_mask, e.transform.feather) if e.transform.feather else e.target_mask
        )
        if e.transform.is_pixel_exact:
            np.testing.assert_array_equal(
                forged[e.target_mask], _warp(image, e.matrix)[e.target_mask]
            )
    assert not changed[~allowed].any(), (
        "pixels changed outside every event's mask (and feather edge)"
    )
    hard = [e for e in events if not e.transform.feather]
    outside = ~np.any(masks.astype(bool), axis=0)
    if len(hard) == len(events):
        assert not changed[outside].any()


@pytest.mark.parametrize("seed", range(6))
def test_make_forgery_masks_match_changed_pixels(seed):
    rng = np.random.default_rng(seed)
    blot, _ = draw_blot(rng, 200, 320)
    images = [
        blot,
        np.dstack([blot, _smooth_image(seed, (200, 320)), blot]),
        _noise_image(seed, (120, 160, 4)),
    ]
    for image in images:
        forged, masks, events = make_forgery(image, rng)
        _check_forgery(image, forged, masks, events)


@pytest.mark.parametrize(
    "options",
    [
        CopyMoveOptions(
            flip_prob=1.0,
            rot90_prob=1.0,
            small_rotation_prob=0,
            scale_prob=0,
            photometric_prob=0,
            feather_prob=0,
        ),
        CopyMoveOptions(
            small_rotation_prob=1.0, scale_prob=1.0, photometric_prob=1.0, feather_prob=1.0
        ),
    ],
    ids=["exact-geometry", "all-changes"],
)
def test_make_forgery_event_kinds(options):
    rng = np.random.default_rng(7)
    seen_feather = seen_exact = 0
    for _ in range(4):
        image = np.dstack([_noise_image(int(rng.integers(1000)), (160, 200))] * 3)
        forged, masks, events = make_forgery(image, rng, num_events=3, options=options)
        _check_forgery(image, forged, masks, events)
        seen_exact += sum(e.transform.is_pixel_exact for e in events)
        seen_feather += sum(e.transform.feather > 0 for e in events)
        for e in events:
            assert (
                e.transform.flip != "none" and e.transform.rot90 in (1, 2, 3)
            ) or options.flip_prob < 1
    if options.feather_prob == 1.0:
        assert seen_feather >= 4 and seen_exact == 0
    else:
        assert seen_exact >= 4 and seen_feather == 0


def test_feathered_paste_covers_its_region_and_fades_outside():
    image = _noise_image(8, (120, 160))
    forged, event = plant_copy_move(image, (10, 10, 50, 40), (90, 60), CopyTransform(feather=2.0))
    pad = feather_reach(2.0)
    hard_box = np.zeros(image.shape, bool)
    hard_box[60 + pad : 60 + pad + 30, 90 + pad : 90 + pad + 40] = True
    # The copied rectangle is pasted at full weight (but for its corners), the alpha >= 0.5 mask
    # adds at most ~sigma px around it.
    np.testing.assert_array_equal(
        forged[60 + pad + 3 : 60 + pad + 27, 90 + pad + 3 : 90 + pad + 37], image[13:37, 13:47]
    )
    np.testing.assert_array_equal(forged[60 + pad + 15, 90 + pad : 90 + pad + 40], image[25, 10:50])
    assert event.target_mask[hard_box].all()
    assert not (event.target_mask & ~_halo(hard_box, 0.3)).any()
    changed = _changed(forged, image)
    assert changed[~event.target_mask].any()  # the soft edge reaches outside the mask...
    assert not changed[~_halo(event.target_mask, 2.0)].any()  # ...but not past feather_reach


def test_flat_regions_are_never_copied():
    flat = np.full((200, 200), 128, np.uint8)
    with pytest.raises(ForgeryPlacementError, match="too small or too flat"):
        make_forgery(flat, np.random.default_rng(0))
    # Half flat, half textured: every copy comes from the textured half and changes what it covers.
    half = flat.copy()
    half[:, 100:] = _noise_image(9, (200, 100))
    opts = CopyMoveOptions()
    for seed in range(5):
        forged, masks, events = make_forgery(half, np.random.default_rng(seed), options=opts)
        for e in events:
            assert half[e.source_mask].std() >= opts.min_texture
            moved = (
                np.abs(forged.astype(int) - half.astype(int))[e.target_mask] > opts.change_threshold
            )
            assert moved.mean() >= opts.min_changed_fraction


def test_forged_fraction_distribution_matches_competition_quantiles():
    rng = np.random.default_rng(0)
    draws = np.array([sample_forged_fraction(rng) for _ in range(20000)])
    p05, median, p95 = np.quantile(draws, [0.05, 0.5, 0.95])
    assert median == pytest.approx(0.027, rel=0.08)
    assert p05 == pytest.approx(0.0026, rel=0.12)
    assert p95 == pytest.approx(0.185, rel=0.12)


@pytest.mark.parametrize("shape", REGION_SHAPES)
def test_region_shapes_have_requested_area(shape):
    rng = np.random.default_rng(1)
    for area in (100, 2000, 20000):
        region = sample_region(rng, area, shape)
        assert (
            region.dtype == bool
            and region[0].any()
            and region[-1].any()
            and region[:, 0].any()
            and region[:, -1].any()
        )
        assert 0.6 * area < region.sum() < 1.5 * area


def test_figure_copies_stay_inside_panels_and_bands_move_onto_bands():
    from forgery_d2.data.synthetic.sources import SourceOptions, sample_authentic

    rng = np.random.default_rng(11)
    opts = CopyMoveOptions(anchor_prob=1.0)
    shapes = set()
    for _ in range(6):
        source = sample_authentic(
            rng, "train", SourceOptions(min_size=200, max_size=320, kind_probs={"figure": 1})
        )
        if source.kind != "figure":
            continue
        inside = np.zeros(source.image.shape[:2], bool)
        for x0, y0, x1, y1 in source.anchors.panels:
            inside[y0:y1, x0:x1] = True
        forged, masks, events = make_forgery(
            source.image, rng, options=opts, anchors=source.anchors
        )
        _check_forgery(source.image, forged, masks, events)
        assert not masks.any(axis=0)[~inside].any(), "a copy touches the canvas between panels"
        shapes.update(e.shape for e in events)
        for e in events:
            if e.shape == "band":  # a whole band's box (grown by a few px) is the source
                box = e.source_box
                assert any(
                    b[0] >= box[0] and b[1] >= box[1] and b[2] <= box[2] and b[3] <= box[3]
                    for b in source.anchors.bands
                )
    assert shapes & {"band", "panel"}
