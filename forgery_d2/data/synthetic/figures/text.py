"""Text rendered with real TrueType fonts (the DejaVu / STIX fonts matplotlib ships).

``text_alpha`` rasterizes a string into a coverage map (float32 in [0, 1]) laid out on its *line
box*: row 0 is the font's ascender line, so strings drawn at the same ``y`` share a baseline (as in
a typeset row of lane labels), whatever glyphs they hold. Text is rotated by quarter turns exactly,
or by any angle with bicubic resampling.
"""

import functools
import os

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["FONT_FILES", "font_path", "load_font", "text_alpha", "text_size"]

FONT_DIR = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
# Families a figure may use: Arial/Helvetica-like sans (most figures), Times-like serif, bold.
FONT_FILES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "sans-oblique": "DejaVuSans-Oblique.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "times": "STIXGeneral.ttf",
    "times-bold": "STIXGeneralBol.ttf",
}


def font_path(family):
    """The .ttf file of a font family (a key of FONT_FILES)."""
    if family not in FONT_FILES:
        raise ValueError(f"unknown font family {family!r}; expected one of {sorted(FONT_FILES)}")
    path = os.path.join(FONT_DIR, FONT_FILES[family])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"font file {path} is missing (it ships with matplotlib)")
    return path


@functools.lru_cache(maxsize=512)
def load_font(family, size):
    """A PIL FreeType font of ``family`` at ``size`` px (cached)."""
    return ImageFont.truetype(font_path(family), int(size))


@functools.lru_cache(maxsize=4096)
def _line_alpha(text, family, size):
    font = load_font(family, size)
    ascent, descent = font.getmetrics()
    x0, _, x1, _ = font.getbbox(text)
    width = max(x1 - min(x0, 0), 1) + 2
    image = Image.new("L", (width, ascent + descent + 2), 0)
    ImageDraw.Draw(image).text((1 - min(x0, 0), 1), text, font=font, fill=255)
    alpha = np.asarray(image, np.float32) / 255.0
    cols = np.flatnonzero(alpha.any(axis=0))
    if len(cols):  # trim empty columns only: rows keep the line box
        alpha = alpha[:, cols[0] : cols[-1] + 1]
    alpha.setflags(write=False)
    return alpha


def text_alpha(text, family="sans", size=12, angle=0):
    """Coverage map of ``text``: float32 (h, w) in [0, 1], read-only.

    With ``angle`` 0 the map spans the line box (ascender to descender) and the ink's columns; with
    another angle (degrees, counter-clockwise) it is the rotated map trimmed to its ink.
    """
    alpha = _line_alpha(str(text), family, int(size))
    if angle % 360 == 0:
        return alpha
    if angle % 90 == 0:
        return np.ascontiguousarray(np.rot90(alpha, int(angle // 90) % 4))
    image = Image.fromarray(np.rint(alpha * 255).astype(np.uint8))
    rotated = (
        np.asarray(image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True), np.float32)
        / 255.0
    )
    rows, cols = np.flatnonzero(rotated.any(axis=1)), np.flatnonzero(rotated.any(axis=0))
    if len(rows) == 0:
        return rotated
    return np.ascontiguousarray(rotated[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def text_size(text, family="sans", size=12, angle=0):
    """(width, height) in px of ``text_alpha(text, family, size, angle)``."""
    h, w = text_alpha(text, family, size, angle).shape
    return w, h
