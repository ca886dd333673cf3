"""The JPEG grid test (forgery_d2.matching.jpeg_grid) and how the figure matcher uses it to pick
its verification size."""

import cv2
import numpy as np
import pytest
from PIL import Image

from forgery_d2.data.io import read_image
from forgery_d2.data.synthetic.figures.case import finish_image, generate_figure_case
from forgery_d2.matching.features import to_gray_uint8
from forgery_d2.matching.figure_matcher import FigureMatcher, FigureMatcherParams
from forgery_d2.matching.jpeg_grid import jpeg_grid_strength

# MODEL.FIGURE_MATCHER.JPEG_GRID_MIN_STRENGTH
MIN_STRENGTH = FigureMatcherParams.default().jpeg_grid_min_strength


@pytest.fixture(scope="module")
def figure():
    """A generated authentic figure (15 panels: blots, gels, micrographs on a white canvas; 1703 x
    722 px), uncompressed."""
    case = generate_figure_case(5, "train", 14)
    assert case.jpeg_quality is None
    return case.authentic


@pytest.mark.parametrize("quality", [60, 75, 90])
def test_a_jpeg_round_trip_shows_its_grid(figure, quality):
    compressed = finish_image(figure, "RGB", jpeg_quality=quality)
    assert jpeg_grid_strength(to_gray_uint8(compressed)) > MIN_STRENGTH


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_jpeg_file_written_by_pillow_shows_its_grid(figure, tmp_path, mode):
    """A figure saved as a .jpg file by another encoder (Pillow's libjpeg, its own quantization
    tables and chroma subsampling), read back as the tools read figures."""
    path = str(tmp_path / "figure.jpg")
    Image.fromarray(figure).convert(mode).save(path, quality=85)
    assert jpeg_grid_strength(to_gray_uint8(read_image(path, "RGB"))) > MIN_STRENGTH


def test_an_uncompressed_figure_shows_no_grid(figure):
    assert abs(jpeg_grid_strength(to_gray_uint8(figure))) < MIN_STRENGTH / 2


def test_a_compressed_figure_cropped_off_its_grid_reads_as_uncompressed(figure):
    """The documented limitation: only the grid at the corner is tested."""
    compressed = to_gray_uint8(finish_image(figure, "RGB", jpeg_quality=60))
    assert jpeg_grid_strength(compressed[3:, 5:]) < MIN_STRENGTH


def test_a_flat_or_tiny_image_says_nothing():
    assert jpeg_grid_strength(np.full((300, 300), 255, np.uint8)) == 0.0
    assert jpeg_grid_strength(np.zeros((5, 5), np.uint8)) == 0.0


def test_a_colour_array_is_refused_with_a_clear_error(figure):
    with pytest.raises(ValueError, match=r"\(H, W\) luminance"):
        jpeg_grid_strength(figure)


def test_verification_size_follows_compression(figure):
    """A figure beyond VERIFY_MAX_SIZE is verified at its own pixels (up to
    VERIFY_MAX_SIZE_UNCOMPRESSED) when uncompressed, and brought down when it shows a JPEG grid;
    figures within VERIFY_MAX_SIZE are never tested."""
    matcher = FigureMatcher()
    p = matcher.params
    longer = max(figure.shape[:2])
    assert p.verify_max_size < longer <= p.verify_max_size_uncompressed
    stats = {}
    assert matcher._verify_scale(to_gray_uint8(figure), stats) == 1.0
    assert stats["jpeg_grid"] < p.jpeg_grid_min_strength
    compressed = to_gray_uint8(finish_image(figure, "RGB", jpeg_quality=75))
    assert matcher._verify_scale(compressed, {}) == pytest.approx(p.verify_max_size / longer)
    small = to_gray_uint8(cv2.resize(figure, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    stats = {}
    assert matcher._verify_scale(small, stats) == 1.0 and "jpeg_grid" not in stats
    off = FigureMatcher(FigureMatcherParams.default().replace(verify_max_size_uncompressed=0))
    assert off._verify_scale(to_gray_uint8(figure), {}) == pytest.approx(p.verify_max_size / longer)
