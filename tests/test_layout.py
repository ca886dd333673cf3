"""forgery_d2.layout on real figure fixtures (tests/_layout_fixtures.py: skimage micrographs,
procedural blots, TrueType text): the classical splitter (gutters, touching panels, one panel,
non-white canvas, grey / RGBA input), the text / mark finder and its ink mask, the layout COCO
registration, and the detector: its config trains for a few iterations through tools/train_net.py
and its analyzer returns a FigureLayout."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from _layout_fixtures import (
    blot_figure,
    figure_set,
    grid_figure,
    single_panel_figure,
    write_coco_figures,
)
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from forgery_d2.config import add_forgery_config, default_value
from forgery_d2.data.builtin import register_all_builtin
from forgery_d2.data.io import DataError
from forgery_d2.data.synthetic.sources import skimage_image_paths
from forgery_d2.layout import (
    MARK,
    TEXT,
    ClassicalLayoutAnalyzer,
    DetectorLayoutAnalyzer,
    FigureLayout,
    LayoutConfigError,
    LayoutInputError,
    build_layout_analyzer,
    load_detector_config,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYOUT_CONFIG = os.path.join(REPO, "configs", "layout", "layout_R_18_FPN.yaml")


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def assert_same_boxes(found, expected, min_iou=0.9):
    found = [tuple(b) for b in np.asarray(found).tolist()]
    assert len(found) == len(expected), f"found {found}, expected {expected}"
    for box in expected:
        best = max(iou(box, f) for f in found)
        assert best >= min_iou, f"{box}: best IoU {best:.2f} among {found}"


def matched(layout, boxes, label, min_iou=0.5):
    """How many of ``boxes`` a ``label`` box of ``layout`` overlaps with IoU >= min_iou."""
    mine = layout.marks[layout.mark_labels == label]
    return sum(any(iou(b, m) >= min_iou for m in mine) for b in boxes)


@pytest.fixture(scope="module")
def analyzer():
    return ClassicalLayoutAnalyzer()


# ----------------------------------------------------------------------------------- panels


def test_panels_between_gutters(analyzer):
    figure = grid_figure(seed=0, rows=2, cols=3, gap=30)
    layout = analyzer(figure.image)
    assert isinstance(layout, FigureLayout)
    assert_same_boxes(layout.panels, figure.panels)
    # Gutters are background, panel interiors are not.
    assert layout.background_mask[:, 30 + 160 + 15].all()
    x0, y0, x1, y1 = figure.panels[0]
    assert not layout.background_mask[y0:y1, x0:x1].any()


def test_touching_panels_split_on_their_edges(analyzer):
    figure = grid_figure(seed=3, rows=2, cols=3, touching=True)
    assert_same_boxes(analyzer(figure.image).panels, figure.panels)


def test_single_panel_is_the_whole_figure(analyzer):
    figure = single_panel_figure(seed=1)
    layout = analyzer(figure.image)
    assert_same_boxes(layout.panels, [(0, 0, 400, 300)], min_iou=0.99)
    assert not layout.background_mask.any()


@pytest.mark.parametrize("canvas", [(90, 90, 90), (0, 0, 0), (250, 240, 225)])
def test_non_white_canvas(analyzer, canvas):
    figure = grid_figure(seed=4, rows=2, cols=2, gap=24, canvas=canvas)
    assert_same_boxes(analyzer(figure.image).panels, figure.panels)


def test_grey_and_rgba_inputs_give_the_same_panels(analyzer):
    figure = grid_figure(seed=5, rows=2, cols=2, gap=20)
    grey = cv2.cvtColor(figure.image, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([figure.image, np.full(grey.shape, 255, np.uint8)])
    assert_same_boxes(analyzer(grey).panels, figure.panels)
    assert_same_boxes(analyzer(rgba).panels, figure.panels)
    # A transparent canvas composites to white: still the canvas.
    rgba[..., 3] = 0
    x0, y0, x1, y1 = figure.panels[0]
    rgba[y0:y1, x0:x1, 3] = 255
    assert_same_boxes(analyzer(rgba).panels, [figure.panels[0]])


def test_bad_images_are_one_clear_error(analyzer):
    with pytest.raises(LayoutInputError, match="must be uint8, got float32"):
        analyzer(np.zeros((20, 20), np.float32))
    with pytest.raises(LayoutInputError, match=r"got shape \(20, 20, 2\)"):
        analyzer(np.zeros((20, 20, 2), np.uint8))


# ------------------------------------------------------------------------------ text, marks


def test_text_and_marks_inside_and_outside_panels(analyzer):
    figure = grid_figure(seed=0, rows=2, cols=3, gap=30)
    layout = analyzer(figure.image)
    letters = [
        b for b in figure.texts if b[3] - b[1] >= 10 and b[2] - b[0] < 16
    ]  # "A".."F" on the canvas
    scale_texts = [b for b in figure.texts if b not in letters]  # "50 µm" on the micrographs
    assert len(letters) == 6 and len(scale_texts) == 3
    assert matched(layout, letters, TEXT) == 6
    assert matched(layout, scale_texts, TEXT) >= 2
    assert matched(layout, figure.marks, MARK) >= 2  # scale bars (one lies on a saturated gel band)
    # Few false alarms: at most one extra box per panel.
    assert len(layout.marks) <= len(figure.texts) + len(figure.marks) + len(figure.panels)


def test_black_marks_on_a_single_micrograph(analyzer):
    figure = single_panel_figure(seed=1)
    layout = analyzer(figure.image)
    (letter,) = figure.texts
    arrow, bar = figure.marks
    assert matched(layout, [letter], TEXT) == 1
    assert matched(layout, [arrow, bar], MARK) == 2


def test_blot_stack_labels_and_no_marks_on_bands(analyzer):
    figure = blot_figure(seed=2)
    layout = analyzer(figure.image)
    assert_same_boxes(layout.panels, figure.panels)
    assert matched(layout, figure.texts, TEXT) == len(
        figure.texts
    )  # every "+", "-" and protein name
    # Saturated band cores are dark blobs with soft edges: data, not ink.
    for x0, y0, x1, y1 in figure.panels:
        inside = [
            (m, label)
            for m, label in zip(layout.marks, layout.mark_labels)
            if m[0] >= x0 and m[2] <= x1 and m[1] >= y0 and m[3] <= y1
        ]
        assert not inside, f"ink found on the blot data: {inside}"


@pytest.mark.parametrize("name", ["gravel.png", "coins.png", "ihc.png"])
def test_real_photos_without_labels_keep_their_pixels(analyzer, name):
    """Dark crevices, bright specks and coin rims are not ink: a real photo without overlays
    keeps >= 97% of its pixels out of the ink mask."""
    path = [p for p in skimage_image_paths() if p.endswith(name)][0]
    layout = analyzer(np.asarray(Image.open(path)))
    assert len(layout.panels) == 1
    assert layout.mark_mask.mean() < 0.03


def test_ink_mask_is_the_ink_not_the_boxes(analyzer):
    figure = grid_figure(seed=0, rows=2, cols=3, gap=30)
    layout = analyzer(figure.image)
    near_ink = cv2.dilate(figure.ink.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(
        bool
    )  # 2 px
    found = [
        b
        for b in figure.texts + figure.marks
        if matched(layout, [b], TEXT) or matched(layout, [b], MARK)
    ]
    assert found
    for x0, y0, x1, y1 in found:
        strokes = figure.coverage[y0:y1, x0:x1] >= 0.25
        assert layout.mark_mask[y0:y1, x0:x1][strokes].all()  # the strokes are masked...
        # ...but not the whole box: no pixel of the box (grown by 2 px) farther than 2 px from ink.
        around = (slice(max(y0 - 2, 0), y1 + 2), slice(max(x0 - 2, 0), x1 + 2))
        assert not (layout.mark_mask[around] & ~near_ink[around]).any()
    # Over the whole figure, at most 0.5% of the panel pixels away from any ink are masked.
    in_panels = ~layout.background_mask
    assert (layout.mark_mask & in_panels & ~near_ink).sum() <= 0.005 * in_panels.sum()


# ----------------------------------------------------------------------------------- config


def _cfg():
    return add_forgery_config(get_cfg())


def test_build_layout_analyzer_and_its_errors():
    cfg = _cfg()
    cfg.MODEL.LAYOUT.CLASSICAL.MIN_PANEL_SIZE = 40
    analyzer = build_layout_analyzer(cfg)
    assert isinstance(analyzer, ClassicalLayoutAnalyzer) and analyzer.params.min_panel_size == 40
    cfg.MODEL.LAYOUT.ANALYZER = "yolo"
    with pytest.raises(LayoutConfigError, match="MODEL.LAYOUT.ANALYZER must be one of"):
        build_layout_analyzer(cfg)
    cfg.MODEL.LAYOUT.ANALYZER = "detector"
    with pytest.raises(LayoutConfigError, match="MODEL.LAYOUT.DETECTOR.WEIGHTS is empty"):
        build_layout_analyzer(cfg)
    cfg.MODEL.LAYOUT.DETECTOR.WEIGHTS = "no/such/model.pth"
    with pytest.raises(LayoutConfigError, match="MODEL.LAYOUT.DETECTOR.WEIGHTS: file not found"):
        build_layout_analyzer(cfg)


# ----------------------------------------------------------------------------------- data


@pytest.fixture
def layout_root(tmp_path):
    """A datasets root whose figures/ holds fixture figures with layout_train/test.json; the
    builtin datasets are re-rooted there and back to their default afterwards."""
    folder = tmp_path / "figures"
    write_coco_figures(
        str(folder), figure_set(seed=0, count=5), "layout_train.json", "train_images/authentic"
    )
    write_coco_figures(str(folder), figure_set(seed=50, count=2), "layout_test.json", "test_images")
    register_all_builtin(str(tmp_path))
    yield tmp_path
    register_all_builtin()


def test_layout_registration_loads(layout_root):
    dicts = DatasetCatalog.get("forgery_figures_layout_train")
    assert len(dicts) == 5 and all(os.path.isfile(d["file_name"]) for d in dicts)
    classes = {a["category_id"] for d in dicts for a in d["annotations"]}
    assert classes == {0, 1, 2}  # panel, text, mark as contiguous ids
    meta = MetadataCatalog.get("forgery_figures_layout_test")
    assert meta.evaluator_type == "coco" and meta.thing_classes == ["panel", "text", "mark"]
    assert len(DatasetCatalog.get("forgery_figures_layout_test")) == 2


def test_layout_registration_errors_name_the_file(layout_root, tmp_path):
    register_all_builtin(str(tmp_path / "nowhere"))  # registering a missing root touches nothing
    with pytest.raises(
        DataError, match=r"layout annotations not found: .*nowhere/figures/layout_train.json"
    ):
        DatasetCatalog.get("forgery_figures_layout_train")
    path = layout_root / "figures" / "layout_train.json"
    data = json.loads(path.read_text())
    data["annotations"][3]["category_id"] = 7
    path.write_text(json.dumps(data))
    register_all_builtin(str(layout_root))
    with pytest.raises(
        DataError, match=r"layout_train.json: annotations\[3\] \(id 4\): 'category_id' must be"
    ):
        DatasetCatalog.get("forgery_figures_layout_train")


# ----------------------------------------------------------------------------------- detector


def test_detector_trains_with_train_net_and_analyzes(layout_root, tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable,
        os.path.join(REPO, "tools", "train_net.py"),
        "--config-file",
        LAYOUT_CONFIG,
        "MODEL.DEVICE",
        "cpu",
        "FORGERY.DATA.ROOT",
        str(layout_root),
        "OUTPUT_DIR",
        str(out),
        "INPUT.MIN_SIZE_TRAIN",
        "(128,)",
        "INPUT.MAX_SIZE_TRAIN",
        "192",
        "INPUT.MIN_SIZE_TEST",
        "128",
        "INPUT.MAX_SIZE_TEST",
        "192",
        "SOLVER.MAX_ITER",
        "3",
        "SOLVER.WARMUP_ITERS",
        "1",
        "SOLVER.STEPS",
        "()",
        "TEST.EVAL_PERIOD",
        "3",
        "DATALOADER.NUM_WORKERS",
        "0",
        "FORGERY.HOOKS.LOG_PERIOD",
        "1",
        "FORGERY.HOOKS.PLOT_CURVES",
        "False",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "Per-category bbox AP" in log and "| panel" in log  # detectron2's COCOEvaluator ran
    weights = out / "model_final.pth"
    assert weights.is_file()

    detector_cfg = load_detector_config(LAYOUT_CONFIG, str(weights))
    assert (
        detector_cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN" and not detector_cfg.MODEL.MASK_ON
    )
    # Every detection kept (scores 0): the benchmark ranks them; the rest as configured.
    analyzer = DetectorLayoutAnalyzer(
        detector_cfg,
        panel_score_thresh=0.0,
        text_score_thresh=0.0,
        mark_score_thresh=0.0,
        ink_tolerance=default_value("MODEL.LAYOUT.DETECTOR.INK_TOLERANCE"),
        ink_dilation=default_value("MODEL.LAYOUT.DETECTOR.INK_DILATION"),
        canvas_tolerance=default_value("MODEL.LAYOUT.CLASSICAL.CANVAS_TOLERANCE"),
    )
    figure = grid_figure(seed=9, rows=1, cols=2, panel=96)
    layout = analyzer(figure.image)
    h, w = figure.image.shape[:2]
    assert isinstance(layout, FigureLayout) and len(layout.panels) >= 1
    assert layout.mark_mask.shape == layout.background_mask.shape == (h, w)
    assert set(layout.mark_labels.tolist()) <= {TEXT, MARK}
    # The ink mask lies in the (dilated) text / mark boxes.
    in_boxes = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in layout.marks:
        in_boxes[
            max(int(y0) - 2, 0) : int(np.ceil(y1)) + 2, max(int(x0) - 2, 0) : int(np.ceil(x1)) + 2
        ] = True
    assert not (layout.mark_mask & ~in_boxes).any()
