"""The datasets forgery_d2 registers on import, rooted at ``$FORGERY_DATASETS`` (else ``./datasets``).

==========================  ======================  ===========================================
name                        folder                  split
==========================  ======================  ===========================================
forgery_train               <root>/recodai          train_images, seeded 80% of case_ids
forgery_val                 <root>/recodai          train_images, the other 20%
forgery_train_all           <root>/recodai          all of train_images
forgery_supplemental        <root>/recodai          supplemental_images
forgery_test                <root>/recodai          test_images (labelled if test_masks/ exists)
forgery_synthetic_train     <root>/synthetic        as above, make_synthetic.py --style legacy
forgery_synthetic_val       <root>/synthetic
forgery_synthetic_test      <root>/synthetic
forgery_figures_train       <root>/figures          as above, make_synthetic.py --style figures
forgery_figures_val         <root>/figures
forgery_figures_test        <root>/figures
==========================  ======================  ===========================================

Figure-layout detection sets (panel / text / mark boxes, COCO JSON; forgery_d2.data.layout_coco):
``forgery_figures_layout_train`` (``<root>/figures/layout_train.json``) and
``forgery_figures_layout_test`` (``<root>/figures/layout_test.json``), images under
``<root>/figures``.

Registration touches no file; loading a dataset whose folder is missing raises a DataError saying
where the data is expected and how to get it. The root is resolved when registering: call
:func:`register_all_builtin` again (or :func:`register_builtin_from_config`) to re-root or change
the split options; it replaces the previous registrations.
"""

import os

from detectron2.data import DatasetCatalog

from .io import DataError
from .kaggle import register_forgery_dataset
from .layout_coco import register_layout_dataset

__all__ = [
    "BUILTIN_DATASETS",
    "LAYOUT_DATASETS",
    "default_datasets_root",
    "register_all_builtin",
    "register_builtin_from_config",
]

# name -> (sub-folder of the datasets root, split)
BUILTIN_DATASETS = {
    "forgery_train": ("recodai", "train"),
    "forgery_val": ("recodai", "val"),
    "forgery_train_all": ("recodai", "train_all"),
    "forgery_supplemental": ("recodai", "supplemental"),
    "forgery_test": ("recodai", "test"),
    "forgery_synthetic_train": ("synthetic", "train"),
    "forgery_synthetic_val": ("synthetic", "val"),
    "forgery_synthetic_test": ("synthetic", "test"),
    "forgery_figures_train": ("figures", "train"),
    "forgery_figures_val": ("figures", "val"),
    "forgery_figures_test": ("figures", "test"),
}

# Figure-layout detection sets (COCO JSON, forgery_d2.data.layout_coco): name -> (sub-folder, file)
LAYOUT_DATASETS = {
    "forgery_figures_layout_train": ("figures", "layout_train.json"),
    "forgery_figures_layout_test": ("figures", "layout_test.json"),
}

_HOW_TO_GET = {
    "recodai": (
        "Download the competition data (Kaggle: recodai-luc-scientific-image-forgery-detection) and unzip "
        "it into {folder}, or point $FORGERY_DATASETS at the folder holding recodai/."
    ),
    "synthetic": (
        "Generate it with `make demo` or `python tools/make_synthetic.py --style legacy` (writes "
        "{folder}), or point $FORGERY_DATASETS at the folder holding synthetic/."
    ),
    "figures": (
        "Generate it with `python tools/make_synthetic.py --style figures` (writes {folder}), or "
        "point $FORGERY_DATASETS at the folder holding figures/."
    ),
}


def default_datasets_root():
    """``$FORGERY_DATASETS`` if set, else ``./datasets`` (absolute)."""
    return os.path.abspath(os.path.expanduser(os.environ.get("FORGERY_DATASETS") or "datasets"))


def register_all_builtin(
    root=None,
    val_fraction=None,
    seed=None,
    split_components=False,
    min_component_area=None,
):
    """(Re-)register every builtin dataset under ``root`` (default :func:`default_datasets_root`)."""
    root = os.path.abspath(os.path.expanduser(os.fspath(root))) if root else default_datasets_root()
    for name, (subfolder, split) in BUILTIN_DATASETS.items():
        folder = os.path.join(root, subfolder)
        register_forgery_dataset(
            name,
            folder,
            split,
            val_fraction=val_fraction,
            seed=seed,
            split_components=split_components,
            min_component_area=min_component_area,
            missing_hint=_HOW_TO_GET[subfolder].format(folder=folder),
            overwrite=True,
        )
    for name, (subfolder, json_name) in LAYOUT_DATASETS.items():
        folder = os.path.join(root, subfolder)
        hint = _HOW_TO_GET[subfolder].format(folder=folder)
        register_layout_dataset(name, os.path.join(folder, json_name), folder, hint, overwrite=True)
    return root


def register_builtin_from_config(cfg):
    """Re-register the builtin datasets with ``cfg.FORGERY.DATA`` (root, split and instance options)."""
    data = cfg.FORGERY.DATA
    return register_all_builtin(
        root=data.ROOT or None,
        val_fraction=data.VAL_FRACTION,
        seed=data.SPLIT_SEED,
        split_components=data.SPLIT_COMPONENTS,
        min_component_area=data.MIN_COMPONENT_AREA,
    )


register_all_builtin()


def add_datasets_root_argument(parser):
    """The ``--datasets-root`` option shared by the dataset tools (see :func:`registered_names`)."""
    parser.add_argument(
        "--datasets-root",
        default=None,
        help="folder holding recodai/, synthetic/ and figures/ "
        "(default: $FORGERY_DATASETS or ./datasets)",
    )


def registered_names(names, datasets_root=None):
    """Re-root the builtin datasets at ``datasets_root`` (if given) and check that every name in
    ``names`` is registered; raises DataError listing the unknown ones and the known ones."""
    if datasets_root:
        register_all_builtin(datasets_root)
    unknown = [n for n in names if n not in DatasetCatalog.list()]
    if unknown:
        builtin = ", ".join(list(BUILTIN_DATASETS) + list(LAYOUT_DATASETS))
        raise DataError(
            f"dataset(s) not registered: {', '.join(unknown)} (builtin: {builtin}; "
            "or register your own with register_forgery_dataset / register_casia_dataset)"
        )
    return list(names)
