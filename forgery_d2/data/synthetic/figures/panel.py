"""What a figure panel is: its pixels, the objects in it, and the overlays that annotate it.

Panel renderers return a :class:`PanelArt` in panel coordinates; the layout places it and makes a
:class:`Panel` in figure coordinates. ``objects`` (bands, lanes, cells, wells) are what realistic
copy-moves duplicate.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FORGEABLE_KINDS", "PANEL_KINDS", "Panel", "PanelArt", "SceneObject", "shift_box"]

PANEL_KINDS = ("blot", "gel", "microscopy", "plot", "plate")
FORGEABLE_KINDS = ("blot", "gel", "microscopy", "plate")  # plots are drawn, never duplicated


def shift_box(box, dx, dy):
    x0, y0, x1, y1 = box
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


@dataclass
class SceneObject:
    """A band, lane, cell, colony or well: XYXY box (exclusive end) and optional exact shape."""

    kind: str
    box: tuple
    mask: np.ndarray = field(default=None, repr=False)  # bool (y1 - y0, x1 - x0); None = the box

    def shifted(self, dx, dy):
        return SceneObject(self.kind, shift_box(self.box, dx, dy), self.mask)


@dataclass
class PanelArt:
    """A rendered panel in its own coordinates."""

    image: np.ndarray  # uint8 (h, w, 3) RGB: the data pixels (no overlays)
    kind: str  # one of PANEL_KINDS
    style: str  # film / chemi / gel / fluorescence / brightfield / bar / colonies ...
    objects: list = field(default_factory=list)  # SceneObject
    overlays: list = field(default_factory=list)  # Overlay drawn over the panel after forging
    keep_out: list = field(default_factory=list)  # XYXY boxes no copied region may touch
    tags: dict = field(default_factory=dict)  # e.g. {"channel": "DAPI", "field": 3}


@dataclass
class Panel:
    """A placed panel, in figure coordinates."""

    index: int
    box: tuple  # XYXY, exclusive end
    kind: str
    style: str
    block: int  # index of the block (blot stack, micrograph grid, ...) it belongs to
    objects: list = field(default_factory=list)
    keep_out: list = field(default_factory=list)
    tags: dict = field(default_factory=dict)

    @property
    def size(self):
        """(width, height) in px."""
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    @property
    def forgeable(self):
        return self.kind in FORGEABLE_KINDS

    def to_dict(self):
        return {
            "index": self.index,
            "box": list(map(int, self.box)),
            "kind": self.kind,
            "style": self.style,
            "block": self.block,
            **{k: v for k, v in self.tags.items() if isinstance(v, (str, int, float))},
        }
