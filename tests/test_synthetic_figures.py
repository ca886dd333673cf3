"""The realistic figures generator: legitimate repetition in every panel kind, exact ground truth
for every forgery kind, layout COCO JSON, cases.jsonl, byte-identical seeds, CLI and builtins."""

import csv
import hashlib
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest

from forgery_d2.competition.rle import decode_annotation
from forgery_d2.data.synthetic.figures import (
    FORGERY_KINDS,
    LAYOUT_FILES,
    FigureOptions,
    ForgeryOptions,
    LayoutOptions,
    compose_figure,
    generate_figure_case,
    generate_figures_dataset,
)
from forgery_d2.data.synthetic.figures.microscopy import fluorescence_panels, sample_field
from forgery_d2.data.synthetic.figures.overlays import draw_overlays
from forgery_d2.data.synthetic.figures.plates import draw_plate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(min_size=260, max_size=460, median_size=360)


def _layout(seed, theme, **kw):
    return compose_figure(
        np.random.default_rng(seed), "train", LayoutOptions(theme_probs={theme: 1.0}, **SMALL, **kw)
    )


def _duplicated_patches(grey, size=8):
    """Textured, unsaturated size x size patches (stride 2) occurring more than once."""
    patches = np.lib.stride_tricks.sliding_window_view(grey, (size, size))[::2, ::2].reshape(
        -1, size * size
    )
    patches = patches[
        (patches.std(axis=1) > 2) & (((patches > 0) & (patches < 255)).mean(axis=1) >= 0.5)
    ]
    return len(patches) - len(np.unique(patches, axis=0))


def _xywh_overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _header_words(header, panel):
    """The lane header words standing above ``panel`` (over its columns)."""
    x0, y0, x1, _ = panel.box
    return sorted(o.text for o in header if o.box[3] <= y0 and o.box[2] > x0 and o.box[0] < x1)


# ----------------------------------------------------------------------------------------------
# Legitimate repetition, panel kind by panel kind


def test_blot_lane_header_above_every_strip_and_look_alike_bands():
    seen = 0
    for seed in range(6):
        layout = _layout(seed, "blots")
        strips = [p for p in layout.panels if p.kind == "blot"]
        header = [
            o
            for o in layout.overlays
            if o.label in ("lane_label", "lane_group") and o.category == "text"
        ]
        for strip in strips:
            x0, y0, x1, _ = strip.box
            above = [o for o in header if o.box[3] <= y0 and o.box[2] > x0 and o.box[0] < x1]
            assert len(above) >= 2, f"seed {seed}: no lane header above strip {strip.index}"
            # the same header (same words) stands above every strip of the stack
            stack = [p for p in strips if p.block == strip.block]
            assert all(_header_words(header, p) == _header_words(header, stack[0]) for p in stack)
            bands = [o for o in strip.objects if o.kind == "band"]
            if len(bands) >= 3:  # one template: look-alike widths, never identical pixels
                widths = np.array([b.box[2] - b.box[0] for b in bands])
                assert widths.max() <= 1.35 * widths.min() + 2
                grey = layout.canvas[strip.box[1] : strip.box[3], strip.box[0] : strip.box[2], 0]
                assert _duplicated_patches(grey) == 0
                seen += 1
    assert seen >= 3


def test_micrographs_of_a_figure_share_one_scale_bar():
    checked = 0
    for seed in range(30):
        layout = _layout(seed, "micrographs")
        bars = [o for o in layout.overlays if o.label == "scale_bar"]
        if len(bars) < 2:
            continue
        image = draw_overlays(layout.canvas, layout.overlays)
        crops = [image[o.box[1] : o.box[3], o.box[0] : o.box[2]] for o in bars]
        assert len({c.shape for c in crops}) == 1, "scale bars of one figure differ in size"
        for colour in {o.colour for o in bars}:  # white on fluorescence, black on brightfield
            same = [c for c, o in zip(crops, bars) if o.colour == colour]
            assert all(np.array_equal(c, same[0]) for c in same), (
                "scale bars of one figure differ in pixels"
            )
        labels = {o.text for o in layout.overlays if o.label == "scale_text"}
        assert len(labels) <= 1 and all(t.endswith("μm") for t in labels)
        # each bar sits at the same place of its panel, inside it
        micrographs = [p for p in layout.panels if p.kind == "microscopy"]
        for o in bars:
            assert any(
                p.box[0] <= o.box[0]
                and o.box[2] <= p.box[2]
                and p.box[1] <= o.box[1]
                and o.box[3] <= p.box[3]
                for p in micrographs
            )
        checked += 1
        if checked == 3:
            break
    assert checked == 3


def test_fluorescence_row_images_one_field_in_every_channel():
    rng = np.random.default_rng(4)
    field = sample_field(rng, 96, 96, crowding=0.7)
    channels = (("DAPI", (0.2, 0.4, 1.0)), ("GFP", (0.1, 1.0, 0.2)))
    arts = fluorescence_panels(rng, field, channels, merge=True)
    assert [a.tags["channel"] for a in arts] == ["DAPI", "GFP", "merge"]
    assert all(
        [o.box for o in a.objects] == [o.box for o in arts[0].objects] for a in arts
    )  # the same cells
    summed = np.clip(arts[0].image.astype(int) + arts[1].image.astype(int), 0, 255)
    assert np.abs(summed - arts[2].image.astype(int)).max() <= 2  # the merge is the channels' sum
    assert not np.array_equal(arts[0].image, arts[1].image)


def test_plate_wells_share_their_rim_not_their_content():
    plate = draw_plate(np.random.default_rng(2), 120, 180, 2, 3, "colonies")
    wells = [o for o in plate.objects if o.kind == "well"]
    assert len(wells) == 6 and len({o.mask.shape for o in wells}) == 1
    crops = [plate.image[o.box[1] : o.box[3], o.box[0] : o.box[2]] for o in wells]
    assert len({c.tobytes() for c in crops}) == 6


def test_gels_repeat_lane_labels_and_plots_keep_their_text_inside():
    gels_checked = plots_checked = 0
    for seed in range(12):
        layout = _layout(seed, "gels")
        labels = [o for o in layout.overlays if o.label == "lane_label"]
        gels = [p for p in layout.panels if p.kind == "gel"]
        words = [
            [
                o.text
                for o in sorted(labels, key=lambda o: o.x)
                if o.box[3] <= g.box[1] and g.box[0] <= (o.box[0] + o.box[2]) / 2 < g.box[2]
            ]
            for g in gels
        ]
        if len(gels) >= 2 and all(len(w) >= 3 for w in words):
            # narrow lanes may leave out a label, never change one
            assert all(w == words[0] for w in words) or len({len(w) for w in words}) > 1
            gels_checked += 1
        for plot in (p for p in layout.panels if p.kind == "plot"):
            inside = [
                o
                for o in layout.overlays
                if o.category == "text"
                and _xywh_overlap(
                    [o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]],
                    [
                        plot.box[0],
                        plot.box[1],
                        plot.box[2] - plot.box[0],
                        plot.box[3] - plot.box[1],
                    ],
                )
            ]
            assert sum(o.label == "tick_label" for o in inside) >= 3
            assert all(plot.box[0] <= o.box[0] and o.box[2] <= plot.box[2] for o in inside)
            plots_checked += 1
    assert gels_checked >= 2 and plots_checked >= 2


def test_every_box_lies_in_its_figure_and_text_is_rendered():
    for seed, theme in enumerate(("mixed", "gels", "plates", "single", "mixed", "micrographs")):
        layout = _layout(seed, theme)
        h, w = layout.canvas.shape[:2]
        assert 1 <= len(layout.panels) <= 16
        for p in layout.panels:
            assert 0 <= p.box[0] < p.box[2] <= w and 0 <= p.box[1] < p.box[3] <= h
        for o in layout.overlays:
            assert 0 <= o.box[0] < o.box[2] <= w and 0 <= o.box[1] < o.box[3] <= h
            assert o.category in ("text", "mark", "rule") and (o.category != "text" or o.text)
        assert any(o.category == "text" for o in layout.overlays) or theme == "single"


# ----------------------------------------------------------------------------------------------
# Forgeries


def _exact_options(kind):
    forgery = ForgeryOptions(
        event_count_probs=(1.0,),
        kind_probs={kind: 1.0},
        flip_prob=0.5,
        rotate180_prob=0.3,
        rescale_prob=0.0,
        rotation_prob=0.0,
        photometric_prob=0.0,
        blur_prob=0.0,
        jpeg_prob=0.0,
        feather_prob=0.0,
    )
    return FigureOptions(
        layout=LayoutOptions(theme_probs={"blots": 1, "micrographs": 1, "plates": 1}, **SMALL),
        forgery=forgery,
        color_mode_probs={"RGB": 1.0},
        jpeg_prob=0.0,
    )


@pytest.mark.parametrize("kind", FORGERY_KINDS)
def test_forgery_kind_has_exact_ground_truth(kind):
    case = generate_figure_case(
        11, "train", FORGERY_KINDS.index(kind), options=_exact_options(kind)
    )
    (event,) = case.events
    # exact options; only a reused panel larger than its source must be upscaled to fill it
    assert event.kind == kind and (
        event.exact or (kind == "panel_reuse" and event.params["scale"] > 1)
    )
    authentic, forged = case.authentic, case.forged
    h, w = authentic.shape[:2]
    assert case.masks.shape == (1, h, w) and case.masks.dtype == np.uint8
    np.testing.assert_array_equal(
        case.masks[0], (event.source_mask | event.target_mask).astype(np.uint8)
    )
    assert not (event.source_mask & event.target_mask).any()
    # every copied pixel is its source pixel moved by the event's matrix (away from overlays, which
    # are drawn after forging over both the source and the copy)
    under_overlays = np.zeros((h, w), np.uint8)
    for o in case.layout.overlays:
        under_overlays[o.box[1] : o.box[3], o.box[0] : o.box[2]] = 1
    moved_overlays = cv2.warpAffine(under_overlays, event.matrix, (w, h), flags=cv2.INTER_NEAREST)
    near_overlays = cv2.dilate(under_overlays | moved_overlays, np.ones((3, 3), np.uint8)).astype(
        bool
    )
    moved = cv2.warpAffine(authentic, event.matrix, (w, h), flags=cv2.INTER_LINEAR)
    check = event.target_mask & ~near_overlays
    assert check.sum() > 20
    if event.exact:
        np.testing.assert_array_equal(forged[check], moved[check])
    else:  # resampled: the same bilinear interpolation, up to fixed-point rounding
        assert np.abs(forged[check].astype(int) - moved[check].astype(int)).max() <= 2
    # nothing changed outside the event
    outside = ~case.masks[0].astype(bool)
    np.testing.assert_array_equal(forged[outside], authentic[outside])
    panels = case.layout.panels
    source, target = panels[event.source_panel], panels[event.target_panel]
    if kind == "panel_reuse":  # the whole target panel, a crop of the source panel
        tx0, ty0, tx1, ty1 = target.box
        assert (
            event.target_mask.sum() == (tx1 - tx0) * (ty1 - ty0)
            and event.target_mask[ty0:ty1, tx0:tx1].all()
        )
    if kind == "intra_panel_region":
        assert source.index == target.index
    else:
        assert source.index != target.index and source.kind == target.kind
    for mask, panel in ((event.source_mask, source), (event.target_mask, target)):
        ys, xs = np.nonzero(mask)
        assert (
            panel.box[0] <= xs.min()
            and xs.max() < panel.box[2]
            and panel.box[1] <= ys.min()
            and ys.max() < panel.box[3]
        )
    if kind in ("cross_panel_region", "intra_panel_region"):  # region copies never touch an overlay
        assert not (case.masks[0].astype(bool) & under_overlays.astype(bool)).any()
    record = case.record(True)
    assert record["events"][0]["kind"] == kind and record["events"][0]["area"] == int(
        case.masks[0].sum()
    )
    assert record["events"][0]["source_panel"] == event.source_panel and record["label"] == "forged"


def test_transformed_forgeries_change_pixels_only_inside_their_masks():
    opts = FigureOptions(
        layout=LayoutOptions(**SMALL),
        forgery=ForgeryOptions(event_count_probs=(0.0, 0.5, 0.5)),
        color_mode_probs={"RGB": 1.0},
        jpeg_prob=0.0,
    )
    kinds = set()
    for index in range(8):
        case = generate_figure_case(5, "train", index, options=opts)
        changed = (case.forged != case.authentic).any(axis=-1)
        allowed = np.zeros(changed.shape, bool)
        for event, mask in zip(case.events, case.masks):
            kinds.add(event.kind)
            grown = mask
            if event.params.get("feather"):
                r = int(np.ceil(3 * event.params["feather"])) + 1
                grown = cv2.dilate(mask, np.ones((2 * r + 1,) * 2, np.uint8))
            allowed |= grown.astype(bool)
            assert changed[event.target_mask].mean() > 0.2, (
                f"case {index}: an invisible {event.kind}"
            )
        assert not changed[~allowed].any(), f"case {index}: pixels changed outside the masks"
        for i in range(len(case.masks)):  # events never overlap
            for j in range(i + 1, len(case.masks)):
                assert not (case.masks[i] & case.masks[j]).any()
    assert len(kinds) >= 3


def test_authentic_figure_has_no_mask_and_no_event():
    case = generate_figure_case(
        3, "test", 1, forged=False, options=FigureOptions(layout=LayoutOptions(**SMALL))
    )
    assert case.forged is None and case.masks is None and case.events == []
    record = case.record(False)
    assert record["events"] == [] and not record["forged"] and record["label"] == "authentic"
    assert record["panel_count"] == len(record["panel_kinds"]) >= 1


# ----------------------------------------------------------------------------------------------
# The dataset on disk


NUM_TRAIN, NUM_TEST = 4, 4


def _options():
    return FigureOptions(layout=LayoutOptions(**SMALL))


def _digests(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.relpath(os.path.join(dirpath, name), root)] = hashlib.sha256(
                    f.read()
                ).hexdigest()
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = (
        tmp_path_factory.mktemp("datasets") / "figures"
    )  # <datasets root>/figures, as builtins expect
    summary = generate_figures_dataset(
        str(root), NUM_TRAIN, NUM_TEST, seed=1, options=_options(), progress=False
    )
    return root, summary


def test_layout_json_loads_with_pycocotools_and_detectron2(dataset):
    from detectron2.data.datasets import load_coco_json
    from pycocotools.coco import COCO

    root, _ = dataset
    expected = {"train": 2 * NUM_TRAIN, "test": NUM_TEST}
    all_ids = set()
    for split, name in LAYOUT_FILES.items():
        coco = COCO(str(root / name))
        assert coco.dataset["categories"] == [
            {"id": 1, "name": "panel"},
            {"id": 2, "name": "text"},
            {"id": 3, "name": "mark"},
        ]
        images = coco.dataset["images"]
        assert len(images) == expected[split] and not all_ids & {i["id"] for i in images}
        all_ids |= {i["id"] for i in images}
        for info in images:
            image = cv2.imread(str(root / info["file_name"]), cv2.IMREAD_UNCHANGED)
            assert image is not None and image.shape[:2] == (info["height"], info["width"])
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]]))
            assert {a["category_id"] for a in anns} >= {1}
            panels = [a["bbox"] for a in anns if a["category_id"] == 1]
            for mark in (a["bbox"] for a in anns if a["category_id"] == 3):  # marks lie on the data
                assert any(_xywh_overlap(mark, p) for p in panels)
            for a in anns:
                x, y, w, h = a["bbox"]
                assert (
                    a["iscrowd"] == 0
                    and w > 0
                    and h > 0
                    and a["area"] == pytest.approx(w * h, abs=0.01)
                )
                assert 0 <= x and 0 <= y and x + w <= info["width"] and y + h <= info["height"]
        ann_ids = [a["id"] for a in coco.dataset["annotations"]]
        assert len(set(ann_ids)) == len(ann_ids)
        dicts = load_coco_json(str(root / name), str(root), f"figures_layout_{split}")
        assert len(dicts) == expected[split] and all(os.path.isfile(d["file_name"]) for d in dicts)
    train = json.load(open(root / LAYOUT_FILES["train"]))
    names = {i["file_name"] for i in train["images"]}
    assert names == {
        f"train_images/{k}/{i}.png" for k in ("authentic", "forged") for i in range(NUM_TRAIN)
    }


def test_cases_jsonl_masks_and_solution(dataset):
    root, summary = dataset
    records = [json.loads(line) for line in open(root / "cases.jsonl")]
    assert len(records) == 2 * NUM_TRAIN + NUM_TEST
    assert summary["train_images"] == 2 * NUM_TRAIN and summary["test_forged"] == NUM_TEST // 2
    for r in records:
        assert os.path.isfile(root / r["image"]) and r["style"] == "figures"
        assert r["panel_count"] == len(r["panel_kinds"]) and r["color_mode"] in ("RGB", "L", "RGBA")
        assert r["jpeg_quality"] is None or 60 <= r["jpeg_quality"] <= 95
        mask_path = root / f"{r['split']}_masks" / f"{r['case_id']}.npy"
        if not r["forged"]:
            assert r["events"] == [] and (r["split"] == "train" or not mask_path.exists())
            continue
        masks = np.load(mask_path)
        assert (
            masks.shape == (len(r["events"]), r["height"], r["width"]) and masks.dtype == np.uint8
        )
        for event, mask in zip(r["events"], masks):
            assert event["kind"] in FORGERY_KINDS and event["area"] == int(mask.sum())
            for key in (
                "source_box",
                "target_box",
                "source_panel",
                "target_panel",
                "transform",
                "object",
            ):
                assert key in event
    with open(root / "solution.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == NUM_TEST
    for row in rows:
        shape = json.loads(row["shape"])
        decoded = decode_annotation(row["annotation"], shape)
        if row["annotation"] == "authentic":
            assert decoded is None
        else:
            np.testing.assert_array_equal(
                decoded, np.load(root / "test_masks" / f"{row['case_id']}.npy")
            )


def test_same_seed_same_bytes_with_any_worker_count(dataset, tmp_path):
    root, _ = dataset
    generate_figures_dataset(
        str(tmp_path / "again"),
        NUM_TRAIN,
        NUM_TEST,
        seed=1,
        options=_options(),
        workers=2,
        progress=False,
    )
    assert _digests(root) == _digests(tmp_path / "again")
    generate_figures_dataset(
        str(tmp_path / "other"), NUM_TRAIN, NUM_TEST, seed=2, options=_options(), progress=False
    )
    a, b = _digests(root), _digests(tmp_path / "other")
    assert sum(a[k] != b.get(k) for k in a) >= len(a) // 2


def test_builtin_figures_datasets(dataset, monkeypatch, tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from forgery_d2.data.builtin import register_all_builtin

    root, _ = dataset
    monkeypatch.setenv("FORGERY_D2_CACHE", str(tmp_path / "cache"))
    try:
        register_all_builtin(str(root.parent))
        assert MetadataCatalog.get("forgery_figures_train").root == str(root)
        train, val = (
            DatasetCatalog.get("forgery_figures_train"),
            DatasetCatalog.get("forgery_figures_val"),
        )
        assert len(train) + len(val) == 2 * NUM_TRAIN and val
        assert {r["image_id"].split("/")[0] for r in train + val} == {"authentic", "forged"}
        assert len(DatasetCatalog.get("forgery_figures_test")) == NUM_TEST
    finally:
        register_all_builtin()  # back to the default root for other tests


# ----------------------------------------------------------------------------------------------
# CLI


def _cli_main():
    spec = importlib.util.spec_from_file_location(
        "make_synthetic", os.path.join(REPO, "tools", "make_synthetic.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_cli_default_style_writes_figures_under_datasets_root(tmp_path, monkeypatch, capsys):
    main = _cli_main()
    monkeypatch.setenv("FORGERY_DATASETS", str(tmp_path))
    args = [
        "--num-images",
        "2",
        "--num-test",
        "2",
        "--min-size",
        "260",
        "--max-size",
        "400",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["style"] == "figures" and summary["output"] == str(tmp_path / "figures")
    for name in ("layout_train.json", "layout_test.json", "cases.jsonl", "solution.csv"):
        assert (tmp_path / "figures" / name).is_file()
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(args + ["--kind-probs", "blot=1"]) == 2
    assert "--kind-probs only apply to --style legacy" in capsys.readouterr().err
    assert main(args + ["--overwrite", "--themes", "blots=1,posters=1"]) == 2
    assert "posters" in capsys.readouterr().err


def test_cli_legacy_style_writes_the_old_dataset(tmp_path, monkeypatch, capsys):
    from forgery_d2.data.synthetic.generator import SyntheticOptions, generate_dataset
    from forgery_d2.data.synthetic.sources import SourceOptions

    main = _cli_main()
    monkeypatch.setenv("FORGERY_DATASETS", str(tmp_path))
    args = [
        "--style",
        "legacy",
        "--num-images",
        "3",
        "--num-test",
        "2",
        "--seed",
        "4",
        "--min-size",
        "64",
        "--max-size",
        "128",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["style"] == "legacy" and summary["output"] == str(tmp_path / "synthetic")
    assert not (tmp_path / "synthetic" / "layout_train.json").exists()
    # the CLI writes exactly what the legacy generator writes
    options = SyntheticOptions(sources=SourceOptions(min_size=64, max_size=128))
    generate_dataset(str(tmp_path / "direct"), 3, 2, 4, options, progress=False)
    assert _digests(tmp_path / "synthetic") == _digests(tmp_path / "direct")
    assert main(args[:2] + ["--jpeg-prob", "0.5"]) == 2
    assert "--jpeg-prob only apply to --style figures" in capsys.readouterr().err
