"""Instance masks as forgery_d2's models produce them, and the overlap measures between them.

A model's ``pred_masks`` are either ``bool`` (already thresholded, detectron2's default),
``uint8`` probabilities scaled to 0..255 (soft masks) or ``float`` probabilities in [0, 1]
(docs/DESIGN.md, "Model outputs"). :func:`binarize_masks` is the one place that turns any of them
into ``bool``, for numpy arrays and torch tensors alike.
"""

import numpy as np
import torch

__all__ = [
    "binarize_masks",
    "mask_box",
    "mask_iou",
    "pairwise_mask_containment",
    "pairwise_mask_iou",
    "to_numpy",
]


def to_numpy(x) -> np.ndarray:
    """A torch tensor (any device and dtype) or array-like -> numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def binarize_masks(masks, threshold: float):
    """bool masks from bool / uint8 (probability x 255) / float (probability) masks: a pixel is
    foreground when its probability is ``>= threshold``. Keeps the container type (numpy or torch)."""
    if isinstance(masks, torch.Tensor):
        if masks.dtype == torch.bool:
            return masks
        if masks.dtype == torch.uint8:
            return masks >= threshold * 255.0
        if masks.is_floating_point():
            return masks >= threshold
        raise TypeError(
            f"pred_masks must be bool, uint8 (probability x 255) or float, got {masks.dtype}"
        )
    masks = np.asarray(masks)
    if masks.dtype == np.bool_:
        return masks
    if masks.dtype == np.uint8:
        return masks >= threshold * 255.0
    if np.issubdtype(masks.dtype, np.floating):
        return masks >= threshold
    raise TypeError(
        f"pred_masks must be bool, uint8 (probability x 255) or float, got {masks.dtype}"
    )


def _pairwise_overlap(a, b, over_smaller: bool):
    """Shared body of :func:`pairwise_mask_iou` and :func:`pairwise_mask_containment`."""
    as_torch = isinstance(a, torch.Tensor)
    ta = a if as_torch else torch.from_numpy(np.asarray(a))
    tb = (
        b.to(ta.device)
        if isinstance(b, torch.Tensor)
        else torch.from_numpy(np.asarray(b)).to(ta.device)
    )
    if len(ta) == 0 or len(tb) == 0:
        overlap = torch.zeros((len(ta), len(tb)), device=ta.device)
    else:
        fa, fb = ta.flatten(1).float(), tb.flatten(1).float()
        intersection = fa @ fb.T
        area_a, area_b = fa.sum(1)[:, None], fb.sum(1)[None, :]
        if over_smaller:
            denominator = torch.minimum(area_a, area_b)
        else:
            denominator = area_a + area_b - intersection
        overlap = intersection / denominator.clamp(min=1)
    return overlap if as_torch else overlap.cpu().numpy()


def pairwise_mask_iou(a, b):
    """Mask IoU matrix ``(len(a), len(b))`` of two stacks of bool masks ``(N, H, W)`` (torch tensors
    or numpy arrays; the result has the type of ``a``). Two empty masks have IoU 0."""
    return _pairwise_overlap(a, b, over_smaller=False)


def pairwise_mask_containment(a, b):
    """Like :func:`pairwise_mask_iou`, intersection over the smaller of the two areas: 1 when one
    mask lies inside the other, however much larger the other is (0 with an empty mask)."""
    return _pairwise_overlap(a, b, over_smaller=True)


def mask_box(mask):
    """``(x0, y0, x1, y1)`` ints, the bounding box of a bool mask's pixels (exclusive end); None
    when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks of one image (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
