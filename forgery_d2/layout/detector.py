"""DetectorLayoutAnalyzer: panels, text and marks from a trained detectron2 Faster R-CNN.

The detector (``configs/layout/layout_R_18_FPN.yaml``: ``GeneralizedRCNN``, classes panel / text /
mark) is trained with ``tools/train_net.py`` on the synthetic figures' layout boxes. Its boxes
become a :class:`FigureLayout`: panels above ``panel_score_thresh`` (the whole content box when
none is), text / marks above their thresholds, and the ink mask: in each text / mark box, the
pixels that differ from the box's surroundings (the median colour of a 2-px ring around it) and
are close to the box's ink colour (the colour of its pixels most unlike the surroundings).
"""

import os

import cv2
import numpy as np
import torch
from detectron2.config import get_cfg
from detectron2.engine import DefaultPredictor

from forgery_d2.config import add_forgery_config, fall_back_to_cpu

from .canvas import as_rgb, canvas_mask, colour_distance, estimate_canvas_colour
from .panels import content_box
from .structures import MARK, TEXT, FigureLayout

__all__ = ["LayoutConfigError", "DetectorLayoutAnalyzer", "box_ink", "load_detector_config"]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PANEL_CLASS, TEXT_CLASS, MARK_CLASS = 0, 1, 2  # the detector's contiguous class ids


class LayoutConfigError(ValueError):
    """A ``MODEL.LAYOUT`` value that cannot be used (the message names the key)."""


def _resolve(path, key):
    for candidate in (path, os.path.join(REPO_ROOT, path)):
        if candidate and os.path.isfile(candidate):
            return candidate
    raise LayoutConfigError(
        f"{key}: file not found: {path!r} (relative paths are tried against the current "
        f"directory and {REPO_ROOT})"
    )


def load_detector_config(config_file, weights, device=None):
    """The frozen detectron2 config of the layout detector: forgery_d2's keys, ``config_file``,
    ``MODEL.WEIGHTS = weights``; CUDA falls back to CPU when no GPU is present."""
    cfg = get_cfg()
    add_forgery_config(cfg)
    cfg.merge_from_file(_resolve(config_file, "MODEL.LAYOUT.DETECTOR.CONFIG"))
    if not weights:
        raise LayoutConfigError(
            "MODEL.LAYOUT.DETECTOR.WEIGHTS is empty: train the layout detector "
            "(python tools/train_net.py --config-file configs/layout/layout_R_18_FPN.yaml) "
            "and give its model_final.pth"
        )
    cfg.MODEL.WEIGHTS = _resolve(weights, "MODEL.LAYOUT.DETECTOR.WEIGHTS")
    if device:
        cfg.MODEL.DEVICE = device
    fall_back_to_cpu(cfg)
    cfg.freeze()
    return cfg


def box_ink(rgb, box, tolerance, ring=2):
    """bool ``(y1 - y0, x1 - x0)``: the ink of the text / mark in the integer XYXY ``box`` of the
    RGB figure (see the module docstring)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    crop = rgb[y0:y1, x0:x1]
    outer = rgb[max(y0 - ring, 0) : min(y1 + ring, h), max(x0 - ring, 0) : min(x1 + ring, w)]
    around = np.ones(outer.shape[:2], bool)
    around[
        y0 - max(y0 - ring, 0) : y0 - max(y0 - ring, 0) + (y1 - y0),
        x0 - max(x0 - ring, 0) : x0 - max(x0 - ring, 0) + (x1 - x0),
    ] = False
    if not around.any() or crop.size == 0:  # the box covers the figure: no surroundings
        return np.zeros(crop.shape[:2], bool)
    background = np.median(outer[around], axis=0)
    difference = colour_distance(crop, background)
    strongest = difference.max()
    if strongest <= tolerance:
        return np.zeros(crop.shape[:2], bool)
    ink_colour = np.median(crop[difference >= 0.75 * strongest], axis=0)
    return (difference > tolerance) & (colour_distance(crop, ink_colour) <= tolerance)


class DetectorLayoutAnalyzer:
    """``analyzer(image) -> FigureLayout`` with a trained layout detector (see module doc)."""

    def __init__(
        self,
        detector_cfg,
        *,
        panel_score_thresh,
        text_score_thresh,
        mark_score_thresh,
        ink_tolerance,
        ink_dilation,
        canvas_tolerance,
    ):
        """``detector_cfg``: a detectron2 config with ``MODEL.WEIGHTS``
        (:func:`load_detector_config`); the other arguments are the ``MODEL.LAYOUT.DETECTOR`` keys
        of the same names (:meth:`from_config`; forgery_d2/config.py documents them)."""
        self.predictor = DefaultPredictor(detector_cfg)
        self.thresholds = {
            PANEL_CLASS: panel_score_thresh,
            TEXT_CLASS: text_score_thresh,
            MARK_CLASS: mark_score_thresh,
        }
        self.ink_tolerance = ink_tolerance
        self.ink_dilation = ink_dilation
        self.canvas_tolerance = canvas_tolerance

    @classmethod
    def from_config(cls, cfg) -> "DetectorLayoutAnalyzer":
        """From ``cfg.MODEL.LAYOUT.DETECTOR`` (and the classical canvas tolerance)."""
        d = cfg.MODEL.LAYOUT.DETECTOR
        return cls(
            load_detector_config(d.CONFIG, d.WEIGHTS),
            panel_score_thresh=d.PANEL_SCORE_THRESH,
            text_score_thresh=d.TEXT_SCORE_THRESH,
            mark_score_thresh=d.MARK_SCORE_THRESH,
            ink_tolerance=d.INK_TOLERANCE,
            ink_dilation=d.INK_DILATION,
            canvas_tolerance=cfg.MODEL.LAYOUT.CLASSICAL.CANVAS_TOLERANCE,
        )

    def detect(self, image):
        """Raw detections: ``(boxes (N, 4) float32 XYXY, scores (N,), classes (N,))``."""
        rgb = as_rgb(image)
        with torch.no_grad():
            instances = self.predictor(rgb[:, :, ::-1])["instances"].to(
                "cpu"
            )  # DefaultPredictor takes BGR
        return (
            instances.pred_boxes.tensor.numpy().astype(np.float32),
            instances.scores.numpy().astype(np.float32),
            instances.pred_classes.numpy().astype(np.int64),
        )

    def __call__(self, image) -> FigureLayout:
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        boxes, scores, classes = self.detect(rgb)
        keep = scores >= np.array(
            [self.thresholds.get(int(c), 1.0) for c in classes], np.float32
        ).reshape(-1)
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]

        is_panel = classes == PANEL_CLASS
        panels, panel_scores = boxes[is_panel], scores[is_panel]
        if (
            len(panels) == 0
        ):  # no panel found: the content box (or the whole figure) is the one panel
            colour = estimate_canvas_colour(rgb, self.canvas_tolerance)
            content = ~canvas_mask(rgb, colour, self.canvas_tolerance)
            panels = np.asarray([content_box(content, (0, 0, w, h)) or (0, 0, w, h)], np.float32)
            panel_scores = np.zeros(1, np.float32)
        in_panel = np.zeros((h, w), bool)
        for x0, y0, x1, y1 in _integer_boxes(panels, h, w):
            in_panel[y0:y1, x0:x1] = True

        is_mark = (classes == TEXT_CLASS) | (classes == MARK_CLASS)
        marks = boxes[is_mark]
        mark_mask = np.zeros((h, w), bool)
        for x0, y0, x1, y1 in _integer_boxes(marks, h, w):
            mark_mask[y0:y1, x0:x1] |= box_ink(rgb, (x0, y0, x1, y1), self.ink_tolerance)
        if self.ink_dilation > 0 and mark_mask.any():
            kernel = np.ones((2 * self.ink_dilation + 1,) * 2, np.uint8)
            mark_mask = cv2.dilate(mark_mask.astype(np.uint8), kernel).astype(bool)
        mark_labels = np.where(classes[is_mark] == TEXT_CLASS, TEXT, MARK)
        return FigureLayout(
            panels=panels,
            panel_scores=panel_scores,
            marks=marks,
            mark_labels=mark_labels,
            mark_scores=scores[is_mark],
            mark_mask=mark_mask,
            background_mask=~in_panel,
        )


def _integer_boxes(boxes, h, w):
    """XYXY float boxes as integer pixel ranges clipped to the figure (empty ones dropped)."""
    out = []
    for x0, y0, x1, y1 in np.asarray(boxes, np.float32).reshape(-1, 4):
        b = (
            int(np.floor(max(x0, 0))),
            int(np.floor(max(y0, 0))),
            int(np.ceil(min(x1, w))),
            int(np.ceil(min(y1, h))),
        )
        if b[2] > b[0] and b[3] > b[1]:
            out.append(b)
    return out
