"""Authentic source images for the synthetic dataset.

Four kinds, mixed with configurable proportions (``SourceOptions.kind_probs``):

* ``natural``: random crops of the real scientific images shipped inside the scikit-image wheel
  (cell, ihc, retina, microaneurysms, hubble_deep_field, moon, coins, ...), read from their files;
* ``blot``: procedurally drawn western blots and gels (forgery_d2.data.synthetic.blots);
* ``figure``: compound multi-panel figures (blot and natural panels on a white canvas, with gaps
  and panel letters), like most figures in the real data;
* ``folder``: random crops of a user folder of authentic images (``SourceOptions.source_dir``).

Train and test never share source pixels: every natural / folder image is cut along its long side
into a train part and a held-out test part (``holdout_fraction``); blots are drawn from seeds.
Output colour modes (grey, RGB, RGBA) are mixed by ``color_mode_probs``.
"""

import functools
import importlib.util
import os
import string
from dataclasses import dataclass, field

import cv2
import numpy as np

from forgery_d2.data.io import IMAGE_EXTENSIONS, read_image

from .blots import draw_blot
from .copy_move import Anchors

__all__ = [
    "SKIMAGE_SCIENTIFIC_IMAGES",
    "SourceImage",
    "SourceOptions",
    "find_source_images",
    "sample_authentic",
    "skimage_image_paths",
]

# Real images shipped in the scikit-image wheel that look like scientific figures (those of them
# actually installed are used; the others in skimage.data are downloaded on demand and never used).
SKIMAGE_SCIENTIFIC_IMAGES = (
    "cell.png",
    "ihc.png",
    "microaneurysms.png",
    "retina.jpg",
    "hubble_deep_field.jpg",
    "moon.png",
    "coins.png",
    "gravel.png",
    "grass.png",
)
SOURCE_KINDS = ("natural", "blot", "figure", "folder")
COLOR_MODES = ("RGB", "L", "RGBA")
SPLITS = ("train", "test")


@dataclass
class SourceOptions:
    """What authentic images look like."""

    # Relative frequency of each source kind; "folder" is used only with source_dir.
    kind_probs: dict = field(
        default_factory=lambda: {"natural": 0.3, "blot": 0.35, "figure": 0.35, "folder": 0.3}
    )
    # Relative frequency of output colour modes (the real data mixes RGB, grey and RGBA PNGs).
    color_mode_probs: dict = field(default_factory=lambda: {"RGB": 0.55, "L": 0.35, "RGBA": 0.10})
    min_size: int = 256  # min long side of an image, px
    max_size: int = 768  # max long side of an image, px (except the "large" ones)
    large_prob: float = 0.05  # P(an image is larger than max_size, up to large_factor * max_size)
    large_factor: float = 2.0
    skimage_images: tuple = SKIMAGE_SCIENTIFIC_IMAGES  # file names under skimage/data
    source_dir: str = None  # optional folder of the user's authentic images (searched recursively)
    # part of every natural / folder image reserved for the test split
    holdout_fraction: float = 0.3

    def validate(self):
        for name, probs, known in (
            ("kind_probs", self.kind_probs, SOURCE_KINDS),
            ("color_mode_probs", self.color_mode_probs, COLOR_MODES),
        ):
            unknown = set(probs) - set(known)
            if unknown:
                raise ValueError(
                    f"{name}: unknown keys {sorted(unknown)}; expected some of {known}"
                )
            if any(v < 0 for v in probs.values()) or sum(probs.values()) <= 0:
                raise ValueError(f"{name}: weights must be >= 0 and not all 0, got {probs}")
        if not 16 <= self.min_size <= self.max_size:
            raise ValueError(
                f"need 16 <= min_size <= max_size, got {self.min_size}, {self.max_size}"
            )
        if not 0.05 <= self.holdout_fraction <= 0.95:
            raise ValueError(
                f"holdout_fraction must be in [0.05, 0.95], got {self.holdout_fraction}"
            )


@dataclass
class SourceImage:
    """An authentic image and what it is made of."""

    image: np.ndarray  # uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA
    kind: str  # natural / blot / figure / folder
    anchors: Anchors  # band and panel boxes for realistic copy-moves
    sources: list  # names of the files / generators it was drawn from

    @property
    def color_mode(self):
        return "L" if self.image.ndim == 2 else {3: "RGB", 4: "RGBA"}[self.image.shape[2]]


# ----------------------------------------------------------------------------------------------
# Files


def skimage_image_paths(names=SKIMAGE_SCIENTIFIC_IMAGES):
    """Paths of the named images inside the installed scikit-image wheel (missing ones skipped)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return []
    data_dir = os.path.join(list(spec.submodule_search_locations)[0], "data")
    return [os.path.join(data_dir, n) for n in names if os.path.isfile(os.path.join(data_dir, n))]


def find_source_images(folder):
    """Image files under ``folder`` (recursive, sorted for reproducibility)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--source-dir {folder!r} is not a directory")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [
            os.path.join(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)
        ]
    if not found:
        raise FileNotFoundError(
            f"--source-dir {folder!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)})"
        )
    return found


@functools.lru_cache(maxsize=8)
def _cached_listing(folder):
    return tuple(find_source_images(folder))


@functools.lru_cache(maxsize=32)
def _load(path):
    """An image file as uint8 grey (H, W) when its channels are equal, else RGB (H, W, 3)."""
    rgb = read_image(path, "RGB")
    if (rgb[:, :, 0] == rgb[:, :, 1]).all() and (rgb[:, :, 0] == rgb[:, :, 2]).all():
        return np.ascontiguousarray(rgb[:, :, 0])
    return rgb


def _split_part(image, split, holdout_fraction):
    """The train part (first 1 - holdout) or test part (rest) of an image, cut along its long side."""
    h, w = image.shape[:2]
    axis = 1 if w >= h else 0
    cut = int(round(image.shape[axis] * (1 - holdout_fraction)))
    index = slice(0, cut) if split == "train" else slice(cut, None)
    return image[:, index] if axis == 1 else image[index]


# ----------------------------------------------------------------------------------------------
# Drawing


def _sample_size(rng, opts, aspect=None):
    """(height, width) with the long side in [min_size, max_size] (sometimes larger)."""
    if rng.random() < opts.large_prob:
        long_side = rng.uniform(opts.max_size, opts.large_factor * opts.max_size)
    else:
        long_side = np.exp(rng.uniform(np.log(opts.min_size), np.log(opts.max_size)))
    if aspect is None:  # width / height; most figures are landscape (median 696 x 512)
        aspect = float(np.exp(np.clip(rng.normal(np.log(1.3), 0.35), np.log(0.4), np.log(3.0))))
    if aspect >= 1:
        return max(int(round(long_side / aspect)), 16), int(round(long_side))
    return int(round(long_side)), max(int(round(long_side * aspect)), 16)


def _crop_resized(rng, image, height, width):
    """A random crop of ``image`` with the aspect of (height, width), resized to that size."""
    ih, iw = image.shape[:2]
    aspect = width / height
    crop_w_max = min(iw, ih * aspect)
    crop_w = crop_w_max * np.sqrt(rng.uniform(0.15, 1.0))  # 15%..100% of the largest crop's area
    crop_w = max(int(round(crop_w)), 8)
    crop_h = max(int(round(crop_w / aspect)), 8)
    crop_w, crop_h = min(crop_w, iw), min(crop_h, ih)
    x = int(rng.integers(0, iw - crop_w + 1))
    y = int(rng.integers(0, ih - crop_h + 1))
    crop = image[y : y + crop_h, x : x + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.25:
        crop = crop[::-1]
    shrinking = crop_w > width
    return cv2.resize(
        np.ascontiguousarray(crop),
        (width, height),
        interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC,
    )


def _photo(rng, split, height, width, opts, paths, kind):
    path = paths[int(rng.integers(0, len(paths)))]
    part = _split_part(_load(path), split, opts.holdout_fraction)
    image = _crop_resized(rng, part, height, width)
    if rng.random() < 0.3:  # exposure / contrast of the figure's reproduction
        gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-15, 15)
        image = np.clip(np.rint(image.astype(np.float32) * gain + bias), 0, 255).astype(np.uint8)
    return image, Anchors(), [f"{kind}:{os.path.basename(path)}"]


def _blot(rng, height, width):
    image, boxes = draw_blot(rng, height, width)
    return image, Anchors(bands=tuple(boxes)), ["blot"]


def _tint(rng, grey):
    """A grey image shown in a colour (fluorescence channel, sepia film, coloured gel stain)."""
    colour = rng.uniform(0.15, 1.0, 3)
    colour[int(rng.integers(0, 3))] = 1.0
    return np.clip(np.rint(grey[:, :, None].astype(np.float32) * colour), 0, 255).astype(np.uint8)


def _to_rgb(image):
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


def _figure(rng, split, height, width, opts, natural_paths, folder_paths):
    """A compound figure: a grid of 2-12 panels on a white canvas (None if the canvas is too small)."""
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    if rows * cols < 2:
        rows, cols = (1, 2) if width >= height else (2, 1)
    gap = int(rng.integers(3, 25))
    margin = int(rng.integers(2, 20))
    min_panel = 24
    while True:  # drop rows / columns until panels are at least min_panel px
        cell_w = (width - 2 * margin - (cols - 1) * gap) // cols
        cell_h = (height - 2 * margin - (rows - 1) * gap) // rows
        if cell_w >= min_panel and cell_h >= min_panel:
            break
        if cell_w < min_panel and cols > 1:
            cols -= 1
        elif cell_h < min_panel and rows > 1:
            rows -= 1
        elif gap > 2 or margin > 2:
            gap, margin = min(gap, 2), min(margin, 2)
        else:
            return None
    if rows * cols < 2:
        return None
    photos = natural_paths + folder_paths
    uniform_kind = rng.random() < 0.5
    panel_kind = "blot" if (rng.random() < 0.5 or not photos) else "photo"
    canvas = np.full((height, width, 3), 255, np.uint8)
    panels, bands, sources = [], [], []
    letters = iter(string.ascii_uppercase if rng.random() < 0.5 else string.ascii_lowercase)
    label = rng.random() < 0.6
    for r in range(rows):
        for c in range(cols):
            if rows * cols > 2 and rng.random() < 0.1:
                continue  # an empty grid cell
            kind = (
                panel_kind
                if uniform_kind
                else ("blot" if (rng.random() < 0.5 or not photos) else "photo")
            )
            # Panels need not fill their cell (blot strips are wide and short).
            ph = (
                cell_h
                if kind == "photo" or rng.random() < 0.4
                else max(min_panel, int(cell_h * rng.uniform(0.3, 1.0)))
            )
            pw = (
                cell_w
                if rng.random() < 0.7
                else max(min_panel, int(cell_w * rng.uniform(0.6, 1.0)))
            )
            x0 = margin + c * (cell_w + gap) + int(rng.integers(0, cell_w - pw + 1))
            y0 = margin + r * (cell_h + gap) + int(rng.integers(0, cell_h - ph + 1))
            if kind == "blot":
                panel, anchors, names = _blot(rng, ph, pw)
                bands += [
                    (bx0 + x0, by0 + y0, bx1 + x0, by1 + y0) for bx0, by0, bx1, by1 in anchors.bands
                ]
            else:
                use_folder = folder_paths and (not natural_paths or rng.random() < 0.5)
                panel, _, names = _photo(
                    rng,
                    split,
                    ph,
                    pw,
                    opts,
                    folder_paths if use_folder else natural_paths,
                    "folder" if use_folder else "natural",
                )
            if panel.ndim == 2 and rng.random() < 0.2:
                panel = _tint(rng, panel)
            canvas[y0 : y0 + ph, x0 : x0 + pw] = _to_rgb(panel)
            panels.append((x0, y0, x0 + pw, y0 + ph))
            sources += names
            if label and ph >= 40 and pw >= 40:
                scale = float(np.clip(min(ph, pw) / 120.0, 0.4, 1.2))
                colour = (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)
                cv2.putText(
                    canvas,
                    next(letters),
                    (x0 + 3, y0 + int(24 * scale) + 2),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    scale,
                    colour,
                    max(1, int(2 * scale)),
                    cv2.LINE_AA,
                )
    is_grey = (canvas[:, :, 0] == canvas[:, :, 1]).all() and (
        canvas[:, :, 0] == canvas[:, :, 2]
    ).all()
    image = canvas[:, :, 0].copy() if is_grey else canvas
    return image, Anchors(bands=tuple(bands), panels=tuple(panels)), sources


def _choose(rng, probs):
    names = [k for k, v in probs.items() if v > 0]
    weights = np.array([probs[k] for k in names], float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _apply_color_mode(rng, image, mode):
    if mode == "L":
        return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim == 2:
        image = _tint(rng, image) if rng.random() < 0.25 else _to_rgb(image)
    if mode == "RGBA":
        image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(image)


def sample_authentic(rng, split="train", options=None):
    """Draw one authentic image of the ``split`` ("train" or "test") part of the sources."""
    opts = options or SourceOptions()
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    natural_paths = skimage_image_paths(tuple(opts.skimage_images))
    folder_paths = list(_cached_listing(opts.source_dir)) if opts.source_dir else []
    probs = dict(opts.kind_probs)
    if not folder_paths:
        probs.pop("folder", None)
    if not natural_paths:
        probs.pop("natural", None)
    if sum(probs.values()) <= 0:
        raise ValueError(
            f"no usable source kind: kind_probs={opts.kind_probs}, source_dir={opts.source_dir!r}"
        )
    kind = _choose(rng, probs)
    height, width = _sample_size(rng, opts)
    if kind == "blot":
        if rng.random() < 0.5:  # blot strips are wide and short
            width = max(height, width)
            height = max(int(width / rng.uniform(2.0, 6.0)), min(64, width))
        image, anchors, names = _blot(rng, height, width)
    elif kind == "figure":
        figure = _figure(rng, split, height, width, opts, natural_paths, folder_paths)
        if figure is None:  # too small for panels: a single blot
            kind, figure = "blot", _blot(rng, height, width)
        image, anchors, names = figure
    else:
        image, anchors, names = _photo(
            rng,
            split,
            height,
            width,
            opts,
            natural_paths if kind == "natural" else folder_paths,
            kind,
        )
    image = _apply_color_mode(rng, image, _choose(rng, opts.color_mode_probs))
    return SourceImage(image, kind, anchors, names)
