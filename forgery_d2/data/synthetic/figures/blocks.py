"""Blocks: groups of panels with the labels that come with them, as figures lay them out.

A block is what a figure's letter (A, B, ...) usually labels:

* :class:`BlotStack`: western blot strips stacked under ONE lane header ("+ - + -" rows, doses,
  times, condition spans with a line, cell-line names at 45 degrees), protein names at one side and
  kDa markers at the other. Every strip shares the lanes, and each strip's bands share one shape.
* :class:`MicrographGrid`: rows x columns of micrographs (fluorescence channels + merge of one
  field per row, stained brightfield, or real photo crops), channel / condition headers, row
  labels, the figure's scale bar in every panel, arrows / arrowheads / asterisks at cells, insets.
* :class:`GelBlock`: 1-3 DNA gels side by side with the same lane labels and bp markers.
* :class:`PlateBlock`: one well plate, or a row of dishes, with condition labels.
* :class:`PlotBlock`: one quantification plot.

Geometry contract (used by forgery_d2.data.synthetic.figures.layout): a block's data area is
``aspect * s + inner_w`` px wide and ``s + inner_h`` px high for a free scale ``s``; its labels take
``margins`` = (left, top, right, bottom) px around it. ``render`` draws it into a given data box
and returns the placed panels (PanelArt, top-left) and the overlays, all in figure coordinates.
"""

from dataclasses import dataclass

import numpy as np

from . import vocabulary as vocab
from .blot_panels import draw_gel, draw_strip, sample_band_template
from .microscopy import (
    PhotoCropper,
    add_inset,
    brightfield_panel,
    fluorescence_panels,
    photo_panel,
    sample_field,
)
from .overlays import arrow, arrowhead, asterisk, line, scale_bar, text
from .plates import PLATE_CONTENTS, draw_plate
from .plots import PLOT_STYLES, draw_plot

__all__ = [
    "BLOCK_KINDS",
    "BLOCK_TYPES",
    "BlotStack",
    "FigureContext",
    "FigureStyle",
    "GelBlock",
    "MicrographGrid",
    "PlateBlock",
    "PlotBlock",
    "ScaleBarStyle",
]

BLOCK_KINDS = ("blot", "micrograph", "gel", "plate", "plot")


@dataclass
class ScaleBarStyle:
    """One scale bar for every micrograph of a figure (same length, text, corner and colour)."""

    micrometres: int
    fraction: float  # bar length as a fraction of the first micrograph's width
    thickness: int
    corner: str  # "br", "bl", "tr" or "tl"
    show_text: bool
    length: int = 0  # px, fixed when the first micrograph is drawn


@dataclass
class FigureStyle:
    """Typography and colours shared by everything in one figure."""

    font: str
    size: int  # label font size, px
    ink: tuple  # text / line colour on the figure's background
    paper: tuple  # figure background
    letter_font: str
    letter_size: int
    letter_case: str  # "upper" or "lower"
    letter_place: str  # "outside", "inside" or "none"
    minus: str  # the "-" of +/- rows ("-" or the typographic minus)
    scale_bar: ScaleBarStyle = None
    pointer: str = "arrow"  # arrow / arrowhead / asterisk: how cells are pointed at
    pointer_prob: float = 0.3  # P(a micrograph carries pointers)
    # RGB of a 1 px frame drawn around blot strips and micrographs (None: no frame)
    frame: tuple = None

    @property
    def line_height(self):
        return int(round(self.size * 1.3))

    @property
    def pad(self):
        return max(2, self.size // 3)


@dataclass
class FigureContext:
    """Per-figure state blocks share: the split (photo crops) and the crops already used."""

    split: str
    photos: PhotoCropper = None

    def __post_init__(self):
        if self.photos is None:
            self.photos = PhotoCropper(self.split)


def _width(string, style, size=None, angle=0):
    return text(string, 0, 0, style.font, size or style.size, angle=angle).shape[1]


def _height(string, style, size=None, angle=0):
    return text(string, 0, 0, style.font, size or style.size, angle=angle).shape[0]


def _fitted(string, width, x, y, style, colour, label, anchor, angle=0):
    """A label no wider than ``width`` px: the figure's size, else down to 70% of it, else None."""
    for size in (style.size, int(style.size * 0.85), int(style.size * 0.7)):
        o = text(string, x, y, style.font, max(size, 6), colour, label, anchor, angle)
        if o.box[2] - o.box[0] <= width:
            return o
    return None


def _keep(overlays, o):
    if o is not None:
        overlays.append(o)


def _pick(rng, pool, k=None):
    if k is None:
        return str(pool[int(rng.integers(0, len(pool)))])
    return [str(v) for v in rng.choice(np.asarray(pool, dtype=object), size=k, replace=False)]


class Block:
    """Base class: see the module docstring for the geometry contract."""

    kind = ""
    aspect = 1.0
    inner_w = 0
    inner_h = 0
    min_scale = 24  # smallest s (px) the block can be drawn at

    def panel_count(self):
        raise NotImplementedError

    def margins(self, style):
        return (0, 0, 0, 0)

    def render(self, rng, ctx, style, x, y, w, h):
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------
# Western blots


@dataclass
class HeaderRow:
    """One row of a lane header: per-lane tokens, or labelled spans of lanes with a line."""

    name: str = None  # row title at the left ("siRNA", "Dox (μM)")
    tokens: list = None  # one string per lane
    spans: list = None  # (first lane, last lane, label)
    angle: int = 0  # 45 for slanted lane names


def _plus_minus(rng, n, minus):
    kind = rng.integers(0, 3)
    if kind == 0:
        bits = np.arange(n) % 2
    elif kind == 1:
        bits = (np.arange(n) >= n // 2).astype(int)
    else:
        bits = rng.integers(0, 2, n)
        bits[0], bits[-1] = 0, 1
    return ["+" if b else minus for b in bits]


def _sample_header(rng, n_lanes, minus):
    rows = []
    n_rows = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
    kinds = rng.choice(["pm", "series", "words", "spans"], size=n_rows, p=[0.45, 0.2, 0.15, 0.2])
    for kind in kinds:
        if kind == "pm":
            rows.append(
                HeaderRow(
                    name=_pick(rng, vocab.TREATMENT_ROWS + vocab.CONDITIONS),
                    tokens=_plus_minus(rng, n_lanes, minus),
                )
            )
        elif kind == "series":
            times = rng.random() < 0.5
            pool = vocab.TIME_SERIES if times else vocab.CONCENTRATION_SERIES
            series = list(pool[int(rng.integers(0, len(pool)))])
            tokens = (series * (n_lanes // len(series) + 1))[:n_lanes]
            unit = _pick(rng, vocab.TIME_UNITS if times else vocab.CONCENTRATION_UNITS)
            name = f"{_pick(rng, vocab.DRUGS[1:])} ({unit})" if rng.random() < 0.7 else unit
            rows.append(HeaderRow(name=name, tokens=tokens))
        elif kind == "words":
            rows.append(
                HeaderRow(
                    tokens=[
                        _pick(rng, vocab.CELL_LINES + vocab.CONDITIONS) for _ in range(n_lanes)
                    ],
                    angle=45,
                )
            )
        else:
            cuts = sorted(
                rng.choice(
                    np.arange(1, n_lanes),
                    size=min(int(rng.integers(1, 3)), n_lanes - 1),
                    replace=False,
                )
            )
            edges = [0] + [int(c) for c in cuts] + [n_lanes]
            labels = _pick(rng, vocab.CONDITIONS + vocab.DRUGS, len(edges) - 1)
            rows.append(
                HeaderRow(
                    spans=[(edges[i], edges[i + 1] - 1, labels[i]) for i in range(len(edges) - 1)]
                )
            )
    return rows


@dataclass
class StripSpec:
    protein: str
    height: float  # in lane pitches
    rows: int  # band rows (1 = one protein, 2 = doublet / second form)
    kda: int
    loading: bool


class BlotStack(Block):
    """Western blot strips under one lane header."""

    kind = "blot"

    def __init__(self, rng, style, n_strips=None):
        self.n_lanes = int(rng.choice(np.arange(3, 15), p=_lane_probs()))
        self.header = _sample_header(rng, self.n_lanes, style.minus)
        n = int(n_strips or rng.integers(1, 7))
        proteins = _pick(rng, vocab.PROTEINS, n)
        loading = rng.random() < 0.75
        self.strips = []
        for i in range(n):
            is_loading = loading and i == n - 1
            name = _pick(rng, vocab.LOADING_CONTROLS) if is_loading else proteins[i]
            self.strips.append(
                StripSpec(
                    name,
                    float(rng.uniform(0.3, 0.85)),
                    2 if rng.random() < 0.12 else 1,
                    int(rng.choice(vocab.KDA_MARKERS[1:-1])),
                    is_loading,
                )
            )
        self.protein_side = "right" if rng.random() < 0.7 else "left"
        self.kda = rng.random() < 0.5
        self.kda_format = "tick" if rng.random() < 0.5 else "text"
        self.strip_style = "film" if rng.random() < 0.6 else "chemi"
        self.gap = (
            0 if rng.random() < 0.2 else int(max(1, round(style.size * rng.uniform(0.15, 0.5))))
        )
        self.aspect = self.n_lanes / sum(s.height for s in self.strips)
        self.inner_h = self.gap * (n - 1)
        self.min_scale = max(12 * n, 16)  # strips at least ~10 px high

    def share_header(self, other):
        """Use ``other``'s lanes and lane header (figures repeat one header over several stacks)."""
        self.n_lanes, self.header = other.n_lanes, other.header
        self.aspect = self.n_lanes / sum(s.height for s in self.strips)

    def panel_count(self):
        return len(self.strips)

    def _kda_label(self, strip):
        return str(strip.kda) if self.kda_format == "tick" else f"{strip.kda} kDa"

    def _row_height(self, row, style):
        if row.angle:
            return max(_height(t, style, angle=row.angle) for t in row.tokens) + style.pad
        return style.line_height + (style.pad if row.spans else 0)

    def margins(self, style):
        pad = style.pad
        names = [r.name for r in self.header if r.name]
        left = max([_width(n, style) for n in names], default=0)
        proteins = max(_width(s.protein, style) for s in self.strips)
        kda = max(_width(self._kda_label(s), style) for s in self.strips) + (
            style.size if self.kda_format == "tick" else 0
        )
        right = 0
        if self.protein_side == "right":
            right = proteins
            left = max(left, kda if self.kda else 0)
        else:
            left = max(left, proteins)
            right = kda if self.kda else 0
        top = sum(self._row_height(r, style) for r in self.header) + pad
        return (left + 2 * pad if left else pad, top, right + 2 * pad if right else pad, pad)

    def _intensities(self, rng, strip):
        if strip.loading:
            return list(rng.uniform(0.72, 0.88) * rng.uniform(0.93, 1.07, self.n_lanes))
        pm = next((r.tokens for r in self.header if r.tokens and "+" in r.tokens), None)
        if pm is not None and rng.random() < 0.7:
            up = rng.random() < 0.6
            base = np.array([(1.0 if (t == "+") == up else 0.3) for t in pm])
        else:
            base = rng.uniform(0.2, 1.0, self.n_lanes)
        values = base * rng.uniform(0.7, 1.15, self.n_lanes) * rng.uniform(0.7, 1.3)
        if rng.random() < 0.2:
            values[rng.integers(0, self.n_lanes)] = 0.0  # an empty lane
        if rng.random() < 0.15:
            values = values * 1.6  # over-exposed: saturated band cores
        return list(values)

    def render(self, rng, ctx, style, x, y, w, h):
        pitch = w / self.n_lanes
        lane_x = [(i + 0.5) * pitch for i in range(self.n_lanes)]
        usable = h - self.inner_h
        heights = np.array([s.height for s in self.strips])
        sizes = 10 + np.floor(heights / heights.sum() * (usable - 10 * len(heights))).astype(int)
        sizes[-1] = usable - sizes[:-1].sum()
        placed, overlays = [], []
        pad, ink = style.pad, style.ink
        top = y
        for strip, sh in zip(self.strips, sizes):
            shift = rng.normal(0, 0.02 * pitch)
            template = sample_band_template(rng, pitch * rng.uniform(0.6, 0.85), max(2.0, 0.3 * sh))
            rows = [sh * rng.uniform(0.4, 0.6)] if strip.rows == 1 else [sh * 0.35, sh * 0.65]
            art = draw_strip(
                rng,
                int(sh),
                int(w),
                [lx + shift for lx in lane_x],
                template,
                self._intensities(rng, strip),
                rows,
                self.strip_style,
            )
            art.tags.update(protein=strip.protein)
            placed.append((art, (x, top)))
            cy = top + sh / 2.0
            side_x = x + w + pad if self.protein_side == "right" else x - pad
            overlays.append(
                text(
                    strip.protein,
                    side_x,
                    cy,
                    style.font,
                    style.size,
                    ink,
                    "protein",
                    "lm" if self.protein_side == "right" else "rm",
                )
            )
            if self.kda:
                right = self.protein_side == "left"
                edge = x + w + pad if right else x - pad
                label = self._kda_label(strip)
                if self.kda_format == "tick":
                    tick = style.size * 0.7
                    a, b = (edge, edge + tick) if right else (edge - tick, edge)
                    overlays.append(
                        line((a, cy), (b, cy), max(1.0, style.size / 10), ink, "kda_tick")
                    )
                    edge = b + pad if right else a - pad
                overlays.append(
                    text(
                        label, edge, cy, style.font, style.size, ink, "kda", "lm" if right else "rm"
                    )
                )
            top += sh + self.gap
        # The lane header, bottom row nearest to the strips.
        row_bottom = y - pad
        for row in reversed(self.header):
            rh = self._row_height(row, style)
            if row.tokens and row.angle:
                for lx, token in zip(lane_x, row.tokens):
                    overlays.append(
                        text(
                            token,
                            x + lx - style.size * 0.2,
                            row_bottom,
                            style.font,
                            style.size,
                            ink,
                            "lane_label",
                            "lb",
                            row.angle,
                        )
                    )
            elif row.tokens:
                for lx, token in zip(lane_x, row.tokens):
                    overlays.append(
                        text(
                            token,
                            x + lx,
                            row_bottom,
                            style.font,
                            style.size,
                            ink,
                            "lane_label",
                            "cb",
                        )
                    )
            else:
                for first, last, label in row.spans:
                    x0, x1 = x + first * pitch + pitch * 0.12, x + (last + 1) * pitch - pitch * 0.12
                    if _width(label, style) > x1 - x0:  # a shorter name that fits the span, if any
                        fitting = [c for c in vocab.CONDITIONS if _width(c, style) <= x1 - x0]
                        label = fitting[int(rng.integers(0, len(fitting)))] if fitting else ""
                    overlays.append(
                        line(
                            (x0, row_bottom - pad / 2),
                            (x1, row_bottom - pad / 2),
                            max(1.0, style.size / 10),
                            ink,
                            "lane_group_line",
                        )
                    )
                    if label:
                        overlays.append(
                            text(
                                label,
                                (x0 + x1) / 2,
                                row_bottom - pad,
                                style.font,
                                style.size,
                                ink,
                                "lane_group",
                                "cb",
                            )
                        )
            if row.name:
                overlays.append(
                    text(
                        row.name,
                        x - 2 * pad,
                        row_bottom,
                        style.font,
                        style.size,
                        ink,
                        "row_title",
                        "rb",
                    )
                )
            row_bottom -= rh
        return placed, overlays


def _lane_probs():
    weights = np.array([1, 3, 5, 6, 6, 6, 5, 4, 3, 2, 2, 1], float)  # 3..14 lanes
    return weights / weights.sum()


# ----------------------------------------------------------------------------------------------
# Micrographs


def _corner_position(corner, pw, ph, width, height, margin):
    x = pw - margin - width if corner[1] == "r" else margin
    y = ph - margin - height if corner[0] == "b" else margin
    return x, y


class MicrographGrid(Block):
    """Rows x columns of micrographs of one modality."""

    kind = "micrograph"

    def __init__(self, rng, style, rows=None, cols=None):
        self.modality = str(
            rng.choice(["fluorescence", "brightfield", "photo"], p=[0.6, 0.28, 0.12])
        )
        if self.modality == "fluorescence" and rng.random() < 0.65:
            self.channels = vocab.CHANNEL_SETS[int(rng.integers(0, len(vocab.CHANNEL_SETS)))]
            self.mode = "channels"
            cols = len(self.channels) + 1
            self.col_labels = [c[0] for c in self.channels] + [_pick(rng, vocab.MERGE_LABELS)]
            # channel names printed in their channel's colour (darkened to read on white paper)
            self.col_colours = (
                [c[1] for c in self.channels] + [None] if rng.random() < 0.3 else None
            )
        else:
            self.channels = vocab.CHANNEL_SETS[int(rng.integers(0, len(vocab.CHANNEL_SETS)))]
            self.mode = "conditions"
            cols = cols or int(rng.choice([1, 2, 3, 4, 5], p=[0.15, 0.3, 0.25, 0.2, 0.1]))
            self.col_labels = (
                _pick(rng, vocab.CONDITIONS + vocab.DRUGS, cols) if rng.random() < 0.7 else None
            )
            self.col_colours = None
        self.cols = cols
        self.rows = rows or int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1]))
        self.row_labels = (
            _pick(rng, vocab.CONDITIONS + vocab.CELL_LINES, self.rows)
            if self.rows > 1 and rng.random() < 0.7
            else None
        )
        self.row_label_angle = 90 if rng.random() < 0.5 else 0
        self.panel_aspect = float(rng.choice([1.0, 4 / 3, 3 / 4, 1.0], p=[0.55, 0.25, 0.1, 0.1]))
        self.gap = (
            0 if rng.random() < 0.35 else int(max(1, round(style.size * rng.uniform(0.1, 0.4))))
        )
        self.stain = "he" if rng.random() < 0.5 else "ihc"
        self.crowding = (
            float(rng.uniform(0.1, 1.0))
            if self.modality == "fluorescence"
            else float(rng.uniform(0.6, 1.0))
        )
        self.cell_fraction = float(
            rng.uniform(0.035, 0.1)
        )  # cell radius / panel width: the magnification
        self.grey_singles = rng.random() < 0.15
        self.inset_prob = 0.25 if rng.random() < 0.3 else 0.0
        self.panel_letters = rng.random() < 0.15
        self.aspect = self.cols * self.panel_aspect / self.rows
        self.inner_w = self.gap * (self.cols - 1)
        self.inner_h = self.gap * (self.rows - 1)
        self.min_scale = 28 * self.rows

    def panel_count(self):
        return self.rows * self.cols

    def margins(self, style):
        pad = style.pad
        top = style.line_height + pad if self.col_labels else 0
        left = 0
        if self.row_labels:
            if self.row_label_angle:
                left = style.line_height + pad
            else:
                left = max(_width(t, style) for t in self.row_labels) + 2 * pad
        return (left, top, 0, 0)

    def _panels_of_row(self, rng, ctx, pw, ph):
        if self.modality == "fluorescence":
            if self.mode == "channels":
                field = sample_field(
                    rng, ph, pw, radius=self.cell_fraction * pw, crowding=self.crowding
                )
                return fluorescence_panels(
                    rng, field, self.channels, merge=True, grey_singles=self.grey_singles
                )
            return [
                fluorescence_panels(
                    rng,
                    sample_field(
                        rng, ph, pw, radius=self.cell_fraction * pw, crowding=self.crowding
                    ),
                    self.channels,
                    merge=True,
                    singles=False,
                )[0]
                for _ in range(self.cols)
            ]
        arts = []
        for _ in range(self.cols):
            art = photo_panel(rng, ctx.photos, ph, pw) if self.modality == "photo" else None
            if art is None:
                field = sample_field(
                    rng, ph, pw, radius=self.cell_fraction * pw, crowding=self.crowding
                )
                art = brightfield_panel(rng, field, self.stain)
            arts.append(art)
        return arts

    def render(self, rng, ctx, style, x, y, w, h):
        pw = (w - self.inner_w) // self.cols
        ph = (h - self.inner_h) // self.rows
        placed, overlays = [], []
        pad = style.pad
        for r in range(self.rows):
            for c, art in enumerate(self._panels_of_row(rng, ctx, pw, ph)):
                px, py = x + c * (pw + self.gap), y + r * (ph + self.gap)
                dark = art.style == "fluorescence"
                mark_colour = (255, 255, 255) if dark else (0, 0, 0)
                if rng.random() < self.inset_prob and min(pw, ph) >= 90:
                    add_inset(
                        rng, art, (255, 255, 255) if dark else (0, 0, 0), max(1.0, style.size / 10)
                    )
                self._scale_bar(style, art, pw, ph, mark_colour)
                self._pointers(rng, style, art, pw, ph, dark)
                art.overlays = [o.shifted(px, py) for o in art.overlays]
                placed.append((art, (px, py)))
        if self.col_labels:
            for c, label in enumerate(self.col_labels):
                cx = x + c * (pw + self.gap) + pw / 2.0
                colour = style.ink
                if self.col_colours and self.col_colours[c] is not None:
                    shade = (
                        255 if style.paper[0] < 128 else 190
                    )  # full colour on black, darker on white
                    colour = tuple(int(round(v * shade)) for v in self.col_colours[c])
                _keep(
                    overlays,
                    _fitted(
                        label, pw + self.gap - 2, cx, y - pad, style, colour, "column_label", "cb"
                    ),
                )
        if self.row_labels:
            for r, label in enumerate(self.row_labels):
                cy = y + r * (ph + self.gap) + ph / 2.0
                if self.row_label_angle:
                    o = _fitted(label, 10**6, x - pad, cy, style, style.ink, "row_label", "rm", 90)
                    if o.box[3] - o.box[1] <= ph + self.gap - 2:
                        overlays.append(o)
                else:
                    overlays.append(
                        text(
                            label,
                            x - 2 * pad,
                            cy,
                            style.font,
                            style.size,
                            style.ink,
                            "row_label",
                            "rm",
                        )
                    )
        return placed, overlays

    def _scale_bar(self, style, art, pw, ph, colour):
        bar = style.scale_bar
        if bar is None:
            return
        if not bar.length:
            bar.length = max(int(round(bar.fraction * pw)), 8)
        if bar.length > 0.45 * pw or ph < 40:
            return
        margin = max(3, int(0.04 * min(pw, ph)))
        label = text(
            f"{bar.micrometres} μm",
            0,
            0,
            style.font,
            max(7, int(style.size * 0.9)),
            colour,
            "scale_text",
        )
        tw, th = label.shape[1], label.shape[0]
        show_text = bar.show_text and tw <= 0.45 * pw and th <= 0.2 * ph
        block_w = max(bar.length, tw if show_text else 0)
        block_h = bar.thickness + (th + 1 if show_text else 0)
        bx, by = _corner_position(bar.corner, pw, ph, block_w, block_h, margin)
        bar_x = bx + (block_w - bar.length) // 2
        text_below = bar.corner[0] == "t"
        bar_y = by if text_below else by + block_h - bar.thickness
        art.overlays.append(scale_bar(bar_x, bar_y, bar.length, bar.thickness, colour))
        if show_text:
            ty = bar_y + bar.thickness + 1 if text_below else bar_y - th - 1
            art.overlays.append(label.shifted(bx + (block_w - tw) // 2, ty))

    def _pointers(self, rng, style, art, pw, ph, dark):
        cells = [o for o in art.objects if o.kind == "cell"]
        if not cells or rng.random() >= style.pointer_prob:
            return
        colour = (
            tuple(int(v) for v in ((255, 255, 255) if rng.random() < 0.6 else (255, 230, 0)))
            if dark
            else ((0, 0, 0) if rng.random() < 0.6 else (220, 0, 0))
        )
        size = max(style.size * 1.2, 7.0)
        taken = [o.box for o in art.overlays]
        for k in rng.permutation(len(cells))[: int(rng.integers(1, 4))]:
            x0, y0, x1, y1 = cells[k].box
            cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
            angle = float(rng.uniform(0, 360))
            reach = (x1 - x0) / 2.0 + 2
            tip = (cx + np.cos(np.deg2rad(angle)) * reach, cy + np.sin(np.deg2rad(angle)) * reach)
            if style.pointer == "arrow":
                mark = arrow(tip, angle, size * 2.2, max(1.0, size / 8), colour)
            elif style.pointer == "arrowhead":
                mark = arrowhead(tip, angle, size, colour)
            else:
                c = (
                    tip[0] + np.cos(np.deg2rad(angle)) * size * 0.5,
                    tip[1] + np.sin(np.deg2rad(angle)) * size * 0.5,
                )
                mark = asterisk(c, size, max(1.0, size / 7), colour)
            bx0, by0, bx1, by1 = mark.box
            if bx0 < 1 or by0 < 1 or bx1 > pw - 1 or by1 > ph - 1:
                continue
            if any(bx0 < t[2] and t[0] < bx1 and by0 < t[3] and t[1] < by1 for t in taken):
                continue
            art.overlays.append(mark)
            taken.append(mark.box)


# ----------------------------------------------------------------------------------------------
# Gels


class GelBlock(Block):
    """1-3 DNA gels side by side with the same lane labels; bp markers at the ladder side."""

    kind = "gel"

    def __init__(self, rng, style, n_gels=None):
        self.n_gels = int(n_gels or rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
        self.n_lanes = int(rng.integers(4, 13))
        self.ladder = 0 if rng.random() < 0.8 else self.n_lanes - 1
        ladder_name = _pick(rng, ["M", "L", "M", "bp"])
        kind = rng.integers(0, 3)
        if kind == 0:
            labels = [str(i + 1) for i in range(self.n_lanes - 1)]
        elif kind == 1:
            labels = _plus_minus(rng, self.n_lanes - 1, style.minus)
        else:
            labels = [
                _pick(rng, ["NC", "WT", "KO", "P", "H2O", "S1", "S2", "S3", "S4"])
                for _ in range(self.n_lanes - 1)
            ]
        labels.insert(self.ladder if self.ladder == 0 else len(labels), ladder_name)
        self.labels = labels
        self.ladder_bp = vocab.GEL_LADDERS_BP[int(rng.integers(0, len(vocab.GEL_LADDERS_BP)))]
        self.titles = _pick(rng, vocab.PROTEINS, self.n_gels) if rng.random() < 0.4 else None
        self.inverted = rng.random() < 0.35
        self.stain = (
            None
            if self.inverted or rng.random() < 0.7
            else ((1.0, 0.55, 0.2) if rng.random() < 0.5 else (0.3, 1.0, 0.4))
        )
        self.gel_aspect = float(rng.uniform(0.7, 1.5))  # width / height of one gel
        self.gap = int(max(2, round(style.size * rng.uniform(0.4, 1.5))))
        self.aspect = self.n_gels * self.gel_aspect
        self.inner_w = self.gap * (self.n_gels - 1)
        self.min_scale = 48

    def panel_count(self):
        return self.n_gels

    def margins(self, style):
        bp = max(_width(f"{b} bp", style) for b in self.ladder_bp) + style.size
        top = style.line_height + style.pad + (style.line_height if self.titles else 0)
        return (bp + style.pad, top, style.pad, style.pad)

    def render(self, rng, ctx, style, x, y, w, h):
        gw = (w - self.inner_w) // self.n_gels
        placed, overlays = [], []
        pitch = gw / self.n_lanes
        lane_x = [(i + 0.5) * pitch for i in range(self.n_lanes)]
        top_frac, bottom_frac = rng.uniform(0.12, 0.2), rng.uniform(0.85, 0.95)
        span = np.log(self.ladder_bp[0]) - np.log(self.ladder_bp[-1])
        ladder_ys = [
            h
            * (top_frac + (bottom_frac - top_frac) * (np.log(self.ladder_bp[0]) - np.log(b)) / span)
            for b in self.ladder_bp
        ]
        for g in range(self.n_gels):
            template = sample_band_template(rng, pitch * rng.uniform(0.55, 0.8), max(2.0, h * 0.03))
            product = rng.uniform(0.2, 0.9) * h
            bands = [
                [(product + rng.normal(0, 1.0), rng.uniform(0.1, 1.0))]
                if rng.random() < 0.85
                else []
                for _ in range(self.n_lanes)
            ]
            art = draw_gel(
                rng,
                int(h),
                int(gw),
                lane_x,
                template,
                self.ladder,
                ladder_ys,
                bands,
                self.inverted,
                self.stain,
            )
            gx = x + g * (gw + self.gap)
            placed.append((art, (gx, y)))
            for lx, label in zip(lane_x, self.labels):
                overlays.append(
                    text(
                        label,
                        gx + lx,
                        y - style.pad,
                        style.font,
                        style.size,
                        style.ink,
                        "lane_label",
                        "cb",
                    )
                )
            if self.titles:
                _keep(
                    overlays,
                    _fitted(
                        self.titles[g],
                        gw + self.gap - 2,
                        gx + gw / 2,
                        y - style.pad - style.line_height,
                        style,
                        style.ink,
                        "gel_title",
                        "cb",
                    ),
                )
        overlays = _drop_overlapping(overlays)  # narrow lanes: labels that would touch are left out
        unit = " bp" if rng.random() < 0.5 else ""
        if self.ladder == 0:  # bp sizes (with a tick) left of the first gel, at its ladder bands
            side, labels = x - style.pad, []
            for b, ly in zip(self.ladder_bp, ladder_ys):
                tick = style.size * 0.6
                label = text(
                    f"{b}{unit}",
                    side - tick - style.pad,
                    y + ly,
                    style.font,
                    style.size,
                    style.ink,
                    "bp",
                    "rm",
                )
                if rng.random() < 0.3 or _drop_overlapping(labels + [label]) != labels + [label]:
                    continue  # not every ladder band is labelled; crowded ones are not
                labels.append(label)
                overlays.append(
                    line(
                        (side - tick, y + ly),
                        (side, y + ly),
                        max(1.0, style.size / 10),
                        style.ink,
                        "bp_tick",
                    )
                )
                overlays.append(label)
        return placed, overlays


def _drop_overlapping(overlays, gap=2):
    """The overlays that stay ``gap`` px away from every earlier kept one (dense ladders)."""
    kept = []
    for o in overlays:
        b = o.box
        if any(
            b[0] < k[2] + gap and k[0] < b[2] + gap and b[1] < k[3] + gap and k[1] < b[3] + gap
            for k in (q.box for q in kept)
        ):
            continue
        kept.append(o)
    return kept


# ----------------------------------------------------------------------------------------------
# Plates and dishes


class PlateBlock(Block):
    """A multi-well plate, or a row of dishes, with condition labels above."""

    kind = "plate"

    def __init__(self, rng, style):
        self.content = str(rng.choice(PLATE_CONTENTS, p=[0.6, 0.2, 0.2]))
        self.dishes = rng.random() < 0.4
        if self.dishes:
            self.n_panels = int(rng.integers(2, 5))
            self.grid = (1, 1)
            self.labels = _pick(rng, vocab.PLATE_LABELS, self.n_panels)
            self.aspect = float(self.n_panels)
        else:
            self.n_panels = 1
            self.grid = [(2, 3), (3, 4), (1, 3), (2, 2), (1, 2)][int(rng.integers(0, 5))]
            self.labels = (
                _pick(rng, vocab.PLATE_LABELS, self.grid[1]) if rng.random() < 0.8 else None
            )
            self.aspect = self.grid[1] / self.grid[0]
        self.gap = int(max(1, round(style.size * rng.uniform(0.2, 0.8))))
        self.inner_w = self.gap * (self.n_panels - 1) if self.dishes else 0
        self.min_scale = 40

    def panel_count(self):
        return self.n_panels

    def margins(self, style):
        return (0, style.line_height + style.pad if self.labels else 0, 0, 0)

    def render(self, rng, ctx, style, x, y, w, h):
        placed, overlays = [], []
        if self.dishes:
            side = (w - self.inner_w) // self.n_panels
            for i in range(self.n_panels):
                art = draw_plate(rng, int(h), int(side), 1, 1, self.content)
                px = x + i * (side + self.gap)
                placed.append((art, (px, y)))
                _keep(
                    overlays,
                    _fitted(
                        self.labels[i],
                        side + self.gap - 2,
                        px + side / 2,
                        y - style.pad,
                        style,
                        style.ink,
                        "column_label",
                        "cb",
                    ),
                )
            return placed, overlays
        rows, cols = self.grid
        art = draw_plate(rng, int(h), int(w), rows, cols, self.content)
        placed.append((art, (x, y)))
        if self.labels:
            for c, label in enumerate(self.labels):
                _keep(
                    overlays,
                    _fitted(
                        label,
                        w / cols - 2,
                        x + (c + 0.5) * w / cols,
                        y - style.pad,
                        style,
                        style.ink,
                        "column_label",
                        "cb",
                    ),
                )
        return placed, overlays


# ----------------------------------------------------------------------------------------------
# Plots


class PlotBlock(Block):
    """One quantification plot (its labels are inside the panel)."""

    kind = "plot"

    def __init__(self, rng, style):
        self.style = str(rng.choice(PLOT_STYLES, p=[0.55, 0.25, 0.2]))
        self.aspect = float(rng.uniform(0.8, 1.5))
        self.min_scale = max(80, style.size * 8)

    def panel_count(self):
        return 1

    def render(self, rng, ctx, style, x, y, w, h):
        art = draw_plot(rng, int(h), int(w), self.style, style.font, style.size)
        if art is None:
            return [], []
        art.overlays = [o.shifted(x, y) for o in art.overlays]
        return [(art, (x, y))], []


BLOCK_TYPES = {
    "blot": BlotStack,
    "micrograph": MicrographGrid,
    "gel": GelBlock,
    "plate": PlateBlock,
    "plot": PlotBlock,
}
