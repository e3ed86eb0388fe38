"""Pure metric functions.

Paper §3.1: with P = 95 %,
- t_mem is the first logged step whose *train* accuracy exceeds P,
- t_gen is the first logged step whose *test* accuracy exceeds P,
- τ_grok = t_gen / t_mem (the delay of generalisation relative to memorisation).
A run that never crosses the threshold has ``None`` for the time; τ_grok is then ``None`` too.

The paper reports losses, not times, for polynomial regression (Fig 2d). There we define the same
two times in loss terms: the first logged step at which the train (test) mean squared error falls
below ``LOSS_THRESHOLD`` = 0.1, about a fifth of the target's variance (≈ 0.5). A threshold relative
to the initial loss would not do: a ticket rewound to a large initialisation starts from a far larger
loss than its dense network.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

THRESHOLD = 0.95
LOSS_THRESHOLD = 0.1


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-run accuracy: logits [R, N, C], labels [R or 1, N] -> [R]."""
    return (logits.argmax(-1) == labels).float().mean(-1)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-run mean cross-entropy computed in float64 (as the authors' ``cross_entropy_high_precision``;
    at 100 % train accuracy float32 log-softmax underflows and the loss would read exactly 0)."""
    # Apple's MPS has no float64; there the loss stays in float32.
    wide = torch.float32 if logits.device.type == "mps" else torch.float64
    logp = torch.log_softmax(logits.to(wide), dim=-1)
    labels = labels.expand(logits.shape[:-1])
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean(-1)


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-run mean squared error over examples and outputs: [R, N, ...] -> [R]."""
    diff = (outputs - targets).reshape(outputs.shape[0], -1)
    return diff.pow(2).mean(-1)


def first_step_above(steps: Sequence[int], values: Sequence[float],
                     threshold: float = THRESHOLD) -> int | None:
    """The first step whose value strictly exceeds ``threshold``, or None."""
    above = np.flatnonzero(np.asarray(values, dtype=float) > threshold)
    return int(steps[above[0]]) if len(above) else None


def first_step_below(steps: Sequence[int], values: Sequence[float], threshold: float) -> int | None:
    """The first step whose value is strictly below ``threshold``, or None (for losses)."""
    below = np.flatnonzero(np.asarray(values, dtype=float) < threshold)
    return int(steps[below[0]]) if len(below) else None


def loss_time(steps: Sequence[int], losses: Sequence[float], threshold: float = LOSS_THRESHOLD) -> int | None:
    """The first step whose loss is below ``threshold``."""
    return first_step_below(steps, losses, threshold)


def tau_grok(t_mem: int | None, t_gen: int | None) -> float | None:
    """τ_grok = t_gen / t_mem; None when either time is missing. A t_mem of 0 (fitted before any
    update) is counted as one step so that the ratio stays finite."""
    if t_mem is None or t_gen is None:
        return None
    return t_gen / max(t_mem, 1)


def weight_norms(weights: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Global L1 and L2 norms over all matrices, per run: name -> [R, ...] gives two [R] tensors."""
    flat = torch.cat([w.reshape(w.shape[0], -1) for w in weights.values()], dim=1)
    return flat.abs().sum(1), flat.pow(2).sum(1).sqrt()


def norm_ratio(weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], p: int,
               per_matrix: bool = False) -> torch.Tensor:
    """r_p = ‖θ ⊙ m‖_p / ‖θ‖_p per run (paper §4.1), over the masked weights.

    ``per_matrix``: the authors' code's ratio Σ_l ‖θ_l ⊙ m_l‖_p / Σ_l ‖θ_l‖_p (SPEC §1.7)."""
    def norm(t: torch.Tensor) -> torch.Tensor:
        return t.flatten(1).norm(p=p, dim=1)

    names = list(masks)
    if per_matrix:
        return (sum(norm(weights[n] * masks[n]) for n in names)
                / sum(norm(weights[n]) for n in names))
    masked = {n: weights[n] * masks[n] for n in names}
    return weight_norms(masked)[p - 1] / weight_norms({n: weights[n] for n in names})[p - 1]


LOSSES = ("cross_entropy", "mse", "mse_onehot")


def task_loss(outputs: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-run loss [R]: cross-entropy (float64), mean squared error, or the mean squared error
    against one-hot targets (classification trained as regression, as Omnigrok's MNIST)."""
    if loss == "cross_entropy":
        return cross_entropy(outputs, targets)
    if loss == "mse":
        return mse(outputs, targets)
    if loss == "mse_onehot":
        return mse(outputs, torch.nn.functional.one_hot(targets, outputs.shape[-1]).to(outputs.dtype))
    raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")


def task_accuracy(outputs: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-run accuracy [R]; NaN for regression, which has none."""
    if loss == "mse":
        return torch.full(outputs.shape[:1], float("nan"))
    return accuracy(outputs, targets)
