"""Quantification plots as figures print them: bar charts, line plots, dot plots.

Axes, bars, error bars, markers and legend swatches are the panel's pixels (a plot panel is one
panel); tick labels, axis titles, legends and significance stars are text overlays. Plots repeat
themselves legitimately (identical bars, markers, caps, tick glyphs) and are never forged.
"""

import cv2
import numpy as np

from . import vocabulary as vocab
from .overlays import text
from .panel import PanelArt

__all__ = ["PLOT_STYLES", "draw_plot"]

PLOT_STYLES = ("bar", "line", "dots")
PALETTES = (
    ((40, 40, 40), (160, 160, 160), (255, 255, 255)),
    ((31, 119, 180), (255, 127, 14), (44, 160, 44)),
    ((220, 50, 47), (38, 139, 210), (133, 153, 0)),
    ((0, 0, 0), (230, 0, 0), (0, 0, 230)),
    ((86, 180, 233), (230, 159, 0), (0, 158, 115)),
    ((120, 120, 120), (200, 60, 60), (60, 60, 200)),
)
_MARKERS = ("circle", "square", "triangle", "diamond")


def _nice_ticks(top, count):
    """Ticks 0..>=top with a 1/2/2.5/5 x 10^k step, about ``count`` of them."""
    raw = top / max(count - 1, 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    n = int(np.ceil(top / step - 1e-9))
    return [round(i * step, 6) for i in range(n + 1)]


def _fmt(v):
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _marker(img, x, y, size, colour, kind, edge=(0, 0, 0)):
    s = max(size, 2)
    pts = {
        "square": [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)],
        "triangle": [(x, y - s * 1.2), (x + s * 1.1, y + s * 0.8), (x - s * 1.1, y + s * 0.8)],
        "diamond": [(x, y - s * 1.3), (x + s, y), (x, y + s * 1.3), (x - s, y)],
    }
    if kind == "circle":
        cv2.circle(
            img,
            (int(round(x * 4)), int(round(y * 4))),
            int(round(s * 4)),
            colour,
            -1,
            cv2.LINE_AA,
            shift=2,
        )
        cv2.circle(
            img,
            (int(round(x * 4)), int(round(y * 4))),
            int(round(s * 4)),
            edge,
            1,
            cv2.LINE_AA,
            shift=2,
        )
        return
    poly = np.round(np.array(pts[kind]) * 4).astype(np.int32)
    cv2.fillPoly(img, [poly], colour, cv2.LINE_AA, shift=2)
    cv2.polylines(img, [poly], True, edge, 1, cv2.LINE_AA, shift=2)


def _y_axis(img, overlays, left, top, bottom, ticks, y_of, font, size, lw, colour):
    tick = max(3, size // 3)
    cv2.line(img, (left, top), (left, bottom), colour, lw, cv2.LINE_AA)
    for t in ticks:
        y = int(round(y_of(t)))
        cv2.line(img, (left - tick, y), (left, y), colour, lw, cv2.LINE_AA)
        overlays.append(
            text(_fmt(t), left - tick - 2, y, font, size, colour, "tick_label", anchor="rm")
        )


def draw_plot(rng, height, width, style, font="sans", size=11, palette=None):
    """A quantification plot of ``height`` x ``width`` px; None when it is too small to draw."""
    if style not in PLOT_STYLES:
        raise ValueError(f"unknown plot style {style!r}; expected one of {PLOT_STYLES}")
    palette = palette or PALETTES[int(rng.integers(0, len(PALETTES)))]
    img = np.full((height, width, 3), 255, np.uint8)
    overlays = []
    ink = (0, 0, 0)
    lw = max(1, int(round(size / 10)))
    tick_size = max(int(round(size * 0.85)), 7)
    n_groups = int(rng.integers(2, 6)) if style != "line" else int(rng.integers(4, 7))
    n_series = int(rng.integers(1, 4))
    if style == "line":
        series = vocab.TIME_SERIES[int(rng.integers(0, len(vocab.TIME_SERIES)))]
        groups = (list(series) + ["72", "96"])[:n_groups]
    else:
        pool = list(vocab.CONDITIONS) + list(vocab.DRUGS)
        groups = [str(g) for g in rng.choice(pool, n_groups, replace=False)]
    values = rng.uniform(0.2, 1.0, (n_series, n_groups)) * rng.choice([1, 2, 5, 10, 100])
    if style == "line":
        values = np.sort(values, axis=1) if rng.random() < 0.6 else values
    errors = values * rng.uniform(0.03, 0.2, values.shape)
    ticks = _nice_ticks(float((values + errors).max()) * 1.15, int(rng.integers(4, 7)))
    y_title = str(rng.choice(vocab.AXIS_LABELS))
    tick_w = max(text(_fmt(t), 0, 0, font, tick_size).shape[1] for t in ticks)
    left = int(
        tick_w + tick_size // 3 + 6 + (text(y_title, 0, 0, font, size, angle=90).shape[1] + 4)
    )
    slot_estimate = (width - left - max(4, width // 30)) / n_groups
    widest = max(text(g, 0, 0, font, tick_size).shape[1] for g in groups)
    rotate = style != "line" and (rng.random() < 0.35 or widest > 0.9 * slot_estimate)
    x_label_h = max(
        text(g, 0, 0, font, tick_size, angle=45 if rotate else 0).shape[0] for g in groups
    )
    bottom_margin = int(x_label_h + tick_size // 3 + 5 + (size + 6 if style == "line" else 0))
    top, right = int(size * (2.2 if n_series > 1 else 1.2)), max(4, width // 30)
    bottom = height - bottom_margin
    if bottom - top < 30 or width - right - left < 40:
        return None
    y_of = lambda v: bottom - (v / ticks[-1]) * (bottom - top)  # noqa: E731
    _y_axis(img, overlays, left, top, bottom, ticks, y_of, font, tick_size, lw, ink)
    overlays.append(
        text(
            y_title,
            lw + 1,
            (top + bottom) / 2,
            font,
            size,
            ink,
            "axis_title",
            anchor="lm",
            angle=90,
        )
    )
    cv2.line(img, (left, bottom), (width - right, bottom), ink, lw, cv2.LINE_AA)
    slot = (width - right - left) / n_groups
    centres = [left + slot * (g + 0.5) for g in range(n_groups)]
    bar_w = slot * rng.uniform(0.5, 0.8) / n_series
    cap = max(2, int(bar_w * 0.25))
    markers = rng.permutation(_MARKERS)
    for s in range(n_series):
        colour = tuple(int(c) for c in palette[s % len(palette)])
        points = []
        for g in range(n_groups):
            v, e = values[s, g], errors[s, g]
            x = centres[g] + (s - (n_series - 1) / 2) * bar_w if style != "line" else centres[g]
            if style == "bar":
                p0 = (int(round(x - bar_w / 2 + 1)), int(round(y_of(v))))
                p1 = (int(round(x + bar_w / 2 - 1)), bottom)
                cv2.rectangle(img, p0, p1, colour, -1)
                cv2.rectangle(img, p0, p1, ink, lw)
            elif style == "dots":
                pts = v * (1 + rng.normal(0, 0.12, int(rng.integers(4, 9))))
                for p in pts:
                    _marker(
                        img,
                        x + rng.uniform(-bar_w / 3, bar_w / 3),
                        y_of(max(p, 0)),
                        max(2, size // 5),
                        colour,
                        "circle",
                    )
                cv2.line(
                    img,
                    (int(x - bar_w / 2.5), int(y_of(v))),
                    (int(x + bar_w / 2.5), int(y_of(v))),
                    ink,
                    lw + 1,
                    cv2.LINE_AA,
                )
            points.append((x, y_of(v)))
            yt, yb = int(round(y_of(v + e))), int(round(y_of(max(v - e, 0))))
            xi = int(round(x))
            cv2.line(
                img,
                (xi, yt),
                (xi, yb if style != "bar" else int(round(y_of(v)))),
                ink,
                lw,
                cv2.LINE_AA,
            )
            cv2.line(img, (xi - cap, yt), (xi + cap, yt), ink, lw, cv2.LINE_AA)
        if style == "line":
            poly = np.round(np.array(points) * 4).astype(np.int32)
            cv2.polylines(img, [poly], False, colour, lw + 1, cv2.LINE_AA, shift=2)
            for x, y in points:
                _marker(img, x, y, max(2, size // 4), colour, markers[s])
    for g, label in enumerate(groups):  # x tick labels
        if style == "line":
            cv2.line(
                img,
                (int(centres[g]), bottom),
                (int(centres[g]), bottom + tick_size // 3),
                ink,
                lw,
                cv2.LINE_AA,
            )
        anchor = "rt" if rotate else "ct"
        x = centres[g] + (tick_size * 0.3 if rotate else 0)
        overlays.append(
            text(
                label,
                x,
                bottom + tick_size // 3 + 2,
                font,
                tick_size,
                ink,
                "tick_label",
                anchor,
                45 if rotate else 0,
            )
        )
    if style == "line":
        overlays.append(
            text(
                str(rng.choice(vocab.X_AXIS_LABELS)),
                (left + width - right) / 2,
                height - 2,
                font,
                size,
                ink,
                "axis_title",
                anchor="cb",
            )
        )
    if style != "line" and rng.random() < 0.6:  # significance stars above the tallest bars
        for g in rng.choice(n_groups, size=min(n_groups, int(rng.integers(1, 3))), replace=False):
            y = y_of(values[:, g].max() + errors[:, g].max()) - 3
            mark = str(rng.choice(["*", "**", "***", "ns", "#"]))
            star = text(mark, centres[g], y, font, tick_size, ink, "significance", anchor="cb")
            if star.box[1] > 1:
                overlays.append(star)
    if n_series > 1:  # legend: swatches (panel pixels) + names (text), in the top margin
        names = [str(n) for n in rng.choice(vocab.CONDITIONS, n_series, replace=False)]
        x = left + 4
        sw = max(tick_size - 2, 5)
        for s, name in enumerate(names):
            label = text(name, x + sw + 3, 2, font, tick_size, ink, "legend")
            if label.box[2] >= width - 2:
                break
            colour = tuple(int(c) for c in palette[s % len(palette)])
            y = 2 + label.shape[0] // 2
            if style == "line":
                _marker(img, x + sw / 2, y, max(2, sw // 3), colour, markers[s])
            else:
                cv2.rectangle(img, (x, y - sw // 2), (x + sw, y + sw // 2), colour, -1)
                cv2.rectangle(img, (x, y - sw // 2), (x + sw, y + sw // 2), ink, 1)
            overlays.append(label)
            x = label.box[2] + tick_size
    return PanelArt(img, "plot", style, [], overlays)
