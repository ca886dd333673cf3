"""``FusionRCNN``: a Mask R-CNN and the keypoint matcher in one model, their instances fused.

The two views fail differently: the network sees forgery-like regions but cannot tell a copy from
an authentic look-alike; the matcher only fires on verified duplications but misses what keypoints
cannot see. ``MODEL.FUSION.MODE`` picks how their per-image instances are combined:

- ``union``: all instances of both; a matcher instance overlapping a network one (mask IoU >
  ``UNION_MERGE_IOU``) is merged into it (masks united, the higher score kept), not reported twice.
- ``boost``: the network's instances only, rescored by agreement: overlapping a matcher instance
  (IoU >= ``BOOST_AGREE_IOU``) raises ``s`` to ``s + BOOST * (1 - s)``, otherwise ``s * PENALTY``.
- ``network_if_matcher``: the network's instances, only on images where the matcher found something.
- ``matcher_if_network``: the matcher's instances, only where the network is confident (top score
  >= ``NETWORK_SCORE_THRESH``).
- ``verify_and_add``: the network as a learned verifier of the matcher's candidates, and a finder of
  what it misses. Each matcher instance keeps its (precise) mask and is rescored by the network's
  support for it, ``s``: the network's mean forged-pixel probability over the instance's mask (its
  soft masks' pixelwise maximum). The two are independent pieces of evidence, so their log-odds
  add: ``logit(score') = logit(matcher score) + VERIFY_WEIGHT * logit(s)`` (:func:`verified_scores`).
  A network instance that shares no more than ``VERIFY_SAME_FIND`` of its pixels with every matcher
  instance (intersection over the smaller area) is added as it is: a find of its own. The image score
  is the larger of the network's and the best rescored matcher score.

  Why log-odds and not a weighted mean: a mean lets a weak verifier overrule strong evidence. The
  matcher's score is a verified residual correlation (0.95-1.0 for a real copy), the network's
  support a probability from a model of held-out AUC ~0.8. With the mean at weight 0.5, a copy
  verified at 0.99 that the network does not see (s = 0.4) fell to 0.70, under the image threshold
  tuned on validation figures: ``make demo``'s fusion flagged 10 of the 30 forged test figures where
  the matcher alone flagged 12, and scored below it (0.594 against 0.659). In log-odds the same
  copy keeps 0.99, while a weak candidate (0.6) that the network contradicts (s = 0.1) still falls
  to 0.33.

  Why overlap over the smaller area and not IoU: the dense network's instance is its whole
  thresholded probability map, a blob that covers a matcher's copy and more. Its IoU with the copy
  is low, so it passed as a separate find and was reported beside the matcher's precise mask, an
  unmatched extra instance that lowered the oF1 of figures the matcher had found (docs/TRAINING.md,
  "The fusion"; docs/results/network/fusion/).

The network is any meta-architecture (``MODEL.FUSION.RCNN_META_ARCHITECTURE``: GeneralizedRCNN,
forgery_d2's ForgeryRCNN...) built from the same config; it lives in the ``rcnn`` submodule and is
what trains (the matcher has no parameters). ``MODEL.WEIGHTS`` from a plain R-CNN training load
directly: keys without the ``rcnn.`` prefix are given it on load.
"""

import logging
from dataclasses import dataclass
from typing import Dict, List, Optional

import detectron2.data.transforms as T
import numpy as np
import torch
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.structures import BitMasks, Instances
from torch import nn

from forgery_d2.data.mapper import resize_image_maps
from forgery_d2.structures.masks import (
    binarize_masks,
    pairwise_mask_containment,
    pairwise_mask_iou,
)

from ..copy_evidence import MAP_KEY
from .copy_move_matcher import CopyMoveMatcher

__all__ = [
    "FusionRCNN",
    "FusionRule",
    "fuse_instances",
    "FUSION_MODES",
    "network_support",
    "verified_scores",
    "fused_image_score",
]

logger = logging.getLogger(__name__)

FUSION_MODES = ("union", "boost", "network_if_matcher", "matcher_if_network", "verify_and_add")

# pred_sources values of fused instances.
FROM_NETWORK, FROM_MATCHER, FROM_BOTH = 0, 1, 2


def _as_dtype(masks: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """bool masks in the network's mask convention (bool, uint8 0/255 or float 0/1)."""
    if like.dtype == torch.bool:
        return masks
    if like.dtype == torch.uint8:
        return masks.to(torch.uint8) * 255
    return masks.to(like.dtype)


def _make_instances(
    image_size, masks, scores, sources, matcher=None, match_index=None
) -> Instances:
    """Instances sorted by score; with ``matcher`` and ``match_index`` (per instance, the matcher
    instance it comes from, -1 for none), the copy-move parts of that matcher instance
    (:func:`_attach_parts`)."""
    order = (
        torch.argsort(scores, descending=True, stable=True)
        if len(scores)
        else torch.zeros(0, dtype=torch.long)
    )
    result = Instances(image_size)
    result.pred_masks = masks[order]
    result.scores = scores[order].float()
    result.pred_classes = torch.zeros(len(order), dtype=torch.int64, device=scores.device)
    result.pred_boxes = BitMasks(binarize_masks(result.pred_masks, 0.5)).get_bounding_boxes()
    result.pred_sources = sources[order]
    if matcher is not None and match_index is not None:
        _attach_parts(result, matcher, match_index[order])
    return result


def _attach_parts(result: Instances, matcher: Instances, match_index: torch.Tensor) -> None:
    """Copy the matcher's source / copy masks, transforms and evidence (forgery_d2.modeling.
    meta_arch.copy_move_matcher) onto the fused instances that come from a matcher instance; the
    others get empty parts (the analyst's report shows no pair for them)."""
    if not (matcher.has("pred_source_masks") and matcher.has("pred_copy_masks")):
        return
    count, (height, width) = len(match_index), result.image_size
    device = result.scores.device
    sources = torch.zeros((count, height, width), dtype=torch.bool, device=device)
    copies = torch.zeros_like(sources)
    transforms = torch.zeros((count, 2, 3), dtype=torch.float32, device=device)
    evidence = []
    for k, j in enumerate(int(v) for v in match_index):
        if j < 0:
            evidence.append({"method": "network"})
            continue
        sources[k] = matcher.pred_source_masks[j].to(device).bool()
        copies[k] = matcher.pred_copy_masks[j].to(device).bool()
        if matcher.has("pred_transforms"):
            transforms[k] = matcher.pred_transforms[j].to(device).float()
        evidence.append(dict(matcher.pred_evidence[j]) if matcher.has("pred_evidence") else {})
    result.pred_source_masks, result.pred_copy_masks = sources, copies
    result.pred_transforms, result.pred_evidence = transforms, evidence


@dataclass(frozen=True)
class FusionRule:
    """How :func:`fuse_instances` combines the two views; one field per ``MODEL.FUSION`` key (whose
    comments in forgery_d2/config.py give the meaning and the default)."""

    mode: str
    mask_threshold: float
    union_merge_iou: float
    boost_agree_iou: float
    boost: float
    penalty: float
    network_score_thresh: float
    matcher_score_weight: float
    verify_weight: float
    verify_same_find: float

    def __post_init__(self):
        if self.mode not in FUSION_MODES:
            raise ValueError(f"MODEL.FUSION.MODE must be one of {FUSION_MODES}, got {self.mode!r}")

    @classmethod
    def from_config(cls, cfg) -> "FusionRule":
        fusion = cfg.MODEL.FUSION
        return cls(
            mode=fusion.MODE,
            mask_threshold=fusion.MASK_THRESHOLD,
            union_merge_iou=fusion.UNION_MERGE_IOU,
            boost_agree_iou=fusion.BOOST_AGREE_IOU,
            boost=fusion.BOOST,
            penalty=fusion.PENALTY,
            network_score_thresh=fusion.NETWORK_SCORE_THRESH,
            matcher_score_weight=fusion.MATCHER_SCORE_WEIGHT,
            verify_weight=fusion.VERIFY_WEIGHT,
            verify_same_find=fusion.VERIFY_SAME_FIND,
        )


def fuse_instances(network: Instances, matcher: Instances, rule: FusionRule) -> Instances:
    """Combine one image's network and matcher instances (same image size) by ``rule`` (see the
    module docstring). Output masks keep the network's convention (bool or uint8 0..255); the
    ``pred_sources`` field says where each instance came from (0 network, 1 matcher, 2 both)."""
    mode = rule.mode
    if tuple(network.image_size) != tuple(matcher.image_size):
        raise ValueError(
            f"image sizes differ: network {network.image_size}, matcher {matcher.image_size}"
        )
    device = network.scores.device
    net_masks = (
        network.pred_masks
        if network.has("pred_masks")
        else torch.zeros((0, *network.image_size), dtype=torch.bool)
    )
    net_masks = net_masks.to(device)
    net_scores = network.scores.float()
    match_masks = matcher.pred_masks.to(device).bool()
    match_scores = matcher.scores.to(device).float()
    net_binary = binarize_masks(net_masks, rule.mask_threshold)
    # Network x matcher mask IoU: only union and boost read it.
    iou = (
        pairwise_mask_iou(net_binary, match_masks).to(device)
        if mode in ("union", "boost")
        else None
    )
    net_sources = torch.full((len(net_scores),), FROM_NETWORK, dtype=torch.int64, device=device)
    match_sources = torch.full((len(match_scores),), FROM_MATCHER, dtype=torch.int64, device=device)

    if mode == "union":
        masks, scores, sources = net_masks.clone(), net_scores.clone(), net_sources.clone()
        match_index = torch.full((len(net_scores),), -1, dtype=torch.long)
        extra = []
        for j in range(len(match_scores)):
            score = match_scores[j] * rule.matcher_score_weight
            best = int(iou[:, j].argmax()) if len(net_scores) else -1
            if best >= 0 and iou[best, j] > rule.union_merge_iou:
                merged = (
                    binarize_masks(masks[best : best + 1], rule.mask_threshold)
                    | match_masks[j : j + 1]
                )
                if masks.dtype == torch.bool:
                    masks[best] = merged[0]
                else:
                    masks[best] = torch.maximum(masks[best], _as_dtype(match_masks[j], masks))
                scores[best] = torch.maximum(scores[best], score)
                sources[best] = FROM_BOTH
                match_index[best] = j
            else:
                extra.append(j)
        extra = torch.as_tensor(extra, dtype=torch.long, device=device)
        masks = torch.cat([masks, _as_dtype(match_masks[extra], net_masks)])
        scores = torch.cat([scores, match_scores[extra] * rule.matcher_score_weight])
        sources = torch.cat([sources, match_sources[extra]])
        match_index = torch.cat([match_index, extra.cpu()])
    elif mode == "boost":
        agrees = (
            (iou >= rule.boost_agree_iou).any(dim=1)
            if len(match_scores)
            else torch.zeros(len(net_scores), dtype=torch.bool, device=device)
        )
        scores = torch.where(
            agrees, net_scores + rule.boost * (1 - net_scores), net_scores * rule.penalty
        )
        masks = net_masks
        sources = torch.where(agrees, torch.full_like(net_sources, FROM_BOTH), net_sources)
        match_index = torch.full((len(net_scores),), -1, dtype=torch.long)
    elif mode == "network_if_matcher":
        keep = len(match_scores) > 0
        masks = net_masks if keep else net_masks[:0]
        scores = net_scores if keep else net_scores[:0]
        sources = net_sources if keep else net_sources[:0]
        match_index = torch.full((len(sources),), -1, dtype=torch.long)
    elif mode == "verify_and_add":
        support = network_support(net_masks, match_masks)
        verified = verified_scores(match_scores, support, rule.verify_weight)
        separate = (
            (pairwise_mask_containment(net_binary, match_masks) <= rule.verify_same_find).all(dim=1)
            if len(match_scores)
            else torch.ones(len(net_scores), dtype=torch.bool, device=device)
        )
        masks = torch.cat([_as_dtype(match_masks, net_masks), net_masks[separate]])
        scores = torch.cat([verified, net_scores[separate]])
        sources = torch.cat([torch.full_like(match_sources, FROM_BOTH), net_sources[separate]])
        match_index = torch.cat(
            [
                torch.arange(len(match_scores)),
                torch.full((int(separate.sum()),), -1, dtype=torch.long),
            ]
        )
    else:  # matcher_if_network
        keep = len(net_scores) > 0 and float(net_scores.max()) >= rule.network_score_thresh
        index = slice(None) if keep else slice(0, 0)
        masks = _as_dtype(match_masks[index], net_masks)
        scores = match_scores[index] * rule.matcher_score_weight
        sources = match_sources[index]
        match_index = torch.arange(len(match_scores))[index]
    return _make_instances(network.image_size, masks, scores, sources, matcher, match_index)


def network_support(network_masks: torch.Tensor, matcher_masks: torch.Tensor) -> torch.Tensor:
    """``(M,)``: the network's mean forged-pixel probability over each matcher mask, from the
    pixelwise maximum of its masks (uint8 x 255 soft, float 0..1, or bool); 0 without network masks."""
    if len(network_masks) == 0 or len(matcher_masks) == 0:
        return torch.zeros(len(matcher_masks), device=matcher_masks.device)
    if network_masks.dtype == torch.uint8:
        probability = network_masks.float().amax(dim=0) / 255.0
    else:
        probability = network_masks.float().amax(dim=0)
    area = matcher_masks.flatten(1).sum(dim=1).clamp(min=1)
    return (matcher_masks.float() * probability).flatten(1).sum(dim=1) / area


# Scores are clamped this far from 0 and 1 before their logit (a matcher score of exactly 1.0, or a
# network probability of 0, would otherwise make one view's evidence infinite).
_LOGIT_CLAMP = 1e-4


def verified_scores(
    matcher_scores: torch.Tensor, support: torch.Tensor, weight: float
) -> torch.Tensor:
    """``verify_and_add``'s rescoring: ``sigmoid(logit(matcher_scores) + weight * logit(support))``.
    Support 0.5 leaves a score as it is; weight 0 ignores the network."""
    matcher_scores = matcher_scores.float().clamp(_LOGIT_CLAMP, 1 - _LOGIT_CLAMP)
    support = support.float().clamp(_LOGIT_CLAMP, 1 - _LOGIT_CLAMP)
    return torch.sigmoid(torch.logit(matcher_scores) + weight * torch.logit(support))


def fused_image_score(
    mode: str, network_score: float, fused: Instances, matcher: Instances
) -> float:
    """The image score of a fused output: ``union`` raises the network's to the best matcher score,
    ``verify_and_add`` to the best rescored matcher instance; other modes keep the network's."""
    if mode == "union" and len(matcher):
        return max(network_score, float(matcher.scores.max()))
    if mode == "verify_and_add":
        rescored = fused.scores[fused.pred_sources == FROM_BOTH]
        if len(rescored):
            return max(network_score, float(rescored.max()))
    return network_score


@META_ARCH_REGISTRY.register()
class FusionRCNN(nn.Module):
    """A network meta-architecture (``self.rcnn``) and the copy-move matcher meta-architecture
    (``self.copy_move``, a :class:`CopyMoveMatcher`) whose inference outputs are fused by
    :func:`fuse_instances`. Training trains the network (its loss dict is returned unchanged)."""

    @configurable
    def __init__(
        self,
        *,
        rcnn: nn.Module,
        copy_move: CopyMoveMatcher,
        rule: FusionRule,
        rcnn_resize: Optional[T.ResizeShortestEdge] = None,
    ):
        """
        Args:
            rcnn: the network (any meta-architecture returning ``{"instances": ...}`` per image).
            copy_move: the copy-move matcher meta-architecture.
            rule: how the two outputs are fused (:class:`FusionRule`).
            rcnn_resize: test-time resize applied to the network's copy of each input (None: the
                network sees the input as given). Lets the matcher work on full-resolution inputs.
        """
        super().__init__()
        self.rcnn = rcnn
        self.copy_move = copy_move
        self.rule = rule
        self.rcnn_resize = rcnn_resize
        self.register_load_state_dict_pre_hook(_nest_plain_rcnn_keys)

    @classmethod
    def from_config(cls, cfg):
        fusion = cfg.MODEL.FUSION
        name = fusion.RCNN_META_ARCHITECTURE
        if name in ("FusionRCNN", "CopyMoveMatcher"):
            raise ValueError(f"MODEL.FUSION.RCNN_META_ARCHITECTURE must be a network, got {name!r}")
        rcnn_cfg = cfg.clone()
        rcnn_cfg.defrost()
        rcnn_cfg.MODEL.META_ARCHITECTURE = name
        return {
            "rcnn": META_ARCH_REGISTRY.get(name)(rcnn_cfg),
            "copy_move": CopyMoveMatcher(cfg),
            "rule": FusionRule.from_config(cfg),
            "rcnn_resize": (
                T.ResizeShortestEdge(fusion.RCNN_MIN_SIZE_TEST, fusion.RCNN_MAX_SIZE_TEST)
                if fusion.RCNN_MIN_SIZE_TEST > 0
                else None
            ),
        }

    @property
    def device(self):
        return next(self.rcnn.parameters()).device

    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        if self.training:
            return self.rcnn(batched_inputs)
        return self.inference(batched_inputs)

    def inference(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        """Per image ``{"instances": fused Instances}`` (plus the network's ``"image_score"``, if
        any, raised by :func:`fused_image_score`)."""
        network_outputs = self.rcnn([self._network_input(x) for x in batched_inputs])
        matcher_outputs = self.copy_move(batched_inputs)
        outputs = []
        for net, match in zip(network_outputs, matcher_outputs):
            fused = fuse_instances(
                net["instances"], match["instances"].to(net["instances"].scores.device), self.rule
            )
            output = {"instances": fused}
            if "image_score" in net:
                output["image_score"] = fused_image_score(
                    self.rule.mode, float(net["image_score"]), fused, match["instances"]
                )
            outputs.append(output)
        return outputs

    def _network_input(self, batched_input):
        """The input dict the network sees: the image (and its ``"image_maps"``, if any) resized by
        ``rcnn_resize`` (outputs still come back at the original ``height``/``width``)."""
        if self.rcnn_resize is None:
            return batched_input
        image = batched_input["image"].permute(1, 2, 0).numpy()
        resized = self.rcnn_resize.get_transform(image).apply_image(image)
        network_input = dict(
            batched_input,
            image=torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1))),
            height=batched_input.get("height", image.shape[0]),
            width=batched_input.get("width", image.shape[1]),
        )
        if MAP_KEY in batched_input:
            maps = batched_input[MAP_KEY].numpy()
            network_input[MAP_KEY] = torch.as_tensor(resize_image_maps(maps, *resized.shape[:2]))
        return network_input


def _nest_plain_rcnn_keys(
    module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
):
    """Load a checkpoint of the plain network: ``backbone.x`` -> ``rcnn.backbone.x``. Keys whose
    shapes do not fit are dropped with a warning (like fvcore's checkpointer does)."""
    own = {k: v.shape for k, v in module.rcnn.state_dict().items()}
    renamed = 0
    for key in list(state_dict.keys()):
        if not key.startswith(prefix):
            continue
        local = key[len(prefix) :]
        if local.startswith(("rcnn.", "copy_move.")):
            continue
        value = state_dict.pop(key)
        if local in own and hasattr(value, "shape") and tuple(value.shape) != tuple(own[local]):
            logger.warning(
                "Skip loading %s: shape %s in checkpoint, %s in model",
                local,
                tuple(value.shape),
                tuple(own[local]),
            )
            continue
        state_dict[prefix + "rcnn." + local] = value
        renamed += 1
    if renamed:
        logger.info(
            "FusionRCNN: loaded %d plain network weights into the `rcnn` submodule", renamed
        )
