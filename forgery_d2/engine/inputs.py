"""Model inputs, built one way everywhere: the dataset mapper of every loader (training, evaluation,
the validation-loss and separability hooks, ``tools/eval_oF1.py``, the benchmarks) and the inputs of
the predictor, with the per-image maps the model asks for (``MODEL.COPY_EVIDENCE``: the dense
copy-evidence map, computed on the original image and sent along its augmentation)."""

from typing import Optional

import numpy as np
import torch

from forgery_d2.data.mapper import ForgeryDatasetMapper, resize_image_maps
from forgery_d2.modeling.copy_evidence import MAP_KEY, CopyEvidence

__all__ = ["build_mapper", "predictor_input"]


def build_mapper(cfg, is_train: bool, augmentations: Optional[list] = None) -> ForgeryDatasetMapper:
    """:class:`ForgeryDatasetMapper` for ``cfg`` (its augmentations unless ``augmentations`` is
    given), with the copy-evidence map as ``image_maps`` when ``MODEL.COPY_EVIDENCE.ENABLED``."""
    return ForgeryDatasetMapper(
        cfg,
        is_train=is_train,
        augmentations=augmentations,
        image_maps=CopyEvidence.from_config(cfg),
    )


def predictor_input(
    image: np.ndarray,
    resize,
    evidence: Optional[CopyEvidence] = None,
    file_name: Optional[str] = None,
) -> dict:
    """The model input of one image array (``INPUT.FORMAT``): resized by ``resize`` (a detectron2
    augmentation, or None), with its original ``height`` / ``width`` and, when ``evidence`` is
    given, the copy-evidence map of the original image resized like it."""
    height, width = image.shape[:2]
    resized = resize.get_transform(image).apply_image(image) if resize is not None else image
    item = {
        "image": torch.as_tensor(
            np.ascontiguousarray(resized.transpose(2, 0, 1)).astype("float32")
        ),
        "height": height,
        "width": width,
    }
    if evidence is not None:
        maps = evidence(image, {"file_name": file_name} if file_name else None)
        item[MAP_KEY] = torch.as_tensor(resize_image_maps(maps, *resized.shape[:2]))
    return item
