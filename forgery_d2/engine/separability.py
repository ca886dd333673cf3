"""How well ROI features separate forged from authentic regions (seed 1's proposed diagnostic).

The seed Mask R-CNN's classifier could not tell forged from authentic regions because its features
carried no forgery cue. :func:`separability_stats` measures that directly on two sets of ROI feature
vectors: the distance between the class means, the same distance in units of the pooled standard
deviation, how many dimensions separate strongly, and the held-out accuracy of a linear probe.
"""

import numpy as np
import torch

__all__ = ["separability_stats", "linear_probe_accuracy"]


def _split_halves(n: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    return order[: n // 2], order[n // 2 :]


def linear_probe_accuracy(
    positives: torch.Tensor, negatives: torch.Tensor, *, weight_decay: float = 1e-2, seed: int = 0
) -> float:
    """Balanced accuracy, on a held-out half, of an L2-regularized logistic regression trained on
    the other half (each class split in two). Features are standardized with the training half's
    statistics. Returns NaN when a class has fewer than 2 samples."""
    if len(positives) < 2 or len(negatives) < 2:
        return float("nan")
    generator = torch.Generator().manual_seed(seed)
    pos_train, pos_test = _split_halves(len(positives), generator)
    neg_train, neg_test = _split_halves(len(negatives), generator)
    x_train = torch.cat([positives[pos_train], negatives[neg_train]]).double()
    y_train = torch.cat([torch.ones(len(pos_train)), torch.zeros(len(neg_train))]).double()
    mean, std = x_train.mean(0), x_train.std(0, unbiased=False).clamp_min(1e-6)
    x_train = (x_train - mean) / std
    # Class-balanced weights so that the majority class cannot win by itself.
    sample_weight = torch.where(y_train > 0, 0.5 / len(pos_train), 0.5 / len(neg_train)).double()

    weight = torch.zeros(x_train.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=100, line_search_fn="strong_wolfe"
    )

    def closure():
        optimizer.zero_grad()
        logits = x_train @ weight + bias
        loss = (
            sample_weight
            * torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y_train, reduction="none"
            )
        ).sum() + weight_decay * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():

        def recall(x, label):
            predicted = ((x.double() - mean) / std @ weight + bias) > 0
            return (predicted == bool(label)).double().mean().item()

        return 0.5 * (recall(positives[pos_test], 1) + recall(negatives[neg_test], 0))


def separability_stats(
    positives: torch.Tensor, negatives: torch.Tensor, threshold: float = 1.0
) -> dict:
    """Statistics of two feature sets, ``positives`` (forged ROIs) and ``negatives`` (authentic),
    both ``(n, D)``:

    - ``mean_dist``: Euclidean distance between the two class means;
    - ``norm_dist``: root mean square over dimensions of ``|mean diff| / pooled std`` (a
      scale-free effect size; ~0 when the classes coincide);
    - ``num_separating``: dimensions with ``|mean diff| / pooled std > threshold``;
    - ``frac_separating``: the same as a fraction of D;
    - ``probe_acc``: :func:`linear_probe_accuracy` (0.5 = chance);
    - ``num_pos``, ``num_neg``: the sample counts.
    """
    positives = positives.detach().double().cpu().flatten(1)
    negatives = negatives.detach().double().cpu().flatten(1)
    if positives.shape[1] != negatives.shape[1]:
        raise ValueError(f"feature sizes differ: {positives.shape} vs {negatives.shape}")
    stats = {"num_pos": float(len(positives)), "num_neg": float(len(negatives))}
    if len(positives) < 2 or len(negatives) < 2:
        nan = float("nan")
        stats.update(
            mean_dist=nan, norm_dist=nan, num_separating=nan, frac_separating=nan, probe_acc=nan
        )
        return stats
    delta = positives.mean(0) - negatives.mean(0)
    pooled_var = (
        (len(positives) - 1) * positives.var(0) + (len(negatives) - 1) * negatives.var(0)
    ) / (len(positives) + len(negatives) - 2)
    effect = delta.abs() / pooled_var.sqrt().clamp_min(1e-8)
    # Dimensions that are constant in both sets (e.g. dead ReLUs) carry no information.
    effect = torch.where(pooled_var > 1e-12, effect, torch.zeros_like(effect))
    separating = int((effect > threshold).sum())
    stats.update(
        mean_dist=float(delta.norm()),
        norm_dist=float(np.sqrt(float(effect.square().mean()))),
        num_separating=float(separating),
        frac_separating=separating / effect.numel(),
        probe_acc=linear_probe_accuracy(positives, negatives),
    )
    return stats
