"""Edge-popup (Ramanujan et al. 2020; paper §2, §5.3, App A): search for a subnetwork by training
scores, not weights.

Every weight w_ij gets a score s_ij. The forward pass uses w_ij · h(s_ij), with h = 1 for the
``density`` fraction of the weights of each layer with the largest |s| (a per-layer top-k, as the
authors' code, SPEC §1.9) and 0 otherwise. h has no useful gradient, so the backward pass is
*straight-through*: it treats h as the identity, and the score gets the gradient the weight would
get, times the weight, ∂L/∂s_ij = ∂L/∂(w_ij h_ij) · w_ij (App A: s_ij ← s_ij − α ∂L/∂I_j Z_i w_ij).
In code the effective weight is w · h + w · (s − stop_gradient(s)): its value is w · h and its
gradient with respect to s is w.

Scores start as in the authors' code, ``kaiming_uniform_(a=√5)``: uniform in ±1/√fan_in, drawn from
their own seed (`EdgePopupConfig.score_seed`), so the seeds of Table 1 vary the scores on the
memorising run's own split. With ``train_weights=False`` the weights are frozen (no gradient, no
weight decay); AdamW's decay then acts on the scores only, a common rescaling that leaves their
ranking nearly unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .models import PrunableModel


@dataclass(frozen=True)
class EdgePopupConfig:
    """Keep ``density`` of each layer by score; train the weights too if ``train_weights``."""

    name: ClassVar[str] = "edge_popup"
    density: float = 0.4
    train_weights: bool = False
    score_seed: int = 0

    def __post_init__(self):
        if not 0.0 < self.density <= 1.0:
            raise ValueError(f"edge-popup density (fraction kept) must lie in (0, 1], got {self.density!r}")
        if not isinstance(self.score_seed, int):
            raise ValueError(f"score_seed must be an integer, got {self.score_seed!r}")


def top_mask(scores: torch.Tensor, density: float) -> torch.Tensor:
    """1 for the ``round(density · n)`` entries of largest |score| of each run's layer (``[R, ...]``),
    0 elsewhere; ties broken by position."""
    flat = scores.detach().abs().reshape(scores.shape[0], -1)
    keep = torch.zeros_like(flat)
    keep.scatter_(1, torch.topk(flat, round(density * flat.shape[1]), dim=1).indices, 1.0)
    return keep.reshape(scores.shape)


class Supermask:
    """The forward hook of a model with scores: w · h + w · (s − stop_gradient(s))."""

    def __init__(self, density: float):
        self.density = density

    def __call__(self, model: PrunableModel, name: str, weight: torch.Tensor) -> torch.Tensor:
        score = getattr(model, f"score_{name}")
        # The second term is zero in value (so the forward pass is exactly w · h) and carries the
        # straight-through gradient w to the score.
        return weight * top_mask(score, self.density) + weight * (score - score.detach())


def attach(model: PrunableModel, cfg: EdgePopupConfig, score_seeds: list[int] | None = None) -> None:
    """Give ``model`` scores and the straight-through top-k forward pass; draw the scores from
    ``score_seeds`` (one per run; none: leave them for a checkpoint to load); freeze the weights
    unless ``cfg.train_weights``."""
    model.add_scores(Supermask(cfg.density))
    if score_seeds is not None:
        with torch.no_grad():
            for r, seed in enumerate(score_seeds):
                gen = torch.Generator().manual_seed(int(seed))
                for name in model.weight_names:
                    bound = 1.0 / math.sqrt(model.fan_in[name])
                    score = getattr(model, f"score_{name}")
                    score[r].copy_((torch.rand(score.shape[1:], generator=gen) * 2 - 1) * bound)
    if not cfg.train_weights:
        for name in model.weight_names:
            getattr(model, name).requires_grad_(False)


def active_masks(model: PrunableModel) -> dict[str, torch.Tensor]:
    """The masks the scores select now (``[R, ...]`` per prunable weight)."""
    return {n: top_mask(getattr(model, f"score_{n}"), model.supermask.density) for n in model.weight_names}
