"""Masks of checkpoints and the distance between them (paper §5.1, Fig 7, Fig 15).

The Jaccard distance of two 0/1 masks is JD(a, b) = 1 − |a ∩ b| / |a ∪ b|: 0 for equal masks, 1 for
disjoint ones. Two unrelated masks that each keep a fraction d of the weights at random share about
d² of the positions and cover 2d − d², so JD ≈ 1 − d / (2 − d) (0.75 for d = 0.4): the reference
line of Figure 7.
"""
from __future__ import annotations

import torch

from ..pruning import masks_from_scores


def magnitude_masks(weights: dict[str, torch.Tensor], sparsity: float,
                    names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """The ticket mask of a checkpoint: keep the ``1 - sparsity`` largest |w| over the matrices
    ``names`` (default: all), one global threshold, as the tickets are made. ``weights``: name ->
    tensor without a run axis."""
    names = list(weights) if names is None else names
    scores = {n: weights[n].abs()[None] for n in names}
    return {n: m[0] for n, m in masks_from_scores(scores, sparsity).items()}


def jaccard_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """1 − |a ∩ b| / |a ∪ b| of two 0/1 masks of the same shape (0 if both are empty)."""
    a, b = a.bool(), b.bool()
    union = (a | b).sum().item()
    return 0.0 if union == 0 else 1.0 - (a & b).sum().item() / union


def unrelated_distance(density: float) -> float:
    """The expected Jaccard distance of two independent random masks that keep ``density``."""
    return 1.0 - density / (2.0 - density)


def distances_over_training(checkpoints: dict[int, dict[str, torch.Tensor]], sparsity: float,
                            names: list[str]) -> dict[str, list[float]]:
    """JD between the masks of consecutive checkpoints, per matrix: name -> [JD(m_{t_i}, m_{t_{i+1}})]
    for the sorted steps t_i of ``checkpoints`` (step -> weights)."""
    steps = sorted(checkpoints)
    masks = [magnitude_masks(checkpoints[t], sparsity, names) for t in steps]
    return {n: [jaccard_distance(masks[i][n], masks[i + 1][n]) for i in range(len(steps) - 1)]
            for n in names}
