"""Whether a figure went through JPEG compression, read from its pixels: the 8 x 8 grid of
quantized DCT coefficients that JPEG leaves behind.

Why the figure matcher asks: its copy evidence is the fine grain a copy shares with its source
(forgery_d2.matching.evidence). A figure stored without lossy compression keeps that grain at its
own pixels, and bringing it down to a smaller verification image averages much of it away. JPEG
(quality up to about 90) has already quantized the finest frequencies away; what a copy still
shares with its source is coarser, and averaging neighbours (a smaller verification image) removes
more of the block noise than of that evidence. So the matcher verifies an uncompressed figure at
its own pixels and a compressed one brought down (``MODEL.FIGURE_MATCHER.VERIFY_MAX_SIZE*``).

The test: JPEG rounds every 8 x 8 block's DCT coefficients to multiples of a quantization step,
on a grid that starts at the image's corner. Over the textured blocks of that grid, each
low-frequency coefficient (1 <= u + v <= 3) then clusters on the multiples of some step q:
``|mean(exp(2 pi i c / q))|`` near 1 for the right q (2..24 tried). Blocks whose coefficients are
all near 0 cluster for every q too, so the same statistic on the grid shifted by (4, 4) px, where
no quantization lines up, is subtracted: the strength is near 0 without compression and well above
it with. On development figures of the synthetic generator (seeds 5 and 11; figure-level JPEG
round trips at quality 60-95 on a third of them) uncompressed figures scored -0.05..0.05 and
compressed ones 0.16-0.82 at quality 60-91 (quality 92: 0.06 and 0.25); at quality 94-95
(-0.03..0.05) most of the grain survives and the figure counts as uncompressed, which is what the
verification needs. The figure matcher's threshold is ``MODEL.FIGURE_MATCHER.JPEG_GRID_MIN_STRENGTH``
(0.1, halfway between the two groups). ``benchmarks/bench_jpeg_grid.py`` measures it
(``docs/results/jpeg_grid_seed{5,11}.txt``).

Limitation: only the grid at the corner is tested. A figure cropped by a number of pixels that
is not a multiple of 8 after its compression reads as uncompressed (verified at its own pixels,
as every figure below VERIFY_MAX_SIZE is anyway).
"""

import numpy as np
from scipy.fft import dctn

__all__ = ["jpeg_grid_strength"]

_BLOCK = 8
_STEPS = np.arange(2, 25)  # quantization steps tried
_FREQUENCIES = [(u, v) for u in range(4) for v in range(4) if 1 <= u + v <= 3]
_MIN_BLOCK_STD = 2.0  # grey levels: flatter blocks (canvas, dark background) say nothing
_MIN_BLOCKS = 50
_MAX_BLOCKS = 4000  # blocks read per grid (evenly spread): bounds the cost on huge figures


def _grid_clustering(gray: np.ndarray):
    """Mean over the low frequencies of the best ``|mean exp(2 pi i c / q)|`` over the textured
    blocks of the 8 x 8 grid starting at ``gray``'s corner; None when too few blocks are textured."""
    height, width = (gray.shape[0] // _BLOCK) * _BLOCK, (gray.shape[1] // _BLOCK) * _BLOCK
    if height == 0 or width == 0:
        return None
    blocks = (
        gray[:height, :width]
        .reshape(height // _BLOCK, _BLOCK, width // _BLOCK, _BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(-1, _BLOCK, _BLOCK)
    )
    blocks = blocks[blocks.reshape(len(blocks), -1).std(axis=1, dtype=np.float64) > _MIN_BLOCK_STD]
    if len(blocks) < _MIN_BLOCKS:
        return None
    if len(blocks) > _MAX_BLOCKS:
        blocks = blocks[np.linspace(0, len(blocks) - 1, _MAX_BLOCKS).astype(int)]
    # each block's orthonormal 2-D DCT-II (JPEG's transform, up to its constant scaling)
    coefficients = dctn(blocks.astype(np.float64) - 128.0, type=2, axes=(1, 2), norm="ortho")
    best = []
    for u, v in _FREQUENCIES:
        phases = np.exp(2j * np.pi * coefficients[:, u, v][:, None] / _STEPS[None, :])
        best.append(np.abs(phases.mean(axis=0)).max())
    return float(np.mean(best))


def jpeg_grid_strength(gray: np.ndarray) -> float:
    """How strongly ``gray`` (uint8 or float (H, W), the figure's luminance at its own pixels)
    shows JPEG quantization on the 8 x 8 grid at its corner: about 0 for an uncompressed figure,
    above 0.1 for a JPEG round trip up to quality ~90 (see the module docstring). 0 when the
    figure has too little texture to tell."""
    gray = np.asarray(gray)  # kept in its own type: only the textured blocks read go to float
    if gray.ndim != 2:
        raise ValueError(f"expected a (H, W) luminance image, got shape {gray.shape}")
    aligned = _grid_clustering(gray)
    shifted = _grid_clustering(gray[_BLOCK // 2 :, _BLOCK // 2 :])
    if aligned is None or shifted is None:
        return 0.0
    return aligned - shifted
