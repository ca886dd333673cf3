"""Overlays of a decision (final masks, boxes, scores) and optional ground truth on an image."""

import numpy as np
from detectron2.data import MetadataCatalog
from detectron2.utils.visualizer import ColorMode, Visualizer

__all__ = ["draw_decision"]

GT_COLOR = (0.1, 0.9, 0.1)  # ground truth: green outlines/fill
PRED_COLOR = (0.95, 0.1, 0.1)  # predictions: red


def draw_decision(image_rgb, decision, gt_masks=None, title=None) -> np.ndarray:
    """RGB ``uint8 (H, W, 3)`` overlay: predicted instances (mask, box, score) in red, ground-truth
    channels (if given) in green, and the image-level verdict in the corner."""
    metadata = MetadataCatalog.get("__forgery_vis__")
    metadata.thing_classes = ["forged"]
    vis = Visualizer(image_rgb, metadata, instance_mode=ColorMode.IMAGE)
    if gt_masks is not None:
        for m in gt_masks:
            if m.any():
                vis.draw_binary_mask(
                    m.astype(bool), color=GT_COLOR, edge_color=GT_COLOR, alpha=0.25
                )
    if decision.forged:
        labels = [f"forged {s:.2f}" for s in decision.scores]
        vis.overlay_instances(
            masks=decision.masks,
            boxes=decision.boxes(),
            labels=labels,
            assigned_colors=[PRED_COLOR] * len(decision.masks),
            alpha=0.4,
        )
    verdict = (
        "forged" if decision.forged else "authentic"
    ) + f" (image score {decision.image_score:.2f})"
    vis.draw_text(
        verdict if title is None else f"{title}: {verdict}",
        (4, 4),
        horizontal_alignment="left",
        color="white",
        font_size=max(10, image_rgb.shape[0] // 40),
    )
    return vis.get_output().get_image()
