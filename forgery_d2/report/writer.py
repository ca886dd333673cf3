"""``write_report``: a folder an integrity analyst opens in a browser, from saved predictions.

Output (self-contained; open ``index.html`` from disk)::

    DIR/index.html                      summary, filter, cards, lists (forgery_d2.report.html)
    DIR/summary.json                    the summary's numbers
    DIR/figures/<k>_<case>_thumb.jpg    flagged figures only: the figure sized down
    DIR/figures/<k>_<case>_overlay.jpg  ... and its source/copy overlay (forgery_d2.report.drawing)

The predictions are streamed: a figure's pictures are drawn when its record is read, and only its
card's text is kept, so thousands of figures need little memory and authentic figures cost no
image decoding.
"""

import json
import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Optional

from tqdm import tqdm

from forgery_d2.competition.rle import runs_to_mask
from forgery_d2.data.io import DataError, read_image

from .drawing import OverlayPart, draw_overlay, thumbnail, write_picture
from .geometry import correspondences, describe_transform
from .ground_truth import GroundTruth
from .html import FigureCard, InstanceView, ListedFigure, PartView, render_page
from .records import PredictionRecord, as_records
from .summary import ReportSummary

__all__ = ["ReportResult", "write_report", "resolve_image_path", "summary_rows"]

logger = logging.getLogger(__name__)
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote: the page's path, the summary's numbers and the number of
    cards (flagged figures) and of figures whose pictures could not be drawn."""

    index: str
    metrics: dict
    num_cards: int
    num_not_drawn: int


def resolve_image_path(
    file_name: str, images_root: Optional[str] = None, base_dir: Optional[str] = None
) -> str:
    """Where a record's image is: ``file_name`` under ``images_root`` (then that folder plus the
    file's base name), else ``file_name`` as given (absolute, or relative to the working
    directory), else relative to ``base_dir`` (the predictions file's folder). Returns the first
    existing candidate, or the first candidate when none exists (its read error names it)."""
    candidates = []
    if images_root:
        candidates += [
            os.path.join(images_root, file_name),
            os.path.join(images_root, os.path.basename(file_name)),
        ]
    candidates.append(file_name)
    if base_dir and not os.path.isabs(file_name):
        candidates.append(os.path.join(base_dir, file_name))
    return next((c for c in candidates if os.path.isfile(c)), candidates[0])


def _safe_name(k: int, case_id: str) -> str:
    """A file-name stem unique per record: its position plus the case_id's safe characters."""
    return f"{k:05d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', case_id)[:80]}"


def _evidence_items(evidence: dict):
    return [(name.replace("_", " "), value) for name, value in evidence.items() if name != "method"]


def _instance_views(record: PredictionRecord):
    """Card text of each instance, and the overlay's parts/unpaired masks (full resolution)."""
    views, overlay_parts, unpaired = [], [], []
    shape = record.shape
    for i, instance in enumerate(record.instances, start=1):
        part_views = []
        for j, part in enumerate(instance.parts, start=1):
            label = str(i) if len(instance.parts) == 1 else f"{i}.{j}"
            source = runs_to_mask(part.source, shape).astype(bool)
            copy = runs_to_mask(part.copy, shape).astype(bool)
            source_points, copy_points = correspondences(source, copy, part.transform)
            words = None
            if part.transform is not None:
                centroid = source_points[0] if len(source_points) else None
                try:
                    words = describe_transform(part.transform, centroid).words()
                except ValueError as e:  # a degenerate matrix: say so rather than fail the report
                    words = f"transform not interpretable ({e})"
            overlay_parts.append(OverlayPart(source, copy, source_points, copy_points, label))
            part_views.append(
                PartView(
                    label,
                    part.score,
                    words,
                    part.method,
                    _evidence_items(part.evidence),
                    int(part.source[:, 1].sum()),
                    int(part.copy[:, 1].sum()),
                )
            )
        if not instance.parts:
            unpaired.append(runs_to_mask(instance.mask, shape).astype(bool))
        views.append(InstanceView(i, instance.score, int(instance.mask[:, 1].sum()), part_views))
    return views, overlay_parts, unpaired


def _draw_card(record, k, output_dir, image_path, gt_masks, thumb_size, overlay_size, ext):
    """The card of a flagged figure, with its thumbnail and overlay written to disk."""
    views, overlay_parts, unpaired = _instance_views(record)
    card = FigureCard(
        case_id=record.case_id,
        file_name=record.file_name,
        height=record.height,
        width=record.width,
        score=record.image_score,
        seconds=record.seconds,
        instances=views,
        anchor="figure-" + _safe_name(k, record.case_id),
    )
    try:
        image = read_image(image_path, "RGB")
    except DataError as e:
        card.picture_error = str(e)
        return card
    if image.shape[:2] != record.shape:
        card.picture_error = (
            f"image {image_path} is {image.shape[0]}x{image.shape[1]} (H x W) "
            f"but the record says {record.height}x{record.width}"
        )
        return card
    stem = os.path.join(FIGURES_DIR, _safe_name(k, record.case_id))
    thumb = thumbnail(image, thumb_size)
    overlay = draw_overlay(image, overlay_parts, unpaired, gt_masks, overlay_size)
    card.thumbnail, card.overlay = f"{stem}_thumb.{ext}", f"{stem}_overlay.{ext}"
    write_picture(os.path.join(output_dir, card.thumbnail), thumb)
    write_picture(os.path.join(output_dir, card.overlay), overlay)
    card.thumbnail_size = (thumb.shape[1], thumb.shape[0])
    card.overlay_size = (overlay.shape[1], overlay.shape[0])
    return card


def _format(value, digits=4):
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return f"{value:,}"


def summary_rows(metrics: dict, unscreened: int = 0):
    """``(name, value)`` rows of the page's summary table."""
    m = metrics
    rows = [
        ("figures screened", _format(m["figures_screened"])),
        ("flagged as duplicated", _format(m["flagged"])),
        ("checked, found authentic", _format(m["authentic"])),
        ("unreadable", _format(m["unreadable"])),
        ("inference time, total", f"{_format(m['seconds_total'], 1)} s"),
        (
            "per figure: mean / median / max",
            " / ".join(_format(m[f"seconds_per_figure_{s}"], 2) for s in ("mean", "median", "max"))
            + " s",
        ),
    ]
    if "oF1" in m:
        rows += [
            ("oF1 (competition metric)", _format(m["oF1"])),
            (
                "oF1 on forged / authentic figures",
                f"{_format(m['oF1_forged'])} / {_format(m['oF1_authentic'])}",
            ),
            ("image precision", _format(m["image_precision"])),
            ("image recall", _format(m["image_recall"])),
            (
                "forged figures detected",
                f"{_format(m['detected'])} of {_format(m['gt_forged'])} "
                f"(missed {_format(m['missed'])})",
            ),
            (
                "false alarms on authentic figures",
                f"{_format(m['false_alarms'])} of {_format(m['gt_authentic'])} "
                f"({_format(m['false_alarm_rate'], 3)})",
            ),
        ]
        if unscreened:
            rows.append(("solution rows with no prediction (not scored)", _format(unscreened)))
    return rows


def write_report(
    records,
    output_dir,
    images_root=None,
    gt_masks=None,
    solution=None,
    *,
    title="Duplicated-region screening report",
    thumb_size=240,
    overlay_size=960,
    image_format="jpg",
    progress=True,
) -> ReportResult:
    """Write the screening report of saved predictions into ``output_dir``.

    Args:
        records: a ``predictions.jsonl`` path, or an iterable of
            :class:`~forgery_d2.report.records.PredictionRecord` / JSON-like dicts.
        output_dir: folder to write (created; existing pictures are overwritten).
        images_root: folder the records' ``file_name`` are relative to (see
            :func:`resolve_image_path`).
        gt_masks: folder of ground-truth ``<case_id>.npy`` masks (no file = authentic), or
        solution: a solution CSV (``case_id,annotation,shape``); at most one of the two.
        thumb_size, overlay_size: longest side in pixels of thumbnails and overlays.
        image_format: ``jpg`` or ``png``.
        progress: show a tqdm progress bar.

    Raises :class:`~forgery_d2.report.records.PredictionsError` for a malformed record (naming
    file and line), ``SubmissionError`` / ``DataError`` for unusable ground truth. A flagged
    figure whose image cannot be read still gets its card, with the reason instead of pictures.
    """
    if gt_masks is not None and solution is not None:
        raise ValueError("give the ground truth as gt_masks or as solution, not both")
    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
    truth_source = (
        GroundTruth(masks_dir=gt_masks)
        if gt_masks is not None
        else GroundTruth(solution=solution)
        if solution is not None
        else None
    )
    output_dir = os.fspath(output_dir)
    os.makedirs(os.path.join(output_dir, FIGURES_DIR), exist_ok=True)
    base_dir = (
        os.path.dirname(os.path.abspath(records))
        if isinstance(records, (str, os.PathLike))
        else None
    )
    summary = ReportSummary(with_truth=truth_source is not None)
    cards, authentic, unreadable, missed = [], [], [], []
    num_not_drawn = 0
    for k, record in enumerate(
        tqdm(as_records(records), desc="report", unit="fig", disable=not progress)
    ):
        gt_runs = truth_source.runs(record) if truth_source else None
        truth = summary.add(record, gt_runs)
        if not record.readable:
            unreadable.append(ListedFigure(record.case_id, record.file_name, note=record.error))
            if truth is not None and truth.outcome == "missed":  # counted as missed: list it too
                missed.append(
                    ListedFigure(
                        record.case_id,
                        record.file_name,
                        note=f"unreadable, {truth.num_instances} instance(s)",
                    )
                )
            continue
        if not record.flagged:
            is_missed = truth is not None and truth.outcome == "missed"
            listed = ListedFigure(
                record.case_id,
                record.file_name,
                record.image_score,
                classes=["missed"] if is_missed else [],
            )
            authentic.append(listed)
            if is_missed:
                missed.append(
                    ListedFigure(
                        record.case_id,
                        record.file_name,
                        record.image_score,
                        note=f"{truth.num_instances} instance(s)",
                    )
                )
            continue
        image_path = resolve_image_path(record.file_name, images_root, base_dir)
        gt = GroundTruth.masks(gt_runs, record.shape) if truth is not None else None
        card = _draw_card(
            record, k, output_dir, image_path, gt, thumb_size, overlay_size, image_format
        )
        card.truth = truth
        if card.picture_error:
            num_not_drawn += 1
            logger.warning(f"{record.where}: {card.picture_error}")
        cards.append(card)
    cards.sort(key=lambda c: (-c.score, c.case_id))
    metrics = summary.metrics()
    unscreened = truth_source.unscreened() if truth_source else []
    if unscreened:
        metrics["solution_rows_without_prediction"] = len(unscreened)
    source = os.fspath(records) if base_dir else "records in memory"
    subtitle = f"predictions: {source}" + (
        f" · ground truth: {truth_source.source}" if truth_source else ""
    )
    page = render_page(
        title,
        subtitle,
        summary_rows(metrics, len(unscreened)),
        cards,
        authentic,
        unreadable,
        missed if truth_source else None,
    )
    index = os.path.join(output_dir, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write(page)
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        plain = {
            k: None if isinstance(v, float) and math.isnan(v) else v for k, v in metrics.items()
        }
        json.dump(
            {
                "predictions": source,
                "ground_truth": truth_source.source if truth_source else None,
                "metrics": plain,
            },
            f,
            indent=2,
        )
    return ReportResult(index, metrics, len(cards), num_not_drawn)
