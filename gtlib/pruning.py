"""Pruning: each method only computes *scores*; one shared function turns scores into masks.

A pruner takes the model (with the weights to score loaded), the run's data, and returns a score per
weight, name -> [R, *shape]. `masks_from_scores` removes, per run, the fraction ``sparsity`` of all
weights with the lowest scores under one global threshold (SPEC §1.6: ``scope='global'``), keeping
exactly ``round(density * N)`` weights so the sparsity is exact even when scores tie.
"""
from __future__ import annotations

from typing import Callable

import torch

from .models import PrunableModel
from .registry import Registry
from .tasks import Dataset

Scores = dict[str, torch.Tensor]
PRUNERS: Registry[Callable[[PrunableModel, Dataset], Scores]] = Registry("pruner")


@PRUNERS.register("magnitude")
def magnitude_scores(model: PrunableModel, data: Dataset) -> Scores:
    """|θ ⊙ m|: the lottery-ticket score (paper §2) of the weights the network computes with. The
    grokked ticket scores the weights of a checkpoint taken after generalisation."""
    return {name: model.weight(name).detach().abs() for name in model.weight_names}


def masks_from_scores(scores: Scores, sparsity: float) -> dict[str, torch.Tensor]:
    """Keep the highest-scoring ``1 - sparsity`` of all weights of each run (one global threshold).

    Scores have a leading run axis; each run is thresholded on its own. Ties at the threshold are
    broken by position (``torch.topk``), so exactly ``round((1 - sparsity) * N)`` weights survive.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity (fraction removed) must lie in [0, 1), got {sparsity}")
    names = list(scores)
    n_runs = scores[names[0]].shape[0]
    flat = torch.cat([scores[n].reshape(n_runs, -1) for n in names], dim=1).float()
    n_keep = round((1.0 - sparsity) * flat.shape[1])
    keep = torch.zeros_like(flat)
    keep.scatter_(1, torch.topk(flat, n_keep, dim=1).indices, 1.0)
    masks, start = {}, 0
    for n in names:
        size = scores[n][0].numel()
        masks[n] = keep[:, start:start + size].reshape(scores[n].shape)
        start += size
    return masks


def prune(model: PrunableModel, data: Dataset, pruner: str, sparsity: float) -> dict[str, torch.Tensor]:
    """Masks from ``pruner``'s scores of the weights currently loaded in ``model``."""
    return masks_from_scores(PRUNERS.get(pruner)(model, data), sparsity)


def density(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of weights kept over all masks (all runs together)."""
    kept = sum(float(m.sum()) for m in masks.values())
    return kept / sum(m.numel() for m in masks.values())
