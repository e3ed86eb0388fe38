"""Pruning: each method only computes *scores*; one shared function turns scores into masks.

A score function takes the model (with the weights to score loaded and its current masks), the
run's data and a seed, and returns a score per prunable weight, name -> [R, *shape].
`masks_from_scores` removes, per run, the fraction ``sparsity`` of all weights with the lowest scores
under one global threshold (SPEC §1.6: ``scope='global'``), keeping exactly ``round(density * N)``
weights so the sparsity is exact even when scores tie. A pruner with several rounds (iterative
SynFlow) reaches its sparsity along the exponential schedule of Tanaka et al. (2020).

The pruning-at-initialisation methods of the paper's §4.2 (random, SNIP, GraSP, SynFlow) are scored at
θ0: a derived run with ``MaskSpec(step=0)``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch

from .metrics import task_loss
from .models import PrunableModel
from .registry import Registry
from .tasks import Dataset

Scores = dict[str, torch.Tensor]
ScoreFn = Callable[[PrunableModel, Dataset, int], Scores]


@dataclass(frozen=True)
class Pruner:
    score: ScoreFn
    rounds: int = 1


PRUNERS: Registry[Pruner] = Registry("pruner")


def register(name: str, rounds: int = 1):
    def add(fn: ScoreFn) -> ScoreFn:
        PRUNERS.register(name)(Pruner(fn, rounds))
        return fn
    return add


def _loss(model: PrunableModel, data: Dataset, temperature: float = 1.0) -> torch.Tensor:
    """The task's training loss on the whole training set, summed over runs (runs stay independent)."""
    return task_loss(model(data.x_train) / temperature, data.y_train, data.loss).sum()


def _weights(model: PrunableModel) -> list[torch.Tensor]:
    return [getattr(model, n) for n in model.weight_names]


@register("magnitude")
def magnitude_scores(model: PrunableModel, data: Dataset, seed: int = 0) -> Scores:
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


def prune(model: PrunableModel, data: Dataset | None, pruner: str, sparsity: float,
          seed: int = 0) -> dict[str, torch.Tensor]:
    """Masks from ``pruner``'s scores of the weights currently loaded in ``model`` (whose masks are
    restored afterwards). Round i of n keeps the fraction (1 - sparsity)^(i/n)."""
    method = PRUNERS.get(pruner)
    saved = model.masks()
    masks = saved
    for i in range(1, method.rounds + 1):
        keep = (1.0 - sparsity) ** (i / method.rounds)
        masks = masks_from_scores(method.score(model, data, seed), 1.0 - keep)
        model.set_masks(masks)
    model.set_masks(saved)
    return masks


def density(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of weights kept over all masks (all runs together)."""
    kept = sum(float(m.sum()) for m in masks.values())
    return kept / sum(m.numel() for m in masks.values())


@register("random")
def random_scores(model: PrunableModel, data: Dataset, seed: int = 0) -> Scores:
    """I.i.d. N(0, 1) scores drawn with ``seed``: uniform random global pruning."""
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(getattr(model, n).shape, generator=gen) for n in model.weight_names}


@register("snip")
def snip_scores(model: PrunableModel, data: Dataset, seed: int = 0) -> Scores:
    """SNIP (Lee et al. 2019): connection sensitivity |θ ⊙ ∂L/∂θ| on the training set."""
    grads = torch.autograd.grad(_loss(model, data), _weights(model))
    return {n: (g * model.weight(n)).detach().abs() for n, g in zip(model.weight_names, grads)}


GRASP_TEMPERATURE = 200.0


@register("grasp")
def grasp_scores(model: PrunableModel, data: Dataset, seed: int = 0) -> Scores:
    """GraSP (Wang et al. 2020): θ ⊙ Hg, with g = ∂L/∂θ and H the Hessian of L, logits divided by a
    temperature of 200. As in the reference code that the authors used, the *largest* values are
    kept (GraSP removes the largest -θ ⊙ Hg)."""
    weights = _weights(model)
    g = [x.detach() for x in torch.autograd.grad(_loss(model, data, GRASP_TEMPERATURE), weights)]
    grads = torch.autograd.grad(_loss(model, data, GRASP_TEMPERATURE), weights, create_graph=True)
    z = sum((gi * si).sum() for gi, si in zip(grads, g))
    hg = torch.autograd.grad(z, weights)
    return {n: (h * model.weight(n)).detach() for n, h in zip(model.weight_names, hg)}


def _synflow(model: PrunableModel, inputs: torch.Tensor) -> Scores:
    """|θ ⊙ ∂R/∂θ| with R = Σ f(inputs; |θ ⊙ m|), in float64 on a copy of the model."""
    linear = copy.deepcopy(model).double()
    with torch.no_grad():
        for n in linear.param_names:
            getattr(linear, n).abs_()
    R = linear(inputs.double()).sum()
    grads = torch.autograd.grad(R, _weights(linear))
    return {n: (g * linear.weight(n)).detach().abs().float() for n, g in zip(linear.weight_names, grads)}


@register("synflow", rounds=100)
def synflow_scores(model: PrunableModel, data: Dataset, seed: int = 0) -> Scores:
    """SynFlow as published (Tanaka et al. 2020): no data, an all-ones input, 100 rounds."""
    return _synflow(model, torch.ones_like(data.x_train[:, :1]))


@register("synflow_tokens")
def synflow_token_scores(model: PrunableModel, data: Dataset, seed: int = 0) -> Scores:
    """SynFlow as the authors ran it (SPEC §1.8): one round, on the real training inputs."""
    return _synflow(model, data.x_train)
