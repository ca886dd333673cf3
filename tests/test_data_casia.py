"""forgery_d2.data.casia: CASIA v2 layout (Au/, Tp/, ground-truth PNGs) -> dataset dicts."""

import os

import numpy as np
import pytest
from _fixtures import write_png
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from forgery_d2.data.casia import (
    DEFAULT_CASIA_MASK_DIRNAME,
    load_casia_dicts,
    register_casia_dataset,
)
from forgery_d2.data.io import DataError
from forgery_d2.data.records import annotations_to_masks


@pytest.fixture
def casia(tmp_path):
    root = tmp_path / "CASIA2"
    for i in range(3):
        write_png(str(root / "Au" / f"Au_ani_{i:05d}.png"), 20, 24, seed=i)
    gt_dir = root / DEFAULT_CASIA_MASK_DIRNAME
    gt_dir.mkdir(parents=True)
    masks = {}
    for i in range(3):
        stem = f"Tp_D_NNN_M_N_ani{i:05d}_sec{i:05d}_{i:05d}"
        write_png(str(root / "Tp" / f"{stem}.png"), 20, 24, seed=10 + i)
        if i < 2:  # the last tampered image has no ground truth
            gt = np.zeros((20, 24), np.uint8)
            gt[2 + i : 9 + i, 3:12] = 255
            Image.fromarray(gt).save(gt_dir / f"{stem}_gt.png")
            masks[stem] = gt // 255
    (root / "Tp" / "Thumbs.db").write_bytes(b"junk")  # non-images are ignored
    return str(root), masks


def test_labels_and_masks(casia):
    root, masks = casia
    records = load_casia_dicts(root, cache_dir=False)
    assert len(records) == 6
    authentic = [r for r in records if r["label"] == 0]
    assert len(authentic) == 3 and all(
        r["annotations"] == [] and r["image_id"].startswith("Au/") for r in authentic
    )
    tampered = [r for r in records if r["label"] == 1]
    assert len(tampered) == 3 and all(r["image_id"].startswith("Tp/") for r in tampered)
    with_mask = [r for r in tampered if r["mask_file"]]
    assert len(with_mask) == 2
    for record in with_mask:
        np.testing.assert_array_equal(
            annotations_to_masks(record["annotations"])[0], masks[record["case_id"]]
        )
    without = next(r for r in tampered if r["mask_file"] is None)
    assert "annotations" not in without  # instances unknown, not "authentic"


def test_require_masks_and_split(casia):
    root, _ = casia
    assert len(load_casia_dicts(root, require_masks=True, cache_dir=False)) == 5
    train = load_casia_dicts(root, "train", val_fraction=0.5, cache_dir=False)
    val = load_casia_dicts(root, "val", val_fraction=0.5, cache_dir=False)
    assert train and val and not {r["image_id"] for r in train} & {r["image_id"] for r in val}
    assert len(train) + len(val) == 6


def test_bad_mask_error_or_skip(casia):
    root, _ = casia
    gt_dir = os.path.join(root, DEFAULT_CASIA_MASK_DIRNAME)
    bad = sorted(os.listdir(gt_dir))[0]
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(os.path.join(gt_dir, bad))  # wrong size
    with pytest.raises(DataError, match=bad):
        load_casia_dicts(root, cache_dir=False)
    records = load_casia_dicts(root, on_bad_mask="skip", cache_dir=False)
    assert len(records) == 6 and sum(1 for r in records if r["mask_file"]) == 1


def test_register_and_missing_layout(casia, tmp_path):
    root, _ = casia
    register_casia_dataset("test_data_casia", root, overwrite=True, cache_dir=False)
    assert len(DatasetCatalog.get("test_data_casia")) == 6
    assert MetadataCatalog.get("test_data_casia").thing_classes == ["forged"]
    with pytest.raises(DataError, match=r"Au"):
        load_casia_dicts(tmp_path / "empty", cache_dir=False)
