"""Config, model loading and batched inference shared by ``tools/eval_oF1.py`` and
``tools/predict.py``.

- :func:`setup_inference_cfg`: ``get_cfg()`` + ``add_forgery_config`` + a YAML + an optional
  decision fragment (from the sweep) + command-line overrides; the device falls back to CPU, with a
  log line, when CUDA is not available.
- :func:`build_inference_model`: ``build_model`` in eval mode, ``MODEL.WEIGHTS`` loaded with
  ``DetectionCheckpointer`` (a warning when there are none: the model is randomly initialized).
- :class:`BatchPredictor`: like detectron2's ``DefaultPredictor``, for a batch of images; outputs
  are at each image's original resolution.
- :class:`ImageFolder`: the images of a folder, read by a DataLoader's workers with
  ``forgery_d2.data.io.read_image``; an unreadable image yields an ``error`` instead of raising.
"""
import logging
import os

import numpy as np
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.data import transforms as T
from detectron2.modeling import build_model

import forgery_d2.modeling  # noqa: F401  (registers ForgeryRCNN and its parts)
from forgery_d2.config import add_forgery_config

__all__ = [
    "IMAGE_SUFFIXES",
    "setup_inference_cfg",
    "resolve_device",
    "build_inference_model",
    "BatchPredictor",
    "ImageFolder",
    "list_images",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def resolve_device(cfg):
    """Use ``cfg.MODEL.DEVICE``; fall back to CPU (logged) when CUDA is requested but unavailable."""
    if str(cfg.MODEL.DEVICE).startswith("cuda") and not torch.cuda.is_available():
        logger.warning(f"MODEL.DEVICE={cfg.MODEL.DEVICE} but CUDA is not available: running on CPU")
        frozen = cfg.is_frozen()
        cfg.defrost()
        cfg.MODEL.DEVICE = "cpu"
        if frozen:
            cfg.freeze()
    return cfg


def setup_inference_cfg(config_file=None, opts=(), decision_file=None):
    """The frozen config for inference (see the module docstring)."""
    cfg = get_cfg()
    add_forgery_config(cfg)
    if config_file:
        cfg.merge_from_file(config_file)
    if decision_file:
        cfg.merge_from_file(decision_file)
    cfg.merge_from_list(list(opts))
    resolve_device(cfg)
    cfg.freeze()
    return cfg


def build_inference_model(cfg):
    """``build_model(cfg)`` in eval mode with ``cfg.MODEL.WEIGHTS`` loaded."""
    model = build_model(cfg)
    model.eval()
    if cfg.MODEL.WEIGHTS:
        DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    else:
        logger.warning("MODEL.WEIGHTS is empty: the model is randomly initialized")
    return model


class BatchPredictor:
    """Runs a model on a batch of images (arrays in ``cfg.INPUT.FORMAT``), test-time resize like
    ``DefaultPredictor``; outputs at the original resolution."""

    def __init__(self, cfg, model=None):
        self.model = model if model is not None else build_inference_model(cfg)
        self.resize = (T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
                       if cfg.INPUT.MIN_SIZE_TEST > 0 else None)

    def __call__(self, images):
        inputs = []
        for image in images:
            h, w = image.shape[:2]
            resized = self.resize.get_transform(image).apply_image(image) if self.resize else image
            tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)).astype("float32"))
            inputs.append({"image": tensor, "height": h, "width": w})
        with torch.no_grad():
            return self.model(inputs)


def list_images(folder):
    """Image files of ``folder`` (not recursive), sorted; case_id = file stem (must be unique)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"input folder not found: {folder}")
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))
    stems = {}
    for p in paths:
        stem = os.path.splitext(os.path.basename(p))[0]
        if stem in stems:
            raise ValueError(f"two images share the case_id {stem!r}: {stems[stem]} and {p}")
        stems[stem] = p
    return paths


class ImageFolder(torch.utils.data.Dataset):
    """Images of a list of paths for a DataLoader: ``{"case_id", "file_name", "image" | "error"}``."""

    def __init__(self, paths, image_format="BGR"):
        self.paths = list(paths)
        self.image_format = image_format

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        from forgery_d2.data.io import DataError, read_image

        path = self.paths[index]
        item = {"case_id": os.path.splitext(os.path.basename(path))[0], "file_name": path}
        try:
            item["image"] = read_image(path, self.image_format)
        except (DataError, OSError, ValueError) as e:
            item["error"] = str(e)
        return item
