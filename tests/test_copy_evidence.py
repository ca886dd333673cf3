"""Copy evidence: the dense self-similarity map (forgery_d2.matching.self_similarity_map), its trip
through the mapper's augmentation (forgery_d2.data.mapper), its disk cache and the model inputs
(forgery_d2.modeling.copy_evidence, forgery_d2.engine.inputs)."""

import os

import cv2
import numpy as np
import pytest
import torch
from detectron2.data import transforms as T
from fvcore.transforms.transform import HFlipTransform, VFlipTransform
from PIL import Image

from forgery_d2.config import get_forgery_cfg
from forgery_d2.data.mapper import (
    AugmentationConfigError,
    ForgeryDatasetMapper,
    Rot90Transform,
    resize_image_maps,
    transform_image_maps,
)
from forgery_d2.engine.inputs import build_mapper, predictor_input
from forgery_d2.matching.self_similarity_map import (
    MAP_CHANNELS,
    SelfSimilarityParams,
    self_similarity_map,
)
from forgery_d2.modeling.copy_evidence import MAP_KEY, CopyEvidence


def _grain(shape, seed, sigma=12.0):
    """Micrograph-like grey texture: smooth blobs plus independent sensor grain."""
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.normal(128, 40, shape).astype(np.float32), (0, 0), 6)
    return np.clip(smooth + rng.normal(0, sigma, shape), 0, 255).astype(np.uint8)


def _forged_figure(seed=0):
    """(grey figure, bool mask of source and copies): a translated and a mirrored copy."""
    image = _grain((200, 260), seed)
    mask = np.zeros(image.shape, bool)
    image[130:170, 180:240] = image[20:60, 20:80]  # translation
    mask[130:170, 180:240] = mask[20:60, 20:80] = True
    image[20:60, 150:200] = image[120:160, 40:90][:, ::-1]  # horizontal flip
    mask[20:60, 150:200] = mask[120:160, 40:90] = True
    return image, mask


def test_map_marks_translated_and_flipped_copies_on_both_sides():
    image, mask = _forged_figure()
    maps = self_similarity_map(image)
    assert maps.shape == (len(MAP_CHANNELS), *image.shape) and maps.dtype == np.float32
    assert 0.0 <= maps.min() and maps.max() <= 1.0
    evidence = maps[0] * maps[1]
    for box in ((130, 170, 180, 240), (20, 60, 20, 80), (20, 60, 150, 200), (120, 160, 40, 90)):
        y0, y1, x0, x1 = box
        assert (evidence[y0 + 4 : y1 - 4, x0 + 4 : x1 - 4] > 0.3).mean() > 0.6, box
    assert (
        evidence[~cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)] > 0.3
    ).mean() < 0.01


def test_map_ignores_look_alikes_flat_areas_and_graphics():
    rng = np.random.default_rng(1)
    image = _grain((200, 260), 1)
    template = cv2.GaussianBlur(rng.normal(128, 60, (40, 60)).astype(np.float32), (0, 0), 3)
    for y, x in ((20, 20), (130, 180)):  # one shape drawn twice, each with its own grain
        image[y : y + 40, x : x + 60] = np.clip(
            template + rng.normal(0, 8, template.shape), 0, 255
        ).astype(np.uint8)
    image[100:120, :] = 255  # flat canvas strip
    for x in (20, 150):  # the same rendered label twice
        cv2.putText(image, "50 um", (x, 190), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1, cv2.LINE_8)
    maps = self_similarity_map(image)
    assert (maps[0] * maps[1] > 0.3).mean() < 0.01
    assert maps[2][105:115].max() == 0  # the canvas is not even comparable


def test_merged_colour_panel_is_not_a_copy_but_a_colour_copy_is():
    grey = _grain((120, 120), 2).astype(np.float32)
    other = _grain((120, 120), 3).astype(np.float32)
    blue = np.stack([grey * 0.2, grey * 0.4, grey], axis=2)  # a channel panel tinted blue
    merge = blue + np.stack([other, other * 0.1, np.zeros_like(other)], axis=2)  # + a red channel
    figure = np.concatenate([blue, merge * 0.8], axis=1).clip(0, 255).astype(np.uint8)
    copied = np.concatenate([blue, blue], axis=1).clip(0, 255).astype(np.uint8)
    assert (self_similarity_map(figure)[0] > 0.3).mean() < 0.02
    assert (self_similarity_map(copied)[0] > 0.3).mean() > 0.5


def test_map_is_deterministic_and_scaled_to_max_size():
    image, _ = _forged_figure(3)
    params = SelfSimilarityParams.default().replace(max_size=130)
    first, second = self_similarity_map(image, params), self_similarity_map(image, params)
    assert np.array_equal(first, second)
    assert first.shape == (len(MAP_CHANNELS), 100, 130)
    with pytest.raises(ValueError, match="odd patch"):
        SelfSimilarityParams.default().replace(patch=8)


def test_transform_image_maps_follows_flips_rotations_and_resize():
    maps = np.arange(2 * 4 * 6, dtype=np.uint8).reshape(2, 4, 6)
    brightness = T.BlendTransform(src_image=np.zeros((4, 6)), src_weight=0.2, dst_weight=1.2)
    flips = [HFlipTransform(6), VFlipTransform(4), Rot90Transform(1, 4, 6), brightness]
    expected = np.rot90(maps[:, ::-1, ::-1], 1, axes=(1, 2))
    assert np.array_equal(transform_image_maps(maps, flips, 6, 4), expected)
    resized = transform_image_maps(maps, [T.ResizeTransform(4, 6, 8, 12)], 8, 12)
    assert resized.shape == (2, 8, 12)
    with pytest.raises(AugmentationConfigError, match="CropTransform"):
        transform_image_maps(maps, [T.CropTransform(0, 0, 3, 3)], 3, 3)


def test_shrinking_keeps_sparse_evidence():
    maps = np.zeros((1, 64, 64), np.uint8)
    maps[0, 30, 30] = 255
    assert resize_image_maps(maps, 16, 16).max() == 255


def _gray_maps(image, dataset_dict):
    """A map that *is* the image (grey, (1, H, W)): after augmentation it must still be the image."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[None]


def test_mapper_sends_maps_along_the_augmentation(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    path = str(tmp_path / "a.png")
    Image.fromarray(pixels).save(path)
    cfg = get_forgery_cfg()
    cfg.INPUT.FORMAT = "RGB"
    cfg.FORGERY.AUG.HFLIP_PROB = cfg.FORGERY.AUG.VFLIP_PROB = cfg.FORGERY.AUG.ROT90_PROB = 0.5
    cfg.FORGERY.AUG.BLUR_PROB = 0.0
    augmentations = [T.ResizeShortestEdge(40, 60)] + ForgeryDatasetMapper.from_config(cfg, True)[
        "augmentations"
    ][1:]
    augmentations = [
        a for a in augmentations if not isinstance(a, (T.RandomBrightness, T.RandomContrast))
    ]
    mapper = ForgeryDatasetMapper(
        cfg, is_train=True, augmentations=augmentations, image_maps=_gray_maps
    )
    for seed in range(12):
        np.random.seed(seed)
        item = mapper({"file_name": path, "height": 40, "width": 60, "annotations": [], "label": 0})
        image = item["image"].permute(1, 2, 0).numpy()
        assert torch.equal(
            item[MAP_KEY][0], torch.as_tensor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        )


def test_copy_evidence_cache_reads_back_and_follows_the_file(tmp_path, monkeypatch):
    image, _ = _forged_figure()
    path = str(tmp_path / "f.png")
    Image.fromarray(image).save(path)
    evidence = CopyEvidence(SelfSimilarityParams.default(), "RGB", str(tmp_path / "cache"))
    calls = []
    compute = evidence.compute
    monkeypatch.setattr(evidence, "compute", lambda im: calls.append(1) or compute(im))
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    first = evidence(rgb, {"file_name": path})
    second = evidence(rgb, {"file_name": path})
    assert len(calls) == 1 and np.array_equal(first, second) and first.dtype == np.uint8
    os.utime(path, ns=(1, 1))  # a changed file is a new key
    evidence(rgb, {"file_name": path})
    assert len(calls) == 2
    other = CopyEvidence(
        SelfSimilarityParams.default().replace(min_votes=9), "RGB", str(tmp_path / "cache")
    )
    assert other._cache_path(path) != evidence._cache_path(path)


def test_inputs_carry_maps_when_the_config_asks(tmp_path):
    cfg = get_forgery_cfg()
    assert build_mapper(cfg, False).image_maps is None
    cfg.MODEL.COPY_EVIDENCE.ENABLED = True
    assert isinstance(build_mapper(cfg, False).image_maps, CopyEvidence)
    image, _ = _forged_figure()
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    item = predictor_input(rgb, T.ResizeShortestEdge(100, 200), CopyEvidence.from_config(cfg))
    assert item["image"].shape == (3, 100, 130) and item[MAP_KEY].shape == (
        len(MAP_CHANNELS),
        100,
        130,
    )
    assert (item["height"], item["width"]) == image.shape
