"""Forensic input streams: residual / compression evidence computed from the raw pixels.

Generic RGB features gave the seed Mask R-CNN no forgery cue; the CASIA seed went from 0.75 to
0.94 accuracy by feeding Error Level Analysis. Three selectable streams (``MODEL.FORENSIC.STREAMS``):

- ``"srm"``: the three fixed SRM high-pass kernels of RGB-N (Zhou et al. 2018; Fridrich & Kodovsky
  2012), applied to the channel mean (so grayscale figures stored as 3 equal channels are handled
  exactly like 1-channel ones). 3 channels.
- ``"bayar"``: a learnable constrained convolution (Bayar & Stamm 2016/2018): every kernel has
  centre weight -1 and its other weights sum to 1, i.e. it is a learned prediction-error filter.
  The constraint is re-projected in :meth:`BayarConv2d.forward`, before every convolution, so every
  forward pass (training step or inference, also right after loading a checkpoint) uses
  constrained weights. ``MODEL.FORENSIC.BAYAR_CHANNELS`` channels.
- ``"ela"``: Error Level Analysis: JPEG-recompress each image at ``ELA_QUALITY`` with OpenCV and
  take ``|image - recompressed|`` per channel. Not differentiable (a fixed input transform).
  1 channel per image channel.

Scaling: the RGB stream keeps detectron2's ``(x - PIXEL_MEAN) / PIXEL_STD``. The residual streams
work in pixel units (0..255) and are squashed to (-1, 1): ``tanh(residual / RESIDUAL_SCALE)`` for
SRM/Bayar (a smooth version of SRM's truncation) and ``tanh(difference / ELA_SCALE)`` for ELA.

Raw pixels: detectron2's ``GeneralizedRCNN.preprocess_image`` hands the backbone *normalized*
images. :class:`ForensicStreams` inverts that (``x * PIXEL_STD + PIXEL_MEAN``) with the same config
values, so it works under any meta-architecture that normalizes the standard way. Batch padding
(zeros after normalization) becomes PIXEL_MEAN, a flat area that produces no residual inside it.
"""

from typing import List, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SRM_KERNELS", "SRMFilter", "BayarConv2d", "error_level_analysis", "ForensicStreams"]

# The three SRM kernels used by RGB-N: 2nd-order "KB", 3rd-order "KV" and 2nd-order horizontal,
# each normalized by its quantization step (4, 12, 2). Each sums to zero (high-pass).
SRM_KERNELS = np.stack(
    [
        np.array(
            [
                [0, 0, 0, 0, 0],
                [0, -1, 2, -1, 0],
                [0, 2, -4, 2, 0],
                [0, -1, 2, -1, 0],
                [0, 0, 0, 0, 0],
            ],
            dtype=np.float32,
        )
        / 4.0,
        np.array(
            [
                [-1, 2, -2, 2, -1],
                [2, -6, 8, -6, 2],
                [-2, 8, -12, 8, -2],
                [2, -6, 8, -6, 2],
                [-1, 2, -2, 2, -1],
            ],
            dtype=np.float32,
        )
        / 12.0,
        np.array(
            [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
            dtype=np.float32,
        )
        / 2.0,
    ]
)

STREAM_NAMES = ("srm", "bayar", "ela")


class SRMFilter(nn.Module):
    """Fixed SRM high-pass residuals of the channel mean: ``(N, C, H, W) -> (N, 3, H, W)``."""

    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.from_numpy(SRM_KERNELS)[:, None], persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        gray = pixels.mean(dim=1, keepdim=True)
        return F.conv2d(gray, self.weight.to(gray.dtype), padding=self.weight.shape[-1] // 2)


class BayarConv2d(nn.Module):
    """Constrained convolution: per (out, in) kernel, centre = -1 and the other weights sum to 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5):
        super().__init__()
        if kernel_size % 2 != 1 or kernel_size < 3:
            raise ValueError(f"Bayar kernel size must be odd and >= 3, got {kernel_size}")
        self.kernel_size = kernel_size
        # Positive init: the off-centre sum starts well away from 0 (projection divides by it).
        self.weight = nn.Parameter(torch.rand(out_channels, in_channels, kernel_size, kernel_size))
        self.project_()

    @torch.no_grad()
    def project_(self) -> None:
        """Project the weights onto the constraint in place (Bayar & Stamm's rule)."""
        centre = self.kernel_size // 2
        weight = self.weight
        weight[:, :, centre, centre] = 0.0
        total = weight.sum(dim=(2, 3), keepdim=True)
        # Guard a (rare) off-centre sum near 0: keep its sign, bound the division.
        sign = torch.where(total < 0, -torch.ones_like(total), torch.ones_like(total))
        weight.div_(sign * total.abs().clamp(min=1e-3))
        weight[:, :, centre, centre] = -1.0

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        self.project_()  # re-projected before every use: after each optimizer step and at load
        return F.conv2d(pixels, self.weight.to(pixels.dtype), padding=self.kernel_size // 2)


def error_level_analysis(image: np.ndarray, quality: int, channel_order: str = "BGR") -> np.ndarray:
    """``|image - JPEG(image, quality)|`` as float32 ``(H, W, C)`` in pixel units.

    Args:
        image: ``uint8 (H, W, C)`` with C = 3 (in ``channel_order``, "BGR" or "RGB") or C = 1.
        quality: JPEG quality 1..100 of the recompression (OpenCV's encoder).
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"ELA needs a uint8 (H, W, 1|3) image, got {image.dtype} {image.shape}")
    if channel_order not in ("BGR", "RGB"):
        raise ValueError(f"ELA supports channel order BGR or RGB, got {channel_order!r}")
    bgr = image[:, :, ::-1] if (channel_order == "RGB" and image.shape[2] == 3) else image
    ok, buffer = cv2.imencode(
        ".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode an image of shape {image.shape}")
    flag = cv2.IMREAD_COLOR if image.shape[2] == 3 else cv2.IMREAD_GRAYSCALE
    recompressed = cv2.imdecode(buffer, flag).reshape(bgr.shape)
    difference = np.abs(bgr.astype(np.float32) - recompressed.astype(np.float32))
    return (
        difference[:, :, ::-1] if (channel_order == "RGB" and image.shape[2] == 3) else difference
    )


class ForensicStreams(nn.Module):
    """Normalized images ``(N, C, H, W)`` -> forensic channels ``(N, out_channels, H, W)``.

    See the module docstring for the streams, their scaling and how raw pixels are recovered.
    """

    def __init__(
        self,
        streams: Sequence[str],
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        input_format: str = "BGR",
        residual_scale: float = 4.0,
        bayar_channels: int = 3,
        bayar_kernel_size: int = 5,
        ela_quality: int = 90,
        ela_scale: float = 8.0,
    ):
        super().__init__()
        streams = [s.lower() for s in streams]
        unknown = sorted(set(streams) - set(STREAM_NAMES))
        if unknown or not streams or len(set(streams)) != len(streams):
            raise ValueError(
                f"MODEL.FORENSIC.STREAMS must list distinct names from {STREAM_NAMES}, got {list(streams)}"
            )
        if len(pixel_mean) != len(pixel_std) or len(pixel_mean) not in (1, 3):
            raise ValueError(
                f"PIXEL_MEAN/PIXEL_STD need 1 or 3 values, got {pixel_mean} / {pixel_std}"
            )
        self.streams: List[str] = streams
        self.in_channels = len(pixel_mean)
        self.input_format = input_format
        self.residual_scale = float(residual_scale)
        self.ela_quality = int(ela_quality)
        self.ela_scale = float(ela_scale)
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, -1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, -1, 1, 1), False)
        if "ela" in streams and input_format not in ("BGR", "RGB", "L"):
            raise ValueError(
                f"the ELA stream supports INPUT.FORMAT BGR, RGB or L, got {input_format!r}"
            )
        self.srm = SRMFilter() if "srm" in streams else None
        self.bayar = (
            BayarConv2d(self.in_channels, bayar_channels, bayar_kernel_size)
            if "bayar" in streams
            else None
        )
        channels = {"srm": 3, "bayar": bayar_channels, "ela": self.in_channels}
        self.out_channels = sum(channels[s] for s in streams)

    @classmethod
    def from_config(cls, cfg) -> "ForensicStreams":
        f = cfg.MODEL.FORENSIC
        return cls(
            f.STREAMS,
            cfg.MODEL.PIXEL_MEAN,
            cfg.MODEL.PIXEL_STD,
            cfg.INPUT.FORMAT,
            residual_scale=f.RESIDUAL_SCALE,
            bayar_channels=f.BAYAR_CHANNELS,
            bayar_kernel_size=f.BAYAR_KERNEL_SIZE,
            ela_quality=f.ELA_QUALITY,
            ela_scale=f.ELA_SCALE,
        )

    def raw_pixels(self, images: torch.Tensor) -> torch.Tensor:
        """Undo detectron2's ``(x - PIXEL_MEAN) / PIXEL_STD``: pixel values in INPUT.FORMAT order."""
        if images.shape[1] != self.in_channels:
            raise ValueError(
                f"forensic streams expect {self.in_channels}-channel images (PIXEL_MEAN), got {images.shape[1]}"
            )
        return images * self.pixel_std + self.pixel_mean

    def _ela(self, pixels: torch.Tensor) -> torch.Tensor:
        order = "RGB" if self.input_format == "RGB" else "BGR"
        images = (
            pixels.detach().clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        )
        differences = np.stack([error_level_analysis(im, self.ela_quality, order) for im in images])
        ela = (
            torch.from_numpy(differences)
            .permute(0, 3, 1, 2)
            .to(device=pixels.device, dtype=pixels.dtype)
        )
        return torch.tanh(ela / self.ela_scale)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = self.raw_pixels(images)
        outputs = []
        for stream in self.streams:
            if stream == "srm":
                outputs.append(torch.tanh(self.srm(pixels) / self.residual_scale))
            elif stream == "bayar":
                outputs.append(torch.tanh(self.bayar(pixels) / self.residual_scale))
            else:
                outputs.append(self._ela(pixels))
        return torch.cat(outputs, dim=1)
