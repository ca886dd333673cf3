"""The screening report: predictions.jsonl validation, transform descriptions, source/copy
geometry and overlays, the HTML page and its files, and the ground-truth summary (exact oF1)."""

import importlib.util
import json
import os
import shutil
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
from PIL import Image

from forgery_d2.competition.rle import AUTHENTIC, encode_annotation, rle_encode
from forgery_d2.competition.submission import read_solution_csv, read_submission_csv
from forgery_d2.data.io import read_image
from forgery_d2.data.synthetic import CopyTransform, plant_copy_move
from forgery_d2.data.synthetic.blots import draw_blot
from forgery_d2.data.synthetic.sources import skimage_image_paths
from forgery_d2.evaluation.metric import score
from forgery_d2.report import (
    PredictionsError,
    correspondences,
    describe_transform,
    read_predictions,
    write_report,
)
from forgery_d2.report.drawing import (
    COPY_COLOR,
    LINE_COLOR,
    SOURCE_COLOR,
    OverlayPart,
    draw_overlay,
)

# ----------------------------------------------------------------------------------------------
# Fixtures: real PNGs with planted copy-moves of known transforms, and their records.


def _cell(height=150, width=200, channels=3):
    """A crop of scikit-image's cell.png (a real microscopy image), or a blot when absent."""
    paths = skimage_image_paths(("cell.png",))
    if paths:
        grey = np.asarray(Image.open(paths[0]).convert("L"))[100 : 100 + height, 150 : 150 + width]
    else:
        grey = draw_blot(np.random.default_rng(0), height, width)[0]
    return np.repeat(grey[..., None], channels, axis=2) if channels > 1 else grey


def _part(event, score, inliers=25):
    return {
        "source": rle_encode(event.source_mask),
        "copy": rle_encode(event.target_mask),
        "transform": event.matrix.tolist(),
        "score": score,
        "evidence": {
            "method": "keypoint",
            "inliers": inliers,
            "verified_pixels": int(event.target_mask.sum()),
            "mirrored": False,
        },
    }


def _record(case_id, path, image, events=(), image_score=0.1, unpaired=(), seconds=0.25):
    """A predictions.jsonl record as predict.py writes it: one instance per event, plus instances
    found without a pair (``unpaired`` masks)."""
    h, w = image.shape[:2]
    instances = [
        {
            "score": image_score - 0.01 * i,
            "mask": rle_encode(e.mask),
            "parts": [_part(e, image_score - 0.01 * i)],
        }
        for i, e in enumerate(events)
    ]
    instances += [{"score": image_score / 2, "mask": rle_encode(m), "parts": []} for m in unpaired]
    masks = [e.mask for e in events] + list(unpaired)
    return {
        "case_id": case_id,
        "file_name": path,
        "height": h,
        "width": w,
        "status": "ok",
        "annotation": encode_annotation(masks) if masks else AUTHENTIC,
        "image_score": image_score,
        "seconds": seconds,
        "instances": instances,
    }


def _save(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(image).save(path)
    return path


@pytest.fixture(scope="module")
def screening(tmp_path_factory):
    """Six figures (several colour modes and sizes): three flagged with known copy-moves, one
    false alarm, one missed forgery, one correctly authentic, plus an unreadable file. Writes the
    images, the ground-truth masks, the predictions file and a solution CSV."""
    root = tmp_path_factory.mktemp("screening")
    images, gt = root / "images", root / "gt"
    gt.mkdir()
    records, truth = [], {}

    cell = _cell()
    forged, shift = plant_copy_move(cell, (20, 20, 70, 60), (120, 90))
    records.append(
        _record(
            "shifted",
            str(_save(str(images / "shifted.png"), forged)),
            forged,
            [shift],
            image_score=0.95,
        )
    )
    truth["shifted"] = [shift.mask]

    blot = draw_blot(np.random.default_rng(3), 160, 240)[0]
    forged, flip = plant_copy_move(
        blot, (10, 30, 70, 80), (150, 90), CopyTransform(flip="horizontal")
    )
    forged, turn = plant_copy_move(forged, (90, 10, 130, 50), (15, 110), CopyTransform(rot90=2))
    records.append(
        _record(
            "flip_and_turn",
            str(_save(str(images / "flip_and_turn.png"), forged)),
            forged,
            [flip, turn],
            image_score=0.8,
        )
    )
    truth["flip_and_turn"] = [flip.mask, turn.mask]

    rgba = np.dstack([_cell(140, 200), np.full((140, 200), 255, np.uint8)])
    forged, rotated = plant_copy_move(
        rgba, (10, 10, 60, 50), (110, 60), CopyTransform(angle=30, scale=1.2)
    )
    network = np.zeros((140, 200), np.uint8)
    network[5:20, 150:175] = 1
    records.append(
        _record(
            "rotated",
            str(_save(str(images / "rotated.png"), forged)),
            forged,
            [rotated],
            image_score=0.6,
            unpaired=[network],
        )
    )
    truth["rotated"] = [rotated.mask]

    authentic = _cell(140, 140, channels=1)
    decoy = np.zeros((140, 140), np.uint8)
    decoy[10:30, 10:30] = 1
    false_alarm = _record(
        "false_alarm",
        str(_save(str(images / "false_alarm.png"), authentic)),
        authentic,
        image_score=0.4,
        unpaired=[decoy],
    )
    records.append(false_alarm)

    forged, hidden = plant_copy_move(cell, (30, 30, 60, 60), (140, 100))
    records.append(
        _record("missed", str(_save(str(images / "missed.png"), forged)), forged, image_score=0.2)
    )
    truth["missed"] = [hidden.mask]

    clean = _cell(100, 130)
    records.append(
        _record("clean", str(_save(str(images / "clean.png"), clean)), clean, image_score=0.05)
    )

    broken = images / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    records.append(
        {
            "case_id": "broken",
            "file_name": str(broken),
            "height": 0,
            "width": 0,
            "status": "unreadable",
            "error": f"image file is corrupt: {broken}",
            "annotation": AUTHENTIC,
            "image_score": None,
            "seconds": None,
            "instances": [],
        }
    )

    for case_id, masks in truth.items():
        np.save(gt / f"{case_id}.npy", np.stack(masks).astype(np.uint8))
    predictions = root / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in records))
    solution = root / "solution.csv"
    lines = ["case_id,annotation,shape"]
    for r in records:
        label = encode_annotation(truth[r["case_id"]]) if r["case_id"] in truth else AUTHENTIC
        shape = [r["height"], r["width"]] if r["height"] else [10, 10]  # broken: size unknown
        lines.append(f'{r["case_id"]},"{label.replace(chr(34), chr(34) * 2)}","{shape}"')
    solution.write_text("\n".join(lines) + "\n")
    submission = root / "submission.csv"
    submission.write_text(
        "case_id,annotation\n"
        + "".join(
            f'{r["case_id"]},"{r["annotation"].replace(chr(34), chr(34) * 2)}"\n' for r in records
        )
    )
    return {
        "root": root,
        "records": records,
        "predictions": predictions,
        "gt": gt,
        "solution": solution,
        "submission": submission,
        "events": {"shifted": shift, "flip": flip, "turn": turn, "rotated": rotated},
    }


class _PageParser(HTMLParser):
    """Collects the page's tags (with attributes) and each card's text."""

    def __init__(self):
        super().__init__()
        self.tags, self.cards, self._card_depth, self._depth = [], [], None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag in ("img", "input", "meta", "br"):
            return
        self._depth += 1
        if tag == "article" and "card" in attrs.get("class", ""):
            self.cards.append({"attrs": attrs, "text": ""})
            self._card_depth = self._depth

    def handle_endtag(self, tag):
        if tag in ("img", "input", "meta", "br"):
            return
        if self._card_depth == self._depth:
            self._card_depth = None
        self._depth -= 1

    def handle_data(self, data):
        if self._card_depth is not None:
            self.cards[-1]["text"] += data

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def _parse(index):
    parser = _PageParser()
    with open(index, encoding="utf-8") as f:
        text = f.read()
    parser.feed(text)
    return parser, text


# ----------------------------------------------------------------------------------------------
# Transform descriptions on known matrices.


def _matrix(linear, t=(0.0, 0.0)):
    return np.hstack([np.asarray(linear, float), np.asarray(t, float)[:, None]])


@pytest.mark.parametrize(
    "kwargs, flip, rotation, scale",
    [
        ({}, "none", 0.0, 1.0),
        ({"flip": "horizontal"}, "horizontal", 0.0, 1.0),
        ({"flip": "vertical"}, "vertical", 0.0, 1.0),
        ({"rot90": 1}, "none", 90.0, 1.0),
        ({"rot90": 2}, "none", 180.0, 1.0),
        ({"rot90": 3}, "none", -90.0, 1.0),
        ({"flip": "horizontal", "rot90": 2}, "vertical", 0.0, 1.0),  # = a vertical flip
        ({"flip": "horizontal", "rot90": 1}, "horizontal", 90.0, 1.0),
        ({"angle": 30.0, "scale": 1.5}, "none", 30.0, 1.5),
        ({"flip": "horizontal", "angle": -20.0, "scale": 0.8}, "horizontal", -20.0, 0.8),
    ],
)
def test_describe_transform_reads_flip_rotation_scale(kwargs, flip, rotation, scale):
    d = describe_transform(_matrix(CopyTransform(**kwargs).linear(), (7.0, -3.0)))
    assert d.flip == flip
    assert d.rotation == pytest.approx(rotation, abs=1e-9)
    assert d.scale == pytest.approx(scale) and d.scale_major == pytest.approx(d.scale_minor)
    assert (d.dx, d.dy) == pytest.approx((7.0, -3.0))  # reference = origin: the translation


def test_describe_transform_explicit_matrices_and_words():
    # x -> -x: mirrored left-right, about the region centre (10, 20) moved to (110, 20).
    d = describe_transform([[-1, 0, 120], [0, 1, 0]], reference=(10, 20))
    assert (d.flip, d.rotation, d.dx, d.dy) == ("horizontal", 0.0, 100.0, 0.0)
    assert d.words() == "moved 100 px right; mirrored left-right"
    # Half turn about (50, 40): (x, y) -> (100 - x, 80 - y); a point at (20, 10) goes to (80, 70).
    half = describe_transform([[-1, 0, 100], [0, -1, 80]], reference=(20, 10))
    assert (half.flip, half.rotation, half.dx, half.dy) == ("none", 180.0, 60.0, 60.0)
    assert half.words() == "moved 60 px right and 60 px down; rotated 180°"
    # A quarter turn counter-clockwise as displayed sends the x axis up (y down): (1, 0) -> (0, -1).
    quarter = describe_transform([[0, 1, 0], [-1, 0, 0]])
    assert quarter.rotation == pytest.approx(90.0) and "90° counter-clockwise" in quarter.words()
    shift = describe_transform([[1, 0, -12.4], [0, 1, 3.6]])
    assert shift.is_shift_only and shift.words() == "moved 12 px left and 4 px down"
    stretched = describe_transform([[1.3, 0, 0], [0, 1.0, 0]])
    assert stretched.anisotropic and "stretched ×1.30 by ×1.00" in stretched.words()
    with pytest.raises(ValueError, match="degenerate"):
        describe_transform([[1, 2, 0], [2, 4, 0]])
    with pytest.raises(ValueError, match="2x3"):
        describe_transform([[1, 0], [0, 1]])


# ----------------------------------------------------------------------------------------------
# Source/copy geometry on planted copy-moves.


@pytest.mark.parametrize(
    "transform",
    [
        CopyTransform(),
        CopyTransform(flip="horizontal"),
        CopyTransform(flip="vertical"),
        CopyTransform(rot90=2),
        CopyTransform(rot90=1, flip="horizontal"),
        CopyTransform(angle=25.0, scale=1.25),
    ],
)
def test_correspondences_land_in_the_copy_and_description_matches_the_plant(transform):
    image = _cell(200, 260)
    forged, event = plant_copy_move(image, (20, 30, 90, 80), (140, 100), transform)
    source_points, copy_points = correspondences(event.source_mask, event.target_mask, event.matrix)
    assert len(source_points) == 5  # centroid + four corner points
    assert event.source_mask[tuple(np.round(source_points[1:, ::-1]).astype(int).T)].all()
    landed = np.round(copy_points).astype(int)
    grown = cv2.dilate(event.target_mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert grown[landed[:, 1], landed[:, 0]].all(), "mapped points must fall in the copy"
    centre = np.argwhere(event.target_mask).mean(axis=0)[::-1]
    assert np.hypot(*(copy_points[0] - centre)) < 2.0, "the source centroid maps to the copy's"
    d = describe_transform(event.matrix, reference=source_points[0])
    expected = describe_transform(np.hstack([transform.linear(), np.zeros((2, 1))]))
    assert (d.flip, d.rotation, d.scale) == pytest.approx(
        (expected.flip, expected.rotation, expected.scale), abs=1e-6
    )
    assert (d.dx, d.dy) == pytest.approx(tuple(centre - source_points[0]), abs=2.0)


def test_correspondences_without_transform_join_the_centroids():
    forged, event = plant_copy_move(_cell(), (20, 20, 70, 60), (120, 90))
    source_points, copy_points = correspondences(event.source_mask, event.target_mask, None)
    assert source_points.shape == copy_points.shape == (1, 2)
    assert copy_points[0] - source_points[0] == pytest.approx((100.0, 70.0))


def test_overlay_tints_source_and_copy_and_draws_the_correspondences():
    image = _cell(200, 260)
    forged, event = plant_copy_move(image, (20, 30, 90, 80), (140, 100), CopyTransform(rot90=2))
    source_points, copy_points = correspondences(event.source_mask, event.target_mask, event.matrix)
    small = cv2.resize(forged, (130, 100), interpolation=cv2.INTER_AREA).astype(int)

    def interior(mask):  # the region at half size, away from its outline
        half = cv2.resize(mask.astype(np.uint8), (130, 100), interpolation=cv2.INTER_NEAREST)
        return cv2.erode(half, np.ones((5, 5), np.uint8)) > 0

    no_lines = OverlayPart(event.source_mask, event.target_mask, np.zeros((0, 2)), np.zeros((0, 2)))
    overlay = draw_overlay(forged, [no_lines], max_side=130).astype(int)  # drawn at half size
    assert overlay.shape == (100, 130, 3)
    for mask, color in ((event.source_mask, SOURCE_COLOR), (event.target_mask, COPY_COLOR)):
        inside = interior(mask)
        before = np.linalg.norm(small[inside] - np.asarray(color), axis=1)
        after = np.linalg.norm(overlay[inside] - np.asarray(color), axis=1)
        assert (after < before).all()
    outside = cv2.dilate(
        ((event.source_mask | event.target_mask) * 255).astype(np.uint8), np.ones((9, 9), np.uint8)
    )
    outside = cv2.resize(outside, (130, 100), interpolation=cv2.INTER_NEAREST) == 0
    assert np.array_equal(overlay[outside], small[outside])

    with_lines = OverlayPart(event.source_mask, event.target_mask, source_points, copy_points, "1")
    overlay = draw_overlay(forged, [with_lines], max_side=130).astype(int)
    middle = np.round((source_points[0] + copy_points[0]) / 4).astype(int)  # at half size
    assert np.linalg.norm(overlay[middle[1], middle[0]] - np.asarray(LINE_COLOR)) < 40


# ----------------------------------------------------------------------------------------------
# The predictions file: malformed input gets one clear error naming file and line.


def test_read_predictions_streams_valid_records(screening):
    records = list(read_predictions(screening["predictions"]))
    assert [r.case_id for r in records] == [r["case_id"] for r in screening["records"]]
    flip_and_turn = records[1]
    assert flip_and_turn.flagged and len(flip_and_turn.instances) == 2
    part = flip_and_turn.instances[0].parts[0]
    assert part.method == "keypoint" and part.transform.shape == (2, 3)
    assert records[-1].status == "unreadable" and not records[-1].flagged


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: "{not json", r"line 2: not valid JSON"),
        (
            lambda r: json.dumps({k: v for k, v in r.items() if k != "height"}),
            r"missing key 'height'",
        ),
        (lambda r: json.dumps({**r, "status": "done"}), r"'status' must be one of"),
        (
            lambda r: json.dumps(
                {**r, "instances": [{**r["instances"][0], "mask": [1, 10**9]}] + r["instances"][1:]}
            ),
            r"instances\[0\]\.mask: RLE run (ends at pixel|length \d+ is longer than the image)",
        ),
        (
            lambda r: json.dumps(
                {
                    **r,
                    "instances": [
                        {
                            **r["instances"][0],
                            "parts": [
                                {**r["instances"][0]["parts"][0], "transform": [[1, 0], [0, 1]]}
                            ],
                        }
                    ],
                }
            ),
            r"instances\[0\]\.parts\[0\]\.transform must be a 2x3",
        ),
        (
            lambda r: json.dumps(
                {
                    **r,
                    "instances": [
                        {
                            **r["instances"][0],
                            "parts": [
                                {**r["instances"][0]["parts"][0], "evidence": {"method": "magic"}}
                            ],
                        }
                    ],
                }
            ),
            r"evidence\.method must be one of",
        ),
        (lambda r: json.dumps({**r, "instances": []}), r"annotation is forged but there are 0"),
        (lambda r: json.dumps({**r, "annotation": "[5, 3, 1, 2]"}), r"annotation: .*ascending"),
        (
            lambda r: json.dumps({**r, "case_id": "shifted"}),
            r"duplicate case_id, first seen on line 1",
        ),
    ],
)
def test_malformed_line_names_file_and_line(screening, tmp_path, change, message):
    first, second = screening["records"][0], screening["records"][1]
    path = tmp_path / "predictions.jsonl"
    path.write_text(json.dumps(first) + "\n" + change(second) + "\n")
    with pytest.raises(PredictionsError, match=message) as info:
        list(read_predictions(path))
    assert str(path) in str(info.value) and "line 2" in str(info.value)


def test_cli_reports_bad_input_in_one_line(screening, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "report_cli", os.path.join(os.path.dirname(__file__), "..", "tools", "report.py")
    )
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(screening["records"][0]) + "\n\n" + "[1, 2]\n")
    with pytest.raises(SystemExit) as info:
        cli.main(["--predictions", str(path), "--output", str(tmp_path / "out"), "--quiet"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path} line 3" in err and "JSON object" in err


# ----------------------------------------------------------------------------------------------
# The report: page structure, sort order, filter, pictures, lists, ground truth.


@pytest.fixture(scope="module")
def report(screening, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = write_report(screening["predictions"], out, gt_masks=screening["gt"], progress=False)
    return result, out


def test_report_cards_sorted_with_pictures_on_disk(screening, report):
    result, out = report
    parser, text = _parse(result.index)
    flagged = [r for r in screening["records"] if r["annotation"] != AUTHENTIC]
    assert result.num_cards == len(parser.cards) == len(flagged) == 4
    scores = [float(c["attrs"]["data-score"]) for c in parser.cards]
    assert scores == sorted(scores, reverse=True)
    assert [c["attrs"]["data-case-id"] for c in parser.cards] == [
        "shifted",
        "flip_and_turn",
        "rotated",
        "false_alarm",
    ]
    images = [a for tag, a in parser.tags if tag == "img"]
    assert len(images) == 2 * len(flagged)  # a thumbnail and an overlay per flagged figure
    for attrs in images:
        assert attrs["loading"] == "lazy" and not attrs["src"].startswith(("http:", "https:", "/"))
        path = os.path.join(out, attrs["src"])
        with Image.open(path) as picture:
            assert picture.size == (int(attrs["width"]), int(attrs["height"]))
            assert max(picture.size) <= (240 if "thumb" in attrs["class"] else 960)
    # Self-contained: no external stylesheet, script or link.
    assert not any(
        tag in ("link", "iframe") or (tag == "script" and "src" in a) for tag, a in parser.tags
    )
    assert "http://" not in text and "https://" not in text


def test_report_cards_say_what_was_copied(report):
    result, out = report
    parser, _ = _parse(result.index)
    text = {c["attrs"]["data-case-id"]: " ".join(c["text"].split()) for c in parser.cards}
    assert "moved 100 px right and 70 px down" in text["shifted"]
    assert (
        "keypoint match, score 0.950 · inliers 25 · verified pixels 2,000 · mirrored no"
        in text["shifted"]
    )
    assert "mirrored left-right" in text["flip_and_turn"]
    assert "rotated 180°" in text["flip_and_turn"]
    assert "rotated 30° counter-clockwise; scaled ×1.20" in text["rotated"]
    assert "found without a source/copy pair" in text["rotated"]
    assert "detected" in text["shifted"] and "false alarm" in text["false_alarm"]


def test_report_filter_controls_cover_the_card_scores(report):
    result, _ = report
    parser, text = _parse(result.index)
    inputs = {a["id"]: a for tag, a in parser.tags if tag == "input"}
    slider, box = inputs["score-filter"], inputs["score-filter-value"]
    assert slider["type"] == "range" and box["type"] == "number"
    scores = [float(c["attrs"]["data-score"]) for c in parser.cards]
    assert float(slider["min"]) <= min(scores) and float(slider["max"]) >= max(scores)
    assert float(slider["value"]) <= min(scores)  # everything shown at first
    assert "getAttribute('data-score')" in text and "card.hidden" in text


def test_report_lists_authentic_missed_and_unreadable(report):
    result, _ = report
    parser, text = _parse(result.index)
    ids = {a.get("id") for _, a in parser.tags}
    assert {"authentic-list", "missed-list", "unreadable-list", "summary"} <= ids
    authentic = text.split('id="authentic-list"')[1].split("</ul>")[0]
    assert ">clean<" in authentic and 'class="missed"' in authentic and ">missed<" in authentic
    assert ">missed —" in text.split('id="missed-list"')[1].split("</ul>")[0]
    unreadable = text.split('id="unreadable-list"')[1].split("</ul>")[0]
    assert "broken — image file is corrupt" in unreadable


def test_summary_of1_equals_the_competition_metric(screening, report):
    result, out = report
    m = result.metrics
    expected = score(
        read_solution_csv(screening["solution"]), read_submission_csv(screening["submission"])
    )
    assert m["oF1"] == expected
    assert 0.0 < expected < 1.0
    assert (m["figures_screened"], m["flagged"], m["authentic"], m["unreadable"]) == (7, 4, 2, 1)
    assert (m["detected"], m["false_alarms"], m["missed"]) == (3, 1, 1)
    assert m["image_precision"] == pytest.approx(3 / 4)
    assert m["image_recall"] == pytest.approx(3 / 4)
    assert m["false_alarm_rate"] == pytest.approx(1 / 3)  # 1 of {false_alarm, clean, broken}
    assert m["seconds_total"] == pytest.approx(6 * 0.25)
    saved = json.loads((out / "summary.json").read_text())
    assert saved["metrics"]["oF1"] == expected
    # The solution CSV gives the same numbers.
    from_solution = write_report(
        screening["predictions"],
        out / "with_solution",
        solution=screening["solution"],
        progress=False,
    )
    assert from_solution.metrics == m


def test_report_without_truth_and_with_a_missing_image(screening, tmp_path):
    records = [dict(r) for r in screening["records"]]
    records[0]["file_name"] = str(tmp_path / "gone.png")
    result = write_report(records, tmp_path / "out", progress=False, image_format="png")
    assert result.num_cards == 4 and result.num_not_drawn == 1
    assert "oF1" not in result.metrics
    parser, text = _parse(result.index)
    first = parser.cards[0]
    assert first["attrs"]["data-case-id"] == "shifted" and "figure not drawn" in first["text"]
    assert "gone.png" in first["text"] and 'id="missed-list"' not in text
    drawn = [a["src"] for tag, a in parser.tags if tag == "img"]
    assert len(drawn) == 6 and all(s.endswith(".png") for s in drawn)


def test_report_draws_ground_truth_on_the_overlay(screening, tmp_path):
    with_gt = write_report(
        screening["predictions"],
        tmp_path / "gt",
        gt_masks=screening["gt"],
        image_format="png",
        progress=False,
    )
    plain = write_report(
        screening["predictions"], tmp_path / "plain", image_format="png", progress=False
    )
    overlays = [
        a["src"]
        for tag, a in _parse(plain.index)[0].tags
        if tag == "img" and "overlay" in a["class"]
    ]
    assert overlays == [
        a["src"]
        for tag, a in _parse(with_gt.index)[0].tags
        if tag == "img" and "overlay" in a["class"]
    ]

    def pictures(case_id):
        name = next(src for src in overlays if case_id in src)
        return (
            read_image(os.path.join(tmp_path / "gt", name)).astype(int),
            read_image(os.path.join(tmp_path / "plain", name)).astype(int),
        )

    # The shifted figure's ground truth is its prediction: the green line runs a few pixels
    # outside the predicted outline (drawn at full size here) and nowhere far from it.
    gt_overlay, plain_overlay = pictures("shifted")
    changed = np.abs(gt_overlay - plain_overlay).sum(axis=2) > 0
    mask = screening["events"]["shifted"].mask
    ring = (cv2.dilate(mask, np.ones((9, 9), np.uint8)) > 0) & (
        cv2.dilate(mask, np.ones((5, 5), np.uint8)) == 0
    )
    far = cv2.dilate(mask, np.ones((15, 15), np.uint8)) == 0
    assert changed[ring].mean() > 0.8 and not changed[far].any() and not changed[mask > 0].any()
    assert (gt_overlay[ring] - plain_overlay[ring]).mean(axis=0)[1] > 0  # greener
    # An authentic ground truth draws nothing.
    gt_overlay, plain_overlay = pictures("false_alarm")
    assert np.array_equal(gt_overlay, plain_overlay)


def test_unreadable_forged_figure_counts_and_is_listed_as_missed(screening, tmp_path):
    gt = tmp_path / "gt"
    shutil.copytree(screening["gt"], gt)
    np.save(gt / "broken.npy", np.ones((1, 8, 8), np.uint8))  # its size is unknown to the record
    result = write_report(screening["predictions"], tmp_path / "out", gt_masks=gt, progress=False)
    assert result.metrics["missed"] == 2 and result.metrics["gt_forged"] == 5
    _, text = _parse(result.index)
    missed = text.split('id="missed-list"')[1].split("</ul>")[0]
    assert ">missed —" in missed and ">broken — unreadable, 1 instance(s)" in missed


def test_the_report_accepts_every_evidence_method_the_matchers_write():
    """A record of each method the figure matcher (and the keypoint matcher) writes parses: the
    demo's report once stopped on a ``grain`` match."""
    from forgery_d2.matching.figure_matcher import CANDIDATE_METHODS
    from forgery_d2.report.records import EVIDENCE_METHODS

    assert set(CANDIDATE_METHODS) | {"keypoint"} <= set(EVIDENCE_METHODS)
