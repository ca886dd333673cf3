"""From ink components to text and mark boxes.

- keep: an in-panel component is ink when it is small next to its panel, has thin strokes and a
  high contrast against the pixels 2 px around it (drawn, not photographed edges);
- shape: a long straight bar (scale bar, rule) or an elongated non-vertical stroke (arrow) is a
  mark; anything else is a glyph;
- group: glyphs of one colour on one text line (vertical overlap, horizontal gap at most
  ``text_gap`` x their height, or overlapping boxes: slanted text) merge into one text box (a
  label, a word, "50 µm"); glyphs left alone are tried as columns (text rotated by 90 degrees);
- score: the component's contrast, discounted for lone glyphs (a word of several glyphs is more
  surely text than one blob) unless they sit where lone glyphs are expected (panel letters).
"""

import numpy as np

from .structures import MARK, TEXT

__all__ = ["component_shapes", "group_glyphs", "is_mark_shape", "text_and_mark_boxes"]


def component_shapes(components):
    """Per component: ``(fill, elongation, angle)``: area / box area, sqrt of the ratio of the
    principal moments of its pixels, and the principal axis angle in degrees from horizontal
    (0..180)."""
    k = len(components)
    fill = np.zeros(k, np.float32)
    elongation = np.ones(k, np.float32)
    angle = np.zeros(k, np.float32)
    for i in range(k):
        x0, y0, x1, y1 = components.boxes[i]
        ys, xs = np.nonzero(components.labels[y0:y1, x0:x1] == i + 1)
        fill[i] = len(xs) / float((x1 - x0) * (y1 - y0))
        if len(xs) < 3:
            continue
        cov = np.cov(np.stack([xs, ys]).astype(np.float64)) + np.eye(2) / 12.0  # pixel extent
        values, vectors = np.linalg.eigh(cov)
        elongation[i] = np.sqrt(values[1] / values[0])
        angle[i] = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1])) % 180.0
    return fill, elongation, angle


def is_mark_shape(boxes, fill, elongation, angle, min_bar_length, min_elongation=3.0):
    """bool (K,): bars (horizontal, >= 4x longer than thick, filled, >= ``min_bar_length`` px) and
    elongated strokes that are not near-vertical (arrows, lines; a lone "l", "1" or "I" is
    vertical)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    bar = (w >= 4 * h) & (fill >= 0.7) & (w >= min_bar_length)
    vertical = np.abs(angle - 90.0) < 20.0
    stroke = (elongation >= min_elongation) & ~vertical & (np.maximum(w, h) >= min_bar_length)
    return bar | stroke


def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _line_pairs(boxes, keys, text_gap, indices):
    """Pairs (a, b) of ``indices`` with equal keys on one horizontal text line (vertical overlap
    >= half the smaller height, gap <= ``text_gap`` x the larger height) or whose boxes overlap."""
    order = indices[np.argsort(boxes[indices, 0], kind="stable")]
    heights = boxes[:, 3] - boxes[:, 1]
    reach = text_gap * heights[indices].max(initial=0)
    pairs = []
    for a_pos, a in enumerate(order):
        for b in order[a_pos + 1 :]:
            if boxes[b, 0] > boxes[a, 2] + reach:
                break
            if keys[a] != keys[b]:
                continue
            overlap = min(boxes[a, 3], boxes[b, 3]) - max(boxes[a, 1], boxes[b, 1])
            gap = boxes[b, 0] - boxes[a, 2]
            crossing = gap < 0 and overlap > 0  # overlapping boxes: kerning, slanted text
            if crossing or (
                overlap >= 0.5 * min(heights[a], heights[b])
                and gap <= text_gap * max(heights[a], heights[b])
            ):
                pairs.append((a, b))
    return pairs


def group_glyphs(boxes, groups_key, text_gap):
    """Groups (list of index lists) of glyph ``boxes`` (K, 4) sharing ``groups_key`` (K,) that
    form one label: glyphs on one text line (see :func:`_line_pairs`), then, among the glyphs
    left alone, columns of glyphs (text rotated by 90 degrees: the same test on transposed
    boxes)."""
    k = len(boxes)
    boxes = np.asarray(boxes).reshape(-1, 4)
    keys = np.asarray(groups_key)
    parent = list(range(k))
    for a, b in _line_pairs(boxes, keys, text_gap, np.arange(k)):
        parent[_find(parent, a)] = _find(parent, b)
    roots = np.array([_find(parent, i) for i in range(k)], np.int64)
    alone = np.flatnonzero(np.bincount(roots, minlength=k)[roots] == 1)
    for a, b in _line_pairs(boxes[:, [1, 0, 3, 2]], keys, text_gap, alone):
        parent[_find(parent, a)] = _find(parent, b)
    groups = {}
    for i in range(k):
        groups.setdefault(_find(parent, i), []).append(i)
    return list(groups.values())


def text_and_mark_boxes(components, scores, group_key, anchored, min_bar_length, text_gap):
    """One mark box per mark-shaped component and one text box per line group of the others.

    ``scores``: per-component confidence in [0, 1]; ``group_key``: components group only with
    equal keys; ``anchored``: bool per component, True where a lone glyph is expected (on the
    canvas, in a panel corner: panel letters), so a lone glyph there keeps 90% of its score
    instead of half. Returns ``(boxes (M, 4) float32, labels (M,) int64, scores (M,) float32,
    members: list of M index arrays into the components)``."""
    if len(components) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32), []
    fill, elongation, angle = component_shapes(components)
    mark = is_mark_shape(components.boxes, fill, elongation, angle, min_bar_length)
    out_boxes, out_labels, out_scores, members = [], [], [], []
    for i in np.flatnonzero(mark):
        out_boxes.append(components.boxes[i])
        out_labels.append(MARK)
        out_scores.append(scores[i])
        members.append(np.array([i]))
    glyphs = np.flatnonzero(~mark)
    for group in group_glyphs(components.boxes[glyphs], np.asarray(group_key)[glyphs], text_gap):
        group = glyphs[group]
        b = components.boxes[group]
        out_boxes.append([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
        out_labels.append(TEXT)
        if len(group) > 1:
            out_scores.append(float(np.max(scores[group])) * (1.0 - 0.5 ** len(group)))
        else:
            out_scores.append(float(scores[group[0]]) * (0.9 if anchored[group[0]] else 0.5))
        members.append(group)
    return (
        np.asarray(out_boxes, np.float32).reshape(-1, 4),
        np.asarray(out_labels, np.int64),
        np.asarray(out_scores, np.float32),
        members,
    )
