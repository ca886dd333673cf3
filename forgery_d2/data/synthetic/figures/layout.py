"""Figure composition: what a figure holds, how big it is, and where every block goes.

``compose_figure`` draws a figure *theme* (blots, micrographs, gels, plates, mixed, single panel),
its typography (:class:`FigureStyle`: font family and size, ink and paper colours, panel letters,
the scale bar every micrograph carries, how cells are pointed at), its blocks, and packs them in
rows: every block of a row shares one data height, rows are stacked with gutters (from none to
wide), and the figure is sized so that its long side hits a drawn target (about 300-2500 px,
median ~800). Panel letters go outside (a column left of the block) or inside the first panel's
corner. The result is a :class:`FigureLayout`: the data canvas (panels on the paper, no overlays),
the placed panels and all overlays in figure coordinates.
"""

from dataclasses import dataclass, field

import numpy as np

from .blocks import BLOCK_TYPES, FigureContext, FigureStyle, MicrographGrid, ScaleBarStyle
from .overlays import text
from .panel import Panel, shift_box
from .text import text_alpha

__all__ = [
    "FIGURE_THEMES",
    "FigureLayout",
    "LayoutOptions",
    "LayoutError",
    "compose_figure",
    "sample_long_side",
]

FIGURE_THEMES = ("blots", "micrographs", "gels", "plates", "mixed", "single")


class LayoutError(RuntimeError):
    """No layout of the drawn blocks fits the drawn figure size."""


@dataclass
class LayoutOptions:
    """What figures look like (sizes in px)."""

    theme_probs: dict = field(
        default_factory=lambda: {
            "blots": 0.3,
            "micrographs": 0.25,
            "gels": 0.07,
            "plates": 0.06,
            "mixed": 0.24,
            "single": 0.08,
        }
    )
    min_size: int = 300  # long side of a figure, px
    max_size: int = 2500
    median_size: int = 800
    max_panels: int = 16

    def validate(self):
        unknown = set(self.theme_probs) - set(FIGURE_THEMES)
        if unknown:
            raise ValueError(
                f"theme_probs: unknown themes {sorted(unknown)}; expected some of {FIGURE_THEMES}"
            )
        if any(v < 0 for v in self.theme_probs.values()) or sum(self.theme_probs.values()) <= 0:
            raise ValueError(
                f"theme_probs: weights must be >= 0 and not all 0, got {self.theme_probs}"
            )
        if not 120 <= self.min_size <= self.max_size:
            raise ValueError(
                f"need 120 <= min_size <= max_size, got {self.min_size}, {self.max_size}"
            )
        if not 1 <= self.max_panels <= 16:
            raise ValueError(f"max_panels must be in [1, 16], got {self.max_panels}")


@dataclass
class FigureLayout:
    """A composed figure before forging."""

    canvas: np.ndarray  # uint8 (H, W, 3): paper + panel pixels, no overlays
    panels: list  # Panel, in figure coordinates
    overlays: list  # Overlay, in figure coordinates, drawn after forging
    theme: str
    style: FigureStyle


def _choose(rng, probs):
    names = [k for k, v in probs.items() if v > 0]
    weights = np.array([probs[k] for k in names], float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def sample_long_side(rng, opts):
    """A figure's long side: log-normal around ``median_size``, clipped to [min_size, max_size]."""
    median = float(np.clip(opts.median_size, opts.min_size, opts.max_size))
    return int(np.clip(np.exp(rng.normal(np.log(median), 0.45)), opts.min_size, opts.max_size))


def _sample_style(rng, long_side, dark_paper):
    size = int(np.clip(round(long_side * rng.uniform(0.011, 0.02)), 7, 40))
    family = _choose(rng, {"sans": 0.65, "serif": 0.1, "times": 0.15, "sans-bold": 0.1})
    letter_font = {
        "sans": "sans-bold",
        "sans-bold": "sans-bold",
        "serif": "serif-bold",
        "times": "times-bold",
    }[family]
    ink, paper = ((255, 255, 255), (0, 0, 0)) if dark_paper else ((0, 0, 0), (255, 255, 255))
    scale_bar = None
    if rng.random() < 0.85:
        scale_bar = ScaleBarStyle(
            micrometres=int(rng.choice([10, 20, 25, 50, 100, 200])),
            fraction=float(rng.uniform(0.15, 0.3)),
            thickness=max(2, int(round(size * rng.uniform(0.2, 0.4)))),
            corner=str(rng.choice(["br", "bl", "tr"], p=[0.75, 0.2, 0.05])),
            show_text=rng.random() < 0.75,
        )
    return FigureStyle(
        font=family,
        size=size,
        ink=ink,
        paper=paper,
        letter_font=letter_font,
        letter_size=int(round(size * rng.uniform(1.1, 1.6))),
        letter_case="upper" if rng.random() < 0.7 else "lower",
        letter_place=_choose(rng, {"outside": 0.6, "inside": 0.25, "none": 0.15}),
        minus="-" if rng.random() < 0.6 else "\u2212",
        scale_bar=scale_bar,
        pointer=_choose(rng, {"arrow": 0.5, "arrowhead": 0.3, "asterisk": 0.2}),
        pointer_prob=float(rng.uniform(0.1, 0.5)),
        frame=(int(rng.choice([0, 60, 120])),) * 3 if rng.random() < 0.2 else None,
    )


def _sample_blocks(rng, theme, style, single_kind=None):
    make = lambda kind, **kw: BLOCK_TYPES[kind](rng, style, **kw)  # noqa: E731
    if theme == "blots":
        blocks = [make("blot") for _ in range(int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15])))]
        if rng.random() < 0.5:  # one lane header repeated over every stack
            for b in blocks[1:]:
                b.share_header(blocks[0])
        blocks += [make("plot") for _ in range(int(rng.random() < 0.35) * int(rng.integers(1, 3)))]
    elif theme == "micrographs":
        blocks = [make("micrograph") for _ in range(int(rng.choice([1, 2], p=[0.75, 0.25])))]
        blocks += [make("plot") for _ in range(int(rng.random() < 0.3))]
    elif theme == "gels":
        blocks = [make("gel") for _ in range(int(rng.choice([1, 2], p=[0.7, 0.3])))]
        blocks += [make("plot") for _ in range(int(rng.random() < 0.3))]
    elif theme == "plates":
        blocks = [make("plate") for _ in range(int(rng.choice([1, 2], p=[0.7, 0.3])))]
        blocks += [make("plot") for _ in range(int(rng.random() < 0.5))]
    elif theme == "mixed":
        kinds = rng.choice(
            ["blot", "micrograph", "gel", "plate", "plot"],
            size=int(rng.integers(2, 5)),
            p=[0.32, 0.3, 0.1, 0.1, 0.18],
        )
        if all(k == "plot" for k in kinds):
            kinds[0] = "blot"
        blocks = [make(str(k)) for k in kinds]
    else:  # a single panel
        kinds, probs = ["micrograph", "blot", "gel", "plate"], [0.45, 0.3, 0.15, 0.1]
        kind = single_kind or str(rng.choice(kinds, p=probs))
        if kind == "micrograph":
            blocks = [make(kind, rows=1, cols=1)]
            blocks[0].mode, blocks[0].col_labels = "conditions", None
        elif kind == "blot":
            blocks = [make(kind, n_strips=1)]
        elif kind == "gel":
            blocks = [make(kind, n_gels=1)]
        else:
            blocks = [make(kind)]
            blocks[0].dishes, blocks[0].n_panels = False, 1
    order = rng.permutation(len(blocks)) if theme == "mixed" else np.arange(len(blocks))
    return [blocks[i] for i in order]


def _partition(rng, blocks):
    """Rows of block indices (at most 3 per row); a lone plot joins a neighbouring row, as a
    quantification sits beside its blots rather than stretched over the figure's width."""
    rows, current = [], [0]
    for i in range(1, len(blocks)):
        if len(current) >= 3 or rng.random() < 0.5:
            rows.append(current)
            current = []
        current.append(i)
    rows.append(current)
    for r in range(len(rows) - 1, -1, -1):
        if len(rows) > 1 and all(blocks[i].kind == "plot" for i in rows[r]):
            neighbour = r - 1 if r > 0 else r + 1
            if len(rows[neighbour]) + len(rows[r]) <= 3:
                rows[neighbour] = sorted(rows[neighbour] + rows[r])
                del rows[r]
    return rows


def _solve(blocks, rows, margins, long_side, outer, gutter):
    """Figure width, height and per-row scales for a ``long_side`` figure; None if too small."""

    def row_terms(row):
        fixed = (
            2 * outer
            + gutter * (len(row) - 1)
            + sum(margins[i][0] + margins[i][2] + blocks[i].inner_w for i in row)
        )
        slope = sum(blocks[i].aspect for i in row)
        top = max(margins[i][1] for i in row)
        bottom = max(margins[i][3] + blocks[i].inner_h for i in row)
        return fixed, slope, top + bottom

    terms = [row_terms(r) for r in rows]
    # s_r = (W - fixed) / slope; H = 2 outer + gutters + sum(s_r + extra)
    c1 = sum(1.0 / slope for _, slope, _ in terms)
    c0 = (
        2 * outer
        + gutter * (len(rows) - 1)
        + sum(extra - fixed / slope for fixed, slope, extra in terms)
    )
    width = float(long_side)
    height = c0 + c1 * width
    if height > long_side:
        width = (long_side - c0) / c1
        height = float(long_side)
    scales = [(width - fixed) / slope for fixed, slope, _ in terms]
    if any(s < max(blocks[i].min_scale for i in row) for s, row in zip(scales, rows)):
        return None
    return int(width), int(np.ceil(height)), scales


def _letters(style):
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return iter(letters if style.letter_case == "upper" else letters.lower())


def compose_figure(rng, split, options=None, tries=12):
    """Draw and compose one figure of ``split`` ("train" or "test"); returns a FigureLayout."""
    opts = options or LayoutOptions()
    for attempt in range(tries):
        # the last draws fall back to a single panel (at last a micrograph: fits any size)
        theme = _choose(rng, opts.theme_probs) if attempt < tries - 4 else "single"
        single_kind = "micrograph" if attempt >= tries - 2 else None
        long_side = sample_long_side(rng, opts)
        dark = theme == "micrographs" and rng.random() < 0.15
        style = _sample_style(rng, long_side, dark)
        blocks = _sample_blocks(rng, theme, style, single_kind)
        while sum(b.panel_count() for b in blocks) > opts.max_panels and len(blocks) > 1:
            blocks.pop()
        if sum(b.panel_count() for b in blocks) > opts.max_panels:
            continue
        lettered = style.letter_place != "none" and (len(blocks) > 1 or rng.random() < 0.2)
        letter_w = (
            max(text_alpha(c, style.letter_font, style.letter_size).shape[1] for c in "ABCDabcd")
            + style.pad
        )
        # Letters go inside a panel corner only over micrographs and plates; elsewhere outside.
        places = [
            style.letter_place if b.kind in ("micrograph", "plate") else "outside" for b in blocks
        ]
        margins = []
        for b, place in zip(blocks, places):
            left, top, right, bottom = b.margins(style)
            if lettered and place == "outside":
                left += letter_w + style.pad
                top = max(top, style.letter_size // 2)
            margins.append((left, top, right, bottom))
        rows = _partition(rng, blocks)
        outer = int(rng.integers(0, 3 * style.pad + 1))
        gutter = (
            int(style.size * rng.uniform(0.5, 3.0))
            if rng.random() < 0.9
            else int(rng.integers(1, 4))
        )
        solved = _solve(blocks, rows, margins, long_side, outer, gutter)
        if solved is None:
            continue
        return _render(
            rng, split, theme, style, blocks, rows, margins, solved, outer, gutter, lettered, places
        )
    raise LayoutError(
        f"no figure layout fitted in {tries} draws (min_size={opts.min_size} may be too small)"
    )


def _render(
    rng, split, theme, style, blocks, rows, margins, solved, outer, gutter, lettered, places
):
    width, _, scales = solved
    row_heights = [
        int(
            np.ceil(
                max(margins[i][1] for i in row)
                + s
                + max(margins[i][3] + blocks[i].inner_h for i in row)
            )
        )
        for row, s in zip(rows, scales)
    ]
    height = 2 * outer + sum(row_heights) + gutter * (len(rows) - 1)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = style.paper
    ctx = FigureContext(split)
    panels, overlays = [], []
    letters = _letters(style)
    y = outer
    for row, s, row_h in zip(rows, scales, row_heights):
        top = max(margins[i][1] for i in row)
        x = outer
        for i in row:
            block, (left, _, right, _) = blocks[i], margins[i]
            w = int(block.aspect * s + block.inner_w)
            h = int(s + block.inner_h)
            dx, dy = x + left, y + top
            placed, block_overlays = block.render(rng, ctx, style, dx, int(dy), w, h)
            first = len(panels)
            for art, (px, py) in placed:
                ah, aw = art.image.shape[:2]
                if (
                    style.frame is not None
                    and art.kind in ("blot", "microscopy")
                    and min(ah, aw) > 8
                ):
                    art.image[[0, -1], :] = style.frame  # a frame line drawn as part of the panel
                    art.image[:, [0, -1]] = style.frame
                px, py = int(px), int(py)
                canvas[py : py + ah, px : px + aw] = art.image
                box = (px, py, px + aw, py + ah)
                panels.append(
                    Panel(
                        len(panels),
                        box,
                        art.kind,
                        art.style,
                        i,
                        [o.shifted(px, py) for o in art.objects],
                        [shift_box(b, px, py) for b in art.keep_out],
                        dict(art.tags),
                    )
                )
                overlays += art.overlays
            overlays += block_overlays
            per_panel = isinstance(block, MicrographGrid) and block.panel_letters and lettered
            if per_panel:
                for p in panels[first:]:
                    overlays.append(_inside_letter(canvas, p.box, next(letters), style))
            elif lettered and len(panels) > first:
                letter = next(letters)
                if places[i] == "outside":
                    overlays.append(
                        text(
                            letter,
                            x,
                            y,
                            style.letter_font,
                            style.letter_size,
                            style.ink,
                            "panel_letter",
                        )
                    )
                else:
                    overlays.append(_inside_letter(canvas, panels[first].box, letter, style))
            x += left + w + right + gutter
        y += row_h + gutter
    overlays = [o for o in overlays if _inside(o.box, width, height)]
    for p in panels:  # copied regions stay clear of everything drawn over the panel
        p.keep_out += [o.box for o in overlays if _overlap(o.box, p.box)]
    return FigureLayout(canvas, panels, overlays, theme, style)


def _inside_letter(canvas, box, letter, style):
    x0, y0, x1, y1 = box
    pad = max(2, style.pad)
    corner = canvas[
        y0 : min(y0 + style.letter_size * 2, y1), x0 : min(x0 + style.letter_size * 2, x1)
    ]
    colour = (0, 0, 0) if corner.mean() > 128 else (255, 255, 255)
    return text(
        letter,
        x0 + pad,
        y0 + pad // 2,
        style.letter_font,
        style.letter_size,
        colour,
        "panel_letter",
    )


def _inside(box, width, height):
    x0, y0, x1, y1 = box
    return x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height and x1 > x0 and y1 > y0


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
