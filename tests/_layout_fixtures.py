"""Real figure fixtures for the layout tests: panels cut from the real scientific images shipped in
scikit-image's wheel and from procedurally drawn blots, composed on a canvas, with text rendered
in DejaVu TrueType fonts (matplotlib's) and OpenCV Hershey fonts, scale bars and arrows.

``FigureBuilder`` records the ground truth of everything it draws: panel boxes, text / mark boxes
(tight around their ink) and the exact ink pixels, and can write a set of figures as PNGs plus a
COCO detection JSON in the layout contract (categories panel=1, text=2, mark=3).
"""
import json
import os

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from forgery_d2.data.synthetic.blots import draw_blot
from forgery_d2.data.synthetic.sources import skimage_image_paths

__all__ = ["FigureBuilder", "photo", "blot", "write_coco_figures", "LAYOUT_CATEGORIES"]

FONT_DIR = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
LAYOUT_CATEGORIES = [{"id": 1, "name": "panel"}, {"id": 2, "name": "text"}, {"id": 3, "name": "mark"}]
_PHOTOS = {os.path.basename(p): p for p in skimage_image_paths()}


def photo(name, height, width, rng, colour=None):
    """A random crop of the skimage image ``name`` resized to ``(height, width)``, uint8 RGB;
    ``colour``: an RGB tint for grey sources (fluorescence-like), else grey replicated."""
    image = np.asarray(Image.open(_PHOTOS[name]).convert("RGB"))
    ih, iw = image.shape[:2]
    scale = min(ih / height, iw / width) * rng.uniform(0.5, 1.0)
    ch, cw = max(int(height * scale), 8), max(int(width * scale), 8)
    y, x = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
    crop = cv2.resize(image[y : y + ch, x : x + cw], (width, height), interpolation=cv2.INTER_AREA)
    if colour is not None:
        grey = crop.mean(axis=2, keepdims=True) / 255.0
        crop = np.rint(grey * np.asarray(colour, np.float32)).astype(np.uint8)
    return crop


def blot(height, width, rng, style=None):
    """A procedurally drawn western blot / gel (forgery_d2.data.synthetic.blots), uint8 RGB."""
    grey, _ = draw_blot(rng, height, width, style)
    return np.repeat(grey[:, :, None], 3, axis=2)


class FigureBuilder:
    """A figure being drawn, with its ground truth. Boxes are XYXY, exclusive end."""

    def __init__(self, height, width, canvas=(255, 255, 255)):
        self.image = np.empty((height, width, 3), np.uint8)
        self.image[:] = np.asarray(canvas, np.uint8)
        self.canvas = tuple(canvas)
        self.panels, self.texts, self.marks = [], [], []
        self.ink = np.zeros((height, width), bool)

    # ------------------------------------------------------------------ drawing
    def add_panel(self, x0, y0, pixels):
        """Paste ``pixels`` (H, W, 3) with its top-left at (x0, y0); returns its box."""
        h, w = pixels.shape[:2]
        self.image[y0 : y0 + h, x0 : x0 + w] = pixels
        self.panels.append((x0, y0, x0 + w, y0 + h))
        return self.panels[-1]

    def _blend(self, alpha, colour):
        """Draw ``colour`` with coverage ``alpha`` (float (H, W) in [0, 1]); returns the ink box."""
        a = alpha[:, :, None]
        self.image[:] = np.rint(self.image * (1 - a) + np.asarray(colour, np.float32) * a).astype(np.uint8)
        ink = alpha > 0.0
        self.ink |= ink
        ys, xs = np.nonzero(ink)
        return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)

    def add_text(self, x, y, text, size=14, colour=(0, 0, 0), font="DejaVuSans.ttf"):
        """TrueType text with its top-left near (x, y) (anti-aliased by FreeType)."""
        layer = Image.new("L", (self.image.shape[1], self.image.shape[0]), 0)
        ImageDraw.Draw(layer).text((x, y), text, fill=255, font=ImageFont.truetype(os.path.join(FONT_DIR, font), size))
        box = self._blend(np.asarray(layer, np.float32) / 255.0, colour)
        self.texts.append(box)
        return box

    def add_hershey_text(self, x, y_baseline, text, scale=0.6, colour=(0, 0, 0), thickness=1):
        """OpenCV Hershey text (LINE_AA) with its baseline at ``y_baseline``."""
        layer = np.zeros(self.image.shape[:2], np.uint8)
        cv2.putText(layer, text, (x, y_baseline), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA)
        box = self._blend(layer.astype(np.float32) / 255.0, colour)
        self.texts.append(box)
        return box

    def add_scale_bar(self, x, y, length, thickness=4, colour=(255, 255, 255)):
        """A solid scale bar (a mark)."""
        alpha = np.zeros(self.image.shape[:2], np.float32)
        alpha[y : y + thickness, x : x + length] = 1.0
        box = self._blend(alpha, colour)
        self.marks.append(box)
        return box

    def add_arrow(self, tail, head, colour=(255, 255, 0), thickness=2):
        """An anti-aliased arrow (a mark)."""
        layer = np.zeros(self.image.shape[:2], np.uint8)
        cv2.arrowedLine(layer, tail, head, 255, thickness, cv2.LINE_AA, tipLength=0.35)
        box = self._blend(layer.astype(np.float32) / 255.0, colour)
        self.marks.append(box)
        return box

    # ------------------------------------------------------------------ output
    def coco_annotations(self):
        """``[(category_id, [x, y, w, h]), ...]`` of the panels, texts and marks."""
        out = []
        for category, boxes in ((1, self.panels), (2, self.texts), (3, self.marks)):
            out += [(category, [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]) for x0, y0, x1, y1 in boxes]
        return out


def write_coco_figures(root, figures, json_name="layout_train.json", folder="train_images/authentic"):
    """Write ``figures`` (FigureBuilders) as PNGs under ``root/folder`` and their ground truth as
    ``root/json_name`` (COCO detection, file names relative to ``root``); returns the JSON path."""
    os.makedirs(os.path.join(root, folder), exist_ok=True)
    images, annotations = [], []
    for image_id, figure in enumerate(figures, start=1):
        file_name = f"{folder}/{image_id}.png"
        Image.fromarray(figure.image).save(os.path.join(root, file_name))
        h, w = figure.image.shape[:2]
        images.append({"id": image_id, "file_name": file_name, "height": h, "width": w})
        for category, bbox in figure.coco_annotations():
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                                "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0})
    path = os.path.join(root, json_name)
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": LAYOUT_CATEGORIES}, f)
    return path
