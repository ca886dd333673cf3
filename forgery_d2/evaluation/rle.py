"""The competition's run-length encoding, vectorized.

One instance mask is encoded as a JSON list ``[start, length, start, length, ...]`` over the mask
flattened in column-major (Fortran) order, with 1-based starts. An image's ``annotation`` is the
literal ``authentic`` or its instances' RLEs joined by ``;``. Example: on a 10x10 mask, ``[1, 10]``
is exactly the first column.

(COCO RLE, used inside detectron2 dataset dicts, is a different format: see pycocotools.)
"""
import json

import numpy as np

__all__ = [
    "AUTHENTIC",
    "RLEError",
    "rle_encode",
    "rle_decode",
    "encode_annotation",
    "decode_annotation",
    "parse_annotation",
]

AUTHENTIC = "authentic"


class RLEError(ValueError):
    """A malformed competition RLE / annotation string."""


def rle_encode(mask: np.ndarray) -> list:
    """Encode one (H, W) mask (any dtype, nonzero = foreground) as ``[start, length, ...]``."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise RLEError(f"rle_encode expects one (H, W) mask, got shape {mask.shape}")
    flat = mask.ravel(order="F").astype(bool)
    # Positions where the value changes, on the flattened mask padded with a 0 on each side.
    padded = np.concatenate(([False], flat, [False]))
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = changes[0::2], changes[1::2]
    runs = np.empty(2 * len(starts), dtype=np.int64)
    runs[0::2] = starts + 1  # 1-based
    runs[1::2] = ends - starts
    return runs.tolist()


def parse_rle(rle, shape) -> np.ndarray:
    """Validate a decoded ``[start, length, ...]`` list against an (H, W) shape.

    Returns the runs as an (n, 2) int64 array of 0-based starts and lengths; raises RLEError naming
    what is wrong (odd length, non-integers, non-positive values, unsorted or overlapping runs,
    runs past the end of the image).
    """
    if not isinstance(rle, list):
        raise RLEError(f"an RLE must be a JSON list, got {type(rle).__name__}")
    if len(rle) % 2:
        raise RLEError(f"an RLE needs (start, length) pairs, got an odd-length list ({len(rle)} numbers)")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in rle):
        raise RLEError("an RLE must contain only integers")
    runs = np.asarray(rle, dtype=np.int64).reshape(-1, 2)
    if len(runs) == 0:
        return runs
    if (runs[:, 0] < 1).any():
        raise RLEError("RLE starts are 1-based and must be >= 1")
    if (runs[:, 1] < 1).any():
        raise RLEError("RLE run lengths must be >= 1")
    starts, lengths = runs[:, 0] - 1, runs[:, 1]
    ends = starts + lengths
    if (np.diff(starts) <= 0).any():
        raise RLEError("RLE starts must be strictly ascending")
    if (ends[:-1] > starts[1:]).any():
        raise RLEError("RLE runs overlap")
    total = int(shape[0]) * int(shape[1])
    if ends[-1] > total:
        raise RLEError(f"RLE run ends at pixel {int(ends[-1])}, past the image's {total} pixels {tuple(shape)}")
    return np.stack([starts, lengths], axis=1)


def rle_decode(rle, shape) -> np.ndarray:
    """Decode ``[start, length, ...]`` (a list or its JSON string) into an (H, W) uint8 mask."""
    if isinstance(rle, str):
        try:
            rle = json.loads(rle)
        except json.JSONDecodeError as e:
            raise RLEError(f"RLE is not valid JSON: {rle[:60]!r} ({e.msg})") from None
    runs = parse_rle(rle, shape)
    h, w = int(shape[0]), int(shape[1])
    # Mark +1 at each run start and -1 at each run end; the cumulative sum is the mask.
    n = h * w + 1
    delta = np.bincount(runs[:, 0], minlength=n) - np.bincount(runs[:, 0] + runs[:, 1], minlength=n)
    flat = np.cumsum(delta[:-1]).astype(np.uint8)
    return flat.reshape((h, w), order="F")


def encode_annotation(masks) -> str:
    """Encode an image's predicted instances as a submission ``annotation`` string.

    ``masks`` is a sequence of (H, W) masks or an (N, H, W) array. Empty masks are dropped; no
    instance left means ``authentic``.
    """
    rles = [rle_encode(m) for m in masks]
    rles = [r for r in rles if r]
    if not rles:
        return AUTHENTIC
    return ";".join(json.dumps(r, separators=(", ", ": ")) for r in rles)


def parse_annotation(annotation: str, shape):
    """Split and validate an annotation string without building masks.

    Returns None for ``authentic``, else a list of (n, 2) run arrays (0-based starts, lengths).
    """
    if not isinstance(annotation, str):
        raise RLEError(f"annotation must be a string, got {type(annotation).__name__}")
    text = annotation.strip()
    if text == AUTHENTIC:
        return None
    if not text:
        raise RLEError("empty annotation (use 'authentic' for no forgery)")
    out = []
    for k, part in enumerate(text.split(";")):
        try:
            rle = json.loads(part)
        except json.JSONDecodeError as e:
            raise RLEError(f"instance {k}: not valid JSON: {part.strip()[:60]!r} ({e.msg})") from None
        try:
            out.append(parse_rle(rle, shape))
        except RLEError as e:
            raise RLEError(f"instance {k}: {e}") from None
    return out


def decode_annotation(annotation: str, shape):
    """Decode an annotation string into an (N, H, W) uint8 array, or None for ``authentic``."""
    runs_list = parse_annotation(annotation, shape)
    if runs_list is None:
        return None
    masks = []
    for runs in runs_list:
        masks.append(rle_decode(np.column_stack([runs[:, 0] + 1, runs[:, 1]]).ravel().tolist(), shape))
    return np.stack(masks) if masks else np.zeros((0, int(shape[0]), int(shape[1])), np.uint8)
