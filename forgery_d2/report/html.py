"""The report page: one self-contained ``index.html`` (inline CSS and JS, no external resource,
works from ``file://``), pictures referenced by relative paths.

Sections: the summary table; a score filter (a slider and a number box: cards whose image score is
below the threshold are hidden, with a count of the cards shown); one card per flagged figure,
best score first; missed forgeries (with ground truth); the figures checked and found authentic
(a compact list); unreadable figures with their error. Every ``<img>`` has its size and
``loading="lazy"``, so a page of thousands of figures only fetches what is scrolled to.
"""

import html
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple
from urllib.parse import quote

from .drawing import COPY_COLOR, GT_COLOR, LINE_COLOR, SOURCE_COLOR, UNPAIRED_COLOR

__all__ = ["PartView", "InstanceView", "FigureCard", "ListedFigure", "render_page"]


@dataclass
class PartView:
    """One source/copy pair as shown: its number (as drawn on the overlay), score, transform in
    words (None when unknown), evidence method and ``(name, value)`` numbers, region areas."""

    label: str
    score: float
    transform: Optional[str]
    method: str
    evidence: List[Tuple[str, object]]
    source_area: int
    copy_area: int


@dataclass
class InstanceView:
    """One final instance: score, area and its parts (none for an instance found without a pair)."""

    number: int
    score: float
    area: int
    parts: List[PartView]


@dataclass
class FigureCard:
    """A flagged figure's card. Picture paths are relative to the page; ``picture_error`` replaces
    the pictures when the figure could not be drawn; ``truth`` is a
    :class:`forgery_d2.report.summary.FigureTruth` or None."""

    case_id: str
    file_name: str
    height: int
    width: int
    score: float
    seconds: Optional[float]
    instances: List[InstanceView]
    thumbnail: Optional[str] = None
    thumbnail_size: Tuple[int, int] = (0, 0)
    overlay: Optional[str] = None
    overlay_size: Tuple[int, int] = (0, 0)
    picture_error: Optional[str] = None
    truth: object = None
    anchor: str = ""


@dataclass
class ListedFigure:
    """A figure in a compact list (authentic, missed or unreadable)."""

    case_id: str
    file_name: str
    score: Optional[float] = None
    note: str = ""
    classes: List[str] = field(default_factory=list)


_CSS = """
:root { --source: %(source)s; --copy: %(copy)s; --gt: %(gt)s; --line: %(line)s;
        --unpaired: %(unpaired)s; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d1d1f; background: #f4f4f6; }
header, main { max-width: 1400px; margin: 0 auto; padding: 0 16px; }
h1 { font-size: 22px; margin: 16px 0 4px; } h2 { font-size: 18px; margin: 24px 0 8px; }
.muted { color: #666; }
table.summary { border-collapse: collapse; background: #fff; margin: 8px 0; }
table.summary th, table.summary td { text-align: left; padding: 4px 12px;
                                     border-bottom: 1px solid #e3e3e8; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
          vertical-align: -1px; margin-right: 4px; }
#filter { position: sticky; top: 0; z-index: 2; background: #fff; padding: 8px 12px;
          border: 1px solid #ddd; border-radius: 6px; margin: 12px 0; display: flex; gap: 12px;
          align-items: center; flex-wrap: wrap; }
#filter input[type=number] { width: 6em; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 12px;
        margin: 12px 0; display: grid; gap: 12px;
        grid-template-columns: minmax(120px, 240px) minmax(200px, 1fr) minmax(260px, 420px); }
[hidden] { display: none !important; }
.card h3 { margin: 0 0 4px; font-size: 16px; word-break: break-all; }
.card img { max-width: 100%%; height: auto; display: block; border: 1px solid #ccc;
            background: #eee; }
.card figure { margin: 0; } .card figcaption { font-size: 12px; color: #666; }
.score { font-size: 20px; font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
         color: #fff; background: #777; }
.badge.detected { background: #1b7f3b; } .badge.false-alarm { background: #b3261e; }
.part { border-left: 4px solid var(--copy); padding-left: 8px; margin: 6px 0; }
.part.unpaired { border-color: var(--unpaired); }
.evidence { font-size: 12px; color: #444; }
.error { color: #b3261e; }
ul.compact { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 6px; }
ul.compact li { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 1px 6px;
                font-size: 12px; }
ul.compact li.missed { border-color: #b3261e; }
ul.errors li { margin: 2px 0; }
@media (max-width: 900px) { .card { grid-template-columns: 1fr; } }
""" % {
    "source": "rgb%s" % (SOURCE_COLOR,),
    "copy": "rgb%s" % (COPY_COLOR,),
    "gt": "rgb%s" % (GT_COLOR,),
    "line": "rgb%s" % (LINE_COLOR,),
    "unpaired": "rgb%s" % (UNPAIRED_COLOR,),
}

# Hides the cards below the threshold; the slider and the number box follow each other.
_SCRIPT = """
(function () {
  var slider = document.getElementById('score-filter');
  var box = document.getElementById('score-filter-value');
  var count = document.getElementById('shown-count');
  var cards = Array.prototype.slice.call(document.querySelectorAll('article.card'));
  function apply(threshold) {
    var shown = 0;
    cards.forEach(function (card) {
      var visible = parseFloat(card.getAttribute('data-score')) >= threshold;
      card.hidden = !visible;
      if (visible) { shown += 1; }
    });
    count.textContent = shown + ' of ' + cards.length + ' flagged figures shown';
  }
  if (!slider) { return; }
  slider.addEventListener('input', function () { box.value = slider.value; apply(+slider.value); });
  box.addEventListener('input', function () {
    if (box.value === '' || isNaN(+box.value)) { return; }
    slider.value = box.value; apply(+box.value);
  });
  apply(+slider.value);
})();
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value, digits=3) -> str:
    """A number as shown: ``–`` for missing/NaN, yes/no, thousands separators, ``digits``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _swatch(color) -> str:
    return f'<span class="swatch" style="background: rgb{tuple(color)}"></span>'


def _summary_table(rows: Sequence[Tuple[str, str]]) -> str:
    body = "".join(
        f'<tr><th scope="row">{_e(name)}</th><td class="num">{_e(value)}</td></tr>'
        for name, value in rows
    )
    return f'<table class="summary" id="summary">{body}</table>'


def _img(src, size, alt, cls) -> str:
    return (
        f'<img class="{cls}" src="{_e(quote(src))}" width="{size[0]}" height="{size[1]}" '
        f'loading="lazy" decoding="async" alt="{_e(alt)}">'
    )


def _part_html(part: PartView) -> str:
    evidence = " · ".join(f"{_e(name)} {_e(_number(value))}" for name, value in part.evidence)
    transform = _e(part.transform) if part.transform else "transform unknown"
    return (
        f'<div class="part"><b>{_e(part.label)}</b> {transform}'
        f'<div class="evidence">{_e(part.method)} match, score {_number(part.score)}'
        f"{' · ' + evidence if evidence else ''} · source {part.source_area:,} px, "
        f"copy {part.copy_area:,} px</div></div>"
    )


def _instance_html(instance: InstanceView) -> str:
    head = (
        f"<div>instance {instance.number}: score {_number(instance.score)}, "
        f"{instance.area:,} px</div>"
    )
    if not instance.parts:
        return head + (
            '<div class="part unpaired">found without a source/copy pair (outlined in purple)</div>'
        )
    return head + "".join(_part_html(p) for p in instance.parts)


def _truth_html(truth) -> str:
    if truth is None:
        return ""
    badge = truth.outcome.replace(" ", "-")
    if truth.forged:
        matched = ", ".join(_number(v, 2) for v in truth.matched)
        text = (
            f"ground truth: forged, {truth.num_instances} instance(s); oF1 {_number(truth.of1)}"
            f" (F1 per instance: {matched})"
        )
    else:
        text = "ground truth: authentic (any mask scores 0)"
    return (
        f'<div class="truth"><span class="badge {badge}">{_e(truth.outcome)}</span> '
        f"{_e(text)}</div>"
    )


def _card_html(card: FigureCard) -> str:
    if card.picture_error:
        pictures = f'<div class="error">figure not drawn: {_e(card.picture_error)}</div><div></div>'
    else:
        thumb = _img(card.thumbnail, card.thumbnail_size, "figure " + card.case_id, "thumb")
        pictures = (
            f"<figure>{thumb}"
            f"<figcaption>{card.width}×{card.height} px</figcaption></figure>"
            f'<figure><a href="{_e(quote(card.overlay))}" target="_blank">'
            f"{_img(card.overlay, card.overlay_size, 'overlay ' + card.case_id, 'overlay')}</a>"
            "<figcaption>source → copy (click to enlarge)</figcaption></figure>"
        )
    seconds = f" · {_number(card.seconds, 2)} s" if card.seconds is not None else ""
    details = (
        f"<div><h3>{_e(card.case_id)}</h3>"
        f'<div class="muted">{_e(card.file_name)}{seconds}</div>'
        f'<div class="score">score {_number(card.score)}</div>{_truth_html(card.truth)}'
        + "".join(_instance_html(i) for i in card.instances)
        + "</div>"
    )
    return (
        f'<article class="card" id="{_e(card.anchor)}" data-score="{card.score:.6f}" '
        f'data-case-id="{_e(card.case_id)}">{pictures}{details}</article>'
    )


def _listed_html(figures: Sequence[ListedFigure], list_id: str, cls: str) -> str:
    items = []
    for f in figures:
        title = f.file_name + (f" · image score {_number(f.score)}" if f.score is not None else "")
        note = f" — {_e(f.note)}" if f.note else ""
        classes = f' class="{_e(" ".join(f.classes))}"' if f.classes else ""
        items.append(f'<li{classes} title="{_e(title)}">{_e(f.case_id)}{note}</li>')
    return f'<ul id="{list_id}" class="{cls}">{"".join(items)}</ul>'


def _filter_html(cards: Sequence[FigureCard]) -> str:
    if not cards:
        return '<p id="no-flagged">No figure was flagged.</p>'
    scores = [c.score for c in cards]
    low, high = math.floor(min(scores) * 100) / 100, math.ceil(max(scores) * 100) / 100
    if high <= low:
        high = low + 0.01
    return (
        '<div id="filter"><label for="score-filter">minimum score</label>'
        f'<input type="range" id="score-filter" min="{low:.2f}" max="{high:.2f}" step="0.01" '
        f'value="{low:.2f}"><input type="number" id="score-filter-value" min="{low:.2f}" '
        f'max="{high:.2f}" step="0.01" value="{low:.2f}" aria-label="minimum score">'
        f'<span id="shown-count">{len(cards)} of {len(cards)} flagged figures shown</span>'
        '<span class="legend">'
        f"<span>{_swatch(SOURCE_COLOR)}source</span><span>{_swatch(COPY_COLOR)}copy</span>"
        f"<span>{_swatch(LINE_COLOR)}correspondence (arrow at the copy)</span>"
        f"<span>{_swatch(UNPAIRED_COLOR)}region without a pair</span>"
        f"<span>{_swatch(GT_COLOR)}ground truth</span></span>"
        '<span class="muted">Source and copy are as the detector paired them: which of the two '
        "is the original cannot be told from the figure alone.</span></div>"
    )


def render_page(
    title: str,
    subtitle: str,
    summary_rows,
    cards: Sequence[FigureCard],
    authentic: Sequence[ListedFigure],
    unreadable: Sequence[ListedFigure],
    missed: Optional[Sequence[ListedFigure]] = None,
) -> str:
    """The whole ``index.html`` text. ``cards`` are shown in the order given (the caller sorts
    them); ``missed`` is None without ground truth."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f'<header><h1>{_e(title)}</h1><div class="muted">{_e(subtitle)}</div>',
        _summary_table(summary_rows),
        "</header><main>",
        f'<h2 id="flagged">Flagged figures ({len(cards)})</h2>',
        _filter_html(cards),
        '<section id="cards">',
        "".join(_card_html(c) for c in cards),
        "</section>",
    ]
    if missed is not None:
        parts += [
            f'<h2 id="missed">Missed forgeries ({len(missed)})</h2>',
            '<p class="muted">Forged in the ground truth, reported authentic.</p>',
            _listed_html(missed, "missed-list", "compact"),
        ]
    parts += [
        f'<h2 id="authentic">Checked, found authentic ({len(authentic)})</h2>',
        _listed_html(authentic, "authentic-list", "compact"),
        f'<h2 id="unreadable">Unreadable ({len(unreadable)})</h2>',
        _listed_html(unreadable, "unreadable-list", "errors"),
        f"</main><script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)
