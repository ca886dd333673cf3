"""oF1 and the competition RLE: exact values, edge cases, agreement with a plain reference."""

import importlib.util
import json
import os

import numpy as np
import pandas as pd
import pytest

from forgery_d2.competition.rle import (
    AUTHENTIC,
    RLEError,
    decode_annotation,
    encode_annotation,
    mask_to_runs,
    parse_annotation,
    rle_decode,
    rle_encode,
)
from forgery_d2.evaluation.metric import (
    image_of1,
    image_of1_from_masks,
    intersection_matrix,
    runs_intersection,
    score,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _reference():
    spec = importlib.util.spec_from_file_location(
        "bench_of1", os.path.join(ROOT, "benchmarks", "bench_of1.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frames(labels, predictions, shape="[720, 960]"):
    ids = [str(i) for i in range(len(labels))]
    return (
        pd.DataFrame({"case_id": ids, "annotation": labels, "shape": [shape] * len(ids)}),
        pd.DataFrame({"case_id": ids, "annotation": predictions}),
    )


def test_scorer_docstring_vectors():
    assert (
        score(*_frames(["[101, 102];[300, 100]", "[101, 102]", "[101, 102]"], ["[101, 102]"] * 3))
        == 0.8333333333333334
    )
    assert (
        score(*_frames(["[101, 103]", "[101, 102]", "[101, 102]"], ["[101, 102]"] * 3))
        == 0.9983739837398374
    )
    assert score(*_frames([AUTHENTIC] * 3, [AUTHENTIC] * 3)) == 1.0
    assert score(*_frames([AUTHENTIC] * 3, ["[101, 102]"] * 3)) == 0.0


def _square(h, w, y, x, s):
    m = np.zeros((h, w), np.uint8)
    m[y : y + s, x : x + s] = 1
    return m


def test_extra_predictions_are_penalized():
    gt = _square(40, 50, 5, 5, 10)
    extra1, extra2 = _square(40, 50, 25, 25, 5), _square(40, 50, 25, 40, 5)
    assert image_of1_from_masks([gt], [gt]) == 1.0
    assert image_of1_from_masks([gt], [gt, extra1]) == 0.5
    assert image_of1_from_masks([gt], [gt, extra1, extra2]) == pytest.approx(
        1 / 3, abs=0
    )  # exactly 1/3
    assert image_of1_from_masks([gt], [gt, extra1, extra2]) == 1.0 * (1 / 3)


def test_missed_instance_and_union_prediction():
    a, b = _square(40, 50, 2, 2, 10), _square(40, 50, 20, 30, 10)
    assert image_of1_from_masks([a, b], [a]) == 0.5
    # The union against each GT: F1 = 2*100 / (200 + 100) = 2/3; averaged with the missed one: 1/3.
    assert image_of1_from_masks([a, b], [a | b]) == pytest.approx(1 / 3, rel=1e-15)


def test_authentic_rules():
    m = _square(10, 10, 0, 0, 3)
    assert image_of1(AUTHENTIC, AUTHENTIC, (10, 10)) == 1.0
    assert image_of1(AUTHENTIC, encode_annotation([m]), (10, 10)) == 0.0
    assert image_of1(encode_annotation([m]), AUTHENTIC, (10, 10)) == 0.0


def test_empty_prediction_counts_but_never_matches():
    gt = encode_annotation([_square(10, 10, 0, 0, 3)])
    assert image_of1(gt, "[]", (10, 10)) == 0.0  # F1 of an empty mask is 0 (as in the scorer)
    assert image_of1(gt, gt + ";[]", (10, 10)) == 0.5  # ...and it still counts as a prediction


def test_first_column_and_layout():
    mask = rle_decode("[1, 10]", (10, 10))
    expected = np.zeros((10, 10), np.uint8)
    expected[:, 0] = 1
    np.testing.assert_array_equal(mask, expected)
    assert rle_encode(expected) == [1, 10]
    wide = np.zeros((3, 5), np.uint8)
    wide[0, 1] = 1  # column-major: index 1*3 + 0 = 3 -> 1-based 4
    assert rle_encode(wide) == [4, 1]


@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (17, 1), (7, 13), (13, 7), (64, 3)])
def test_rle_round_trip_random_odd_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    for density in (0.0, 0.1, 0.5, 0.9, 1.0):
        mask = (rng.random(shape) < density).astype(np.uint8)
        rle = rle_encode(mask)
        np.testing.assert_array_equal(rle_decode(json.dumps(rle), shape), mask)
        np.testing.assert_array_equal(rle_decode(rle, shape), mask)
    assert rle_encode(np.ones(shape)) == [1, shape[0] * shape[1]]
    assert rle_encode(np.zeros(shape)) == []
    assert encode_annotation([np.zeros(shape)]) == AUTHENTIC


def test_annotation_round_trip():
    rng = np.random.default_rng(0)
    masks = (rng.random((3, 9, 11)) < 0.3).astype(np.uint8)
    np.testing.assert_array_equal(decode_annotation(encode_annotation(masks), (9, 11)), masks)
    assert decode_annotation(AUTHENTIC, (9, 11)) is None


@pytest.mark.parametrize(
    "rle, message",
    [
        ("[1, 2, 3]", "odd-length"),
        ("[5, 2, 1, 2]", "ascending order"),
        ("[1, 5, 3, 2]", "overlap"),
        ("[95, 10]", "past the image"),
        ("[0, 3]", ">= 1"),
        ("[1, -3]", ">= 0"),
        ("[1.5, 2]", "only integers"),
        ("[1, 2", "not valid JSON"),
        ('{"a": 1}', "JSON list"),
    ],
)
def test_malformed_rle_errors(rle, message):
    with pytest.raises(RLEError, match=message):
        parse_annotation(rle, (10, 10))


def test_scorer_leniencies_are_kept():
    # The scorer accepts zero-length runs and adjacent runs; so do we.
    runs = parse_annotation("[5, 0, 5, 3, 8, 2]", (10, 10))[0]
    np.testing.assert_array_equal(runs, [[4, 3], [7, 2]])
    with pytest.raises(RLEError, match="exactly"):
        parse_annotation(" authentic", (10, 10))
    with pytest.raises(RLEError, match="empty annotation"):
        parse_annotation("", (10, 10))


def test_runs_intersection_matches_dense():
    rng = np.random.default_rng(1)
    for _ in range(50):
        h, w = rng.integers(1, 30, size=2)
        a, b = rng.random((h, w)) < rng.random(), rng.random((h, w)) < rng.random()
        assert runs_intersection(mask_to_runs(a), mask_to_runs(b)) == int((a & b).sum())
    assert intersection_matrix([], []).shape == (0, 0)


def test_identical_to_reference_scorer_bit_for_bit():
    reference = _reference()
    solution, submission = reference.make_data(60, 37, 53, seed=3)
    ours = score(solution, submission)
    assert ours == reference.reference_score(solution, submission)
    per_image = [
        image_of1(truth, p, (37, 53))
        for truth, p in zip(solution["annotation"], submission["annotation"])
    ]
    expected = [
        reference.reference_image_score(truth, p, s)
        for truth, p, s in zip(solution["annotation"], submission["annotation"], solution["shape"])
    ]
    assert per_image == expected  # exact per image, not approximately
    assert 0.0 < ours < 1.0
