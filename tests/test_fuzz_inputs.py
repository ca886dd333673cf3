"""Property-based fuzzing (hypothesis) of every parser and reader of user input: competition RLEs,
submission / solution CSVs, masks, images and config overlays. Each generated input is either
accepted (and then scored exactly as the competition's scorer scores it, by an independent
reference written here with numpy + scipy) or rejected with the project's own error type, never
with another exception.

Bounded and reproducible for CI: ``derandomize=True`` (the same examples on every run), no example
database, no deadline. Inputs that once failed are replayed from ``tests/fuzz_corpus/`` by
``test_regression_corpus`` (see its manifest.json).
"""

import csv
import io
import json
import os
import struct

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy.optimize import linear_sum_assignment

from forgery_d2.competition.rle import RLEError, parse_annotation, rle_encode, runs_to_mask
from forgery_d2.competition.submission import (
    SubmissionError,
    read_solution_csv,
    read_submission_csv,
)
from forgery_d2.config import ConfigError, load_config
from forgery_d2.data.io import DataError, read_image, read_mask
from forgery_d2.evaluation.decision import DecisionRule
from forgery_d2.evaluation.metric import score

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_corpus")
_FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def fuzz(examples):
    """The bounded, reproducible settings of this file with ``examples`` generated inputs."""
    return settings(_FUZZ, max_examples=examples)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """One folder for every example of this module (each example overwrites its files)."""
    return tmp_path_factory.mktemp("fuzz")


# ------------------------------------------------------------------ the reference scorer


class Rejected(Exception):
    """The reference scorer refuses the input (where the competition's scorer raises)."""


def reference_decode(text, shape):
    """The competition's decoder: json -> int32 array, starts must be sorted, pairs, no overlap;
    runs written with numpy slices (clipped at the end, like the scorer)."""
    try:
        values = np.asarray(json.loads(text), dtype=np.int32)
        starts = values[0::2]
        if sorted(starts) != list(starts):
            raise Rejected("starts not in ascending order")
        if len(values) % 2:
            raise Rejected("odd number of values")
    except Rejected:
        raise
    except Exception as e:  # the scorer crashes on anything else it cannot decode
        raise Rejected(repr(e)) from None
    starts, lengths = values[0::2].astype(np.int64) - 1, values[1::2].astype(np.int64)
    ends = starts + lengths
    if np.any(ends[:-1] > starts[1:]):
        raise Rejected("overlapping runs")
    flat = np.zeros(shape[0] * shape[1], dtype=bool)
    for lo, hi in zip(starts, ends):
        flat[lo:hi] = True
    return flat.reshape(shape, order="F")


def reference_f1(pred, gt):
    tp = np.sum(pred & gt)
    fp = np.sum(pred & ~gt)
    fn = np.sum(~pred & gt)
    precision = tp / (tp + fp) if tp + fp > 0 else 0
    recall = tp / (tp + fn) if tp + fn > 0 else 0
    return 2 * (precision * recall) / (precision + recall) if precision + recall > 0 else 0


def reference_image_score(label, prediction, shape_text):
    if label == "authentic" or prediction == "authentic":
        return float(label == prediction)
    shape = tuple(json.loads(shape_text))
    gts = [reference_decode(x, shape) for x in label.split(";")]
    preds = [reference_decode(x, shape) for x in prediction.split(";")]
    f1 = np.array([[reference_f1(p, g) for g in gts] for p in preds], dtype=float).reshape(
        len(preds), len(gts)
    )
    if len(preds) < len(gts):
        f1 = np.vstack((f1, np.zeros((len(gts) - len(preds), len(gts)))))
    rows, cols = linear_sum_assignment(-f1)
    penalty = len(gts) / max(
        len(preds), len(gts)
    )  # the scorer's order of operations, to the last digit
    return np.mean(f1[rows, cols]) * penalty


def reference_score(solution_rows, predictions):
    """``solution_rows``: (case_id, annotation, shape); ``predictions``: case_id -> annotation."""
    scores = [
        reference_image_score(label, predictions[case_id], shape)
        for case_id, label, shape in solution_rows
    ]
    return float(np.mean(pd.Series(scores, dtype=float)))


def reference_encode(mask):
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    out, k = [], 0
    while k < len(flat):
        if flat[k]:
            start = k
            while k < len(flat) and flat[k]:
                k += 1
            out += [start + 1, k - start]
        else:
            k += 1
    return out


# Rejections that are forgery_d2 being stricter than the scorer, each documented in
# forgery_d2/competition/rle.py and submission.py (the scorer clips, truncates or wraps these).
DOCUMENTED_STRICTER = (
    "past the image",
    "longer than the image",
    "must be >= 1",
    "must be >= 0",
    "only integers",
    "write 'authentic' exactly",
    "too large",
)


# --------------------------------------------------------------------------- strategies

shapes = st.tuples(st.integers(1, 6), st.integers(1, 6))


@st.composite
def annotation_for(draw, shape):
    """An annotation string for an image of ``shape``: valid, near-valid or garbage."""
    h, w = shape
    kind = draw(
        st.sampled_from(["authentic", "masks", "masks", "numbers", "numbers", "token", "text"])
    )
    if kind == "authentic":
        return "authentic"
    if kind == "masks":
        n = draw(st.integers(1, 3))
        masks = [
            np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(h, w)
            for _ in range(n)
        ]
        return ";".join(json.dumps(reference_encode(m)) for m in masks)
    if kind == "numbers":
        big = st.integers(-(2**70), 2**70)
        small = st.integers(-2, h * w + 2)
        parts = draw(
            st.lists(
                st.lists(st.one_of(small, small, small, big), max_size=8), min_size=1, max_size=3
            )
        )
        return ";".join(json.dumps(p) for p in parts)
    if kind == "token":
        return draw(
            st.sampled_from(
                [
                    "",
                    " ",
                    "Authentic",
                    " authentic",
                    "authentic ",
                    "[]",
                    "[];[]",
                    "[1, 2];",
                    ";",
                    "[1, 2.0]",
                    "[1.5, 2]",
                    "[true, 1]",
                    "[null, 1]",
                    "[[1, 2]]",
                    "{}",
                    "null",
                    "5",
                    '"[1, 2]"',
                    "[1, 2]]",
                    "[1, 2",
                    "NaN",
                    "[NaN, 1]",
                    "[Infinity, 1]",
                    "[1e3, 1]",
                    "[" + "9" * 5000 + ", 1]",
                    "[" * 3000 + "]" * 3000,
                    "[1, 99999999999999999999]",
                    "[-99999999999999999999, 1]",
                    "[1,1,1,1]",
                    "[1,0,1,1]",
                    "[2,1,1,1]",
                    "[\u0661, 1]",
                    "\x00",
                    "[1, 2]\n",
                ]
            )
        )
    return draw(st.text(alphabet=st.characters(codec="utf-8"), max_size=20))


@st.composite
def solution_and_submission(draw):
    """A valid solution (some authentic rows in the scorer's docstring format) and a submission
    for it, with an annotation per row drawn from :func:`annotation_for`."""
    n = draw(st.integers(1, 4))
    solution, predictions = [], {}
    for i in range(n):
        shape = draw(shapes)
        h, w = shape
        if draw(st.booleans()):
            label = "authentic"
            shape_text = "authentic" if draw(st.booleans()) else json.dumps(list(shape))
        else:
            k = draw(st.integers(1, 3))
            masks = [
                np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(
                    h, w
                )
                for _ in range(k)
            ]
            masks = [m for m in masks if m.any()] or [np.ones(shape, bool)]
            label = ";".join(json.dumps(reference_encode(m)) for m in masks)
            shape_text = json.dumps(list(shape))
        case_id = str(i)
        solution.append((case_id, label, shape_text))
        predictions[case_id] = draw(annotation_for(shape))
    return solution, predictions


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


# ------------------------------------------------------------------------- RLE and scoring


@fuzz(600)
@given(shape=shapes, data=st.data())
def test_rle_parse_matches_the_reference_decoder(shape, data):
    text = data.draw(annotation_for(shape))
    try:
        runs_list = parse_annotation(text, shape)
    except RLEError as e:
        # Rejected: the scorer rejects it too, or forgery_d2 is stricter in a documented way.
        try:
            for part in text.split(";"):
                reference_decode(part, shape)
        except Rejected:
            return
        assert text == "" or any(reason in str(e) for reason in DOCUMENTED_STRICTER), (text, str(e))
        return
    if runs_list is None:
        assert text == "authentic"
        return
    expected = [reference_decode(part, shape) for part in text.split(";")]
    assert [runs_to_mask(r, shape).astype(bool).tolist() for r in runs_list] == [
        m.tolist() for m in expected
    ]


@fuzz(200)
@given(shape=st.tuples(st.integers(1, 12), st.integers(1, 12)), data=st.data())
def test_rle_encode_round_trips(shape, data):
    h, w = shape
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(
        h, w
    )
    rle = rle_encode(mask)
    assert rle == reference_encode(mask)
    (runs,) = parse_annotation(json.dumps(rle), shape)
    assert np.array_equal(runs_to_mask(runs, shape).astype(bool), mask)


@fuzz(400)
@given(case=solution_and_submission())
def test_submission_scores_like_the_reference_or_is_rejected(case, scratch):
    solution, predictions = case
    folder = scratch
    write_rows(folder / "solution.csv", ("case_id", "annotation", "shape"), solution)
    write_rows(folder / "submission.csv", ("case_id", "annotation"), list(predictions.items()))
    try:
        value = score(
            read_solution_csv(folder / "solution.csv"),
            read_submission_csv(folder / "submission.csv"),
        )
    except SubmissionError as e:
        try:
            reference_score(solution, predictions)
        except Rejected:
            event("rejected, as by the scorer")
            return
        # Accepted by the scorer: forgery_d2 may still refuse a prediction the scorer never parses
        # (on an authentic row) or one it documents as stricter.
        row = int(str(e).split("(case_id ")[1].split(")")[0])
        assert solution[row][1] == "authentic" or any(
            reason in str(e) for reason in DOCUMENTED_STRICTER
        ), str(e)
        event("rejected, stricter than the scorer")
        return
    assert value == reference_score(solution, predictions)
    event("accepted, scored exactly like the reference")


def _mutate_text(data, text):
    """Text-level damage to a CSV: what editors, spreadsheets and shell pipelines do."""
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(
            st.sampled_from(
                [
                    "trailing_comma",
                    "blank",
                    "crlf",
                    "bom",
                    "drop",
                    "duplicate",
                    "quote",
                    "insert",
                    "truncate",
                    "swap_header",
                    "spaces",
                    "nul",
                    "latin1",
                ]
            )
        )
        k = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "trailing_comma" and lines[k]:
            lines[k] += ","
        elif op == "blank":
            lines.insert(k, "")
        elif op == "crlf":
            lines = [line + "\r" if line else line for line in lines]
        elif op == "bom":
            lines[0] = "\ufeff" + lines[0]
        elif op == "drop" and len(lines) > 1:
            del lines[k]
        elif op == "duplicate":
            lines.insert(k, lines[k])
        elif op == "quote":
            lines[k] = lines[k].replace('"', "", 1)
        elif op == "insert":
            position = data.draw(st.integers(0, len(lines[k])))
            lines[k] = lines[k][:position] + data.draw(st.text(max_size=3)) + lines[k][position:]
        elif op == "truncate":
            lines[k] = lines[k][: data.draw(st.integers(0, len(lines[k])))]
        elif op == "swap_header":
            lines[0] = ",".join(reversed(lines[0].split(",")))
        elif op == "spaces":
            lines[k] = lines[k].replace(",", ", ")
        elif op == "nul":
            lines[k] += "\x00"
        elif op == "latin1":
            return "\n".join(lines).encode("utf-8") + b"\xe9\xff"
    return "\n".join(lines).encode("utf-8")


@fuzz(400)
@given(case=solution_and_submission(), data=st.data())
def test_damaged_csv_files_are_read_or_rejected(case, data, scratch):
    solution, predictions = case
    folder = scratch
    write_rows(folder / "solution.csv", ("case_id", "annotation", "shape"), solution)
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([("case_id", "annotation"), *predictions.items()])
    damaged_which = data.draw(st.sampled_from(["submission", "solution"]))
    target = folder / f"{damaged_which}.csv"
    if damaged_which == "submission":
        target.write_bytes(_mutate_text(data, buffer.getvalue()))
    else:
        target.write_bytes(_mutate_text(data, (folder / "solution.csv").read_text()))
        write_rows(folder / "submission.csv", ("case_id", "annotation"), list(predictions.items()))
    try:
        solution_df = read_solution_csv(folder / "solution.csv")
        submission_df = read_submission_csv(folder / "submission.csv")
        value = score(solution_df, submission_df)
    except SubmissionError as e:
        assert str(folder) in str(e)  # the message names the file
        return
    # Whatever was read, it is scored as the reference scores those rows.
    rows = list(solution_df.itertuples(index=False, name=None))
    assert value == reference_score(
        rows, dict(zip(submission_df["case_id"], submission_df["annotation"]))
    )


# ---------------------------------------------------------------------------------- masks


mask_dtypes = st.sampled_from(
    [
        "bool",
        "uint8",
        "int8",
        "uint16",
        "int32",
        "int64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "<U1",
        "datetime64[s]",
    ]
)


@st.composite
def npy_bytes(draw):
    """A .npy file: a random array saved by numpy, possibly damaged afterwards."""
    dtype = draw(mask_dtypes)
    shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=4))
    count = int(np.prod(shape)) if shape else 1
    values = draw(
        st.lists(st.sampled_from([0, 1, 1, 0, 255, 2, -1, 0.5]), min_size=count, max_size=count)
    )
    try:
        array = np.array(values).astype(dtype).reshape(shape)
    except (ValueError, TypeError):
        array = np.zeros(shape, dtype=dtype)
    buffer = io.BytesIO()
    np.save(buffer, array)
    raw = bytearray(buffer.getvalue())
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "header", "append"]))
    if damage == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif damage == "flip" and raw:
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    elif damage == "header":
        header = draw(
            st.sampled_from(
                [
                    "{'descr': '<u1', 'fortran_order': False, 'shape': (10**12,), }",
                    "{'descr': '<u1', 'fortran_order': False, 'shape': (-1, 4), }",
                    "{'descr': 'xyz', 'fortran_order': False, 'shape': (2,), }",
                    "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
                    "{'descr': '<u1', 'fortran_order': 3, 'shape': (2,), }",
                    "{'descr': '<u1', 'shape': (2,)}",
                    "not a dict",
                    "{'descr': '<u1', 'fortran_order': False, 'shape': (2**62, 2**62), }",
                ]
            )
        )
        body = header.encode("latin1") + b" " * (118 - len(header) % 64) + b"\n"
        raw = bytearray(
            b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body + bytes(raw[128:])
        )
    elif damage == "append":
        raw += bytes(draw(st.binary(max_size=16)))
    return bytes(raw), array


@fuzz(400)
@given(
    case=npy_bytes(), image_hw=st.one_of(st.none(), st.tuples(st.integers(1, 5), st.integers(1, 5)))
)
def test_masks_are_read_or_rejected(case, image_hw, scratch):
    raw, _ = case
    path = scratch / "mask.npy"
    path.write_bytes(raw)
    try:
        mask = read_mask(path, image_hw)
    except DataError as e:
        assert str(path) in str(e)
        return
    assert mask.dtype == np.uint8 and mask.ndim == 3 and set(np.unique(mask)) <= {0, 1}
    if image_hw is not None:
        assert mask.shape[1:] == image_hw


# --------------------------------------------------------------------------------- images

IMAGE_MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK", "YCbCr")
IMAGE_FORMATS = {
    "PNG": ("1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I"),
    "JPEG": ("L", "RGB", "CMYK"),
    "TIFF": IMAGE_MODES,
    "BMP": ("1", "L", "P", "RGB"),
    "WEBP": ("RGB", "RGBA"),
    "GIF": ("L", "P"),
}


@st.composite
def image_bytes(draw):
    """An image file: random pixels in a random mode and format, possibly damaged; or random
    bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=64))
    file_format = draw(st.sampled_from(sorted(IMAGE_FORMATS)))
    mode = draw(st.sampled_from(IMAGE_FORMATS[file_format]))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    image = (
        image.convert(mode) if mode not in ("I;16", "I", "F") else image.convert("L").convert(mode)
    )
    buffer = io.BytesIO()
    try:
        image.save(buffer, file_format)
    except (OSError, ValueError, KeyError):
        image.convert("RGB").save(buffer, "PNG")
    raw = bytearray(buffer.getvalue())
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "flip"]))
    if damage == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif damage == "flip" and raw:
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


@fuzz(500)
@given(
    raw=image_bytes(),
    image_format=st.sampled_from(["RGB", "BGR", "L"]),
    suffix=st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".webp", ".gif"]),
)
def test_images_are_read_or_rejected(raw, image_format, suffix, scratch):
    path = scratch / f"figure{suffix}"
    path.write_bytes(raw)
    try:
        image = read_image(path, image_format)
    except DataError as e:
        assert str(path) in str(e)
        return
    channels = 1 if image_format == "L" else 3
    assert (
        image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == channels
        and image.size > 0
    )


# ------------------------------------------------------------------------- config overlays

REAL_KEYS = [
    "FORGERY.DECISION.IMAGE_THRESH",
    "FORGERY.DECISION.SCORE_THRESH",
    "FORGERY.DECISION.MIN_AREA",
    "FORGERY.DECISION.MERGE_IOU",
    "FORGERY.DECISION.MAX_INSTANCES",
    "MODEL.DEVICE",
    "MODEL.WEIGHTS",
    "SOLVER.STEPS",
    "INPUT.MIN_SIZE_TEST",
    "MODEL.KEYPOINT_MATCHER.RATIO",
    "FORGERY.FREEZE.STAGES",
    "MODEL",
    "FORGERY.DECISION",
    "VERSION",
    "_BASE_",
]
yaml_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3),
    st.sampled_from([0.3, 1.5, -1, 16, "cpu", "[1, 2]"]),
)


@st.composite
def overlay_text(draw):
    """A YAML overlay: nested mappings of real, mistyped and invented keys to random values; or
    damaged YAML text."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=40))
    tree = {}
    for _ in range(draw(st.integers(0, 4))):
        key = draw(
            st.one_of(
                st.sampled_from(REAL_KEYS),
                st.sampled_from(REAL_KEYS).map(lambda k: k[:-1]),
                st.text(alphabet="ABCDEFGHIJ._", min_size=1, max_size=10),
            )
        )
        node = tree
        parts = [p for p in key.split(".") if p] or ["X"]
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[parts[-1]] = draw(yaml_values)
    import yaml

    return yaml.safe_dump(tree)


@fuzz(250)
@given(text=overlay_text())
def test_config_overlays_load_or_raise_config_error(text, scratch):
    path = scratch / "overlay.yaml"
    path.write_text(text)
    try:
        cfg = load_config(overlays=[str(path)])
        DecisionRule.from_config(cfg)
    except ConfigError as e:
        assert str(path) in str(e) or "FORGERY.DECISION." in str(e)


@fuzz(250)
@given(
    opts=st.lists(
        st.one_of(st.sampled_from(REAL_KEYS), st.text(max_size=8), yaml_values.map(str)), max_size=6
    )
)
def test_config_overrides_load_or_raise_config_error(opts):
    try:
        cfg = load_config(opts=opts)
        DecisionRule.from_config(cfg)
    except ConfigError:
        pass


# --------------------------------------------------------------------- regression corpus


def _corpus_cases():
    with open(os.path.join(CORPUS, "manifest.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("case", _corpus_cases(), ids=lambda c: c["name"])
def test_regression_corpus(case):
    """Inputs that once crashed a reader (or were wrongly refused), with their expected outcome."""
    kind, path = case["kind"], os.path.join(CORPUS, case.get("file", ""))
    errors = {
        "RLEError": RLEError,
        "SubmissionError": SubmissionError,
        "DataError": DataError,
        "ConfigError": ConfigError,
    }
    if kind == "rle":
        run = lambda: parse_annotation(
            case["text"], tuple(case["shape"]) if case["shape"] else None
        )  # noqa: E731
    elif kind == "submission":
        run = lambda: score(
            read_solution_csv(os.path.join(CORPUS, case["solution"])), read_submission_csv(path)
        )  # noqa: E731
    elif kind == "solution":
        run = lambda: read_solution_csv(path)  # noqa: E731
    elif kind == "mask":
        hw = tuple(case["image_hw"]) if case.get("image_hw") else None
        run = lambda: read_mask(path, hw)  # noqa: E731
    elif kind == "image":
        run = lambda: read_image(path)  # noqa: E731
    elif kind == "config":
        run = lambda: DecisionRule.from_config(load_config(overlays=[path]))  # noqa: E731
    else:
        raise AssertionError(f"unknown corpus kind {kind}")
    if "error" in case:
        with pytest.raises(errors[case["error"]], match=case["match"]):
            run()
    else:
        result = run()
        if "score" in case:
            assert result == case["score"]


def test_fields_longer_than_the_csv_modules_default_limit(scratch):
    """One RLE of a large image is longer than the csv module's 128 KiB field limit."""
    shape = (400, 400)
    mask = np.zeros(shape, bool)
    mask[::2, ::3] = True  # 26,800 runs: a ~300 KB annotation
    annotation = json.dumps(reference_encode(mask))
    assert len(annotation) > 131072
    write_rows(
        scratch / "big_solution.csv",
        ("case_id", "annotation", "shape"),
        [("0", annotation, "[400, 400]")],
    )
    write_rows(scratch / "big_submission.csv", ("case_id", "annotation"), [("0", annotation)])
    assert (
        score(
            read_solution_csv(scratch / "big_solution.csv"),
            read_submission_csv(scratch / "big_submission.csv"),
        )
        == 1.0
    )
    previous = csv.field_size_limit(131072)
    try:
        (scratch / "bad.csv").write_text("case_id,annotation\n0,authentic,\n")
        with pytest.raises(SubmissionError, match="trailing comma"):  # also after a rejected file
            read_submission_csv(scratch / "bad.csv")
        assert csv.field_size_limit() == 131072  # the process-wide limit is left as it was
    finally:
        csv.field_size_limit(previous)
