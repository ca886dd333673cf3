"""The keypoint copy-move matcher finds planted duplications and stays quiet on authentic figures."""

import os

import cv2
import numpy as np
import pytest
import skimage
import torch

from forgery_d2.data.synthetic.blots import draw_blot
from forgery_d2.data.synthetic.copy_move import CopyTransform, plant_copy_move
from forgery_d2.data.synthetic.generator import generate_case
from forgery_d2.matching import KeypointMatcher, KeypointMatcherParams
from forgery_d2.matching.features import mirror_descriptors, to_gray_uint8
from forgery_d2.modeling.meta_arch import CopyMoveMatcher

SKIMAGE_DATA = os.path.join(os.path.dirname(skimage.__file__), "data")


def pixel_f1(pred, gt):
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    return 2.0 * (pred & gt).sum() / max(pred.sum() + gt.sum(), 1)


@pytest.fixture(scope="module")
def textured():
    """A real immunohistochemistry image (RGB, 512x512) shipped with scikit-image."""
    image = cv2.imread(os.path.join(SKIMAGE_DATA, "ihc.png"), cv2.IMREAD_COLOR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def matcher():
    return KeypointMatcher()


TRANSFORMS = {
    "shift": CopyTransform(),
    "horizontal_flip": CopyTransform(flip="horizontal"),
    "vertical_flip": CopyTransform(flip="vertical"),
    "rot90": CopyTransform(rot90=1),
    "small_rotation": CopyTransform(angle=7.0),
    "scaled": CopyTransform(scale=1.12),
}


def test_mirrored_descriptors_are_those_of_the_mirrored_image(textured):
    """The matcher mirrors descriptors instead of running SIFT on the flipped figure: for each
    keypoint, OpenCV's own descriptor of its twin in the flipped image (same place mirrored, the
    mirrored orientation) must equal the permuted one (a wrong permutation correlates ~0.4)."""
    gray = to_gray_uint8(textured)
    sift = cv2.SIFT_create(nfeatures=2000)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    flipped_keypoints, flipped_descriptors = sift.detectAndCompute(cv2.flip(gray, 1), None)
    # Pixel x is width - 1 - x in the flipped image; OpenCV's SIFT (which detects on the image
    # upsampled 2x) reports its keypoints half a pixel to the right of that.
    twin_x = gray.shape[1] - 0.5 - np.array([k.pt[0] for k in flipped_keypoints])
    twin = np.stack([twin_x, [k.pt[1] for k in flipped_keypoints]], axis=1)
    twin_angle = (180.0 - np.array([k.angle for k in flipped_keypoints])) % 360.0
    mirrored = mirror_descriptors(descriptors)
    similarity = []
    for keypoint, descriptor in zip(keypoints, mirrored):
        angle_gap = np.abs((twin_angle - keypoint.angle + 180.0) % 360.0 - 180.0)
        near = (np.abs(twin - keypoint.pt).max(axis=1) < 0.05) & (angle_gap < 1.0)
        if near.sum() == 1:
            other = flipped_descriptors[np.flatnonzero(near)[0]]
            similarity.append(
                descriptor @ other / (np.linalg.norm(descriptor) * np.linalg.norm(other))
            )
    assert len(similarity) > 0.6 * len(keypoints)
    assert np.median(similarity) > 0.99
    assert np.percentile(similarity, 10) > 0.9


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_finds_planted_copy_move(textured, matcher, name):
    forged, event = plant_copy_move(textured, (60, 60, 150, 140), (290, 300), TRANSFORMS[name])
    result = matcher(forged)
    assert result.instances, f"{name}: nothing found ({result.stats})"
    best = max(result.instances, key=lambda inst: pixel_f1(inst.mask, event.mask))
    assert pixel_f1(best.mask, event.mask) > 0.7, name
    assert 0.0 < best.score <= 1.0
    assert best.mirrored == (TRANSFORMS[name].flip != "none")
    # The estimated map sends the source onto the copy (either direction is a valid description).
    ys, xs = np.nonzero(event.source_mask)
    source_centre = np.array([xs.mean(), ys.mean()])
    ys, xs = np.nonzero(event.target_mask)
    copy_centre = np.array([xs.mean(), ys.mean()])
    mapped = best.matrix[:, :2] @ source_centre + best.matrix[:, 2]
    mapped_back = best.matrix[:, :2] @ copy_centre + best.matrix[:, 2]
    assert (
        min(np.linalg.norm(mapped - copy_centre), np.linalg.norm(mapped_back - source_centre)) < 4.0
    )


def test_two_separate_copy_moves_are_two_instances(textured, matcher):
    forged, first = plant_copy_move(textured, (20, 20, 120, 110), (380, 20))
    forged, second = plant_copy_move(
        forged, (30, 380, 130, 480), (380, 380), CopyTransform(flip="horizontal")
    )
    result = matcher(forged)
    assert len(result.instances) == 2
    for event in (first, second):
        assert max(pixel_f1(inst.mask, event.mask) for inst in result.instances) > 0.7


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 5, 6])
def test_authentic_generator_images_give_nothing(matcher, index):
    case = generate_case(0, "train", index, forged=False)
    result = matcher(case.authentic)
    assert result.instances == [], f"case {index} ({case.record['kind']}): {result.stats}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_blots_with_similar_bands_give_nothing(matcher, seed):
    """Procedural blots: many bands alike but not identical."""
    blot, bands = draw_blot(np.random.default_rng(seed), 240, 420)
    assert len(bands) >= 4
    assert matcher(blot).instances == []


def test_duplicated_blot_band_is_found(matcher):
    """A 50x28 px band pasted over another band of the same blot. (Bands much smaller than ~30 px
    hold too few distinctive keypoints: a known limit of keypoint matching, see docs/BENCHMARKS.md.)"""
    blot, bands = draw_blot(np.random.default_rng(13), 240, 420, style="film")
    source, target = bands[0], bands[-1]
    x0, y0, x1, y1 = source
    forged, event = plant_copy_move(blot, (x0, y0, x1, y1), (target[0], target[1]))
    result = matcher(forged)
    assert result.instances, result.stats
    assert max(pixel_f1(inst.mask, event.mask) for inst in result.instances) > 0.5


def test_grayscale_and_rgba_inputs(textured, matcher):
    forged, event = plant_copy_move(textured, (60, 60, 150, 140), (290, 300))
    gray = cv2.cvtColor(forged, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([forged, np.full(forged.shape[:2], 255, np.uint8)])
    for image in (gray, gray[:, :, None], rgba, gray.astype(np.uint16) * 257):
        result = matcher(image)
        assert result.instances and result.instances[0].mask.shape == gray.shape
        assert pixel_f1(result.instances[0].mask, event.mask) > 0.7


def test_rgba_is_composited_over_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    assert (to_gray_uint8(rgba) == 255).all()
    with pytest.raises(ValueError, match="shape"):
        to_gray_uint8(np.zeros((4, 4, 2), np.uint8))


def test_large_image_is_matched_downscaled(textured):
    big = cv2.resize(textured, (2000, 1500), interpolation=cv2.INTER_CUBIC)
    forged, event = plant_copy_move(big, (200, 200, 600, 560), (1200, 800))
    params = KeypointMatcherParams.default().replace(detect_max_size=1024, verify_max_size=768)
    result = KeypointMatcher(params)(forged)
    assert result.detect_scale == pytest.approx(1024 / 2000)
    assert result.verify_scale == pytest.approx(768 / 2000)
    assert result.instances and result.instances[0].mask.shape == (1500, 2000)
    assert pixel_f1(result.instances[0].mask, event.mask) > 0.7


def test_small_image_is_upscaled_for_detection(textured, matcher):
    small = cv2.resize(textured, (200, 200), interpolation=cv2.INTER_AREA)
    forged, event = plant_copy_move(small, (20, 20, 80, 75), (120, 110))
    result = matcher(forged)
    assert result.detect_scale > 1 and result.verify_scale == 1.0
    assert result.instances and pixel_f1(result.instances[0].mask, event.mask) > 0.6


def _matcher_cfg():
    from detectron2.config import get_cfg

    from forgery_d2.config import add_forgery_config

    cfg = add_forgery_config(get_cfg())
    cfg.merge_from_file(
        os.path.join(os.path.dirname(__file__), "..", "configs", "matcher", "keypoint_matcher.yaml")
    )
    return cfg


def test_meta_arch_returns_instances_at_original_size(textured):
    from detectron2.modeling import build_model

    cfg = _matcher_cfg()
    model = build_model(cfg)
    assert isinstance(model, CopyMoveMatcher)
    model.eval()
    forged, event = plant_copy_move(textured, (60, 60, 150, 140), (290, 300))
    # What detectron2's test-time resize would feed it: a smaller BGR image, original height/width.
    resized = cv2.resize(forged, (384, 384), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    model.input_format = "BGR"
    image = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)))
    with torch.no_grad():
        (output,) = model([{"image": image, "height": 512, "width": 512}])
    instances = output["instances"]
    assert instances.image_size == (512, 512)
    assert instances.pred_masks.dtype == torch.bool and instances.pred_masks.shape[1:] == (512, 512)
    assert len(instances) >= 1 and (instances.pred_classes == 0).all()
    assert ((instances.scores > 0) & (instances.scores <= 1)).all()
    assert pixel_f1(instances.pred_masks[0].numpy(), event.mask) > 0.7
    box = instances.pred_boxes.tensor[0]
    ys, xs = np.nonzero(instances.pred_masks[0].numpy())
    assert box.tolist() == pytest.approx([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], abs=1)


def test_meta_arch_refuses_training():
    from detectron2.modeling import build_model

    model = build_model(_matcher_cfg())
    model.train()
    with pytest.raises(RuntimeError, match="cannot be trained"):
        model([{"image": torch.zeros(3, 32, 32, dtype=torch.uint8)}])


def test_bad_transform_name_is_rejected():
    with pytest.raises(ValueError, match="TRANSFORM"):
        KeypointMatcher(KeypointMatcherParams.default().replace(transform="homography"))
