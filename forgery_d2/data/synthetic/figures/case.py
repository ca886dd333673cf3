"""One case of the figures dataset: a composed figure, its forgery, masks, layout boxes and record.

The order of operations (what the ground truth is exact for):

1. compose the figure (forgery_d2.data.synthetic.figures.layout): paper + panel pixels;
2. forge that data canvas (forgery_d2.data.synthetic.figures.forgeries): masks are exact here;
3. draw the same overlays (labels, letters, scale bars, arrows) over the authentic and the forged
   canvas;
4. finish both alike: colour mode (RGB, grey or RGBA with opaque alpha) and, for a fraction of
   figures, one JPEG round-trip of the whole figure (quality 60-95), as published figures are often
   recompressed. Masks are not changed by 3 and 4.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..generator import TEST_CASE_ID_OFFSET, case_rng
from .forgeries import ForgeryOptions, plant_forgeries
from .layout import LayoutOptions, compose_figure
from .overlays import draw_overlays

__all__ = [
    "COLOR_MODES",
    "LAYOUT_CATEGORIES",
    "FigureCase",
    "FigureGenerationError",
    "FigureOptions",
    "finish_image",
    "generate_figure_case",
]

COLOR_MODES = ("RGB", "L", "RGBA")
LAYOUT_CATEGORIES = (
    {"id": 1, "name": "panel"},
    {"id": 2, "name": "text"},
    {"id": 3, "name": "mark"},
)
_CATEGORY_IDS = {c["name"]: c["id"] for c in LAYOUT_CATEGORIES}


class FigureGenerationError(RuntimeError):
    """No forgery fitted in any of the redrawn figures of a case."""


@dataclass
class FigureOptions:
    """Everything that shapes the figures dataset besides its size and seed."""

    layout: LayoutOptions = field(default_factory=LayoutOptions)
    forgery: ForgeryOptions = field(default_factory=ForgeryOptions)
    color_mode_probs: dict = field(default_factory=lambda: {"RGB": 0.6, "L": 0.25, "RGBA": 0.15})
    jpeg_prob: float = 0.3  # P(a figure, authentic and forged alike, is JPEG-recompressed)
    jpeg_quality: tuple = (60, 95)
    test_forged_fraction: float = 0.5
    max_redraws: int = 10  # figures redrawn when no forgery fits in one

    def validate(self):
        self.layout.validate()
        self.forgery.validate()
        unknown = set(self.color_mode_probs) - set(COLOR_MODES)
        if unknown:
            raise ValueError(
                f"color_mode_probs: unknown modes {sorted(unknown)}; expected some of {COLOR_MODES}"
            )
        if (
            any(v < 0 for v in self.color_mode_probs.values())
            or sum(self.color_mode_probs.values()) <= 0
        ):
            raise ValueError(
                f"color_mode_probs: weights must be >= 0 and not all 0, got {self.color_mode_probs}"
            )
        if not 0.0 <= self.jpeg_prob <= 1.0:
            raise ValueError(f"jpeg_prob must be in [0, 1], got {self.jpeg_prob}")
        low, high = self.jpeg_quality
        if not 1 <= low <= high <= 100:
            raise ValueError(
                "jpeg_quality must be (low, high) with 1 <= low <= high <= 100, "
                f"got {self.jpeg_quality}"
            )
        if not 0.0 <= self.test_forged_fraction <= 1.0:
            raise ValueError(
                f"test_forged_fraction must be in [0, 1], got {self.test_forged_fraction}"
            )


@dataclass
class FigureCase:
    """One generated figure, before and after forgery."""

    case_id: str
    split: str
    authentic: np.ndarray  # uint8 (H, W), (H, W, 3) or (H, W, 4): the finished authentic figure
    forged: np.ndarray = None  # the finished forged figure (None: an authentic test image)
    masks: np.ndarray = None  # (N, H, W) uint8, one channel per event
    events: list = field(default_factory=list)  # FigureEvent
    layout: object = None  # FigureLayout (canvas, panels, overlays)
    color_mode: str = "RGB"
    jpeg_quality: int = None

    def layout_boxes(self):
        """``[(category_id, [x, y, w, h])]``: every panel, text and mark box of the figure."""
        h, w = self.authentic.shape[:2]
        boxes = []
        overlays = [
            (o.category, o.box) for o in self.layout.overlays if o.category in _CATEGORY_IDS
        ]
        for category, box in [("panel", p.box) for p in self.layout.panels] + overlays:
            x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
            if x1 > x0 and y1 > y0:
                boxes.append(
                    (
                        _CATEGORY_IDS[category],
                        [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    )
                )
        return boxes

    def record(self, forged):
        """The cases.jsonl record of the authentic (``forged=False``) or forged image."""
        h, w = self.authentic.shape[:2]
        panels = self.layout.panels
        events = [e.to_dict() for e in self.events] if forged else []
        fraction = float(self.masks.any(axis=0).mean()) if forged else 0.0
        return {
            "case_id": self.case_id,
            "split": self.split,
            "style": "figures",
            "theme": self.layout.theme,
            "label": "forged" if forged else "authentic",
            "forged": bool(forged),
            "height": int(h),
            "width": int(w),
            "color_mode": self.color_mode,
            "jpeg_quality": self.jpeg_quality,
            "panel_count": len(panels),
            "panel_kinds": [p.kind for p in panels],
            "panels": [p.to_dict() for p in panels],
            "forged_fraction": round(fraction, 6),
            "events": events,
        }


def _choose(rng, probs):
    names = [k for k, v in probs.items() if v > 0]
    weights = np.array([probs[k] for k in names], float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def finish_image(rgb, color_mode, jpeg_quality=None):
    """The published form of a uint8 RGB figure: colour mode, then an optional JPEG round-trip."""
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if color_mode == "L" else rgb
    if jpeg_quality:
        encoded = image if image.ndim == 2 else image[:, :, ::-1]
        ok, buffer = cv2.imencode(".jpg", encoded, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        image = decoded if decoded.ndim == 2 else np.ascontiguousarray(decoded[:, :, ::-1])
    if color_mode == "RGBA":
        image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(image)


def generate_figure_case(seed, split, index, forged=True, options=None):
    """Figure ``index`` of ``split`` ("train" or "test"); ``forged=False`` skips the forgery.

    The same (seed, split, index, forged, options) always gives the same arrays.
    """
    opts = options or FigureOptions()
    rng = case_rng(seed, split, index)
    case_id = str(index if split == "train" else TEST_CASE_ID_OFFSET + index)
    for _ in range(opts.max_redraws):
        layout = compose_figure(rng, split, opts.layout)
        modes = dict(opts.color_mode_probs)
        if (
            any(p.style == "fluorescence" for p in layout.panels)
            and (modes.get("RGB", 0) + modes.get("RGBA", 0)) > 0
        ):
            modes.pop("L", None)  # fluorescence figures are printed in colour
        color_mode = _choose(rng, modes)
        quality = (
            int(rng.integers(opts.jpeg_quality[0], opts.jpeg_quality[1] + 1))
            if rng.random() < opts.jpeg_prob
            else None
        )
        authentic = finish_image(draw_overlays(layout.canvas, layout.overlays), color_mode, quality)
        case = FigureCase(
            case_id, split, authentic, layout=layout, color_mode=color_mode, jpeg_quality=quality
        )
        if not forged:
            return case
        canvas, events = plant_forgeries(rng, layout.canvas, layout.panels, opts.forgery)
        if not events:
            continue
        case.forged = finish_image(draw_overlays(canvas, layout.overlays), color_mode, quality)
        case.masks = np.stack([e.mask for e in events])
        case.events = events
        return case
    raise FigureGenerationError(
        f"case {split}/{index}: no forgery fitted in {opts.max_redraws} figures"
    )
