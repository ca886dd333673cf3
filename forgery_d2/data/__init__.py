"""forgery_d2's datasets: reading images and masks, leak-free splits, registrars, COCO export.

Importing this package registers the builtin datasets (forgery_d2.data.builtin); registration
touches no file.
"""

from .builtin import (
    BUILTIN_DATASETS,
    default_datasets_root,
    register_all_builtin,
    register_builtin_from_config,
)
from .casia import load_casia_dicts, register_casia_dataset
from .coco_export import dataset_dicts_to_coco, export_coco_json
from .io import DataError, image_size, read_image, read_mask
from .kaggle import SPLITS, load_forgery_dicts, register_forgery_dataset, scan_folder
from .records import annotations_to_masks, mask_to_annotations
from .split import assign_split, split_case_ids

__all__ = [
    "BUILTIN_DATASETS",
    "DataError",
    "SPLITS",
    "annotations_to_masks",
    "assign_split",
    "dataset_dicts_to_coco",
    "default_datasets_root",
    "export_coco_json",
    "image_size",
    "load_casia_dicts",
    "load_forgery_dicts",
    "mask_to_annotations",
    "read_image",
    "read_mask",
    "register_all_builtin",
    "register_builtin_from_config",
    "register_casia_dataset",
    "register_forgery_dataset",
    "scan_folder",
    "split_case_ids",
]
