"""Procedurally drawn western blots and gels.

Every band is rendered on its own, with its own shape, intensity, curvature and texture, and the
whole image gets per-pixel noise: an authentic blot holds no duplicated patch (apart from perfectly
flat, saturated band cores), so copy-move labels stay exact.
"""

import cv2
import numpy as np

__all__ = ["BLOT_STYLES", "draw_blot"]

BLOT_STYLES = ("film", "gel")  # film: dark bands on light film; gel: bright bands on a dark gel


def _smooth_noise(rng, height, width, cells, amplitude):
    """Low-frequency noise: a coarse random grid upsampled with bicubic interpolation."""
    coarse = rng.standard_normal((max(cells[0], 2), max(cells[1], 2))).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * amplitude


def _draw_band(rng, density, cx, cy, half_width, thickness, intensity, smile, smear, tilt):
    """Add one band's density around (cx, cy); returns its XYXY box (exclusive end) or None."""
    h_img, w_img = density.shape
    sigma = thickness / 2.0
    tail = smear * thickness * rng.uniform(4, 12)  # how far the smear trails below the band
    x0 = int(np.floor(cx - half_width * 1.3))
    x1 = int(np.ceil(cx + half_width * 1.3)) + 1
    y0 = int(np.floor(cy - 3 * sigma - abs(smile) - abs(tilt) * half_width))
    y1 = int(np.ceil(cy + 3 * sigma + abs(smile) + abs(tilt) * half_width + tail)) + 1
    bx0, by0, bx1, by1 = max(x0, 0), max(y0, 0), min(x1, w_img), min(y1, h_img)
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    xs = (np.arange(bx0, bx1, dtype=np.float32) - cx) / half_width
    ys = np.arange(by0, by1, dtype=np.float32)[:, None]
    # Flat-topped across the lane, Gaussian along it, bent ("smile") and tilted.
    power = rng.uniform(2.0, 6.0)
    across = np.exp(-(np.abs(xs) ** power))
    centre_y = cy + smile * xs**2 + tilt * xs * half_width
    dy = ys - centre_y[None, :]
    upper = rng.uniform(0.8, 1.0) * sigma
    lower = rng.uniform(1.0, 1.5) * sigma
    along = np.exp(-0.5 * (dy / np.where(dy < 0, upper, lower)) ** 2)
    if smear > 0:
        along = np.maximum(
            along, smear * np.exp(-np.clip(dy, 0, None) / max(tail / 3.0, 1.0)) * (dy > 0)
        )
    texture = 1.0 + _smooth_noise(
        rng, by1 - by0, bx1 - bx0, (rng.integers(2, 5), rng.integers(3, 8)), 0.12
    )
    density[by0:by1, bx0:bx1] += intensity * along * across[None, :] * texture
    box_y0 = max(int(np.floor(cy - 2 * upper - abs(smile) - abs(tilt) * half_width)), 0)
    box_y1 = min(int(np.ceil(cy + 2 * lower + abs(smile) + abs(tilt) * half_width)) + 1, h_img)
    box_x0, box_x1 = (
        max(int(np.floor(cx - half_width)), 0),
        min(int(np.ceil(cx + half_width)) + 1, w_img),
    )
    if box_x1 - box_x0 < 2 or box_y1 - box_y0 < 2:
        return None
    return (box_x0, box_y0, box_x1, box_y1)


def draw_blot(rng, height, width, style=None):
    """Draw a western blot / gel of ``height`` x ``width`` pixels.

    Returns ``(image, band_boxes)``: a uint8 ``(H, W)`` grey image and the XYXY boxes (exclusive
    end) of its bands, used to plant realistic band duplications.
    """
    style = style or ("film" if rng.random() < 0.65 else "gel")
    if style not in BLOT_STYLES:
        raise ValueError(f"unknown blot style {style!r}; expected one of {BLOT_STYLES}")
    density = np.zeros((height, width), np.float32)
    n_lanes = int(np.clip(round(width / rng.uniform(18, 70)), 2, 24))
    pitch = width / n_lanes
    lane_width = pitch * rng.uniform(0.55, 0.88)
    # A strip of one to three band rows (western blot) or free band positions per lane (gel).
    strip = style == "film" and (height < 1.2 * width or rng.random() < 0.5)
    rows = sorted(rng.uniform(0.15, 0.85, int(rng.integers(1, 4))) * height) if strip else None
    # Bands are wider than thick: their thickness follows the lane width, capped by the height.
    thickness_base = np.clip(rng.uniform(0.12, 0.4) * lane_width, 2.0, max(2.0, 0.12 * height))
    lane_bend = rng.uniform(-0.02, 0.02) * width  # lanes drift sideways as they run down
    smile_amp = rng.uniform(-0.04, 0.04) * height  # outer lanes run slower or faster
    ladder_lane = int(rng.integers(0, n_lanes)) if style == "gel" and rng.random() < 0.6 else -1
    saturating = rng.random() < 0.25
    boxes = []
    for lane in range(n_lanes):
        lane_x = (lane + 0.5) * pitch + rng.normal(0, pitch * 0.03)
        edge = ((lane_x - width / 2) / (width / 2)) ** 2
        if rows is not None:
            ys = [r + rng.normal(0, thickness_base * 0.15) for r in rows]
        elif lane == ladder_lane:
            ys = list(np.sort(height * (1 - np.geomspace(0.9, 0.08, int(rng.integers(6, 13))))))
        else:
            ys = list(rng.uniform(0.08, 0.92, int(rng.integers(0, 7))) * height)
        for y in ys:
            y = y + smile_amp * edge
            x = lane_x + lane_bend * (y / height) ** 2
            intensity = rng.uniform(0.15, 1.0)
            if saturating and rng.random() < 0.3:
                intensity = rng.uniform(1.2, 2.0)  # clips to a flat, saturated core
            if rng.random() < 0.15:
                continue  # an empty lane position
            box = _draw_band(
                rng,
                density,
                x,
                y,
                half_width=lane_width / 2 * rng.uniform(0.85, 1.05),
                thickness=thickness_base * rng.uniform(0.6, 1.6),
                intensity=intensity,
                smile=rng.uniform(-0.25, 0.25) * thickness_base,
                smear=rng.uniform(0.05, 0.3) if rng.random() < 0.3 else 0.0,
                tilt=rng.uniform(-0.03, 0.03),
            )
            if box is not None:
                boxes.append(box)
    if rng.random() < 0.5:  # diffusion blur of the gel / film
        density = cv2.GaussianBlur(density, (0, 0), rng.uniform(0.5, 1.5))

    background = _smooth_noise(
        rng, height, width, (int(rng.integers(2, 6)), int(rng.integers(2, 8))), rng.uniform(3, 12)
    )
    grain = rng.normal(0.0, rng.uniform(2.0, 6.0), (height, width)).astype(np.float32)
    if style == "film":
        level = rng.uniform(185, 245)
        image = level + background - density * rng.uniform(0.75, 1.0) * level + grain
    else:
        level = rng.uniform(5, 60)
        image = level + background + density * rng.uniform(0.7, 1.0) * (255 - level) + grain
        if rng.random() < 0.3:  # gels are often shown inverted
            image = 255.0 - image
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), boxes
