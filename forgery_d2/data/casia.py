"""CASIA v2 (image-level manipulation dataset) as detectron2 datasets.

Layout under ``root``::

    Au/<name>.jpg|.tif|...            authentic images               (label 0, annotations [])
    Tp/<name>.jpg|.tif|...            tampered images                (label 1)
    CASIA 2 Groundtruth/<name>_gt.png optional masks of tampered images (folder name and suffix are
                                      parameters; the public ground truth uses these)

Every image has its image-level ``label``. A tampered image with a ground-truth mask gets instances
from it (forgery_d2.data.records); one without a mask gets no ``annotations`` key (instances
unknown), or is dropped with ``require_masks=True`` (for segmentation training). Ground-truth masks
without a tampered image are ignored with a warning (the public ground truth has extras).

``image_id`` is ``"Au/<name>"`` / ``"Tp/<name>"``; ``case_id`` is the file stem. Splits: ``all``,
or ``train`` / ``val`` by the seeded hash of the stem (forgery_d2.data.split).
"""

import copy
import logging
import os

from detectron2.data import DatasetCatalog, MetadataCatalog

from .io import IMAGE_EXTENSIONS, DataError
from .kaggle import METADATA, files_by_case
from .records import RecordBuilder
from .split import case_id_sort_key, split_case_ids, split_options

__all__ = [
    "CASIA_SPLITS",
    "DEFAULT_CASIA_MASK_DIRNAME",
    "load_casia_dicts",
    "register_casia_dataset",
]

logger = logging.getLogger(__name__)

CASIA_SPLITS = ("all", "train", "val")
DEFAULT_CASIA_MASK_DIRNAME = "CASIA 2 Groundtruth"
DEFAULT_CASIA_MASK_SUFFIX = "_gt.png"
_CASIA_IMAGE_SUFFIXES = IMAGE_EXTENSIONS + (".jpe",)


def _masks_by_stem(mask_dir, mask_suffix):
    masks = {}
    if mask_dir is None or not os.path.isdir(mask_dir):
        return masks
    for entry in os.scandir(mask_dir):
        if entry.is_file() and entry.name.lower().endswith(mask_suffix.lower()):
            masks[entry.name[: -len(mask_suffix)]] = entry.path
    return masks


def load_casia_dicts(
    root,
    split="all",
    mask_dirname=DEFAULT_CASIA_MASK_DIRNAME,
    mask_suffix=DEFAULT_CASIA_MASK_SUFFIX,
    require_masks=False,
    on_bad_mask="error",
    val_fraction=None,
    seed=None,
    split_components=False,
    min_component_area=None,
    cache_dir=None,
):
    """Dataset dicts for CASIA v2 (see the module docstring).

    Args:
        mask_dirname: ground-truth folder under ``root`` (None: no masks).
        mask_suffix: ground-truth file name = tampered image stem + this suffix.
        require_masks: drop tampered images without a ground-truth mask.
        on_bad_mask: "error" raises DataError on an unreadable / mismatched mask; "skip" logs it and
            keeps the image with its label only.
        Other arguments as in forgery_d2.data.kaggle.load_forgery_dicts.
    """
    if split not in CASIA_SPLITS:
        raise ValueError(f"unknown CASIA split {split!r}; expected one of {CASIA_SPLITS}")
    if on_bad_mask not in ("error", "skip"):
        raise ValueError(f"on_bad_mask must be 'error' or 'skip', got {on_bad_mask!r}")
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    au_dir, tp_dir = os.path.join(root, "Au"), os.path.join(root, "Tp")
    for folder in (au_dir, tp_dir):
        if not os.path.isdir(folder):
            raise DataError(
                f"CASIA v2 folder not found: {folder} (expected Au/ and Tp/ under {root})"
            )
    mask_dir = os.path.join(root, mask_dirname) if mask_dirname else None
    masks = _masks_by_stem(mask_dir, mask_suffix)
    if mask_dirname and not masks:
        logger.info(
            "CASIA %s: no ground-truth masks in %s; image-level labels only.", root, mask_dir
        )

    entries = [
        (f"Au/{stem}", stem, path, 0)
        for stem, path in files_by_case(au_dir, _CASIA_IMAGE_SUFFIXES, "image").items()
    ]
    tampered = files_by_case(tp_dir, _CASIA_IMAGE_SUFFIXES, "image")
    entries += [(f"Tp/{stem}", stem, path, 1) for stem, path in tampered.items()]
    orphans = sorted(set(masks) - set(tampered))
    if orphans:
        logger.warning(
            "CASIA %s: %d ground-truth mask(s) without a tampered image ignored (e.g. %s).",
            root,
            len(orphans),
            os.path.basename(masks[orphans[0]]),
        )
    if split != "all":
        train_ids, val_ids = split_case_ids(
            [e[1] for e in entries], *split_options(val_fraction, seed)
        )
        keep = set(train_ids if split == "train" else val_ids)
        entries = [e for e in entries if e[1] in keep]
    entries.sort(key=lambda e: (case_id_sort_key(e[1]), e[0]))

    builder = RecordBuilder(
        {"casia": root, "masks": mask_dir, "suffix": mask_suffix},
        split_components,
        min_component_area,
        cache_dir,
    )
    records = []
    for image_id, stem, path, label in entries:
        mask_path = masks.get(stem) if label == 1 else None
        if label == 1 and mask_path is None and require_masks:
            continue
        try:
            record = builder.build(path, image_id, stem, label, mask_path)
        except DataError as e:
            if on_bad_mask == "error" or mask_path is None:
                raise
            logger.warning("CASIA: skipping the mask of %s: %s", path, e)
            if require_masks:
                continue
            record = builder.build(path, image_id, stem, label, None)
        records.append(record)
    builder.finish()
    records = builder.drop_forged_without_instances(records, f"CASIA {root} [{split}]")
    if not records:
        raise DataError(f"no CASIA images found under {root} (split {split!r})")
    return records


def register_casia_dataset(name, root, split="all", overwrite=False, **kwargs):
    """Register CASIA v2 under ``name`` (lazy: nothing is read until ``DatasetCatalog.get``).

    ``kwargs`` are :func:`load_casia_dicts`'s. Metadata as the competition datasets, plus
    ``dataset="casia2"``.
    """
    if split not in CASIA_SPLITS:
        raise ValueError(f"unknown CASIA split {split!r}; expected one of {CASIA_SPLITS}")
    if overwrite and name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    cached = {}

    def load():
        if "records" not in cached:
            cached["records"] = load_casia_dicts(root, split, **kwargs)
        return copy.deepcopy(cached["records"])

    DatasetCatalog.register(name, load)
    MetadataCatalog.get(name).set(**METADATA, root=root, split=split, dataset="casia2")
    return name
