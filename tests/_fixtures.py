"""Small real-file fixtures for the tests: competition-layout folders with PNG images and .npy masks.

``make_kaggle_layout(root)`` writes::

    train_images/authentic/<case>.png  train_images/forged/<case>.png  train_masks/<case>.npy
    supplemental_images/<case>.png     supplemental_masks/<case>.npy
    test_images/<case>.png             [test_masks/<case>.npy]

Images vary in colour mode (RGB, RGBA, grayscale) and size; each forged mask has one or two
rectangular instances (channels). Returns a dict ``{case_id: (N, H, W) uint8 mask}`` of the train
forged masks so tests can compare pixels.
"""

import os

import numpy as np
from PIL import Image

__all__ = ["write_png", "make_forged_mask", "make_kaggle_layout"]

_MODES = ("RGB", "RGBA", "L")


def write_png(path, height, width, mode="RGB", seed=0):
    """Write a random-noise PNG of ``mode`` and return its pixels as stored."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    if channels == 1:
        pixels = pixels[..., 0]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def make_forged_mask(height, width, n_instances, seed=0):
    """``(N, H, W)`` uint8 0/1 mask with one axis-aligned rectangle per channel."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((n_instances, height, width), dtype=np.uint8)
    for channel in mask:
        h, w = int(rng.integers(4, height // 2)), int(rng.integers(4, width // 2))
        y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        channel[y : y + h, x : x + w] = 1
    return mask


def make_kaggle_layout(root, n_cases=6, n_supplemental=2, n_test=3, test_masks=False, first_case=1):
    """Write a tiny competition-layout dataset under ``root``; see the module docstring."""
    root = str(root)
    masks = {}
    for i in range(n_cases):
        case_id = str(first_case + i)
        height, width = 32 + 4 * i, 40 + 3 * i
        mode = _MODES[i % len(_MODES)]
        write_png(
            os.path.join(root, "train_images", "authentic", f"{case_id}.png"),
            height,
            width,
            mode,
            seed=i,
        )
        write_png(
            os.path.join(root, "train_images", "forged", f"{case_id}.png"),
            height,
            width,
            mode,
            seed=100 + i,
        )
        mask = make_forged_mask(height, width, 1 + i % 2, seed=i)
        os.makedirs(os.path.join(root, "train_masks"), exist_ok=True)
        np.save(os.path.join(root, "train_masks", f"{case_id}.npy"), mask)
        masks[case_id] = mask
    for i in range(n_supplemental):
        case_id = str(9000 + i)
        write_png(os.path.join(root, "supplemental_images", f"{case_id}.png"), 36, 30, seed=200 + i)
        os.makedirs(os.path.join(root, "supplemental_masks"), exist_ok=True)
        np.save(
            os.path.join(root, "supplemental_masks", f"{case_id}.npy"),
            make_forged_mask(36, 30, 1, seed=i),
        )
    for i in range(n_test):
        case_id = str(5000 + i)
        write_png(os.path.join(root, "test_images", f"{case_id}.png"), 30, 34, seed=300 + i)
        if test_masks and i % 2 == 0:  # even cases forged, odd authentic
            os.makedirs(os.path.join(root, "test_masks"), exist_ok=True)
            np.save(
                os.path.join(root, "test_masks", f"{case_id}.npy"),
                make_forged_mask(30, 34, 1, seed=i),
            )
    return masks
