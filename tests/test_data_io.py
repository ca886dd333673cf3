"""forgery_d2.data.io: every colour mode in, uint8 (H, W, 3) out; masks validated; clear DataErrors."""

import numpy as np
import pytest
from PIL import Image

from forgery_d2.data.io import DataError, image_size, read_image, read_mask


def _save(path, array, mode=None):
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return str(path)


def test_rgb_and_bgr_channel_order(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = _save(tmp_path / "rgb.png", pixels)
    np.testing.assert_array_equal(read_image(path), pixels)
    np.testing.assert_array_equal(read_image(path, "BGR"), pixels[..., ::-1])
    assert read_image(path).dtype == np.uint8


def test_rgba_drops_alpha_keeping_colour(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (6, 5, 4), dtype=np.uint8)
    pixels[..., 3] = 0  # fully transparent: colour must still be the stored colour
    path = _save(tmp_path / "rgba.png", pixels, "RGBA")
    np.testing.assert_array_equal(read_image(path), pixels[..., :3])


def test_grayscale_replicated_and_L_format_one_channel(tmp_path):
    gray = np.random.default_rng(2).integers(0, 256, (5, 8), dtype=np.uint8)
    path = _save(tmp_path / "gray.png", gray, "L")
    out = read_image(path)
    assert out.shape == (5, 8, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)
    luma = read_image(path, "L")
    assert luma.shape == (5, 8, 1)
    np.testing.assert_array_equal(luma[..., 0], gray)


def test_palette_expanded(tmp_path):
    image = Image.new("P", (4, 3))
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2, 1] * 3)
    image.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 2], [0, 255, 0])


def test_16bit_gray_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 256, 32768, 65535]], dtype=np.uint16)
    path = _save(tmp_path / "g16.png", values)
    assert Image.open(path).mode.startswith("I;16")
    out = read_image(path)
    np.testing.assert_array_equal(
        out[0, :, 0], [0, 1, 128, 255]
    )  # clipping would give 0,255,255,255


def test_16bit_colour_is_scaled(tmp_path):
    cv2 = pytest.importorskip("cv2")
    bgr = np.zeros((2, 3, 3), dtype=np.uint16)
    bgr[..., 2] = 65535  # red channel full
    bgr[..., 1] = 32768
    path = str(tmp_path / "rgb16.png")
    cv2.imwrite(path, bgr)
    out = read_image(path)
    np.testing.assert_array_equal(out[0, 0], [255, 128, 0])


def test_large_image_and_header_size(tmp_path):
    path = _save(tmp_path / "big.png", np.full((4400, 4000), 7, dtype=np.uint8), "L")
    assert image_size(path) == (4400, 4000)
    out = read_image(path)
    assert out.shape == (4400, 4000, 3) and out[4399, 3999, 0] == 7


def test_image_size_reads_only_the_header(tmp_path):
    data = tmp_path / "ok.png"
    _save(data, np.random.default_rng(3).integers(0, 256, (50, 60, 3), dtype=np.uint8))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(data.read_bytes()[:200])  # header intact, pixel data cut
    assert image_size(truncated) == (50, 60)
    with pytest.raises(DataError, match="truncated.png"):
        read_image(truncated)


@pytest.mark.parametrize(
    "content, expected",
    [(b"", "empty"), (b"this is not an image at all", "not a readable image")],
)
def test_bad_image_files(tmp_path, content, expected):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected) as info:
        read_image(path)
    assert "bad.png" in str(info.value)


def test_missing_image(tmp_path):
    with pytest.raises(DataError, match="not found.*nope.png"):
        read_image(tmp_path / "nope.png")


def test_mask_shapes(tmp_path):
    nhw = np.zeros((2, 4, 5), dtype=np.uint8)
    nhw[0, 1, 2] = nhw[1, 3, 4] = 1
    np.save(tmp_path / "nhw.npy", nhw)
    np.testing.assert_array_equal(read_mask(tmp_path / "nhw.npy", (4, 5)), nhw)
    np.save(tmp_path / "hw.npy", nhw[0])
    assert read_mask(tmp_path / "hw.npy").shape == (1, 4, 5)
    np.save(tmp_path / "hwn.npy", np.moveaxis(nhw, 0, 2))  # channel-last (4, 5, 2)
    np.testing.assert_array_equal(read_mask(tmp_path / "hwn.npy", (4, 5)), nhw)
    # without the image size a 3-D array is always (N, H, W)
    assert read_mask(tmp_path / "hwn.npy").shape == (4, 5, 2)


@pytest.mark.parametrize(
    "array, ok",
    [
        (np.array([[[0, 1]]], dtype=np.uint8), True),
        (np.array([[[False, True]]]), True),
        (np.array([[[0, 255]]], dtype=np.uint8), True),
        (np.array([[[0.0, 1.0]]], dtype=np.float32), True),
        (np.array([[[0, 2]]], dtype=np.uint8), False),
        (np.array([[[0.0, 0.5]]], dtype=np.float32), False),
        (np.array([[[0, 1, 255]]], dtype=np.uint8), False),
        (np.array([[[-1, 1]]], dtype=np.int64), False),
    ],
)
def test_mask_values(tmp_path, array, ok):
    np.save(tmp_path / "m.npy", array)
    if ok:
        out = read_mask(tmp_path / "m.npy")
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1} and out.max() == 1
    else:
        with pytest.raises(DataError, match=r"non-binary values.*m\.npy"):
            read_mask(tmp_path / "m.npy")


def test_mask_errors_name_the_file(tmp_path):
    np.save(tmp_path / "shape.npy", np.zeros((1, 4, 5), np.uint8))
    with pytest.raises(DataError, match=r"shape \(1, 4, 5\).*6x5.*shape\.npy"):
        read_mask(tmp_path / "shape.npy", (6, 5))
    np.save(tmp_path / "4d.npy", np.zeros((1, 1, 4, 5), np.uint8))
    with pytest.raises(DataError, match=r"expected \(N, H, W\).*4d\.npy"):
        read_mask(tmp_path / "4d.npy")
    np.save(tmp_path / "str.npy", np.array([["a", "b"]]))
    with pytest.raises(DataError, match=r"dtype.*str\.npy"):
        read_mask(tmp_path / "str.npy")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.*empty\.npy"):
        read_mask(tmp_path / "empty.npy")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match=r"junk\.npy"):
        read_mask(tmp_path / "junk.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"obj\.npy"):
        read_mask(tmp_path / "obj.npy")


def test_mask_image_file(tmp_path):
    gt = np.zeros((6, 7), dtype=np.uint8)
    gt[2:4, 1:5] = 255
    _save(tmp_path / "x_gt.png", gt, "L")
    out = read_mask(tmp_path / "x_gt.png", (6, 7))
    assert out.shape == (1, 6, 7)
    np.testing.assert_array_equal(out[0], gt // 255)
