"""Export a registered forgery dataset as a COCO instances JSON file.

The file loads back with detectron2's ``register_coco_instances`` / ``load_coco_json`` (or any COCO
tool): one category ``{"id": 1, "name": "forged"}``, integer image and annotation ids from 1,
compressed-RLE segmentations (``counts`` as str), ``bbox`` XYWH, ``area`` in pixels. Authentic and
unlabeled images are listed with no annotations. Each image entry also keeps forgery_d2's fields:
``image_key`` (the dataset's string ``image_id``), ``case_id``, ``label`` and ``mask_file``.

``file_name`` is absolute, or relative to ``image_root`` when one is given (then pass the same
``image_root`` to ``register_coco_instances``).
"""

import datetime
import json
import os
import tempfile

import pycocotools.mask as mask_util
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

__all__ = ["dataset_dicts_to_coco", "export_coco_json"]


def _coco_rle(segmentation):
    rle = dict(segmentation)
    if isinstance(rle["counts"], bytes):
        rle["counts"] = rle["counts"].decode("ascii")
    elif isinstance(rle["counts"], list):  # uncompressed RLE -> compressed
        rle = mask_util.frPyObjects(rle, *rle["size"])
        rle["counts"] = rle["counts"].decode("ascii")
    return rle


def dataset_dicts_to_coco(
    dataset_dicts, thing_classes=("forged",), image_root=None, description=""
):
    """A COCO instances dict from forgery_d2 dataset dicts (see the module docstring)."""
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(thing_classes)]
    images, annotations = [], []
    for image_number, record in enumerate(dataset_dicts, start=1):
        file_name = record["file_name"]
        if image_root:
            file_name = os.path.relpath(file_name, image_root)
        images.append(
            {
                "id": image_number,
                "file_name": file_name,
                "height": int(record["height"]),
                "width": int(record["width"]),
                "image_key": str(record.get("image_id", image_number)),
                "case_id": record.get("case_id"),
                "label": record.get("label"),
                "mask_file": record.get("mask_file"),
            }
        )
        for ann in record.get("annotations") or []:
            bbox = BoxMode.convert(
                list(map(float, ann["bbox"])), ann["bbox_mode"], BoxMode.XYWH_ABS
            )
            entry = {
                "id": len(annotations) + 1,
                "image_id": image_number,
                "category_id": int(ann["category_id"]) + 1,
                "bbox": [round(float(v), 3) for v in bbox],
                "iscrowd": int(ann.get("iscrowd", 0)),
            }
            if "segmentation" in ann:
                if not isinstance(ann["segmentation"], dict):
                    raise ValueError(
                        f"{record['file_name']}: only RLE segmentations can be exported"
                    )
                entry["segmentation"] = _coco_rle(ann["segmentation"])
                entry["area"] = float(mask_util.area(entry["segmentation"]))
            else:
                entry["area"] = float(bbox[2] * bbox[3])
            annotations.append(entry)
    info = {
        "description": description or "forgery_d2 export",
        "date_created": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    return {"info": info, "images": images, "annotations": annotations, "categories": categories}


def export_coco_json(dataset_name, output_file, image_root=None):
    """Write registered dataset ``dataset_name`` as a COCO JSON file; returns the COCO dict."""
    records = DatasetCatalog.get(dataset_name)
    thing_classes = MetadataCatalog.get(dataset_name).get("thing_classes", ["forged"])
    coco = dataset_dicts_to_coco(
        records, thing_classes, image_root, description=f"forgery_d2 dataset {dataset_name}"
    )
    output_file = os.path.abspath(os.fspath(output_file))
    os.makedirs(os.path.dirname(output_file), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(output_file), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(coco, f)
    os.replace(tmp, output_file)
    return coco
