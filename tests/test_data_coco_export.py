"""forgery_d2.data.coco_export: export -> detectron2's load_coco_json -> the same masks."""

import json
import os
import sys

import numpy as np
import pytest
from _fixtures import make_kaggle_layout
from detectron2.data import DatasetCatalog
from detectron2.data.datasets import load_coco_json, register_coco_instances

from forgery_d2.data.builtin import register_all_builtin
from forgery_d2.data.coco_export import export_coco_json
from forgery_d2.data.kaggle import register_forgery_dataset
from forgery_d2.data.records import annotations_to_masks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _record_cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGERY_D2_CACHE", str(tmp_path / "record_cache"))


def test_round_trip_through_detectron2(tmp_path):
    make_kaggle_layout(tmp_path / "data")
    register_forgery_dataset(
        "test_coco_src", tmp_path / "data", "train_all", cache_dir=False, overwrite=True
    )
    coco = export_coco_json(
        "test_coco_src", tmp_path / "out" / "coco.json", image_root=str(tmp_path / "data")
    )
    assert coco["categories"] == [{"id": 1, "name": "forged"}]
    assert all(a["area"] > 0 for a in coco["annotations"])

    name = "test_coco_loaded"
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    register_coco_instances(name, {}, str(tmp_path / "out" / "coco.json"), str(tmp_path / "data"))
    loaded = DatasetCatalog.get(name)
    original = DatasetCatalog.get("test_coco_src")
    assert len(loaded) == len(original) == 12
    for src, dst in zip(original, loaded):
        assert src["file_name"] == dst["file_name"]
        assert (src["height"], src["width"]) == (dst["height"], dst["width"])
        assert len(src["annotations"]) == len(dst["annotations"])
        if src["annotations"]:
            assert all(a["category_id"] == 0 for a in dst["annotations"])
            np.testing.assert_array_equal(
                annotations_to_masks(src["annotations"]), annotations_to_masks(dst["annotations"])
            )
            np.testing.assert_allclose(
                [a["bbox"] for a in src["annotations"]], [a["bbox"] for a in dst["annotations"]]
            )


@pytest.fixture
def convert_to_coco():
    sys.path.insert(0, os.path.join(REPO, "tools"))
    try:
        import convert_to_coco as tool

        yield tool
    finally:
        sys.path.remove(os.path.join(REPO, "tools"))
        register_all_builtin()  # the tool re-roots the builtin datasets: restore the default


def test_cli(tmp_path, convert_to_coco, capsys):
    make_kaggle_layout(tmp_path / "recodai", n_cases=2)
    output = tmp_path / "c.json"
    convert_to_coco.main(
        [
            "--dataset",
            "forgery_train_all",
            "--output",
            str(output),
            "--datasets-root",
            str(tmp_path),
        ]
    )
    assert "4 images" in capsys.readouterr().out
    coco = json.loads(output.read_text())
    assert len(coco["images"]) == 4
    records = load_coco_json(str(output), "", "test_coco_cli")
    assert sum(len(r["annotations"]) for r in records) == len(coco["annotations"]) > 0

    with pytest.raises(
        SystemExit, match=r"error: no 'test' images.*test_images"
    ):  # a message, no traceback
        convert_to_coco.main(
            [
                "--dataset",
                "forgery_test",
                "--output",
                str(output),
                "--datasets-root",
                str(tmp_path / "none"),
            ]
        )
