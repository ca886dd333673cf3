"""Figure-layout datasets: COCO detection JSON of panel / text / mark boxes.

The synthetic figure generator (``tools/make_synthetic.py --style figures``) writes, at its
dataset root, ``layout_train.json`` (train_images) and ``layout_test.json`` (test_images):
"images" with int ``id``, ``file_name`` relative to the root, ``height``, ``width``; "categories"
exactly :data:`LAYOUT_CATEGORIES`; "annotations" with ``bbox`` [x, y, w, h], ``area``,
``category_id``, ``iscrowd``, ``image_id``, ``id``.

:func:`register_layout_dataset` registers one such file like detectron2's
``register_coco_instances`` (``evaluator_type`` "coco", ``json_file``, ``image_root``), with a
loader that checks the file first and raises one :class:`~forgery_d2.data.io.DataError` naming
the file (and the image / annotation) and what is wrong.
"""

import json
import os

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json, register_coco_instances

from .io import DataError

__all__ = [
    "LAYOUT_CATEGORIES",
    "LAYOUT_CLASSES",
    "check_layout_json",
    "load_layout_json",
    "register_layout_dataset",
]

LAYOUT_CATEGORIES = [
    {"id": 1, "name": "panel"},
    {"id": 2, "name": "text"},
    {"id": 3, "name": "mark"},
]
LAYOUT_CLASSES = tuple(c["name"] for c in LAYOUT_CATEGORIES)  # contiguous class ids 0, 1, 2


def check_layout_json(json_file, missing_hint=""):
    """Read ``json_file`` and check it against the layout contract; returns the parsed dict.
    Raises DataError naming the file (and the offending image or annotation)."""
    if not os.path.isfile(json_file):
        raise DataError(
            f"layout annotations not found: {json_file}"
            + (f". {missing_hint}" if missing_hint else "")
        )
    try:
        with open(json_file) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{json_file}: not readable JSON ({e})") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise DataError(
            f"{json_file}: expected a COCO dict with lists 'images', 'annotations', 'categories'"
        )
    categories = [{"id": c.get("id"), "name": c.get("name")} for c in data["categories"]]
    if sorted(categories, key=lambda c: str(c["id"])) != LAYOUT_CATEGORIES:
        raise DataError(
            f"{json_file}: categories must be exactly {LAYOUT_CATEGORIES}, got {categories}"
        )
    image_ids = set()
    for i, image in enumerate(data["images"]):
        missing = [k for k in ("id", "file_name", "height", "width") if k not in image]
        if missing or not isinstance(image["id"], int):
            raise DataError(
                f"{json_file}: images[{i}] needs an int 'id', 'file_name', 'height', 'width' "
                f"(missing {missing or ['int id']})"
            )
        image_ids.add(image["id"])
    for i, ann in enumerate(data["annotations"]):
        where = f"{json_file}: annotations[{i}] (id {ann.get('id')})"
        bbox = ann.get("bbox")
        if not (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, (int, float)) for v in bbox)
        ):
            raise DataError(f"{where}: 'bbox' must be [x, y, w, h], got {bbox!r}")
        if bbox[2] <= 0 or bbox[3] <= 0:
            raise DataError(f"{where}: 'bbox' has a non-positive width or height: {bbox}")
        if ann.get("category_id") not in (1, 2, 3):
            raise DataError(
                f"{where}: 'category_id' must be 1 (panel), 2 (text) or 3 (mark), got "
                f"{ann.get('category_id')!r}"
            )
        if ann.get("image_id") not in image_ids:
            raise DataError(f"{where}: 'image_id' {ann.get('image_id')!r} is not in 'images'")
    return data


def load_layout_json(json_file, image_root, dataset_name=None, missing_hint=""):
    """detectron2 dataset dicts of a layout JSON (checked by :func:`check_layout_json`, then read by
    detectron2's ``load_coco_json``; file names are joined to ``image_root``)."""
    check_layout_json(json_file, missing_hint)
    return load_coco_json(json_file, image_root, dataset_name)


def register_layout_dataset(name, json_file, image_root, missing_hint="", overwrite=False):
    """Register ``name`` as detectron2's ``register_coco_instances`` does (metadata ``json_file``,
    ``image_root``, ``evaluator_type="coco"``, ``thing_classes``), with the checking loader.
    Touches no file. ``overwrite`` replaces an existing registration of ``name``."""
    if overwrite and name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    json_file, image_root = os.fspath(json_file), os.fspath(image_root)
    metadata = {
        "thing_classes": list(LAYOUT_CLASSES),
        "thing_dataset_id_to_contiguous_id": {c["id"]: i for i, c in enumerate(LAYOUT_CATEGORIES)},
    }
    register_coco_instances(name, metadata, json_file, image_root)
    # Same registration, but a missing or malformed file is one clear DataError, not a traceback
    # from inside pycocotools.
    DatasetCatalog.remove(name)
    DatasetCatalog.register(
        name, lambda: load_layout_json(json_file, image_root, name, missing_hint)
    )
