"""Copy evidence as network input: the dense self-similarity map of
forgery_d2.matching.self_similarity_map, entered as extra input channels of the backbone.

The map is a deterministic function of the *original* figure (the grain it compares does not survive
resizing), so it is computed once per image at full size, before augmentation, and sent along the
image's geometric transforms (forgery_d2.data.mapper's ``image_maps``; flips and 90-degree turns
commute with it). :class:`CopyEvidence` is that function, with an optional disk cache
(``MODEL.COPY_EVIDENCE.CACHE_DIR``): the key is the file's path, size and modification time and
every setting, so a changed image or setting never reads a stale map.

Inputs reach the model with ``"image_maps"`` (``uint8 (C, H, W)``, 0..255 = 0..1) when they come from
forgery_d2's mapper or predictor; an input without it (e.g. detectron2's ``DefaultPredictor``) gets
the map computed from the image the model was given, with a one-time warning, since that image may
already be downscaled. :func:`evidence_tensor` turns the inputs of a batch into the channels that
:class:`~forgery_d2.modeling.backbone.ForgeryFPN` takes after the normalized image.
"""

import hashlib
import logging
import os
from typing import List, Optional

import numpy as np
import torch
from detectron2.structures import ImageList

from forgery_d2.data.mapper import resize_image_maps
from forgery_d2.matching.self_similarity_map import (
    MAP_CHANNELS,
    SelfSimilarityParams,
    self_similarity_map,
)

__all__ = ["CopyEvidence", "evidence_channels", "evidence_tensor", "MAP_KEY"]

logger = logging.getLogger(__name__)

MAP_KEY = "image_maps"  # the model input key forgery_d2.data.mapper writes
_warned_missing_maps = False


def evidence_channels(cfg) -> int:
    """Input channels the copy evidence adds to the backbone (0 when it is off)."""
    return len(MAP_CHANNELS) if cfg.MODEL.COPY_EVIDENCE.ENABLED else 0


class CopyEvidence:
    """``(image, dataset dict) -> uint8 (C, h, w)`` copy-evidence map of an original image (module
    docstring); callable as forgery_d2.data.mapper's ``image_maps``."""

    def __init__(
        self, params: SelfSimilarityParams, input_format: str = "RGB", cache_dir: str = ""
    ):
        self.params = params
        self.channel_order = "BGR" if input_format.upper() == "BGR" else "RGB"
        self.cache_dir = cache_dir
        self._settings = hashlib.sha1(params.cache_key().encode()).hexdigest()[:12]
        if cache_dir:
            os.makedirs(cache_dir, exist_ok=True)

    @classmethod
    def from_config(cls, cfg) -> Optional["CopyEvidence"]:
        """The configured map function, or None when ``MODEL.COPY_EVIDENCE.ENABLED`` is off."""
        if not cfg.MODEL.COPY_EVIDENCE.ENABLED:
            return None
        return cls(
            SelfSimilarityParams.from_config(cfg),
            cfg.INPUT.FORMAT,
            cfg.MODEL.COPY_EVIDENCE.CACHE_DIR,
        )

    def compute(self, image: np.ndarray) -> np.ndarray:
        """The map of ``image`` (``(H, W, C)`` in the configured INPUT.FORMAT): ``uint8 (C, h, w)``."""
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        values = self_similarity_map(image, self.params, self.channel_order)
        return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)

    def _cache_path(self, file_name: str) -> Optional[str]:
        try:
            stat = os.stat(file_name)
        except OSError:
            return None
        key = f"{os.path.abspath(file_name)}|{stat.st_size}|{stat.st_mtime_ns}|{self.channel_order}|{self._settings}"
        return os.path.join(self.cache_dir, hashlib.sha1(key.encode()).hexdigest() + ".npy")

    def __call__(self, image: np.ndarray, dataset_dict: Optional[dict] = None) -> np.ndarray:
        file_name = (dataset_dict or {}).get("file_name")
        path = self._cache_path(file_name) if (self.cache_dir and file_name) else None
        if path and os.path.exists(path):
            try:
                return np.load(path)
            except (OSError, ValueError):
                logger.warning(
                    f"copy evidence: unreadable cache file {path} (for {file_name}), recomputing it"
                )
        maps = self.compute(image)
        if path:
            temporary = f"{path}.{os.getpid()}.tmp.npy"
            np.save(temporary, maps)
            os.replace(
                temporary, path
            )  # atomic: parallel data-loader workers never read half a file
        return maps


def evidence_tensor(
    batched_inputs: List[dict], images: ImageList, evidence: CopyEvidence
) -> torch.Tensor:
    """The batch's copy-evidence channels, ``float (N, C, H, W)`` in [0, 1], padded like ``images``
    (the normalized image batch; padding = 0 = no evidence). Inputs without ``"image_maps"`` get
    the map of their ``"image"`` (warned once)."""
    global _warned_missing_maps
    maps = []
    for item, (height, width) in zip(batched_inputs, images.image_sizes):
        value = item.get(MAP_KEY)
        if value is None:
            if not _warned_missing_maps:
                logger.warning(
                    "copy evidence: an input has no 'image_maps' (not built by forgery_d2's mapper or "
                    "predictor); computing it from the image the model got, which may be downscaled"
                )
                _warned_missing_maps = True
            image = item["image"].permute(1, 2, 0).cpu().numpy()
            if image.dtype != np.uint8:
                image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
            value = torch.as_tensor(resize_image_maps(evidence.compute(image), height, width))
        if tuple(value.shape[-2:]) != (height, width):
            raise ValueError(
                f"input {item.get('file_name', '')}: image_maps {tuple(value.shape)} do not match "
                f"the image size {(height, width)}"
            )
        maps.append(value.to(images.tensor.device, torch.float32) / 255.0)
    padded = torch.zeros(
        len(maps), maps[0].shape[0], *images.tensor.shape[-2:], device=images.tensor.device
    )
    for i, value in enumerate(maps):
        padded[i, :, : value.shape[1], : value.shape[2]] = value
    return padded
