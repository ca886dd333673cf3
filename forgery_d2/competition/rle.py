"""The competition's run-length encoding, vectorized.

One instance mask is encoded as a JSON list ``[start, length, start, length, ...]`` over the mask
flattened in column-major (Fortran) order, with 1-based starts. An image's ``annotation`` is the
literal ``authentic`` or its instances' RLEs joined by ``;``. Example: on a 10x10 mask, ``[1, 10]``
is exactly the first column.

Validation follows the competition's scorer, which rejects starts that are not in ascending order
and overlapping runs (``end_i > start_{i+1}``), and accepts zero-length runs and adjacent runs. We
are stricter in three places, each an error that names what is wrong: runs past the image (the
scorer silently clips them; they reveal a wrong shape or a transposed mask), starts < 1 or negative
lengths (the scorer gives them no meaning), and non-integer values.

Internally a validated RLE is a *runs* array: ``int64 (n, 2)`` of 0-based starts and positive
lengths, strictly ascending and disjoint (zero-length runs dropped). The metric works on runs
directly, without decoding masks.

(COCO RLE, used inside detectron2 dataset dicts, is a different format: see pycocotools.)
"""

import json

import numpy as np

__all__ = [
    "AUTHENTIC",
    "RLEError",
    "rle_encode",
    "rle_decode",
    "parse_rle",
    "encode_annotation",
    "decode_annotation",
    "parse_annotation",
    "mask_to_runs",
    "runs_to_mask",
    "runs_to_rle",
]

AUTHENTIC = "authentic"


class RLEError(ValueError):
    """A malformed competition RLE / annotation string."""


def mask_to_runs(mask: np.ndarray) -> np.ndarray:
    """Runs of one (H, W) mask (nonzero = foreground): ``int64 (n, 2)`` of 0-based starts, lengths."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise RLEError(f"expected one (H, W) mask, got shape {mask.shape}")
    flat = mask.ravel(order="F").astype(bool, copy=False)
    # Positions where the value changes, on the flattened mask padded with a 0 on each side.
    padded = np.concatenate(([False], flat, [False]))
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = changes[0::2], changes[1::2]
    return np.stack([starts, ends - starts], axis=1).astype(np.int64, copy=False)


def runs_to_rle(runs: np.ndarray) -> list:
    """``[start, length, ...]`` (1-based starts) of a runs array."""
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    out = runs.copy()
    out[:, 0] += 1
    return out.ravel().tolist()


def rle_encode(mask: np.ndarray) -> list:
    """Encode one (H, W) mask (any dtype, nonzero = foreground) as ``[start, length, ...]``."""
    return runs_to_rle(mask_to_runs(mask))


# Values beyond this cannot be a pixel index of any image (and start + length stays in int64).
_MAX_RLE_VALUE = 2**62


def _check_magnitudes(rle, total):
    """Reject values no image can hold before they reach int64 (they would overflow)."""
    limit = _MAX_RLE_VALUE if total is None else total + 1
    for k, value in enumerate(rle):
        if -_MAX_RLE_VALUE <= value <= limit:
            continue
        if value < 0:
            rule = (
                "starts are 1-based and must be >= 1" if k % 2 == 0 else "run lengths must be >= 0"
            )
            raise RLEError(f"RLE {rule}, found {value}")
        if total is None:
            raise RLEError(f"RLE value {value} is too large to be a pixel index")
        if k % 2 == 0:
            raise RLEError(f"RLE run starts at pixel {value}, past the image's {total} pixels")
        raise RLEError(f"RLE run length {value} is longer than the image's {total} pixels")


def parse_rle(rle, shape) -> np.ndarray:
    """Validate a decoded ``[start, length, ...]`` list against an (H, W) shape.

    Returns the runs as an (n, 2) int64 array of 0-based starts and positive lengths; raises
    RLEError naming what is wrong (not a list, odd length, non-integers, starts < 1, negative
    lengths, starts not ascending, overlapping runs, runs past the end of the image, integers too
    large for any image). ``shape`` None (an authentic solution row written with the shape
    ``authentic``) checks everything but the image bounds.
    """
    if not isinstance(rle, list):
        raise RLEError(f"an RLE must be a JSON list [start, length, ...], got {type(rle).__name__}")
    if len(rle) % 2:
        raise RLEError(
            f"an RLE needs (start, length) pairs, got an odd-length list ({len(rle)} numbers)"
        )
    if any(isinstance(v, bool) or not isinstance(v, int) for v in rle):
        bad = next(v for v in rle if isinstance(v, bool) or not isinstance(v, int))
        raise RLEError(f"an RLE must contain only integers, found {bad!r}")
    total = None if shape is None else int(shape[0]) * int(shape[1])
    _check_magnitudes(rle, total)
    runs = np.asarray(rle, dtype=np.int64).reshape(-1, 2)
    if len(runs) == 0:
        return runs
    starts, lengths = runs[:, 0] - 1, runs[:, 1]
    if (starts < 0).any():
        raise RLEError(f"RLE starts are 1-based and must be >= 1, found {int(starts.min()) + 1}")
    if (lengths < 0).any():
        raise RLEError(f"RLE run lengths must be >= 0, found {int(lengths.min())}")
    order = np.flatnonzero(np.diff(starts) < 0)
    if len(order):
        i = int(order[0])
        raise RLEError(
            f"RLE starts must be in ascending order: run {i + 1} starts at {int(starts[i + 1]) + 1} "
            f"after run {i} at {int(starts[i]) + 1}"
        )
    ends = starts + lengths
    overlap = np.flatnonzero(ends[:-1] > starts[1:])
    if len(overlap):
        i = int(overlap[0])
        raise RLEError(
            f"RLE runs overlap: run {i} covers {int(starts[i]) + 1}..{int(ends[i])} and run {i + 1} "
            f"starts at {int(starts[i + 1]) + 1}"
        )
    if total is not None and int(ends.max()) > total:
        raise RLEError(
            f"RLE run ends at pixel {int(ends.max())}, past the image's {total} pixels "
            f"(shape {[int(shape[0]), int(shape[1])]})"
        )
    keep = lengths > 0  # the scorer accepts zero-length runs; they mark no pixel
    return np.stack([starts[keep], lengths[keep]], axis=1)


def runs_to_mask(runs: np.ndarray, shape) -> np.ndarray:
    """The (H, W) uint8 mask of a validated runs array."""
    h, w = int(shape[0]), int(shape[1])
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    # Mark +1 at each run start and -1 at each run end; the cumulative sum is the mask.
    n = h * w + 1
    delta = np.bincount(runs[:, 0], minlength=n) - np.bincount(runs[:, 0] + runs[:, 1], minlength=n)
    flat = np.cumsum(delta[:-1]).astype(np.uint8)
    return flat.reshape((h, w), order="F")


def _load_rle_json(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RLEError(f"not valid JSON: {text.strip()[:60]!r} ({e.msg})") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise RLEError(f"not a usable JSON list: {text.strip()[:60]!r} ({e})") from None
    except RecursionError:
        raise RLEError(
            f"not a usable JSON list: {text.strip()[:60]!r} (nested too deeply)"
        ) from None


def rle_decode(rle, shape) -> np.ndarray:
    """Decode ``[start, length, ...]`` (a list or its JSON string) into an (H, W) uint8 mask."""
    if isinstance(rle, str):
        rle = _load_rle_json(rle)
    return runs_to_mask(parse_rle(rle, shape), shape)


def encode_annotation(masks) -> str:
    """Encode an image's predicted instances as a submission ``annotation`` string.

    ``masks`` is a sequence of (H, W) masks or an (N, H, W) array. Empty masks are dropped (an
    empty instance can only lower the score: it matches nothing and counts as an extra
    prediction); no instance left means ``authentic``.
    """
    rles = [rle_encode(m) for m in masks]
    rles = [r for r in rles if r]
    if not rles:
        return AUTHENTIC
    return ";".join(json.dumps(r) for r in rles)


def parse_annotation(annotation: str, shape):
    """Split and validate an annotation string without building masks.

    Returns None for ``authentic``, else a list of runs arrays (one per instance; an instance
    written ``[]`` is a valid, empty prediction). ``authentic`` must be written exactly: the scorer
    compares strings, so ``" authentic"`` would be scored as a (broken) RLE. ``shape`` None: see
    :func:`parse_rle`.
    """
    if not isinstance(annotation, str):
        raise RLEError(f"annotation must be a string, got {type(annotation).__name__}")
    if annotation == AUTHENTIC:
        return None
    if annotation.strip().lower() == AUTHENTIC:
        raise RLEError(f"write 'authentic' exactly (lower case, no spaces), got {annotation!r}")
    if not annotation.strip():
        raise RLEError("empty annotation (use 'authentic' for no forgery)")
    out = []
    for k, part in enumerate(annotation.split(";")):
        try:
            out.append(parse_rle(_load_rle_json(part), shape))
        except RLEError as e:
            raise RLEError(f"instance {k}: {e}") from None
    return out


def decode_annotation(annotation: str, shape):
    """Decode an annotation string into an (N, H, W) uint8 array, or None for ``authentic``."""
    runs_list = parse_annotation(annotation, shape)
    if runs_list is None:
        return None
    return np.stack([runs_to_mask(runs, shape) for runs in runs_list])
