"""Copy-move self-correlation: responds to duplicated patches, chunking is exact, module shapes."""

import pytest
import torch

from forgery_d2.modeling.self_correlation import SelfCorrelation, self_correlation_topk


def _noise_with_copy(channels=64, size=(24, 30), patch=5, src=(3, 4), dst=(14, 20), seed=0):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(1, channels, *size, generator=generator)
    (sy, sx), (dy, dx) = src, dst
    features[:, :, dy : dy + patch, dx : dx + patch] = features[
        :, :, sy : sy + patch, sx : sx + patch
    ]
    return features


def test_top1_is_high_at_source_and_copy_only():
    patch, src, dst = 5, (3, 4), (14, 20)
    features = _noise_with_copy(patch=patch, src=src, dst=dst)
    scores = self_correlation_topk(features, k=4, exclude_radius=1)
    top1 = scores[0, 0]
    planted = torch.zeros_like(top1, dtype=torch.bool)
    for y, x in (src, dst):
        planted[y : y + patch, x : x + patch] = True
    assert top1[planted].min() > 0.99  # exact copies match each other
    assert top1[~planted].max() < 0.6  # random 64-d vectors do not
    assert (scores[0, :-1] >= scores[0, 1:]).all()  # sorted, descending


def test_no_response_on_noise_image():
    noise = torch.randn(1, 64, 24, 30, generator=torch.Generator().manual_seed(1))
    assert self_correlation_topk(noise, k=3, exclude_radius=1)[0, 0].max() < 0.6


def test_neighbourhood_is_excluded():
    # A smooth map: every location equals its neighbours; with radius 0 it matches them (~1), with a
    # radius larger than the map's correlation length it must not.
    ramp = torch.linspace(0, 3.14, 40)
    features = torch.stack([ramp.cos(), ramp.sin()]).view(1, 2, 1, 40).expand(1, 2, 8, 40)
    near = self_correlation_topk(features, k=1, exclude_radius=0)
    assert near.min() > 0.999  # the same column, another row
    far = self_correlation_topk(features, k=1, exclude_radius=12)
    assert far[0, 0, :, 20].max() < 0.84  # nearest candidate is 13 columns (~1.0 rad) away


@pytest.mark.parametrize("chunk_elements", [1, 97, 10_000])
def test_chunked_equals_unchunked_values_and_gradients(chunk_elements):
    base = torch.randn(2, 8, 7, 9, generator=torch.Generator().manual_seed(2))
    full_input = base.clone().requires_grad_(True)
    chunk_input = base.clone().requires_grad_(True)
    full = self_correlation_topk(full_input, k=5, exclude_radius=1, chunk_elements=1 << 30)
    chunked = self_correlation_topk(
        chunk_input, k=5, exclude_radius=1, chunk_elements=chunk_elements
    )
    torch.testing.assert_close(chunked, full)
    weights = torch.randn_like(full)
    (full * weights).sum().backward()
    (chunked * weights).sum().backward()
    torch.testing.assert_close(chunk_input.grad, full_input.grad)
    with torch.no_grad():
        torch.testing.assert_close(
            self_correlation_topk(base, k=5, exclude_radius=1, chunk_elements=chunk_elements),
            full.detach(),
        )


def test_more_k_than_candidates_pads_with_zero():
    scores = self_correlation_topk(torch.randn(1, 4, 2, 2), k=6, exclude_radius=0)
    assert scores.shape == (1, 6, 2, 2)
    assert (scores[0, 3:] == 0).all()  # only 3 other locations exist


@pytest.mark.parametrize("size", [(7, 9), (4, 13), (1, 1)])
def test_module_keeps_shape_and_starts_as_identity(size):
    torch.manual_seed(0)
    module = SelfCorrelation(in_channels=16, dim=8, topk=4, exclude_radius=1, hidden_dim=12)
    x = torch.randn(2, 16, *size, requires_grad=True)
    out = module(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x)  # zero-initialised output conv
    out.sum().backward()
    assert module.fuse_out.weight.grad.abs().sum() > 0  # ... that still learns
