"""Micrographs: fluorescence channels of one cell field, brightfield stains, real photo crops.

* A :class:`CellField` is a set of cells (nucleus ellipse with chromatin texture, cytoplasm blob,
  puncta). One field is imaged in several channels: a grid row shows DAPI / marker / marker / merge
  of the SAME cells, each channel with its own camera noise, and the merge is the sum of
  the same coloured channel exposures shown beside it (legitimate repetition, as in real figures).
* ``brightfield_panel``: the same cell model absorbed through stains (Beer-Lambert): H&E tissue or
  IHC (haematoxylin nuclei + brown DAB in positive cells).
* ``photo_panel``: a crop of a real micrograph that ships with scikit-image (ihc.png), from the
  train or held-out part of the file (forgery_d2.data.synthetic.sources);
  ``PhotoCropper`` never hands out two overlapping crops of one file within a figure.
* ``add_inset``: a magnified view of a region pasted into a corner (a scaled copy of the panel's own
  pixels, legitimate), with its zoom-box and border drawn as marks.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from ..blots import _smooth_noise as smooth_noise
from ..sources import _load as load_source_image
from ..sources import _split_part as split_part
from ..sources import skimage_image_paths
from .overlays import rectangle_outline
from .panel import PanelArt, SceneObject

__all__ = [
    "BRIGHTFIELD_STAINS",
    "PHOTO_FILES",
    "Cell",
    "CellField",
    "PhotoCropper",
    "add_inset",
    "brightfield_panel",
    "fluorescence_panels",
    "photo_panel",
    "sample_field",
]

PHOTO_FILES = ("ihc.png",)
# Optical densities (R, G, B) of one unit of stain.
_HAEMATOXYLIN = np.array([0.65, 0.70, 0.29], np.float32)
_EOSIN = np.array([0.07, 0.99, 0.11], np.float32)
_DAB = np.array([0.27, 0.57, 0.78], np.float32)
BRIGHTFIELD_STAINS = ("he", "ihc")


@dataclass
class Cell:
    """One cell of a field (panel px)."""

    cx: float
    cy: float
    radius: float  # cytoplasm radius
    nucleus: tuple  # (semi-axis a, semi-axis b, angle rad)
    expression: tuple  # per marker channel, a level in [0, 1.5]


@dataclass
class CellField:
    """The cells of one microscope field, and the panel size they were laid out for."""

    height: int
    width: int
    cells: list
    cluster: float  # 0 = spread out, 1 = tissue-like crowding
    seed: int  # texture seed: the field renders the same whenever it is rendered


def sample_field(rng, height, width, radius=None, crowding=None):
    """Random cells over a ``height`` x ``width`` field (cell radius ~4-12% of the field width)."""
    radius = radius or float(rng.uniform(0.035, 0.11) * min(height, width) * rng.uniform(0.8, 1.25))
    radius = max(radius, 3.0)
    crowding = float(rng.uniform(0.1, 1.0)) if crowding is None else crowding
    coverage = 0.2 + 0.7 * crowding  # fraction of the field the cells cover
    count = int(np.clip(height * width * coverage / (np.pi * radius**2), 1, 80))
    centres = rng.uniform([0, 0], [width, height], (count, 2))
    if crowding < 0.4 and count > 3:  # colonies: cells gather around a few centres
        hubs = rng.uniform([0, 0], [width, height], (int(rng.integers(2, 5)), 2))
        pick = hubs[rng.integers(0, len(hubs), count)]
        centres = pick + rng.normal(0, radius * 2.5 * np.sqrt(count / len(hubs)), (count, 2))
    cells = []
    for cx, cy in centres:
        r = radius * rng.uniform(0.7, 1.3)
        a = r * rng.uniform(0.42, 0.62)
        nucleus = (a, a * rng.uniform(0.65, 1.0), rng.uniform(0, np.pi))
        cells.append(Cell(float(cx), float(cy), float(r), nucleus, tuple(rng.uniform(0, 1.5, 3))))
    return CellField(height, width, cells, crowding, int(rng.integers(2**31)))


def _patch(cell, reach, height, width):
    x0, y0 = int(np.floor(cell.cx - reach)), int(np.floor(cell.cy - reach))
    x1, y1 = int(np.ceil(cell.cx + reach)) + 1, int(np.ceil(cell.cy + reach)) + 1
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height), x0, y0


def _nucleus(cell, rng, xs, ys):
    """Nucleus intensity on the (ys, xs) grid: a wobbly ellipse, a dome with a ~1 px soft rim."""
    a, b, angle = cell.nucleus
    dx, dy = xs - cell.cx, ys - cell.cy
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / a
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / b
    r2 = u * u + v * v + 1e-6
    r = np.sqrt(r2)
    # cos(k theta + phase) for k = 2, 3 as polynomials of (u, v) / r^k: no arctan needed
    p2, p3 = rng.uniform(0, 2 * np.pi, 2)
    cos2 = ((u * u - v * v) * np.cos(p2) - 2 * u * v * np.sin(p2)) / r2
    cos3 = ((u**3 - 3 * u * v * v) * np.cos(p3) - (3 * u * u * v - v**3) * np.sin(p3)) / (r2 * r)
    d = r / (1.0 + rng.uniform(0, 0.06) * cos2 + rng.uniform(0, 0.05) * cos3)
    edge = np.clip((1.0 - d) * max(a, 2.0) / 1.2, 0.0, 1.0)
    return edge * np.sqrt(np.sqrt(np.clip(1.0 - d * d, 0.0, 1.0)))


def _cell_body(rng, cell, x0, y0, shape):
    """The cytoplasm outline of ``cell`` filled into a float32 array of ``shape`` at (x0, y0)."""
    theta = np.linspace(0.0, 2 * np.pi, 28, endpoint=False)
    radius = cell.radius * (
        1.0
        + sum(rng.uniform(0, 0.25 / k) * np.cos(k * theta + rng.uniform(0, 6.3)) for k in (2, 3, 4))
    )
    stretch = rng.uniform(0.75, 1.3)
    turn = rng.uniform(0, np.pi)
    px = radius * np.cos(theta) * stretch
    py = radius * np.sin(theta) / stretch
    points = np.stack(
        [
            px * np.cos(turn) - py * np.sin(turn) + cell.cx - x0,
            px * np.sin(turn) + py * np.cos(turn) + cell.cy - y0,
        ],
        1,
    )
    body = np.zeros(shape, np.float32)
    cv2.fillPoly(body, [np.round(points * 16).astype(np.int32)], 1.0, cv2.LINE_8, shift=4)
    return body


def render_channels(field):
    """Float maps (h, w) of the field (nuclei, cytoplasm, positive cells' cytoplasm, puncta) and
    the cells as SceneObjects (box + mask).

    Textures are seeded by the field, so rendering a field twice gives the same maps.
    """
    rng = np.random.default_rng(field.seed)
    h, w = field.height, field.width
    nuclei = np.zeros((h, w), np.float32)
    cyto = np.zeros((h, w), np.float32)
    positive = np.zeros((h, w), np.float32)  # cytoplasm of the cells that express the marker
    puncta = np.zeros((h, w), np.float32)
    fibres = np.zeros((h, w), np.float32)
    mean_r = float(np.mean([c.radius for c in field.cells])) if field.cells else 8.0
    # Field-wide textures, cut out under each cell: chromatin and cytoplasm grain.
    chromatin = 1.0 + smooth_noise(
        rng, h, w, (max(int(h / mean_r * 2), 4), max(int(w / mean_r * 2), 4)), 0.3
    )
    grain = np.clip(
        1.0
        + smooth_noise(rng, h, w, (max(int(h / mean_r * 4), 6), max(int(w / mean_r * 4), 6)), 0.3),
        0.3,
        None,
    )
    objects = []
    for cell in field.cells:
        reach = cell.radius * 1.6
        x0, y0, x1, y1, _, _ = _patch(cell, reach, h, w)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        # the nucleus on its own, smaller box
        nx0, ny0, nx1, ny1, _, _ = _patch(cell, max(cell.nucleus[:2]) * 1.2 + 1.5, h, w)
        nuc = np.zeros((y1 - y0, x1 - x0), np.float32)
        if nx1 > nx0 and ny1 > ny0:
            ys, xs = np.ogrid[ny0:ny1, nx0:nx1]
            nuc_small = (
                _nucleus(cell, rng, xs.astype(np.float32), ys.astype(np.float32))
                * chromatin[ny0:ny1, nx0:nx1]
            )
            nuc_small *= rng.uniform(0.6, 1.0)
            nuclei[ny0:ny1, nx0:nx1] = np.maximum(nuclei[ny0:ny1, nx0:nx1], nuc_small)
            nuc[ny0 - y0 : ny1 - y0, nx0 - x0 : nx1 - x0] = nuc_small
        body = _cell_body(rng, cell, x0, y0, (y1 - y0, x1 - x0))
        body = cv2.GaussianBlur(body, (0, 0), max(cell.radius * 0.12, 0.6))
        n_fibres = int(rng.integers(8, 24))  # actin / tubulin-like filaments across the cell
        angles = rng.uniform(0, 2 * np.pi, n_fibres)
        starts = rng.normal(0, cell.radius * 0.45, (n_fibres, 2)) + (cell.cx, cell.cy)
        ends = starts + (cell.radius * rng.uniform(0.5, 1.5, n_fibres))[:, None] * np.stack(
            [np.cos(angles), np.sin(angles)], 1
        )
        for p0, p1, v in zip(
            np.round(starts * 4).astype(int),
            np.round(ends * 4).astype(int),
            rng.uniform(0.3, 1.0, n_fibres),
        ):
            cv2.line(
                fibres,
                (int(p0[0]), int(p0[1])),
                (int(p1[0]), int(p1[1])),
                float(v),
                1,
                cv2.LINE_AA,
                shift=2,
            )
        cells_level = body * rng.uniform(0.5, 1.0)
        cyto[y0:y1, x0:x1] = np.maximum(cyto[y0:y1, x0:x1], cells_level)
        if cell.expression[1] > 0.6:
            positive[y0:y1, x0:x1] = np.maximum(
                positive[y0:y1, x0:x1], cells_level * min(cell.expression[1], 1.2)
            )
        n_dots = int(rng.integers(0, 12))  # vesicles: impulses, blurred once for the whole field
        dots_x = np.clip(rng.normal(cell.cx, cell.radius * 0.5, n_dots), 0, w - 1).astype(int)
        dots_y = np.clip(rng.normal(cell.cy, cell.radius * 0.5, n_dots), 0, h - 1).astype(int)
        np.add.at(puncta, (dots_y, dots_x), rng.uniform(4.0, 9.0, n_dots).astype(np.float32))
        support = (body > 0.2) | (nuc > 0.05)
        if support.sum() >= 16:
            rows, cols = np.flatnonzero(support.any(axis=1)), np.flatnonzero(support.any(axis=0))
            box = (
                x0 + int(cols[0]),
                y0 + int(rows[0]),
                x0 + int(cols[-1]) + 1,
                y0 + int(rows[-1]) + 1,
            )
            mask = support[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            objects.append(SceneObject("cell", box, mask))
    texture = 0.6 * grain + 0.5 * cv2.GaussianBlur(fibres, (0, 0), 0.7)
    cyto *= texture
    positive *= texture
    puncta = cv2.GaussianBlur(puncta, (0, 0), 1.1)
    return {"nuclei": nuclei, "cytoplasm": cyto, "positive": positive, "puncta": puncta}, objects


def _expose(rng, signal, noise_sigma):
    """A camera exposure of a [0, ~1] signal: offset, gain, gamma and shot/read noise, in [0, 1]."""
    gain = rng.uniform(0.7, 1.3)
    image = rng.uniform(0.0, 0.06) + gain * signal
    image = image + rng.standard_normal(signal.shape, np.float32) * (
        noise_sigma * (0.4 + np.sqrt(np.clip(image, 0, None)))
    )
    return np.clip(image, 0.0, 1.0) ** rng.uniform(0.7, 1.1)


def fluorescence_panels(rng, field, channels, merge=True, grey_singles=False, singles=True):
    """One panel per channel of ``field`` (+ the merge): a list of PanelArt.

    ``channels``: (name, RGB colour) pairs; the first images the nuclei, the second the cytoplasm,
    the third the puncta (or a second cytoplasm marker). ``grey_singles``: single channels shown
    white on black (the merge stays in colour). ``singles=False``: the merge alone.
    """
    maps, objects = render_channels(field)
    sources = ("nuclei", "cytoplasm", "puncta")
    noise = rng.uniform(0.01, 0.05)
    arts = []
    total = np.zeros((field.height, field.width, 3), np.float32)
    for i, (name, colour) in enumerate(channels):
        signal = maps[sources[min(i, 2)]]
        if i >= 1:  # marker expression differs from cell to cell: scale by a smooth field
            signal = signal * (
                0.5 + smooth_noise(rng, field.height, field.width, (3, 3), 0.5).clip(-0.45, 1.0)
            )
        exposure = _expose(rng, signal, noise)
        rgb = exposure[:, :, None] * np.asarray(colour, np.float32)[None, None, :]
        total += rgb
        if singles:
            shown = np.repeat(exposure[:, :, None], 3, axis=2) if grey_singles else rgb
            image = np.clip(np.rint(shown * 255), 0, 255).astype(np.uint8)
            arts.append(
                PanelArt(image, "microscopy", "fluorescence", list(objects), tags={"channel": name})
            )
    if merge:
        image = np.clip(np.rint(np.clip(total, 0, 1) * 255), 0, 255).astype(np.uint8)
        arts.append(
            PanelArt(image, "microscopy", "fluorescence", list(objects), tags={"channel": "merge"})
        )
    return arts


def brightfield_panel(rng, field, stain="he"):
    """A stained brightfield micrograph of ``field``: H&E tissue or IHC (DAB-positive cells)."""
    if stain not in BRIGHTFIELD_STAINS:
        raise ValueError(f"unknown stain {stain!r}; expected one of {BRIGHTFIELD_STAINS}")
    maps, objects = render_channels(field)
    h, w = field.height, field.width
    tissue = np.clip(0.55 + smooth_noise(rng, h, w, (int(rng.integers(4, 10)),) * 2, 0.25), 0, 1)
    tissue *= np.clip(
        1.0 + smooth_noise(rng, h, w, (int(rng.integers(20, 40)),) * 2, 0.3), 0.3, None
    )
    od = maps["nuclei"][:, :, None] * _HAEMATOXYLIN * rng.uniform(0.9, 1.6)
    if stain == "he":
        od = od + (tissue * 0.25 + maps["cytoplasm"] * 0.35)[:, :, None] * _EOSIN * rng.uniform(
            0.6, 1.2
        )
    else:
        od = od + (maps["positive"] * rng.uniform(0.5, 1.1))[:, :, None] * _DAB * 1.4
        od = od + (tissue * 0.08)[:, :, None] * _HAEMATOXYLIN
    light = rng.uniform(225, 250) * np.array(
        [1.0, rng.uniform(0.96, 1.0), rng.uniform(0.93, 1.0)], np.float32
    )
    image = light * np.exp(-od) + rng.standard_normal((h, w, 1), np.float32) * rng.uniform(1.5, 4.0)
    return PanelArt(
        np.clip(np.rint(image), 0, 255).astype(np.uint8),
        "microscopy",
        f"brightfield-{stain}",
        objects,
    )


class PhotoCropper:
    """Crops of real micrographs for one figure: crops of one file never overlap."""

    def __init__(self, split, holdout_fraction=0.3, names=PHOTO_FILES):
        self.split = split
        self.holdout_fraction = holdout_fraction
        self.paths = skimage_image_paths(tuple(names))
        self.used = {}  # path -> list of XYXY boxes already handed out

    def crop(self, rng, height, width, tries=20):
        """A ``height`` x ``width`` RGB crop (resized), or None when no free crop is left."""
        if not self.paths:
            return None
        for _ in range(tries):
            path = self.paths[int(rng.integers(0, len(self.paths)))]
            part = split_part(load_source_image(path), self.split, self.holdout_fraction)
            ih, iw = part.shape[:2]
            scale = rng.uniform(1.0, 2.5)  # source px per panel px
            cw, ch = int(round(width * scale)), int(round(height * scale))
            if cw > iw or ch > ih:
                scale = min(iw / width, ih / height)
                cw, ch = int(width * scale), int(height * scale)
            if cw < 24 or ch < 24:
                continue
            x, y = int(rng.integers(0, iw - cw + 1)), int(rng.integers(0, ih - ch + 1))
            box = (x, y, x + cw, y + ch)
            if any(
                box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                for b in self.used.get(path, [])
            ):
                continue
            self.used.setdefault(path, []).append(box)
            crop = np.ascontiguousarray(part[y : y + ch, x : x + cw])
            interpolation = cv2.INTER_AREA if cw > width else cv2.INTER_CUBIC
            crop = cv2.resize(crop, (width, height), interpolation=interpolation)
            if crop.ndim == 2:
                crop = np.repeat(crop[:, :, None], 3, axis=2)
            return crop, path
        return None


def photo_panel(rng, cropper, height, width):
    """A brightfield panel cut from a real micrograph, or None when the figure used them all up."""
    got = cropper.crop(rng, height, width)
    if got is None:
        return None
    image, path = got
    if rng.random() < 0.3:
        gain, bias = rng.uniform(0.85, 1.15), rng.uniform(-12, 12)
        image = np.clip(np.rint(image.astype(np.float32) * gain + bias), 0, 255).astype(np.uint8)
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return PanelArt(image, "microscopy", "photo", [], tags={"source": name})


def add_inset(rng, art, colour, thickness):
    """Magnify a region of ``art`` into one of its corners (in place); adds marks and keep-outs."""
    h, w = art.image.shape[:2]
    zoom = rng.uniform(2.0, 3.0)
    size = int(min(h, w) * rng.uniform(0.14, 0.2))
    inset = int(size * zoom)
    if size < 8 or inset > 0.55 * min(h, w):
        return False
    right, bottom = rng.random() < 0.5, rng.random() < 0.5
    ix = w - inset - 1 if right else 1
    iy = h - inset - 1 if bottom else 1
    # the zoomed region sits in the opposite half, away from the inset
    rx = int(rng.integers(0, max(w // 2 - size, 1))) + (0 if right else w // 2)
    ry = int(rng.integers(0, max(h // 2 - size, 1))) + (0 if bottom else h // 2)
    rx, ry = min(rx, w - size), min(ry, h - size)
    region = art.image[ry : ry + size, rx : rx + size]
    art.image[iy : iy + inset, ix : ix + inset] = cv2.resize(
        region, (inset, inset), interpolation=cv2.INTER_CUBIC
    )
    art.overlays.append(
        rectangle_outline(
            rx, ry, rx + size, ry + size, thickness, colour, "zoom_box", dashed=rng.random() < 0.4
        )
    )
    art.overlays.append(
        rectangle_outline(ix, iy, ix + inset, iy + inset, thickness, colour, "inset_border")
    )
    art.keep_out += [(rx, ry, rx + size, ry + size), (ix, iy, ix + inset, iy + inset)]
    art.tags["inset"] = 1
    return True
