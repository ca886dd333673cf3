"""forgery_d2.data.split: deterministic, leak-free, stable when files are added."""

import pytest

from forgery_d2.data.split import assign_split, case_hash_fraction, split_case_ids

CASES = [str(i) for i in range(1, 2001)]


def test_deterministic_and_seeded():
    assert split_case_ids(CASES, 0.2, seed=7) == split_case_ids(list(reversed(CASES)), 0.2, seed=7)
    assert split_case_ids(CASES, 0.2, seed=7) != split_case_ids(CASES, 0.2, seed=8)
    assert case_hash_fraction("10017", 0) == case_hash_fraction("10017", 0)


def test_partition_without_leaks_and_fraction():
    train, val = split_case_ids(CASES + CASES, 0.2, seed=0)  # authentic + forged share case_ids
    assert not set(train) & set(val)
    assert set(train) | set(val) == set(CASES)
    assert 0.17 < len(val) / len(CASES) < 0.23  # 0.2 +- 3.5 sigma of the binomial


def test_stable_when_files_are_added():
    train, val = split_case_ids(CASES[:1000], 0.2, seed=3)
    train2, val2 = split_case_ids(CASES, 0.2, seed=3)
    assert set(val) <= set(val2) and set(train) <= set(train2)
    assert all(assign_split(c, 0.2, 3) == "val" for c in val)


def test_numeric_order_and_small_sets():
    train, val = split_case_ids(["10", "9", "100", "abc"], 0.5, seed=0)
    for side in (train, val):
        numeric = [c for c in side if c.isdigit()]
        assert numeric == sorted(numeric, key=int)
    for seed in range(20):  # neither side empty with two cases, whatever the hash says
        train, val = split_case_ids(["1", "2"], 0.2, seed=seed)
        assert len(train) == 1 and len(val) == 1
    assert split_case_ids(["1", "2"], 0.0, seed=0) == (["1", "2"], [])
    assert split_case_ids(["1", "2"], 1.0, seed=0) == ([], ["1", "2"])


def test_bad_fraction():
    with pytest.raises(ValueError, match="val_fraction"):
        split_case_ids(CASES, 1.5, seed=0)
