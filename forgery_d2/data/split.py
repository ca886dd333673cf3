"""Deterministic, leak-free train/val split by case_id.

Each case_id goes to ``val`` when a hash of ``(seed, case_id)``, read as a number in [0, 1), is below
``val_fraction``. Consequences:

- An authentic image and its forged counterpart share a case_id, so they always land on the same
  side: no figure is seen in training and scored in validation.
- Adding or removing files never moves an existing case_id to the other side (the decision depends
  on that case_id alone), so validation scores stay comparable as a dataset grows.
- The val fraction is exact only in expectation (binomial: 20% of 2,000 cases is 400 +- 18). When
  the hash puts every case on one side of a dataset with two or more cases, the case with the
  smallest (resp. largest) hash is moved, so neither side is ever empty.

The hash is SHA-1 (stable across Python processes, unlike ``hash()``). The defaults of
``val_fraction`` and ``seed`` are ``FORGERY.DATA.VAL_FRACTION`` / ``SPLIT_SEED`` (forgery_d2/config.py).
"""

import hashlib

from forgery_d2.config import default_value

__all__ = [
    "case_id_sort_key",
    "case_hash_fraction",
    "assign_split",
    "split_case_ids",
    "split_options",
]


def case_id_sort_key(case_id):
    """Sort key putting numeric case_ids in numeric order ("9" before "10"), then the others."""
    case_id = str(case_id)
    return (0, int(case_id), case_id) if case_id.isdigit() else (1, 0, case_id)


def case_hash_fraction(case_id, seed):
    """A number in [0, 1), uniform over case_ids, fixed by ``(seed, case_id)``."""
    digest = hashlib.sha1(f"{seed}\x00{case_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _check_fraction(val_fraction):
    if not 0.0 <= float(val_fraction) <= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")


def assign_split(case_id, val_fraction, seed):
    """``"val"`` or ``"train"`` for one case_id (without the non-empty guarantee of split_case_ids)."""
    _check_fraction(val_fraction)
    return "val" if case_hash_fraction(case_id, seed) < val_fraction else "train"


def split_case_ids(case_ids, val_fraction, seed):
    """Split case_ids into ``(train_ids, val_ids)``: two lists in case_id order, duplicates collapsed.

    ``val_fraction`` 0 or 1 puts everything on one side; otherwise both sides are non-empty when
    there are at least two distinct case_ids.
    """
    _check_fraction(val_fraction)
    fractions = {str(c): case_hash_fraction(c, seed) for c in case_ids}
    val = {c for c, f in fractions.items() if f < val_fraction}
    train = set(fractions) - val
    if len(fractions) >= 2 and 0.0 < val_fraction < 1.0:
        by_hash = sorted(fractions, key=lambda c: (fractions[c], c))
        if not val:
            val.add(by_hash[0])
            train.discard(by_hash[0])
        elif not train:
            train.add(by_hash[-1])
            val.discard(by_hash[-1])
    return sorted(train, key=case_id_sort_key), sorted(val, key=case_id_sort_key)


def split_options(val_fraction=None, seed=None):
    """``(val_fraction, seed)`` with None replaced by ``FORGERY.DATA.VAL_FRACTION`` /
    ``FORGERY.DATA.SPLIT_SEED`` (the registrars' optional arguments)."""
    if val_fraction is None:
        val_fraction = default_value("FORGERY.DATA.VAL_FRACTION")
    if seed is None:
        seed = default_value("FORGERY.DATA.SPLIT_SEED")
    _check_fraction(val_fraction)
    return float(val_fraction), int(seed)
