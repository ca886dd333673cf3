"""Forensic input streams: SRM, Bayar constrained conv, ELA, raw-pixel recovery, shapes."""

import cv2
import numpy as np
import pytest
import torch

from forgery_d2.modeling.forensic import (
    SRM_KERNELS,
    BayarConv2d,
    ForensicStreams,
    SRMFilter,
    error_level_analysis,
)

MEAN, STD = [103.53, 116.28, 123.675], [57.375, 57.12, 58.395]


def _normalize(pixels):
    return (pixels - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def test_srm_kernels_are_high_pass():
    assert SRM_KERNELS.shape == (3, 5, 5)
    np.testing.assert_allclose(SRM_KERNELS.sum(axis=(1, 2)), 0.0, atol=1e-6)
    flat = torch.full((1, 3, 20, 30), 77.0)
    ramp = torch.arange(30.0).expand(1, 3, 20, 30).contiguous()  # linear: 2nd-order kernels vanish
    srm = SRMFilter()
    assert srm(flat)[..., 2:-2, 2:-2].abs().max() < 1e-4
    assert srm(ramp)[..., 2:-2, 2:-2].abs().max() < 1e-3
    noise = torch.rand(1, 3, 20, 30) * 255
    assert srm(noise).abs().mean() > 1.0


def _bayar_constraint_error(weight):
    k = weight.shape[-1] // 2
    centre = weight[:, :, k, k]
    off_centre_sum = weight.sum(dim=(2, 3)) - centre
    return max((centre + 1).abs().max().item(), (off_centre_sum - 1).abs().max().item())


def test_bayar_constraint_holds_after_optimizer_step():
    torch.manual_seed(0)
    bayar = BayarConv2d(3, 4, kernel_size=5)
    assert _bayar_constraint_error(bayar.weight) < 1e-5
    optimizer = torch.optim.SGD(bayar.parameters(), lr=0.5)
    x = torch.rand(2, 3, 17, 23) * 255
    for _ in range(3):
        loss = bayar(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert _bayar_constraint_error(bayar.weight) > 1e-3  # the raw step leaves the constraint
        out = bayar(x)  # every forward re-projects before convolving
        assert _bayar_constraint_error(bayar.weight) < 1e-5
        expected = torch.nn.functional.conv2d(x, bayar.weight, padding=2)
        torch.testing.assert_close(out, expected)
    # A constrained filter is a prediction error: a flat image gives zero response inside.
    flat = torch.full((1, 3, 12, 12), 200.0)
    assert bayar(flat)[..., 2:-2, 2:-2].abs().max() < 1e-2


def test_bayar_rejects_even_kernel():
    with pytest.raises(ValueError, match="odd"):
        BayarConv2d(3, 3, kernel_size=4)


def test_ela_detects_recompression_and_respects_channel_order():
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8), (7, 7), 2)
    fresh = error_level_analysis(smooth, quality=75, channel_order="BGR")
    ok, buffer = cv2.imencode(".jpg", smooth, [cv2.IMWRITE_JPEG_QUALITY, 75])
    already = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    again = error_level_analysis(already, quality=75, channel_order="BGR")
    assert fresh.shape == (64, 80, 3) and fresh.dtype == np.float32
    assert again.mean() < 0.6 * fresh.mean()  # JPEG at the same quality is nearly idempotent
    rgb = error_level_analysis(smooth[:, :, ::-1].copy(), quality=75, channel_order="RGB")
    np.testing.assert_array_equal(rgb, fresh[:, :, ::-1])
    gray = error_level_analysis(smooth[:, :, :1].copy(), quality=75)
    assert gray.shape == (64, 80, 1)
    with pytest.raises(ValueError, match="uint8"):
        error_level_analysis(smooth.astype(np.float32), quality=75)


@pytest.mark.parametrize("size", [(97, 131), (64, 200)])
def test_streams_see_raw_pixels_and_shapes(size):
    torch.manual_seed(0)
    streams = ForensicStreams(["srm", "bayar", "ela"], MEAN, STD, "BGR", bayar_channels=2)
    assert streams.out_channels == 3 + 2 + 3
    pixels = torch.randint(0, 256, (2, 3) + size).float()
    out = streams(_normalize(pixels))
    assert out.shape == (2, 8) + size
    assert out.abs().max() <= 1.0
    torch.testing.assert_close(streams.raw_pixels(_normalize(pixels)), pixels, atol=1e-3, rtol=0)
    srm_raw = torch.tanh(streams.srm(pixels) / streams.residual_scale)
    torch.testing.assert_close(out[:, :3], srm_raw, atol=1e-4, rtol=0)


def test_grayscale_figure_is_one_channel_figure():
    torch.manual_seed(0)
    gray = torch.randint(0, 256, (1, 1, 40, 52)).float()
    three = ForensicStreams(["srm", "ela"], MEAN, STD, "RGB")
    one = ForensicStreams(["srm", "ela"], [120.0], [58.0], "L")
    out3 = three(_normalize(gray.expand(1, 3, 40, 52)))
    out1 = one((gray - 120.0) / 58.0)
    torch.testing.assert_close(out3[:, :3], out1[:, :3], atol=1e-4, rtol=0)  # SRM identical
    torch.testing.assert_close(out3[:, 3:].mean(1), out1[:, 3], atol=0.05, rtol=0)  # ELA ~equal


def test_streams_reject_bad_configuration():
    with pytest.raises(ValueError, match="STREAMS"):
        ForensicStreams(["srm", "noise"], MEAN, STD)
    with pytest.raises(ValueError, match="INPUT.FORMAT"):
        ForensicStreams(["ela"], MEAN, STD, "YUV-BT.601")
    streams = ForensicStreams(["srm"], MEAN, STD)
    with pytest.raises(ValueError, match="3-channel"):
        streams(torch.zeros(1, 4, 8, 8))
