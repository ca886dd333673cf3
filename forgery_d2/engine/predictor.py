"""Running a trained model on images outside a detectron2 data loader (``tools/predict.py``,
``tools/eval_oF1.py``): like detectron2's ``DefaultPredictor``, which lives in its engine too.

- :func:`build_inference_model`: ``build_model`` in eval mode, ``MODEL.WEIGHTS`` loaded with
  ``DetectionCheckpointer`` (a warning when there are none: the model is randomly initialized).
- :class:`BatchPredictor`: ``DefaultPredictor`` for a batch of images; outputs are at each image's
  original resolution.
- :class:`ImageFolder`: images of a list of paths for a DataLoader's workers, read with
  :func:`forgery_d2.data.io.read_image`; an unreadable image yields an ``error`` instead of raising.

The config comes from :func:`forgery_d2.config.load_config` (CPU fallback included).
"""

import logging
import os

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import transforms as T
from detectron2.modeling import build_model

from forgery_d2.config import check_weights_file
from forgery_d2.data.io import DataError, read_image
from forgery_d2.modeling.copy_evidence import CopyEvidence

from .inputs import predictor_input

__all__ = ["build_inference_model", "BatchPredictor", "ImageFolder"]

logger = logging.getLogger(__name__)


def build_inference_model(cfg):
    """``build_model(cfg)`` in eval mode with ``cfg.MODEL.WEIGHTS`` loaded (ConfigError when that
    file does not exist; a warning when a model with parameters gets no weights)."""
    check_weights_file(cfg)
    model = build_model(cfg)
    model.eval()
    if cfg.MODEL.WEIGHTS:
        DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    elif any(True for _ in model.parameters()):
        logger.warning("MODEL.WEIGHTS is empty: the model is randomly initialized")
    return model


class BatchPredictor:
    """Runs a model on a batch of images (arrays in ``cfg.INPUT.FORMAT``), test-time resize like
    ``DefaultPredictor``, with the copy-evidence map of each original image when the config asks
    for it (forgery_d2.engine.inputs); outputs at the original resolution."""

    def __init__(self, cfg, model=None):
        self.model = model if model is not None else build_inference_model(cfg)
        self.resize = (
            T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
            if cfg.INPUT.MIN_SIZE_TEST > 0
            else None
        )
        self.evidence = CopyEvidence.from_config(cfg)

    def __call__(self, images, file_names=None):
        """Outputs for ``images``; ``file_names`` (optional) key the copy-evidence cache."""
        names = file_names if file_names is not None else [None] * len(images)
        inputs = [
            predictor_input(image, self.resize, self.evidence, name)
            for image, name in zip(images, names)
        ]
        with torch.no_grad():
            return self.model(inputs)


class ImageFolder(torch.utils.data.Dataset):
    """Images of a list of paths for a DataLoader: ``{"case_id", "file_name", "image" | "error"}``."""

    def __init__(self, paths, image_format="BGR"):
        self.paths = list(paths)
        self.image_format = image_format

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        item = {"case_id": os.path.splitext(os.path.basename(path))[0], "file_name": path}
        try:
            item["image"] = read_image(path, self.image_format)
        except (DataError, OSError, ValueError) as e:
            item["error"] = str(e)
        return item
