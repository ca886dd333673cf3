"""Western blot strips and DNA gels drawn lane by lane, with look-alike bands.

Real blots repeat themselves legitimately: the bands of one strip come from one gel comb and one
antibody, so they share a shape (width, thickness, curvature) and differ in intensity, grain and
small deformations. ``draw_strip`` draws every band of a strip from one :class:`BandTemplate` with
its own jitter, texture noise and intensity, plus per-pixel film grain over the whole strip, so two
bands look alike but never hold the same pixels. ``draw_gel`` draws a gel with a DNA ladder lane,
well slots, bright bands on a dark gel (or the inverted print).
"""

from dataclasses import dataclass

import cv2
import numpy as np

from ..blots import _smooth_noise as smooth_noise
from .panel import PanelArt, SceneObject

__all__ = ["BLOT_STRIP_STYLES", "BandTemplate", "draw_gel", "draw_strip", "sample_band_template"]

BLOT_STRIP_STYLES = ("film", "chemi")  # scanned X-ray film (grain, uneven), digital imager (clean)


@dataclass(frozen=True)
class BandTemplate:
    """The shape every band of a strip (or gel) shares."""

    half_width: float  # px, half the band's length across its lane
    thickness: float  # px, Gaussian thickness along the lane
    power: float  # flatness of the band's top across the lane (2 = Gaussian, 6 = flat)
    upper: float  # sigma above the band centre, as a fraction of thickness / 2
    lower: float  # sigma below it (bands trail downwards)
    smile: float  # px the band's ends bend up (negative) or down
    tilt: float  # slope across the lane


def sample_band_template(rng, lane_width, max_thickness):
    """A random band shape for lanes ``lane_width`` px wide, at most ``max_thickness`` px thick."""
    thickness = float(np.clip(rng.uniform(0.08, 0.25) * lane_width, 2.0, max(2.0, max_thickness)))
    return BandTemplate(
        half_width=lane_width / 2.0,
        thickness=thickness,
        power=float(rng.uniform(2.0, 6.0)),
        upper=float(rng.uniform(0.8, 1.0)),
        lower=float(rng.uniform(1.0, 1.5)),
        smile=float(rng.uniform(-0.3, 0.3) * thickness),
        tilt=float(rng.uniform(-0.02, 0.02)),
    )


def _add_band(rng, density, cx, cy, template, intensity):
    """Add one band (the template, jittered, with its own texture) centred at (cx, cy); its box."""
    h_img, w_img = density.shape
    half = template.half_width * rng.uniform(0.95, 1.05)
    thick = template.thickness * rng.uniform(0.88, 1.12)
    smile = template.smile * rng.uniform(0.7, 1.3)
    tilt = template.tilt + rng.uniform(-0.008, 0.008)
    up, low = template.upper * thick / 2.0, template.lower * thick / 2.0
    reach_y = abs(smile) + abs(tilt) * half
    x0, x1 = int(np.floor(cx - half * 1.3)), int(np.ceil(cx + half * 1.3)) + 1
    y0, y1 = int(np.floor(cy - 3 * up - reach_y)), int(np.ceil(cy + 3.5 * low + reach_y)) + 1
    bx0, by0, bx1, by1 = max(x0, 0), max(y0, 0), min(x1, w_img), min(y1, h_img)
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    xs = (np.arange(bx0, bx1, dtype=np.float32) - cx) / half
    ys = np.arange(by0, by1, dtype=np.float32)[:, None]
    across = np.exp(-(np.abs(xs) ** template.power))
    dy = ys - (cy + smile * xs**2 + tilt * xs * half)[None, :]
    along = np.exp(-0.5 * (dy / np.where(dy < 0, up, low)) ** 2)
    cells = (int(rng.integers(2, 5)), int(rng.integers(3, 9)))
    texture = 1.0 + smooth_noise(rng, by1 - by0, bx1 - bx0, cells, 0.1)
    density[by0:by1, bx0:bx1] += intensity * along * across[None, :] * texture
    box = (
        max(int(np.floor(cx - half)), 0),
        max(int(np.floor(cy - 2 * up - reach_y)), 0),
        min(int(np.ceil(cx + half)) + 1, w_img),
        min(int(np.ceil(cy + 2 * low + reach_y)) + 1, h_img),
    )
    return box if box[2] - box[0] >= 2 and box[3] - box[1] >= 2 else None


def _specks(rng, density, count, size):
    """Dust and bubbles: a few small dark (or clear) spots."""
    h, w = density.shape
    for _ in range(count):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.4, 1.0) * size
        cv2.circle(
            density,
            (int(cx * 4), int(cy * 4)),
            max(int(r * 4), 1),
            float(rng.uniform(-0.3, 0.5)),
            -1,
            cv2.LINE_AA,
            shift=2,
        )


def draw_strip(rng, height, width, lane_x, template, intensities, rows, style="film"):
    """One western blot strip: a band per lane and band row.

    Args:
        lane_x: lane centres (px, strip coordinates).
        template: the strip's BandTemplate.
        intensities: per lane, a band density (0 = empty lane; > 1 saturates the film).
        rows: band row centres (px); a second row makes a doublet / a second protein.
        style: one of BLOT_STRIP_STYLES.

    Returns a PanelArt with band and lane objects.
    """
    if style not in BLOT_STRIP_STYLES:
        raise ValueError(f"unknown strip style {style!r}; expected one of {BLOT_STRIP_STYLES}")
    density = np.zeros((height, width), np.float32)
    objects = []
    pitch = float(np.median(np.diff(lane_x))) if len(lane_x) > 1 else template.half_width * 2.5
    for r, row_y in enumerate(rows):
        row_scale = 1.0 if r == 0 else rng.uniform(0.3, 0.9)
        for x, value in zip(lane_x, intensities):
            if value <= 0:
                continue
            value = value * row_scale * rng.uniform(0.92, 1.08)
            box = _add_band(
                rng,
                density,
                x + rng.normal(0, pitch * 0.015),
                row_y + rng.normal(0, 0.6),
                template,
                value,
            )
            if box is not None:
                objects.append(SceneObject("band", box))
    for x in lane_x:
        x0, x1 = int(max(x - pitch / 2, 0)), int(min(x + pitch / 2, width))
        if x1 - x0 >= 3:
            objects.append(SceneObject("lane", (x0, 0, x1, height)))
    if rng.random() < 0.5:
        density = cv2.GaussianBlur(density, (0, 0), rng.uniform(0.4, 1.2))
    if style == "film":
        level = rng.uniform(190, 240)
        background = smooth_noise(
            rng,
            height,
            width,
            (int(rng.integers(2, 4)), int(rng.integers(3, 8))),
            rng.uniform(3, 10),
        )
        grain = rng.standard_normal((height, width), np.float32) * rng.uniform(2.0, 5.0)
        if rng.random() < 0.4:
            _specks(rng, density, int(rng.integers(1, 5)), max(1.0, template.thickness * 0.25))
    else:
        level = rng.uniform(228, 250)
        background = smooth_noise(rng, height, width, (2, 3), rng.uniform(1, 4))
        grain = rng.standard_normal((height, width), np.float32) * rng.uniform(0.8, 2.0)
    image = level + background - density * rng.uniform(0.8, 1.0) * level + grain
    grey = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return PanelArt(np.repeat(grey[:, :, None], 3, axis=2), "blot", style, objects)


def draw_gel(
    rng,
    height,
    width,
    lane_x,
    template,
    ladder_lane,
    ladder_ys,
    sample_bands,
    inverted=False,
    stain=None,
):
    """A DNA / RNA gel: well slots, a ladder lane and sample lanes, bright bands on a dark gel.

    Args:
        lane_x: lane centres (px).
        ladder_lane: index of the ladder lane (or -1 for none).
        ladder_ys: ladder band centres (px), top to bottom.
        sample_bands: per lane, a list of (y px, intensity) bands.
        inverted: print dark bands on a light background (a common way of showing gels).
        stain: RGB tint of the bands (None = grey): the orange of ethidium bromide, SYBR green.
    """
    density = np.zeros((height, width), np.float32)
    objects = []
    pitch = float(np.median(np.diff(lane_x))) if len(lane_x) > 1 else template.half_width * 2.5
    well_y = max(2, int(height * 0.04))
    well_h = max(2, int(round(template.thickness * 0.8)))
    for lane, x in enumerate(lane_x):
        if lane == ladder_lane:
            bands = [
                (y, rng.uniform(0.45, 0.75) * (1.6 if i == len(ladder_ys) // 2 else 1.0))
                for i, y in enumerate(ladder_ys)
            ]
        else:
            bands = sample_bands[lane]
        for y, value in bands:
            box = _add_band(rng, density, x + rng.normal(0, pitch * 0.01), y, template, value)
            if box is not None:
                objects.append(SceneObject("band", box))
        if lane != ladder_lane and rng.random() < 0.12:  # a smeared lane (degraded / genomic DNA)
            ys = np.arange(height, dtype=np.float32)[:, None]
            smear = np.exp(
                -(((ys - rng.uniform(0.3, 0.7) * height) / (0.25 * height)) ** 2)
            ) * rng.uniform(0.1, 0.3)
            x0, x1 = int(max(x - template.half_width, 0)), int(min(x + template.half_width, width))
            density[:, x0:x1] += smear * (1 + smooth_noise(rng, height, x1 - x0, (6, 2), 0.15))
        x0, x1 = int(max(x - pitch / 2, 0)), int(min(x + pitch / 2, width))
        objects.append(SceneObject("lane", (x0, 0, x1, height)))
        wx0, wx1 = int(round(x - template.half_width)), int(round(x + template.half_width))
        density[well_y : well_y + well_h, max(wx0, 0) : min(wx1, width)] += rng.uniform(0.15, 0.35)
    density = cv2.GaussianBlur(density, (0, 0), rng.uniform(0.6, 1.4))
    level = rng.uniform(8, 45)
    background = smooth_noise(
        rng, height, width, (int(rng.integers(2, 5)), int(rng.integers(2, 5))), rng.uniform(3, 9)
    )
    grain = rng.standard_normal((height, width), np.float32) * rng.uniform(1.5, 4.0)
    image = level + background + density * rng.uniform(0.75, 1.0) * (255 - level) + grain
    if inverted:
        image = 255.0 - image
    image = np.clip(image, 0, 255)
    if stain is not None and not inverted:
        rgb = np.clip(np.rint(image[:, :, None] * np.asarray(stain, np.float32)), 0, 255).astype(
            np.uint8
        )
    else:
        rgb = np.repeat(np.rint(image).astype(np.uint8)[:, :, None], 3, axis=2)
    return PanelArt(rgb, "gel", "gel-inverted" if inverted else "gel", objects)
