"""forgery_d2.data.kaggle / records / builtin: competition layout -> detectron2 dataset dicts."""

import os

import numpy as np
import pytest
from _fixtures import make_forged_mask, make_kaggle_layout, write_png
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from forgery_d2.data.io import DataError
from forgery_d2.data.kaggle import (
    clear_in_memory_records,
    load_forgery_dicts,
    register_forgery_dataset,
)
from forgery_d2.data.records import annotations_to_masks, mask_to_annotations


@pytest.fixture(autouse=True)
def _record_cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGERY_D2_CACHE", str(tmp_path / "record_cache"))


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "recodai"
    masks = make_kaggle_layout(root, test_masks=False)
    return str(root), masks


def _load(root, split, **kwargs):
    kwargs.setdefault("cache_dir", False)
    return load_forgery_dicts(root, split, **kwargs)


def test_forged_records_round_trip_to_mask_pixels(layout):
    root, masks = layout
    records = _load(root, "train_all")
    forged = [r for r in records if r["label"] == 1]
    assert len(forged) == len(masks)
    for record in forged:
        expected = masks[record["case_id"]]
        assert (record["height"], record["width"]) == expected.shape[1:]
        assert record["image_id"] == f"forged/{record['case_id']}"
        assert record["mask_file"].endswith(f"train_masks/{record['case_id']}.npy")
        assert len(record["annotations"]) == expected.shape[0]
        for ann, channel in zip(record["annotations"], expected):
            assert (
                ann["category_id"] == 0
                and ann["iscrowd"] == 0
                and ann["bbox_mode"] == BoxMode.XYWH_ABS
            )
            assert isinstance(ann["segmentation"]["counts"], str)
            ys, xs = np.nonzero(channel)
            assert ann["bbox"] == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1,
            ]
        decoded = annotations_to_masks(record["annotations"])
        np.testing.assert_array_equal(decoded, expected)


def test_authentic_records_are_empty_and_ids_unique(layout):
    root, masks = layout
    records = _load(root, "train_all")
    authentic = [r for r in records if r["label"] == 0]
    assert len(authentic) == len(masks)
    assert all(r["annotations"] == [] and r["mask_file"] is None for r in authentic)
    assert all(r["image_id"] == f"authentic/{r['case_id']}" for r in authentic)
    assert len({r["image_id"] for r in records}) == len(records)
    assert all(os.path.isabs(r["file_name"]) for r in records)


def test_train_val_split_keeps_pairs_together(layout):
    root, _ = layout
    train, val = _load(root, "train"), _load(root, "val")
    train_cases, val_cases = {r["case_id"] for r in train}, {r["case_id"] for r in val}
    assert train_cases and val_cases and not train_cases & val_cases
    assert len(train) + len(val) == len(_load(root, "train_all"))
    for side in (train, val):  # an authentic image and its forged counterpart on the same side
        cases = [r["case_id"] for r in side]
        assert all(cases.count(c) == 2 for c in cases)


def test_supplemental_and_test_splits(tmp_path):
    root = tmp_path / "r"
    make_kaggle_layout(root, test_masks=False)
    test = _load(str(root), "test")
    assert len(test) == 3 and all(r["label"] is None and "annotations" not in r for r in test)
    assert [r["image_id"] for r in test] == ["test/5000", "test/5001", "test/5002"]
    supplemental = _load(str(root), "supplemental")
    assert len(supplemental) == 2 and all(
        r["label"] == 1 and r["annotations"] for r in supplemental
    )

    labelled = tmp_path / "labelled"
    make_kaggle_layout(labelled, test_masks=True)
    test = _load(str(labelled), "test")
    assert [r["label"] for r in test] == [1, 0, 1]
    assert test[1]["annotations"] == [] and len(test[0]["annotations"]) == 1


def test_connected_components_with_min_area():
    mask = np.zeros((2, 20, 20), dtype=np.uint8)
    mask[0, 1:4, 1:4] = 1  # 9 px
    mask[0, 10:16, 10:16] = 1  # 36 px, separate component of the same channel
    mask[1, 0:2, 18:20] = 1  # 4 px: the channel's only component, below the area
    per_channel = mask_to_annotations(mask)
    assert len(per_channel) == 2
    split = mask_to_annotations(mask, split_components=True, min_component_area=10)
    areas = sorted(int(m.sum()) for m in annotations_to_masks(split))
    assert areas == [4, 36]  # the 9 px component dropped; channel 1 keeps its largest component
    split_all = mask_to_annotations(mask, split_components=True, min_component_area=1)
    assert sorted(int(m.sum()) for m in annotations_to_masks(split_all)) == [4, 9, 36]
    assert mask_to_annotations(np.zeros((1, 5, 5), np.uint8)) == []


def test_split_components_option_in_loader(layout):
    root, masks = layout
    # Add a second, disjoint blob to the first forged case's single channel.
    mask = masks["1"].copy()
    mask[0, -3:, -3:] = 1
    np.save(os.path.join(root, "train_masks", "1.npy"), mask)
    record = next(
        r
        for r in _load(root, "train_all", split_components=True, min_component_area=4)
        if r["image_id"] == "forged/1"
    )
    assert len(record["annotations"]) == 2
    np.testing.assert_array_equal(annotations_to_masks(record["annotations"]).max(axis=0), mask[0])


def test_disk_cache_reused_and_invalidated(layout, tmp_path):
    root, masks = layout
    cache = tmp_path / "cache"
    first = load_forgery_dicts(root, "train_all", cache_dir=cache)
    assert len(os.listdir(cache)) == 1
    # Change one mask (new content and size): its record must be rebuilt, not read from the cache.
    new_mask = make_forged_mask(*masks["2"].shape[1:], 3, seed=42)
    np.save(os.path.join(root, "train_masks", "2.npy"), new_mask)
    clear_in_memory_records()  # an in-place overwrite does not change the folder's stamp
    second = load_forgery_dicts(root, "train_all", cache_dir=cache)
    by_id = {r["image_id"]: r for r in second}
    np.testing.assert_array_equal(annotations_to_masks(by_id["forged/2"]["annotations"]), new_mask)
    assert [r for r in first if r["image_id"] != "forged/2"] == [
        r for r in second if r["image_id"] != "forged/2"
    ]


def test_records_are_copies(layout):
    root, _ = layout
    records = _load(root, "train_all")
    records[0]["annotations"].append("junk")
    assert "junk" not in _load(root, "train_all")[0]["annotations"]


def test_forged_image_without_mask(layout):
    root, _ = layout
    os.remove(os.path.join(root, "train_masks", "3.npy"))
    with pytest.raises(DataError, match=r"forged image .*forged/3\.png has no mask.*3\.npy"):
        _load(root, "train_all")


def test_mask_without_image(layout):
    root, _ = layout
    np.save(os.path.join(root, "train_masks", "777.npy"), np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"777\.npy has no forged image"):
        _load(root, "train_all")


def test_mask_shape_mismatch_names_the_file(layout):
    root, masks = layout
    np.save(os.path.join(root, "train_masks", "4.npy"), np.ones((1, 5, 5), np.uint8))
    with pytest.raises(DataError, match=r"4\.npy"):
        _load(root, "train_all")


def test_non_binary_mask_names_the_file(layout):
    root, masks = layout
    np.save(os.path.join(root, "train_masks", "5.npy"), masks["5"] * 3)
    with pytest.raises(DataError, match=r"non-binary.*5\.npy"):
        _load(root, "train_all")


def test_corrupt_image_names_the_file(layout):
    root, _ = layout
    with open(os.path.join(root, "train_images", "authentic", "6.png"), "wb") as f:
        f.write(b"not a png")
    with pytest.raises(DataError, match=r"authentic/6\.png"):
        _load(root, "train_all")


def test_all_zero_forged_mask_is_dropped(layout):
    root, masks = layout
    np.save(os.path.join(root, "train_masks", "2.npy"), np.zeros_like(masks["2"]))
    records = _load(root, "train_all")
    assert "forged/2" not in {r["image_id"] for r in records} and "authentic/2" in {
        r["image_id"] for r in records
    }


def test_missing_folder_error_is_lazy_and_helpful(tmp_path):
    name = "test_data_kaggle_missing"
    register_forgery_dataset(
        name, tmp_path / "nowhere", "train", missing_hint="Run make demo.", overwrite=True
    )
    with pytest.raises(DataError, match=r"nowhere.*train_images.*Run make demo"):
        DatasetCatalog.get(name)
    meta = MetadataCatalog.get(name)
    assert (
        meta.thing_classes == ["forged"]
        and meta.evaluator_type == "forgery"
        and meta.split == "train"
    )


def test_builtin_dataset_from_env(tmp_path, monkeypatch):
    from forgery_d2.data.builtin import BUILTIN_DATASETS, register_all_builtin

    make_kaggle_layout(tmp_path / "synthetic", test_masks=True)
    monkeypatch.setenv("FORGERY_DATASETS", str(tmp_path))
    monkeypatch.setenv("FORGERY_D2_CACHE", str(tmp_path / "cache"))
    try:
        register_all_builtin()
        assert set(BUILTIN_DATASETS) <= set(DatasetCatalog.list())
        records = DatasetCatalog.get("forgery_synthetic_test")
        assert len(records) == 3 and {r["label"] for r in records} == {0, 1}
        assert MetadataCatalog.get("forgery_synthetic_train").root == str(tmp_path / "synthetic")
        assert (
            len(DatasetCatalog.get("forgery_synthetic_train"))
            + len(DatasetCatalog.get("forgery_synthetic_val"))
            == 12
        )
        with pytest.raises(DataError, match=r"recodai.*Kaggle"):
            DatasetCatalog.get("forgery_train")
    finally:
        monkeypatch.delenv("FORGERY_DATASETS")
        register_all_builtin()  # back to the default root for other tests


def test_register_from_config(tmp_path):
    from detectron2.config import get_cfg

    from forgery_d2.config import add_forgery_config
    from forgery_d2.data.builtin import register_all_builtin, register_builtin_from_config

    make_kaggle_layout(tmp_path / "recodai")
    cfg = add_forgery_config(get_cfg())
    cfg.FORGERY.DATA.ROOT = str(tmp_path)
    cfg.FORGERY.DATA.VAL_FRACTION = 0.5
    try:
        register_builtin_from_config(cfg)
        assert MetadataCatalog.get("forgery_val").val_fraction == 0.5
        assert len(DatasetCatalog.get("forgery_val")) > 0
    finally:
        register_all_builtin()


def test_unknown_split(layout):
    with pytest.raises(ValueError, match="unknown split"):
        _load(layout[0], "dev")


def test_mixed_layout_rejected(layout):
    root, _ = layout
    write_png(os.path.join(root, "train_images", "stray.png"), 8, 8)
    with pytest.raises(DataError, match="stray.png"):
        _load(root, "train_all")
