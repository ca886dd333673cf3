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

__all__ = [
    "FigureBuilder",
    "photo",
    "blot",
    "write_coco_figures",
    "LAYOUT_CATEGORIES",
    "grid_figure",
    "single_panel_figure",
    "blot_figure",
    "figure_set",
]

FONT_DIR = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
LAYOUT_CATEGORIES = [
    {"id": 1, "name": "panel"},
    {"id": 2, "name": "text"},
    {"id": 3, "name": "mark"},
]
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
        self.coverage = np.zeros(
            (height, width), np.float32
        )  # ink coverage (alpha) of texts and marks

    @property
    def ink(self):
        """bool (H, W): every pixel a text or mark touches."""
        return self.coverage > 0

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
        self.image[:] = np.rint(self.image * (1 - a) + np.asarray(colour, np.float32) * a).astype(
            np.uint8
        )
        self.coverage = np.maximum(self.coverage, alpha)
        ys, xs = np.nonzero(alpha > 0.0)
        return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)

    def add_text(self, x, y, text, size=14, colour=(0, 0, 0), font="DejaVuSans.ttf"):
        """TrueType text with its top-left near (x, y) (anti-aliased by FreeType)."""
        layer = Image.new("L", (self.image.shape[1], self.image.shape[0]), 0)
        ImageDraw.Draw(layer).text(
            (x, y), text, fill=255, font=ImageFont.truetype(os.path.join(FONT_DIR, font), size)
        )
        box = self._blend(np.asarray(layer, np.float32) / 255.0, colour)
        self.texts.append(box)
        return box

    def add_hershey_text(self, x, y_baseline, text, scale=0.6, colour=(0, 0, 0), thickness=1):
        """OpenCV Hershey text (LINE_AA) with its baseline at ``y_baseline``."""
        layer = np.zeros(self.image.shape[:2], np.uint8)
        cv2.putText(
            layer,
            text,
            (x, y_baseline),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            255,
            thickness,
            cv2.LINE_AA,
        )
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
            out += [
                (category, [float(x0), float(y0), float(x1 - x0), float(y1 - y0)])
                for x0, y0, x1, y1 in boxes
            ]
        return out


def write_coco_figures(
    root, figures, json_name="layout_train.json", folder="train_images/authentic"
):
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
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    path = os.path.join(root, json_name)
    with open(path, "w") as f:
        json.dump(
            {"images": images, "annotations": annotations, "categories": LAYOUT_CATEGORIES}, f
        )
    return path


# ---------------------------------------------------------------------------------- figures
MICROGRAPHS = ("cell.png", "ihc.png", "retina.jpg", "microaneurysms.png", "coins.png", "moon.png")


def grid_figure(seed=0, rows=2, cols=3, panel=160, gap=30, canvas=(255, 255, 255), touching=False):
    """A grid of micrographs and blots. With gutters: bold letters on the canvas above each panel;
    touching (no gutter): white letters inside the top-left corners. Every other panel carries a
    white scale bar with "50 µm" above it in its bottom-right corner."""
    rng = np.random.default_rng(seed)
    gap = 0 if touching else gap
    margin = 30
    fb = FigureBuilder(
        2 * margin + rows * panel + (rows - 1) * gap,
        2 * margin + cols * panel + (cols - 1) * gap,
        canvas,
    )
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        x0, y0 = margin + c * (panel + gap), margin + r * (panel + gap)
        if k % 3 == 2:
            pixels = blot(panel, panel, rng)
        else:
            pixels = photo(
                MICROGRAPHS[k % len(MICROGRAPHS)],
                panel,
                panel,
                rng,
                colour=(0, 255, 0) if k == 1 else None,
            )
        fb.add_panel(x0, y0, pixels)
        letter = "ABCDEFGHIJKLMNOP"[k]
        if touching:
            fb.add_text(
                x0 + 5, y0 + 4, letter, size=16, colour=(255, 255, 255), font="DejaVuSans-Bold.ttf"
            )
        else:
            fb.add_text(x0 - 2, y0 - 22, letter, size=16, font="DejaVuSans-Bold.ttf")
        if k % 2 == 0:
            fb.add_scale_bar(x0 + panel - 55, y0 + panel - 12, 45, 4)
            fb.add_text(x0 + panel - 57, y0 + panel - 31, "50 µm", size=12, colour=(255, 255, 255))
    return fb


def single_panel_figure(seed=1, height=300, width=400):
    """One micrograph filling the figure: a letter, an arrow and a scale bar on it, in black."""
    rng = np.random.default_rng(seed)
    fb = FigureBuilder(height, width)
    fb.add_panel(0, 0, photo("ihc.png", height, width, rng))
    fb.add_text(8, 6, "a", size=20, font="DejaVuSans-Bold.ttf")
    fb.add_arrow(
        (width // 2, height * 2 // 3), (width // 2 + 50, height * 2 // 3 - 50), (0, 0, 0), 2
    )
    fb.add_scale_bar(width - 80, height - 20, 60, 5, (0, 0, 0))
    return fb


def blot_figure(seed=2, names=("p-ERK", "GAPDH", "β-actin")):
    """Stacked western-blot strips with the same "+ - + - + -" lane header above each and the
    protein name at the right, all on the canvas."""
    rng = np.random.default_rng(seed)
    fb = FigureBuilder(60 + 80 * len(names), 500)
    for i, name in enumerate(names):
        y0 = 40 + i * 80
        fb.add_panel(60, y0, blot(50, 300, rng, "film"))
        fb.add_text(370, y0 + 15, name, size=14)
        for j, sign in enumerate("+-+-+-"):
            fb.add_text(85 + j * 50, y0 - 20, sign, size=14)
    return fb


def figure_set(seed=0, count=6):
    """``count`` varied figures (grids with gutters, touching grids, grey canvas, single panels,
    blot stacks) for a tiny training set."""
    makers = [
        lambda s: grid_figure(s, 2, 2, panel=96, gap=24),
        lambda s: grid_figure(s, 1, 3, panel=96, touching=True),
        lambda s: grid_figure(s, 2, 2, panel=96, canvas=(90, 90, 90)),
        lambda s: single_panel_figure(s, 200, 260),
        lambda s: blot_figure(s, ("GAPDH", "Akt")),
    ]
    return [makers[i % len(makers)](seed + i) for i in range(count)]
