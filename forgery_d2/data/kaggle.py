"""The competition's folder layout (Recod.ai/LUC Scientific Image Forgery Detection) as detectron2
datasets.

Layout under ``root`` (see /work/shared/KAGGLE_TASK.md)::

    train_images/authentic/<case_id>.png   train_images/forged/<case_id>.png   train_masks/<case_id>.npy
    supplemental_images/<case_id>.png      supplemental_masks/<case_id>.npy
    test_images/<case_id>.png              [test_masks/<case_id>.npy]   (synthetic test sets have masks)

Splits: ``train`` / ``val`` (a seeded split of train_images by case_id, see forgery_d2.data.split),
``train_all`` (all of train_images), ``supplemental``, ``test``.

Labels come from one of two layouts, detected per image folder:

- ``authentic/`` and ``forged/`` sub-folders: the folder gives the label; every forged image needs
  its mask and every mask needs a forged image (otherwise DataError).
- flat folder: with a mask folder, an image with a mask is forged and one without is authentic (a
  mask without an image is a DataError); without a mask folder, labels are unknown (``label`` None,
  no ``annotations`` key: a test set to predict on).

``image_id`` is ``"authentic/<case_id>"`` / ``"forged/<case_id>"`` in the sub-folder layout and
``"<split>/<case_id>"`` in a flat one. Records are built when the dataset is first loaded
(``DatasetCatalog.get``), kept in memory for the process (rebuilt when files are added or removed) and cached
on disk (forgery_d2.data.records).
"""

import copy
import logging
import os
import time
from functools import partial

from detectron2.data import DatasetCatalog, MetadataCatalog

from forgery_d2.config import default_value

from .io import IMAGE_EXTENSIONS, DataError
from .records import RecordBuilder
from .split import case_id_sort_key, split_case_ids, split_options

__all__ = [
    "SPLITS",
    "METADATA",
    "files_by_case",
    "scan_folder",
    "load_forgery_dicts",
    "register_forgery_dataset",
    "clear_in_memory_records",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "train_all", "supplemental", "test")
# split -> (image folder, mask folder) under the root
_SPLIT_FOLDERS = {
    "train": ("train_images", "train_masks"),
    "val": ("train_images", "train_masks"),
    "train_all": ("train_images", "train_masks"),
    "supplemental": ("supplemental_images", "supplemental_masks"),
    "test": ("test_images", "test_masks"),
}
MASK_SUFFIX = ".npy"
LABEL_FOLDERS = {"authentic": 0, "forged": 1}
# Metadata shared by every forgery dataset (docs/DESIGN.md).
METADATA = {"thing_classes": ["forged"], "evaluator_type": "forgery"}

_records_in_memory = {}


def files_by_case(folder, suffixes, what):
    """``{case_id: path}`` of the files in ``folder`` with one of ``suffixes``; DataError on duplicates."""
    found = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        stem, suffix = os.path.splitext(entry.name)
        if not entry.is_file() or suffix.lower() not in suffixes or entry.name.startswith("."):
            continue
        if stem in found:
            raise DataError(
                f"two {what} files for case_id {stem!r} in {folder}: "
                f"{os.path.basename(found[stem])} and {entry.name}"
            )
        found[stem] = entry.path
    return found


def scan_folder(image_dir, mask_dir=None, split_tag=None):
    """List an image folder as ``[(image_id, case_id, image_path, label, mask_path)]`` in case order.

    Applies the layout rules of the module docstring and raises DataError on an inconsistent pairing.
    ``split_tag`` names the flat layout's image_ids (default: the folder's name).
    """
    if not os.path.isdir(image_dir):
        raise DataError(f"image folder not found: {image_dir}")
    masks = {}
    if mask_dir is not None and os.path.isdir(mask_dir):
        masks = files_by_case(mask_dir, (MASK_SUFFIX,), "mask")
    else:
        mask_dir = None
    label_dirs = [n for n in LABEL_FOLDERS if os.path.isdir(os.path.join(image_dir, n))]
    entries = []
    if label_dirs:
        loose = files_by_case(image_dir, IMAGE_EXTENSIONS, "image")
        if loose:
            raise DataError(
                f"{image_dir} mixes images ({os.path.basename(next(iter(loose.values())))}, ...) with "
                f"label sub-folders {label_dirs}: put every image in authentic/ or forged/"
            )
        forged_ids = set()
        for folder_name in label_dirs:
            label = LABEL_FOLDERS[folder_name]
            for case_id, path in files_by_case(
                os.path.join(image_dir, folder_name), IMAGE_EXTENSIONS, "image"
            ).items():
                mask_path = None
                if label == 1:
                    forged_ids.add(case_id)
                    mask_path = masks.get(case_id)
                    if mask_path is None:
                        where = mask_dir or "(no mask folder)"
                        raise DataError(
                            f"forged image {path} has no mask: expected {case_id}{MASK_SUFFIX} in {where}"
                        )
                entries.append((f"{folder_name}/{case_id}", case_id, path, label, mask_path))
        orphans = sorted(set(masks) - forged_ids, key=case_id_sort_key)
        if orphans:
            raise DataError(
                f"mask {masks[orphans[0]]} has no forged image: expected {orphans[0]}.<png|jpg|...> in "
                f"{os.path.join(image_dir, 'forged')} ({len(orphans)} such mask(s))"
            )
    else:
        tag = split_tag or os.path.basename(os.path.normpath(image_dir))
        images = files_by_case(image_dir, IMAGE_EXTENSIONS, "image")
        orphans = sorted(set(masks) - set(images), key=case_id_sort_key)
        if orphans:
            raise DataError(
                f"mask {masks[orphans[0]]} has no image: expected {orphans[0]}.<png|jpg|...> in {image_dir} "
                f"({len(orphans)} such mask(s))"
            )
        for case_id, path in images.items():
            if mask_dir is None:
                label, mask_path = None, None
            else:
                mask_path = masks.get(case_id)
                label = 1 if mask_path else 0
            entries.append((f"{tag}/{case_id}", case_id, path, label, mask_path))
    entries.sort(key=lambda e: (case_id_sort_key(e[1]), e[0]))
    return entries


def clear_in_memory_records():
    """Forget the records kept in memory, e.g. after overwriting files in place (the in-memory copy
    is refreshed automatically only when files are added to or removed from the folders)."""
    _records_in_memory.clear()


def _missing_data_error(root, split, image_dir, missing_hint):
    message = (
        f"no '{split}' images: {image_dir} does not exist. Expected the competition layout under {root} "
        "(train_images/{authentic,forged}/, train_masks/, supplemental_images/, test_images/)."
    )
    return DataError(message + (" " + missing_hint if missing_hint else ""))


def _folder_fingerprint(*folders):
    """mtimes of the folders (and label sub-folders): they change when files are added or removed."""
    stamps = []
    for folder in folders:
        for path in (folder, *(os.path.join(folder, n) for n in LABEL_FOLDERS)):
            stamps.append(os.stat(path).st_mtime_ns if os.path.isdir(path) else None)
    return tuple(stamps)


def load_forgery_dicts(
    root,
    split="train",
    val_fraction=None,
    seed=None,
    split_components=False,
    min_component_area=None,
    cache_dir=None,
    missing_hint=None,
):
    """Dataset dicts (docs/DESIGN.md) for one split of a competition-layout folder.

    Args:
        root: folder holding train_images/, train_masks/, ...
        split: one of ``SPLITS``.
        val_fraction, seed: the train/val split (forgery_d2.data.split); only for train/val;
            None = ``FORGERY.DATA.VAL_FRACTION`` / ``SPLIT_SEED``.
        split_components, min_component_area: instances per mask channel or per connected
            component (forgery_d2.data.records); None = ``FORGERY.DATA.MIN_COMPONENT_AREA``.
        cache_dir: on-disk record cache folder; None = default location, False = no disk cache.
        missing_hint: appended to the error raised when the split's image folder is missing.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    image_folder, mask_folder = _SPLIT_FOLDERS[split]
    image_dir, mask_dir = os.path.join(root, image_folder), os.path.join(root, mask_folder)
    if not os.path.isdir(image_dir):
        raise _missing_data_error(root, split, image_dir, missing_hint)

    val_fraction, seed = split_options(val_fraction, seed)
    if min_component_area is None:
        min_component_area = default_value("FORGERY.DATA.MIN_COMPONENT_AREA")
    key = (
        root,
        split,
        float(val_fraction),
        seed,
        bool(split_components),
        int(min_component_area),
        _folder_fingerprint(image_dir, mask_dir),
    )
    if key not in _records_in_memory:
        _records_in_memory[key] = _build_records(
            root,
            split,
            image_dir,
            mask_dir,
            val_fraction,
            seed,
            split_components,
            min_component_area,
            cache_dir,
        )
    return copy.deepcopy(_records_in_memory[key])


def _build_records(
    root, split, image_dir, mask_dir, val_fraction, seed, split_components, min_area, cache_dir
):
    start = time.perf_counter()
    entries = scan_folder(image_dir, mask_dir, split_tag=split)
    if not entries:
        raise DataError(f"no images ({'/'.join(IMAGE_EXTENSIONS)}) found in {image_dir}")
    if split in ("train", "val"):
        train_ids, val_ids = split_case_ids([e[1] for e in entries], val_fraction, seed)
        keep = set(train_ids if split == "train" else val_ids)
        entries = [e for e in entries if e[1] in keep]
    builder = RecordBuilder(
        scope={"images": image_dir, "masks": mask_dir},
        split_components=split_components,
        min_component_area=min_area,
        cache_dir=cache_dir,
    )
    records = [
        builder.build(path, image_id, case_id, label, mask_path)
        for image_id, case_id, path, label, mask_path in entries
    ]
    builder.finish()
    records = builder.drop_forged_without_instances(records, f"{root} [{split}]")
    counts = {label: sum(r["label"] == label for r in records) for label in (1, 0, None)}
    logger.info(
        "Loaded %d images of %s [%s] in %.1fs: %d forged, %d authentic, %d unlabeled (%d from cache).",
        len(records),
        root,
        split,
        time.perf_counter() - start,
        counts[1],
        counts[0],
        counts[None],
        builder.cache_hits,
    )
    return records


def register_forgery_dataset(
    name,
    root,
    split="train",
    val_fraction=None,
    seed=None,
    split_components=False,
    min_component_area=None,
    cache_dir=None,
    missing_hint=None,
    overwrite=False,
):
    """Register one split of a competition-layout folder in DatasetCatalog / MetadataCatalog.

    Touches no file: records are built at the first ``DatasetCatalog.get(name)``. Arguments as in
    :func:`load_forgery_dicts`; ``overwrite`` replaces an existing registration of ``name``.
    Metadata: ``thing_classes`` ["forged"], ``evaluator_type`` "forgery", ``root``, ``split``.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if overwrite and name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    val_fraction, seed = split_options(val_fraction, seed)
    DatasetCatalog.register(
        name,
        partial(
            load_forgery_dicts,
            root,
            split,
            val_fraction=val_fraction,
            seed=seed,
            split_components=split_components,
            min_component_area=min_component_area,
            cache_dir=cache_dir,
            missing_hint=missing_hint,
        ),
    )
    MetadataCatalog.get(name).set(
        **METADATA,
        root=root,
        split=split,
        val_fraction=val_fraction,
        split_seed=seed,
        split_components=split_components,
    )
    return name
