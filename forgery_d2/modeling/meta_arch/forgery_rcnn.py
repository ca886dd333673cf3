"""ForgeryRCNN: detectron2's GeneralizedRCNN plus what the forgery decision rule needs.

Differences from ``GeneralizedRCNN`` (training is otherwise identical):

- an optional image-level gate (``MODEL.IMAGE_GATE``) on the backbone features, trained with BCE
  on each input's ``"label"`` (1 forged, 0 authentic; falls back to "has instances" when the
  mapper did not pass ``label``) and returned as ``"image_score"`` at inference;
- copy evidence (``MODEL.COPY_EVIDENCE``): the inputs' ``"image_maps"`` follow the normalized image
  as extra backbone channels (forgery_d2.modeling.copy_evidence);
- ``MODEL.FORGERY_RCNN.SOFT_MASKS``: inference returns ``pred_masks`` as ``uint8 (N, H, W)``
  probabilities scaled to 0..255 (see :func:`soft_mask_postprocess`), so that the decision
  rule's ``MASK_THRESH`` decides, instead of detectron2's fixed 0.5.

The output contract is in docs/DESIGN.md ("Model outputs"). Forensic streams and self-correlation
live in the backbone (forgery_d2.modeling.backbone), so they also work under plain GeneralizedRCNN.
"""

import logging
from typing import Dict, List, Optional

import torch
from detectron2.config import configurable
from detectron2.layers import paste_masks_in_image
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import ImageList, Instances
from detectron2.utils.events import get_event_storage
from torch import nn

from ..backbone import ForgeryFPN
from ..copy_evidence import CopyEvidence, evidence_tensor
from ..image_gate import build_image_gate

__all__ = ["ForgeryRCNN", "image_labels", "soft_mask_postprocess", "checked_copy_evidence"]

logger = logging.getLogger(__name__)


def image_labels(batched_inputs: List[dict], device) -> torch.Tensor:
    """Image-level targets ``float (N,)``: each input's ``"label"``, else whether it has instances."""
    labels = []
    for i, item in enumerate(batched_inputs):
        if "label" in item:
            label = int(item["label"])
            if label not in (0, 1):
                raise ValueError(
                    f"input {i} ({item.get('file_name', 'no file_name')}): image 'label' must be "
                    f"0 (authentic) or 1 (forged), got {item['label']!r}"
                )
        elif "instances" in item:
            label = int(len(item["instances"]) > 0)
        else:
            raise ValueError(
                f"input {i} ({item.get('file_name', 'no file_name')}): the image gate needs an "
                "image 'label' or ground-truth 'instances' in each training input"
            )
        labels.append(label)
    return torch.tensor(labels, dtype=torch.float32, device=device)


def soft_mask_postprocess(result: Instances, height: int, width: int) -> Instances:
    """``detector_postprocess`` that keeps mask probabilities: ``pred_masks`` becomes
    ``uint8 (N, height, width)`` = probability * 255.

    ``detector_postprocess(..., mask_threshold=-1)`` cannot do it: paste_masks_in_image does return
    uint8 for a negative threshold, but ``ROIMasks.to_bitmasks`` wraps it in ``BitMasks``, which
    casts to bool (detectron2 v0.6 and main). So the low-resolution masks ride through
    detector_postprocess (box rescaling, empty-box filtering) under another field and are pasted
    here with ``threshold=-1``.
    """
    if not result.has("pred_masks"):
        return detector_postprocess(result, height, width)
    result = Instances(result.image_size, **result.get_fields())
    result.set("roi_mask_probs", result.pred_masks)  # (N, 1, M, M) in [0, 1]
    result.remove("pred_masks")
    result = detector_postprocess(result, height, width)
    roi_masks = result.get("roi_mask_probs")
    result.remove("roi_mask_probs")
    result.pred_masks = paste_masks_in_image(
        roi_masks[:, 0, :, :], result.pred_boxes, (height, width), threshold=-1
    )
    return result


def checked_copy_evidence(cfg, backbone) -> Optional[CopyEvidence]:
    """The copy-evidence map function of ``cfg`` (None when off); an error when the backbone cannot
    take its channels."""
    evidence = CopyEvidence.from_config(cfg)
    if evidence is not None and not (
        isinstance(backbone, ForgeryFPN) and backbone.evidence_channels
    ):
        raise ValueError(
            "MODEL.COPY_EVIDENCE.ENABLED needs a backbone that takes the evidence channels: MODEL.BACKBONE.NAME "
            f"build_forensic_resnet_fpn_backbone / build_mobilenetv3_fpn_backbone / build_forensic_fpn_backbone, "
            f"got {cfg.MODEL.BACKBONE.NAME!r}"
        )
    return evidence


@META_ARCH_REGISTRY.register()
class ForgeryRCNN(GeneralizedRCNN):
    """GeneralizedRCNN with an optional image-level gate and soft (0..255) mask outputs."""

    @configurable
    def __init__(
        self,
        *,
        image_gate: Optional[nn.Module] = None,
        soft_masks: bool = True,
        copy_evidence: Optional[CopyEvidence] = None,
        **kwargs,
    ):
        """
        Args:
            image_gate: head from :func:`build_image_gate`, or None (no ``image_score``).
            soft_masks: return ``uint8`` 0..255 mask probabilities instead of ``bool`` masks.
            copy_evidence: the copy-evidence map function when the backbone takes its channels
                (for inputs that come without ``"image_maps"``), else None.
            kwargs: the arguments of :class:`GeneralizedRCNN`.
        """
        super().__init__(**kwargs)
        self.image_gate = image_gate
        self.soft_masks = soft_masks
        self.copy_evidence = copy_evidence

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        ret["soft_masks"] = cfg.MODEL.FORGERY_RCNN.SOFT_MASKS
        ret["copy_evidence"] = checked_copy_evidence(cfg, ret["backbone"])
        if cfg.MODEL.IMAGE_GATE.ENABLED:
            ret["image_gate"] = build_image_gate(cfg, ret["backbone"].output_shape())
        return ret

    def preprocess_image(self, batched_inputs: List[Dict[str, torch.Tensor]]) -> ImageList:
        """GeneralizedRCNN's normalized, padded images, followed by the copy-evidence channels when
        the backbone takes them."""
        images = super().preprocess_image(batched_inputs)
        if self.copy_evidence is None:
            return images
        evidence = evidence_tensor(batched_inputs, images, self.copy_evidence)
        return ImageList(torch.cat([images.tensor, evidence], dim=1), images.image_sizes)

    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        """Training: the loss dict of GeneralizedRCNN (+ ``loss_image_gate``). Inference: see
        :meth:`inference`."""
        if not self.training:
            return self.inference(batched_inputs)

        images = self.preprocess_image(batched_inputs)
        gt_instances = None
        if "instances" in batched_inputs[0]:
            gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        features = self.backbone(images.tensor)

        if self.proposal_generator is not None:
            proposals, proposal_losses = self.proposal_generator(images, features, gt_instances)
        else:
            assert "proposals" in batched_inputs[0]
            proposals = [x["proposals"].to(self.device) for x in batched_inputs]
            proposal_losses = {}
        _, detector_losses = self.roi_heads(images, features, proposals, gt_instances)
        if self.vis_period > 0:
            storage = get_event_storage()
            if storage.iter % self.vis_period == 0:
                self.visualize_training(batched_inputs, proposals)

        losses = {}
        losses.update(detector_losses)
        losses.update(proposal_losses)
        if self.image_gate is not None:
            logits = self.image_gate(features, images.image_sizes)
            losses.update(self.image_gate.losses(logits, image_labels(batched_inputs, self.device)))
        return losses

    def inference(
        self,
        batched_inputs: List[Dict[str, torch.Tensor]],
        detected_instances: Optional[List[Instances]] = None,
        do_postprocess: bool = True,
    ):
        """Per image ``{"instances": Instances}`` at the input's ``height``/``width`` (soft masks
        when configured), plus ``"image_score"`` (float) when the gate is enabled. With
        ``do_postprocess=False``: the raw ``list[Instances]`` like GeneralizedRCNN."""
        assert not self.training
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)

        if detected_instances is None:
            if self.proposal_generator is not None:
                proposals, _ = self.proposal_generator(images, features, None)
            else:
                assert "proposals" in batched_inputs[0]
                proposals = [x["proposals"].to(self.device) for x in batched_inputs]
            results, _ = self.roi_heads(images, features, proposals, None)
        else:
            detected_instances = [x.to(self.device) for x in detected_instances]
            results = self.roi_heads.forward_with_given_boxes(features, detected_instances)

        if not do_postprocess:
            return results

        processed = []
        for result, item, image_size in zip(results, batched_inputs, images.image_sizes):
            height = item.get("height", image_size[0])
            width = item.get("width", image_size[1])
            if self.soft_masks:
                result = soft_mask_postprocess(result, height, width)
            else:
                result = detector_postprocess(result, height, width)
            processed.append({"instances": result})
        if self.image_gate is not None:
            scores = torch.sigmoid(self.image_gate(features, images.image_sizes))
            for output, score in zip(processed, scores.tolist()):
                output["image_score"] = score
        return processed
