"""``CopyMoveMatcher``: a training-free copy-move matcher as a detectron2 meta-architecture.

Build it from a config (``MODEL.META_ARCHITECTURE: "CopyMoveMatcher"``; ``MODEL.COPY_MOVE.MATCHER``
picks the matcher: ``"figure"``, the figure-aware :class:`forgery_d2.matching.FigureMatcher`
(settings ``MODEL.FIGURE_MATCHER``, ``MODEL.LAYOUT`` and its keypoint stage
``MODEL.KEYPOINT_MATCHER``), or ``"keypoint"``, the plain :class:`forgery_d2.matching.KeypointMatcher`
(``MODEL.KEYPOINT_MATCHER``)) and run it wherever a Mask R-CNN runs at inference:
``tools/predict.py``, ``tools/eval_oF1.py``, ``DefaultPredictor``. It returns per image the standard
``{"instances": Instances}`` at the original resolution (``height``/``width`` of the input dict):
``pred_masks`` bool (N, H, W) (source and copy of one duplication), ``scores`` (verification
confidence in [0, 1]), ``pred_boxes``, ``pred_classes`` (0), and the copy-move parts:
``pred_source_masks`` / ``pred_copy_masks`` bool (N, H, W), ``pred_transforms`` (N, 2, 3: source
-> copy in original pixels), ``pred_evidence`` (a list of N JSON-able dicts).

Training: the matcher has no parameters. In training mode ``forward`` raises a clear error instead
of returning an empty loss dict, because a trainer would otherwise build an optimizer over nothing
(or "train" for hours doing nothing). Evaluate it with ``--eval-only`` / ``tools/eval_oF1.py``.
"""

from typing import Callable, Dict, List

import cv2
import numpy as np
import torch
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.structures import BitMasks, Boxes, Instances
from torch import nn

from forgery_d2.layout import build_layout_analyzer
from forgery_d2.matching.figure_matcher import FigureMatcher, FigureMatcherParams
from forgery_d2.matching.keypoint_matcher import KeypointMatcher, KeypointMatcherParams
from forgery_d2.matching.results import CopyMoveResult

__all__ = [
    "CopyMoveMatcher",
    "COPY_MOVE_MATCHERS",
    "build_copy_move_matcher",
    "image_from_input",
    "result_to_instances",
]


COPY_MOVE_MATCHERS = ("figure", "keypoint")


def build_copy_move_matcher(cfg):
    """The numpy matcher named by ``MODEL.COPY_MOVE.MATCHER``, configured from ``cfg``."""
    name = cfg.MODEL.COPY_MOVE.MATCHER
    if name == "figure":
        return FigureMatcher(FigureMatcherParams.from_config(cfg), build_layout_analyzer(cfg))
    if name == "keypoint":
        return KeypointMatcher(KeypointMatcherParams.from_config(cfg))
    raise ValueError(f"MODEL.COPY_MOVE.MATCHER must be one of {COPY_MOVE_MATCHERS}, got {name!r}")


def image_from_input(image: torch.Tensor, input_format: str):
    """detectron2's ``"image"`` tensor (C, H, W in ``INPUT.FORMAT``) -> (uint8 HWC array, channel order)."""
    array = image.detach().cpu()
    if array.dtype != torch.uint8:
        array = array.clamp(0, 255).round().to(torch.uint8)
    array = array.permute(1, 2, 0).numpy()
    return array, ("BGR" if input_format.upper() == "BGR" else "RGB")


def result_to_instances(result: CopyMoveResult, height: int, width: int, device=None) -> Instances:
    """Matcher result -> Instances of size (height, width) (masks resized from the matched image),
    with the copy-move parts of each instance (docs/DESIGN.md, "Model outputs")."""
    n = len(result.instances)
    masks = np.zeros((3, n, height, width), dtype=bool)  # union, source, copy
    transforms = np.zeros((n, 2, 3), dtype=np.float32)
    in_height, in_width = result.image_size
    sx, sy = width / in_width, height / in_height
    for i, instance in enumerate(result.instances):
        for k, mask in enumerate((instance.mask, instance.source_mask, instance.copy_mask)):
            if mask.shape != (height, width):
                mask = (
                    cv2.resize(
                        mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
                    )
                    > 0
                )
            masks[k, i] = mask
        # Same map in output pixels: x_out = S x_in, so T_out = S T_in S^-1.
        scale = np.diag([sx, sy])
        transforms[i, :, :2] = scale @ instance.matrix[:, :2] @ np.linalg.inv(scale)
        transforms[i, :, 2] = scale @ instance.matrix[:, 2]
    instances = Instances((height, width))
    pred_masks = torch.from_numpy(masks[0])
    instances.pred_masks = pred_masks
    instances.pred_boxes = (
        BitMasks(pred_masks).get_bounding_boxes() if n else Boxes(torch.zeros((0, 4)))
    )
    instances.scores = torch.tensor([i.score for i in result.instances], dtype=torch.float32)
    instances.pred_classes = torch.zeros(n, dtype=torch.int64)
    instances.pred_source_masks = torch.from_numpy(masks[1])
    instances.pred_copy_masks = torch.from_numpy(masks[2])
    instances.pred_transforms = torch.from_numpy(transforms)
    instances.pred_evidence = [dict(i.evidence) for i in result.instances]
    return instances.to(device) if device is not None else instances


@META_ARCH_REGISTRY.register()
class CopyMoveMatcher(nn.Module):
    """A training-free copy-move matcher (forgery_d2.matching) as a model; see the module docstring."""

    @configurable
    def __init__(self, *, matcher: Callable, input_format: str = "RGB"):
        """
        Args:
            matcher: ``matcher(image, channel_order) -> CopyMoveResult``, e.g. a configured
                :class:`FigureMatcher` or :class:`KeypointMatcher`.
            input_format: channel order of the ``"image"`` tensors (``INPUT.FORMAT``).
        """
        super().__init__()
        self.matcher = matcher
        self.input_format = input_format
        # Parameter-free: a buffer tells callers which device outputs should live on.
        self.register_buffer("_device_anchor", torch.zeros(0), persistent=False)

    @classmethod
    def from_config(cls, cfg):
        return {"matcher": build_copy_move_matcher(cfg), "input_format": cfg.INPUT.FORMAT}

    @property
    def device(self):
        return self._device_anchor.device

    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        if self.training:
            raise RuntimeError(
                "CopyMoveMatcher has no trainable parameters and cannot be trained. Evaluate it "
                "with `tools/eval_oF1.py` or `tools/train_net.py --eval-only`; to train a network next to "
                "it use MODEL.META_ARCHITECTURE: FusionRCNN (configs/fusion/)."
            )
        return self.inference(batched_inputs)

    def inference(
        self, batched_inputs: List[Dict[str, torch.Tensor]]
    ) -> List[Dict[str, Instances]]:
        """Per image ``{"instances": Instances}`` at the input dict's ``height`` x ``width``."""
        outputs = []
        for item in batched_inputs:
            image, channel_order = image_from_input(item["image"], self.input_format)
            result = self.matcher(image, channel_order)
            height = int(item.get("height", image.shape[0]))
            width = int(item.get("width", image.shape[1]))
            outputs.append({"instances": result_to_instances(result, height, width, self.device)})
        return outputs
