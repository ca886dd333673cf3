"""Realistic synthetic compound figures: the ``figures`` style of ``tools/make_synthetic.py``.

Every figure, authentic or forged, carries the LEGITIMATE repetition real paper figures are full of,
so a detector has to tell duplication from design:

* western blot strips (:mod:`.blot_panels`, :class:`.blocks.BlotStack`): stacked under one lane
  header ("+ - + -", doses, times, condition spans with a line, slanted cell-line names), protein
  names at one side, kDa markers at the other; the bands of a strip share one shape template, each
  with its own intensity, jitter and grain;
* DNA gels: a ladder lane, well slots, bright bands on a dark gel or the inverted print, 1-3 gels
  side by side with the same lane labels, bp markers;
* micrographs (:mod:`.microscopy`): fluorescence grids where a row shows one field in each channel
  and their merge, stained brightfield (H&E, IHC), crops of scikit-image's ihc.png; the figure's
  scale bar (same length, same "50 μm") in every micrograph, arrows / arrowheads / asterisks at
  cells, magnified insets;
* plots (:mod:`.plots`): bar charts with error bars, line plots with markers, dot plots, with tick
  labels, axis titles, legends and significance stars;
* well plates and dishes (:mod:`.plates`): identical well rims, each well with its own colonies;
* figure-level text: panel letters (A/B/C or a/b/c, outside the block or inside a panel corner),
  column / row labels, in DejaVu or STIX TrueType fonts of varying size.

Figures hold 1-16 panels (12+ regularly: channel grids, blot stacks), grid and irregular row
layouts, gutters from none (touching panels) to wide, long sides ~300-2500 px (median ~800), RGB /
grey / RGBA, and a figure-level JPEG round-trip (quality 60-95) on ~30% of figures, authentic and
forged alike.

Forgeries (:mod:`.forgeries`), 1-3 per forged figure, each recording its kind, object, transform,
boxes and panels: ``panel_reuse`` (flip, 180 degree turn, rescale 0.75-1.3, crop, brightness /
contrast, blur, JPEG of the reused pixels), ``partial_panel_reuse``, ``cross_panel_region`` and
``intra_panel_region`` (bands, lanes, cells, wells, patches; down to one ~10x20 px band; small
rotations and rescales). Region copies reuse forgery_d2.data.synthetic.copy_move.

Ground truth (:mod:`.case`): the competition's ``(N, H, W)`` uint8 masks, one channel per event,
marking BOTH the source region and the copy (for a reused panel: the source crop and the whole
target panel). Events never overlap. Order of drawing: panels -> forgery -> overlays -> colour mode
and JPEG. All overlays (panel letters, labels, scale bars, arrows, insets' borders) are drawn AFTER
forging, as a figure is assembled from exported images: a reused panel shows the target's own scale
bar and letter on top of the copied pixels (inside its mask), and region copies never touch an
overlay. So, before the figure-level JPEG, every copied pixel outside the overlay boxes equals its
transformed source pixel (``FigureEvent.matrix``), exactly for flips and 180-degree turns without
photometric change.

Layout ground truth: every panel, text and mark box (:meth:`.case.FigureCase.layout_boxes`),
written as COCO detection JSON (``layout_train.json``, ``layout_test.json``) by :mod:`.dataset`.
``text`` is any rendered characters (labels, letters, tick labels, legends, scale text); ``mark`` a
non-text graphic overlaid on the data (scale bars, arrows, arrowheads, asterisks, zoom boxes, inset
borders). Lines beside the data (kDa / bp ticks, lane-group lines) are drawn but not annotated, and
a plot's axes, bars and markers belong to its panel.
"""

from .case import (
    COLOR_MODES,
    LAYOUT_CATEGORIES,
    FigureCase,
    FigureGenerationError,
    FigureOptions,
    generate_figure_case,
)
from .dataset import LAYOUT_FILES, generate_figures_dataset, summarize_figures
from .forgeries import FORGERY_KINDS, FigureEvent, ForgeryOptions, plant_forgeries
from .layout import FIGURE_THEMES, FigureLayout, LayoutError, LayoutOptions, compose_figure
from .panel import FORGEABLE_KINDS, PANEL_KINDS, Panel, PanelArt

__all__ = [
    "COLOR_MODES",
    "FIGURE_THEMES",
    "FORGEABLE_KINDS",
    "FORGERY_KINDS",
    "FigureCase",
    "FigureEvent",
    "FigureGenerationError",
    "FigureLayout",
    "FigureOptions",
    "ForgeryOptions",
    "LAYOUT_CATEGORIES",
    "LAYOUT_FILES",
    "LayoutError",
    "LayoutOptions",
    "PANEL_KINDS",
    "Panel",
    "PanelArt",
    "compose_figure",
    "generate_figure_case",
    "generate_figures_dataset",
    "plant_forgeries",
    "summarize_figures",
]
