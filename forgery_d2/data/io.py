"""Reading images and forgery masks, with clear errors for bad files.

Every function raises :class:`DataError` (a ``ValueError``) naming the file and what is wrong, so a
bad file in a 5k-image dataset never surfaces as a deep decoder traceback.

Images (:func:`read_image`): any file Pillow decodes (PNG, JPEG, TIFF, BMP...), in any colour mode,
becomes ``uint8``:

- RGBA / LA: the alpha channel is dropped (colour kept as stored, not composited), like
  ``cv2.IMREAD_COLOR``; masks are defined on the stored pixels.
- grayscale / bilevel: replicated to 3 channels (for ``format="L"``: one channel, see below).
- palette (P): expanded through the palette.
- 16-bit (``I;16*`` and 16-bit colour PNGs): scaled to 8 bits by keeping the high byte
  (``v >> 8``, so 65535 -> 255), never clipped. 32-bit integer / float images: taken as 8-bit when
  their values fit 0..255, as 16-bit when they fit 0..65535, float images in [0, 1] scaled by 255;
  anything else is a DataError.
- EXIF orientation is NOT applied (unlike ``detectron2.data.detection_utils.read_image``): masks
  are stored in the file's pixel order, so the image must be too.

``format`` follows detectron2's ``INPUT.FORMAT``: ``"RGB"`` and ``"BGR"`` give ``(H, W, 3)``;
``"L"`` gives ``(H, W, 1)`` luma, as detectron2 does, because a model configured for ``L`` has a
one-channel ``PIXEL_MEAN``; ``"YUV-BT.601"`` is delegated to detectron2's converter (float array).

Masks (:func:`read_mask`): ``.npy`` arrays (the competition's format) or single-channel image files
(CASIA ground truth), returned as ``uint8 (N, H, W)`` with values 0/1:

- ``(N, H, W)``: as stored; ``(H, W)``: one instance (N=1).
- ``(H, W, N)``: recognized only when ``image_hw`` is given, its first two dims equal ``image_hw``
  and its last two do not (channel-last masks from other tools). Without ``image_hw`` a 3-D array is
  always read as ``(N, H, W)``.
- values: ``bool``, or integers / floats whose values are all in ``{0, 1}``; ``uint8`` masks saved
  as ``{0, 255}`` are also accepted and mapped to 0/1. Anything else (e.g. ``{0, 1, 2}``, soft
  masks) is a DataError: a label map or a probability map is not a mask.
- image files: nonzero pixels (``> 127`` for 8-bit) are foreground, giving one instance.
"""

import os

import numpy as np
from detectron2.data.detection_utils import convert_PIL_to_numpy
from PIL import Image, UnidentifiedImageError

__all__ = [
    "DataError",
    "read_image",
    "read_mask",
    "image_size",
    "list_images",
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "MASK_SUFFIXES",
]

# File suffixes treated as images when listing folders (lower case; compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
IMAGE_FORMATS = ("RGB", "BGR", "L", "YUV-BT.601")
MASK_SUFFIXES = (".npy",)  # array masks; any other suffix is read as a mask image


class DataError(ValueError):
    """A data file that cannot be used: the message names the file and what is wrong."""


def _check_file(path, what):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{what} file not found: {path}")
    if not os.path.isfile(path):
        raise DataError(f"{what} path is not a file: {path}")
    if os.path.getsize(path) == 0:
        raise DataError(f"{what} file is empty (0 bytes): {path}")
    return path


def _open_image(path, what="image"):
    path = _check_file(path, what)
    try:
        return Image.open(path)
    except UnidentifiedImageError:
        raise DataError(
            f"{what} file is not a readable image (unknown or corrupt format): {path}"
        ) from None
    except Image.DecompressionBombError as e:
        raise DataError(f"{what} file is too large to decode safely: {path} ({e})") from None
    except OSError as e:
        raise DataError(f"cannot open {what} file {path}: {e}") from None
    except Exception as e:  # a damaged header can trip any of Pillow's format plugins
        raise DataError(f"{what} file is corrupt: {path} ({type(e).__name__}: {e})") from None


def image_size(path):
    """``(height, width)`` of an image, read from its header without decoding the pixels."""
    with _open_image(path) as image:
        width, height = image.size
    if width <= 0 or height <= 0:
        raise DataError(f"image file has an empty size {height}x{width}: {path}")
    return height, width


def _wide_to_uint8(array, path):
    """Scale a >8-bit single-channel array (uint16/int32/float) to uint8; see the module docstring."""
    if array.size == 0:
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise DataError(f"image file has NaN/inf pixel values: {path}")
        lo, hi = float(array.min()), float(array.max())
        if lo >= 0.0 and hi <= 1.0:
            return np.rint(array * 255.0).astype(np.uint8)
        array = np.rint(array).astype(np.int64)
    lo, hi = int(array.min()), int(array.max())
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if lo >= 0 and hi <= 255:
        return array.astype(np.uint8)
    if lo >= 0 and hi <= 65535:
        return (array.astype(np.int64) >> 8).astype(np.uint8)
    raise DataError(
        f"image file has pixel values in [{lo}, {hi}], outside 8/16-bit range; cannot convert: {path}"
    )


def _decode_rgb(image, path):
    """Decode a PIL image of any mode into ``uint8 (H, W, 3)`` RGB."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":  # 16/32-bit grayscale
        gray = _wide_to_uint8(np.asarray(image), path)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode in ("LA", "La"):
        image = image.getchannel(0)
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode not in ("RGB", "RGBA", "L"):  # CMYK, YCbCr, LAB, HSV, RGBa...
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3], dtype=np.uint8)  # drops alpha


def read_image(path, format="RGB"):
    """Read an image file as ``uint8 (H, W, 3)`` in ``format``'s channel order.

    Args:
        path: image file.
        format: detectron2's ``INPUT.FORMAT``: "RGB", "BGR", "L" (gives ``(H, W, 1)``) or
            "YUV-BT.601" (float, via detectron2).
    """
    if format not in IMAGE_FORMATS:
        raise ValueError(
            f"read_image: unsupported format {format!r}; expected one of {IMAGE_FORMATS}"
        )
    path = os.fspath(path)
    with _open_image(path) as image:
        try:
            image.load()
            rgb = _decode_rgb(image, path)
        except DataError:
            raise
        except Exception as e:  # truncated / corrupt data: decoders raise OSError, SyntaxError, ...
            raise DataError(
                f"image file is corrupt or truncated: {path} ({type(e).__name__}: {e})"
            ) from None
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise DataError(f"image file has an empty size {rgb.shape[0]}x{rgb.shape[1]}: {path}")
    if format == "RGB":
        return rgb
    if format == "BGR":
        return np.ascontiguousarray(rgb[..., ::-1])
    if format == "L":
        # ITU-R 601-2 luma, Pillow's convert("L") (what detectron2 gives for format "L").
        return np.asarray(Image.fromarray(rgb).convert("L"))[..., None]
    return convert_PIL_to_numpy(Image.fromarray(rgb), format)


def _load_mask_array(path):
    if path.lower().endswith(MASK_SUFFIXES):
        try:
            # Memory-mapped first: a header that claims more data than the file holds fails here
            # instead of allocating it.
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            if isinstance(array, np.ndarray):
                array = np.array(array)
        except ValueError as e:  # pickled object arrays, bad header, less data than the header says
            raise DataError(
                f"mask file is not a plain numeric .npy array (or is truncated): {path} ({e})"
            ) from None
        except Exception as e:  # damaged data or header: OSError, EOFError, SyntaxError, ...
            raise DataError(
                f"mask file is corrupt or truncated: {path} ({type(e).__name__}: {e})"
            ) from None
        if not isinstance(array, np.ndarray):
            raise DataError(f"mask file holds an archive, not one array: {path}")
        return array
    # A mask image (e.g. CASIA ground truth): foreground = bright pixels.
    with _open_image(path, "mask") as image:
        try:
            image.load()
            gray = (
                image
                if image.mode in ("1", "L") or image.mode.startswith("I")
                else image.convert("L")
            )
            array = np.asarray(gray)
        except Exception as e:  # truncated / corrupt data
            raise DataError(
                f"mask file is corrupt or truncated: {path} ({type(e).__name__}: {e})"
            ) from None
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    threshold = 127 if array.dtype == np.uint8 else int(array.max()) // 2
    return (array > threshold).astype(np.uint8)


def _binarize(array, path):
    """Map a mask array's values to uint8 0/1, or raise if they are not binary."""
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise DataError(
            f"mask file has dtype {array.dtype}; expected bool or an integer/float 0/1 array: {path}"
        )
    if array.size == 0:
        return array.astype(np.uint8)
    in_unit_range = array.min() >= 0 and array.max() <= 1
    if in_unit_range and (
        array.dtype.kind in "iu" or np.isin(array, (0, 1)).all()
    ):  # floats: exactly 0/1
        return array.astype(np.uint8)
    if array.dtype == np.uint8 and ((array == 0) | (array == 255)).all():
        return (array > 0).astype(np.uint8)
    values = np.unique(array)
    shown = ", ".join(str(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
    raise DataError(f"mask file has non-binary values {{{shown}}}; expected 0/1 (or 0/255): {path}")


def read_mask(path, image_hw=None):
    """Read a forgery mask as ``uint8 (N, H, W)`` with values 0/1 (one channel per instance).

    Args:
        path: ``.npy`` array or a single-channel mask image.
        image_hw: ``(height, width)`` of the image the mask belongs to; when given, the mask must
            match it (and channel-last ``(H, W, N)`` arrays are recognized).
    """
    path = _check_file(path, "mask")
    array = _load_mask_array(path)
    shape_as_stored = tuple(array.shape)
    hw = tuple(int(v) for v in image_hw) if image_hw is not None else None
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3:
        if hw is not None and tuple(array.shape[1:]) != hw and tuple(array.shape[:2]) == hw:
            array = np.moveaxis(array, 2, 0)  # (H, W, N) -> (N, H, W)
    else:
        raise DataError(f"mask file has shape {array.shape}; expected (N, H, W) or (H, W): {path}")
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise DataError(f"mask file has an empty spatial shape {array.shape}: {path}")
    if hw is not None and tuple(array.shape[1:]) != hw:
        raise DataError(
            f"mask file has shape {shape_as_stored}; expected (N, {hw[0]}, {hw[1]}) to match its "
            f"{hw[0]}x{hw[1]} (H x W) image: {path}"
        )
    return np.ascontiguousarray(_binarize(array, path))


def list_images(folder):
    """Image files of ``folder`` (not recursive, hidden files skipped), sorted; each one's case_id
    is its file stem, which must be unique (DataError naming both files otherwise)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataError(f"image folder not found: {folder}")
    paths = sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
    )
    stems = {}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in stems:
            raise DataError(f"two images share the case_id {stem!r}: {stems[stem]} and {path}")
        stems[stem] = path
    return paths
