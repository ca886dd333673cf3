"""Small operations on instance masks shared by the matcher, the fusion and the decision rule."""

from .masks import binarize_masks, mask_iou, pairwise_mask_iou, to_numpy

__all__ = ["binarize_masks", "mask_iou", "pairwise_mask_iou", "to_numpy"]
