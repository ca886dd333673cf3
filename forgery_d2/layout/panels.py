"""Splitting a figure's content into panels: recursive XY-cut on canvas gutters, then cuts along
straight full-length intensity discontinuities for panels that touch (no gutter).

Both work on a box and recurse on the parts, so grids, irregular layouts (a tall panel beside a
stack) and mixes of gutters and touching panels split down to single panels:

- gutter cut: rows (or columns) of the box holding no content pixel, in runs of at least
  ``min_gutter`` px; the box is cut at every such run along the axis with the widest run.
- edge cut: a column x where, in at least ``edge_min_fraction`` of the rows, the step across it,
  ``|I(x+1) - I(x-1)|``, is at least ``edge_min_step`` grey levels and ``edge_ratio`` times the
  texture on either side (``|I(x-1) - I(x-2)|``, ``|I(x+2) - I(x+1)|``), with content (not
  canvas) on both sides; same for rows. Thin lines
  (grid lines, axes) give no such evidence, and a candidate across which the image continues
  unchanged a few px further (a thicker line on one background) is rejected.
"""

import numpy as np

__all__ = ["content_box", "split_panels"]


def content_box(content: np.ndarray, box):
    """Tight ``(x0, y0, x1, y1)`` of the True pixels of ``content`` inside ``box``; None if none."""
    x0, y0, x1, y1 = box
    sub = content[y0:y1, x0:x1]
    rows = np.flatnonzero(sub.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(sub.any(axis=0))
    return x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1


def _empty_runs(occupied: np.ndarray, min_length: int):
    """``[(start, end), ...]`` of runs of False in ``occupied`` at least ``min_length`` long
    (``occupied`` starts and ends True: the box is trimmed to its content)."""
    padded = np.concatenate([[True], occupied, [True]]).astype(np.int8)
    change = np.diff(padded)
    starts, ends = np.flatnonzero(change == -1), np.flatnonzero(change == 1)
    return [(int(s), int(e)) for s, e in zip(starts, ends) if e - s >= min_length]


def _gutter_cut(content, box, min_gutter):
    """The parts of ``box`` between its gutters along the axis with the widest one, or None."""
    x0, y0, x1, y1 = box
    sub = content[y0:y1, x0:x1]
    row_gaps = _empty_runs(sub.any(axis=1), min_gutter)
    col_gaps = _empty_runs(sub.any(axis=0), min_gutter)
    widest = lambda gaps: max((e - s for s, e in gaps), default=0)  # noqa: E731
    if not row_gaps and not col_gaps:
        return None
    if widest(row_gaps) >= widest(col_gaps):
        bounds = [0] + [v for s, e in row_gaps for v in (s, e)] + [y1 - y0]
        return [(x0, y0 + a, x1, y0 + b) for a, b in zip(bounds[::2], bounds[1::2])]
    bounds = [0] + [v for s, e in col_gaps for v in (s, e)] + [x1 - x0]
    return [(x0 + a, y0, x0 + b, y1) for a, b in zip(bounds[::2], bounds[1::2])]


def _max_abs(a):
    """Max over the last axis (the 3 channels) of ``|a|``, without a slow small-axis reduction."""
    a = np.abs(a)
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def _edge_profile(image, content, min_step, ratio):
    """For an ``(h, w, 3)`` int16 crop and its bool content mask: ``(w,)`` fraction of rows with
    boundary evidence between columns x-1 and x (see the module docstring), not counting rows
    where either side is canvas (a panel's edge, not a boundary between panels) or where the image
    continues unchanged 2-5 px further (a stripe on one background)."""
    h, w = image.shape[:2]
    evidence = np.zeros(w)
    if w < 8:
        return evidence
    step1 = _max_abs(np.diff(image, axis=1))  # step1[:, j] = |I(j+1) - I(j)|
    # Boundary between x-1 and x, for x in 2..w-3 (n = w - 4 candidates):
    n = w - 4
    step = _max_abs(image[:, 3 : 3 + n] - image[:, 1 : 1 + n])  # |I(x+1) - I(x-1)|
    texture = np.maximum(step1[:, 0:n], step1[:, 3 : 3 + n])  # |I(x-1)-I(x-2)|, |I(x+2)-I(x+1)|
    rows = (step >= min_step) & (step >= ratio * texture)
    rows &= content[:, 0:n] & content[:, 3 : 3 + n]  # content at x-2 and x+1
    before = image[:, 0:n]  # I(x-2)
    for k in range(2, 6):  # I(x-2) reappears at x+k: a stripe of <= 4 px, not a boundary
        m = min(n, w - 2 - k)  # candidates whose x+k is inside the crop
        rows[:, :m] &= _max_abs(image[:, 2 + k : 2 + k + m] - before[:, :m]) >= min_step / 2
    evidence[2 : 2 + n] = rows.mean(axis=0)
    return evidence


def _edge_cut(rgb, content, box, min_part, min_fraction, min_step, ratio):
    """Cut ``box`` in two along its strongest straight discontinuity, or None."""
    x0, y0, x1, y1 = box
    crop = rgb[y0:y1, x0:x1].astype(np.int16)
    inside = content[y0:y1, x0:x1]
    best = None
    for axis, image, mask in ((1, crop, inside), (0, crop.transpose(1, 0, 2), inside.T)):
        evidence = _edge_profile(image, mask, min_step, ratio)
        length = image.shape[1]
        evidence[:min_part] = 0
        evidence[max(length - min_part + 1, 0) :] = 0
        x = int(np.argmax(evidence))
        if evidence[x] >= min_fraction and (best is None or evidence[x] > best[0]):
            # Evidence spans the columns on both sides of a sharp boundary: cut where the
            # mean step |I(c) - I(c-1)| peaks.
            steps = {
                c: np.abs(image[:, c] - image[:, c - 1]).max(axis=1).mean()
                for c in (x - 1, x, x + 1)
                if min_part <= c <= length - min_part
            }
            best = (evidence[x], axis, max(steps, key=steps.get) if steps else x)
    if best is None:
        return None
    _, axis, x = best
    if axis == 1:
        return [(x0, y0, x0 + x, y1), (x0 + x, y0, x1, y1)]
    return [(x0, y0, x1, y0 + x), (x0, y0 + x, x1, y1)]


def split_panels(
    rgb,
    content,
    min_panel,
    min_gutter=1,
    edge_min_fraction=0.5,
    edge_min_step=16,
    edge_ratio=2.0,
    max_depth=12,
):
    """Boxes ``[(x0, y0, x1, y1), ...]`` of the leaves of the recursive split of ``content``
    (bool (H, W): pixels that belong to panels) of the uint8 RGB figure ``rgb``; each leaf is
    trimmed to its content. Edge cuts leave parts of at least ``min_panel`` px. Leaves are not
    filtered."""
    h, w = content.shape
    leaves = []
    stack = [((0, 0, w, h), 0)]
    while stack:
        box, depth = stack.pop()
        box = content_box(content, box)
        if box is None:
            continue
        parts = None if depth >= max_depth else _gutter_cut(content, box, min_gutter)
        if parts is None and depth < max_depth:
            parts = _edge_cut(
                rgb, content, box, min_panel, edge_min_fraction, edge_min_step, edge_ratio
            )
        if parts is None:
            leaves.append(box)
        else:
            stack += [(p, depth + 1) for p in parts]
    return sorted(leaves, key=lambda b: (b[1], b[0]))
