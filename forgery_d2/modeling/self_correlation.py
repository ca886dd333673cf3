"""Copy-move self-correlation (the idea of BusterNet, Wu et al. 2018).

A duplicated region looks like another region of the *same* image. For every location of one
feature map we compute the cosine similarity with every other location, drop a neighbourhood of
the location itself, and keep the ``k`` best scores, sorted. Copied regions show a distinctive
pattern (one sharp peak, then a drop), flat regions many equal scores, ordinary texture low scores.
A small conv maps ``[features, top-k scores]`` to a residual added to the features, so the RPN and
ROI heads (and the image gate) see the evidence.

Cost for a ``C x H x W`` map, ``L = H * W`` locations: time ``O(L^2 * C)``. Memory is bounded by
chunking over query rows: a chunk of ``q`` rows holds its ``q x L`` similarities (the excluded
neighbourhood is written into it by index, ``(2r+1)^2`` per row), with ``q = CHUNK_ELEMENTS // L``,
so the peak extra memory is about
``CHUNK_ELEMENTS`` elements regardless of the image size (at least one row: ``L`` elements). The
top-k *indices* are found without autograd; the k scores are then recomputed differentiably from
the gathered features, so training stores ``O(L * k * C)`` for backward instead of ``O(L^2)``.
With stride 16, a 1024 x 1024 image gives L = 4096: the full matrix would be 16.8M elements,
chunked it is ``CHUNK_ELEMENTS`` (default 4M, 16 MB in float32).
"""

import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d
from torch import nn

__all__ = ["self_correlation_topk", "SelfCorrelation"]


def _neighbour_index(height: int, width: int, radius: int, device) -> torch.Tensor:
    """``(L, (2r+1)^2)`` flat indices of each location's neighbourhood (itself included); offsets
    falling outside the map point at the location itself."""
    rows = torch.arange(height, device=device).repeat_interleave(width)[:, None]
    cols = torch.arange(width, device=device).repeat(height)[:, None]
    offsets = torch.arange(-radius, radius + 1, device=device)
    dy, dx = offsets.repeat_interleave(len(offsets))[None], offsets.repeat(len(offsets))[None]
    ny, nx = rows + dy, cols + dx
    inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
    return torch.where(inside, ny * width + nx, rows * width + cols)


def self_correlation_topk(
    features: torch.Tensor, k: int, exclude_radius: int = 2, chunk_elements: int = 1 << 22
) -> torch.Tensor:
    """Top-k cosine similarities of each location with the other locations of the same image.

    Args:
        features: ``(N, C, H, W)``.
        k: scores kept per location, sorted in descending order.
        exclude_radius: locations within this Chebyshev distance (in cells) of the query,
            itself included, are not candidates.
        chunk_elements: at most this many similarity values are held at once (>= one row).

    Returns:
        ``(N, k, H, W)`` scores in [-1, 1]; slots without any candidate (tiny maps) are 0.
    """
    if features.dim() != 4:
        raise ValueError(f"expected (N, C, H, W) features, got shape {tuple(features.shape)}")
    n, _, height, width = features.shape
    locations = height * width
    output = features.new_zeros(n, k, locations)
    available = min(k, locations)
    if locations == 0 or k <= 0:
        return output.view(n, k, height, width)
    unit = F.normalize(features.flatten(2), dim=1)  # (N, C, L)
    neighbours = _neighbour_index(height, width, exclude_radius, features.device)  # (L, (2r+1)^2)
    chunk = max(1, int(chunk_elements) // locations)
    for i in range(n):
        keys = unit[i]  # (C, L)
        for start in range(0, locations, chunk):
            stop = min(start + chunk, locations)
            queries = keys[:, start:stop].t()  # (q, C)
            with torch.no_grad():
                similarity = queries @ keys  # (q, L)
                similarity.scatter_(1, neighbours[start:stop], float("-inf"))
                best, index = similarity.topk(available, dim=1)  # sorted, descending
                valid = torch.isfinite(best)
                del similarity
            if torch.is_grad_enabled() and features.requires_grad:
                matched = keys.t()[index]  # (q, k, C)
                best = (queries[:, None, :] * matched).sum(dim=2)
            output[i, :available, start:stop] = torch.where(valid, best, torch.zeros_like(best)).t()
    return output.view(n, k, height, width)


class SelfCorrelation(nn.Module):
    """Adds ``conv([x, top-k self-similarity of proj(x)])`` to the feature map ``x`` (same shape)."""

    def __init__(
        self,
        in_channels: int,
        dim: int = 64,
        topk: int = 16,
        exclude_radius: int = 2,
        chunk_elements: int = 1 << 22,
        hidden_dim: int = 128,
    ):
        """
        Args:
            in_channels: channels of the feature map.
            dim: channels of the learned 1x1 projection that is correlated (0: ``x`` itself).
            topk, exclude_radius, chunk_elements: see :func:`self_correlation_topk`.
            hidden_dim: channels of the 3x3 conv over ``[x, scores]``.
        """
        super().__init__()
        if topk < 1:
            raise ValueError(f"MODEL.SELF_CORRELATION.TOPK must be >= 1, got {topk}")
        self.topk = topk
        self.exclude_radius = exclude_radius
        self.chunk_elements = chunk_elements
        self.project = Conv2d(in_channels, dim, kernel_size=1) if dim > 0 else None
        self.fuse_hidden = Conv2d(
            in_channels + topk, hidden_dim, kernel_size=3, padding=1, activation=F.relu
        )
        self.fuse_out = Conv2d(hidden_dim, in_channels, kernel_size=1)
        for layer in (self.project, self.fuse_hidden):
            if layer is not None:
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(layer.bias, 0.0)
        # Zero-initialised output: the module starts as the identity (a plain backbone).
        nn.init.constant_(self.fuse_out.weight, 0.0)
        nn.init.constant_(self.fuse_out.bias, 0.0)

    @classmethod
    def from_config(cls, cfg, in_channels: int) -> "SelfCorrelation":
        c = cfg.MODEL.SELF_CORRELATION
        return cls(in_channels, c.DIM, c.TOPK, c.EXCLUDE_RADIUS, c.CHUNK_ELEMENTS, c.HIDDEN_DIM)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, topk, H, W)`` sorted top-k self-similarities of (projected) ``x``."""
        matched = self.project(x) if self.project is not None else x
        return self_correlation_topk(matched, self.topk, self.exclude_radius, self.chunk_elements)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse_out(self.fuse_hidden(torch.cat([x, self.scores(x)], dim=1)))
