"""Models whose weights carry a leading *run* axis, so that R runs of the same shapes train together.

Every prunable weight ``W`` has shape ``[R, *shape]`` and a fixed 0/1 buffer ``mask_W`` of the same
shape; the forward pass uses ``W * mask_W`` (paper §2: f(x; θ ⊙ m)). Pruned entries stay in the
parameter tensor, get zero gradient, and are shrunk by AdamW's decoupled decay exactly as in the
authors' code, but they never reach the output.

A model's *config* is a frozen dataclass (part of a run's identity); ``config.build(data, n_runs)``
creates the module for a data set's input and output sizes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .registry import Registry
from .tasks import Dataset

MODELS: Registry[type] = Registry("model")


class PrunableModel(nn.Module):
    """Base class: named weights of shape [R, *shape], each with a mask buffer and a fan-in.

    Initialisation (paper §3.1): θ0 ~ N(0, std = κ / sqrt(fan_in)) per matrix, κ = ``init_scale``.
    Each run's weights are drawn from its own generator seeded with that run's seed, in a fixed
    order, so run r of a batch gets exactly the weights it would get alone.
    """

    def __init__(self, n_runs: int, shapes: dict[str, tuple[tuple[int, ...], int]],
                 init_scale: float):
        super().__init__()
        self.n_runs = n_runs
        self.init_scale = init_scale
        self.fan_in = {name: fan_in for name, (_, fan_in) in shapes.items()}
        self.masked = False  # while every mask is all ones, the forward pass skips the product
        for name, (shape, _) in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.zeros(n_runs, *shape)))
            self.register_buffer(f"mask_{name}", torch.ones(n_runs, *shape))

    @property
    def weight_names(self) -> list[str]:
        return list(self.fan_in)

    def weight(self, name: str) -> torch.Tensor:
        """The effective weight W ⊙ m used by the forward pass."""
        if not self.masked:
            return getattr(self, name)
        return getattr(self, name) * getattr(self, f"mask_{name}")

    def init_weights(self, seeds: list[int]) -> None:
        if len(seeds) != self.n_runs:
            raise ValueError(f"need {self.n_runs} seeds, got {len(seeds)}")
        with torch.no_grad():
            for r, seed in enumerate(seeds):
                gen = torch.Generator().manual_seed(int(seed))
                for name, fan_in in self.fan_in.items():
                    w = getattr(self, name)
                    std = self.init_scale / math.sqrt(fan_in)
                    w[r].copy_(torch.randn(w.shape[1:], generator=gen) * std)

    def weights(self) -> dict[str, torch.Tensor]:
        """Raw weights (detached copies), name -> [R, *shape]."""
        return {n: getattr(self, n).detach().clone() for n in self.weight_names}

    def masks(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, f"mask_{n}").detach().clone() for n in self.weight_names}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for n in self.weight_names:
                getattr(self, n).copy_(weights[n])

    def set_masks(self, masks: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for n in self.weight_names:
                getattr(self, f"mask_{n}").copy_(masks[n])
        self.masked = any(bool((m == 0).any()) for m in masks.values())


class PaperMLP(PrunableModel):
    """The paper's MLP (Eq. 1): logits = W_U^T (W_out ReLU(W_in (E_a + E_b))), no biases.

    Shapes follow the authors' ``OnlyMLP`` (p = vocabulary, d = ``d_emb``, H = ``d_hidden``):
    W_E [d, p] (fan-in p), W_in [H, d] (fan-in d), W_out [d, H] (fan-in H), W_U [d, p] (fan-in d).
    For p = 67, d = 500, H = 48 that is 115,000 weights. The authors apply W_in to each token and
    sum; by linearity summing the two embeddings first is the same function at half the cost.
    """

    def __init__(self, n_runs: int, p: int, n_outputs: int, d_emb: int, d_hidden: int,
                 init_scale: float):
        super().__init__(n_runs, {
            "W_E": ((d_emb, p), p),
            "W_in": ((d_hidden, d_emb), d_emb),
            "W_out": ((d_emb, d_hidden), d_hidden),
            "W_U": ((d_emb, n_outputs), d_emb),
        }, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: one-hot tokens [R or 1, N, 2, p] -> logits [R, N, n_outputs]."""
        tokens = x.sum(-2)                                             # [., N, p] two-hot
        emb = tokens @ self.weight("W_E").transpose(-1, -2)            # [R, N, d]
        hidden = torch.relu(emb @ self.weight("W_in").transpose(-1, -2))
        out = hidden @ self.weight("W_out").transpose(-1, -2)          # [R, N, d]
        return out @ self.weight("W_U")


@MODELS.register("mlp")
@dataclass(frozen=True)
class MLPConfig:
    """The paper's MLP for two-token tasks: ``d_emb`` (500), ``d_hidden`` (48), κ (1.0)."""

    name: ClassVar[str] = "mlp"
    d_emb: int = 500
    d_hidden: int = 48
    init_scale: float = 1.0

    def __post_init__(self):
        for field in ("d_emb", "d_hidden"):
            if not isinstance(getattr(self, field), int) or getattr(self, field) < 1:
                raise ValueError(f"{field} must be a positive integer, got {getattr(self, field)!r}")
        if not self.init_scale > 0:
            raise ValueError(f"init_scale must be positive, got {self.init_scale}")

    def build(self, data: Dataset, n_runs: int = 1) -> PaperMLP:
        if data.x_train.dim() != 3 or data.x_train.shape[1] != 2:
            raise ValueError("model 'mlp' needs two one-hot tokens per example (a modular task)")
        return PaperMLP(n_runs, data.x_train.shape[-1], data.n_outputs, self.d_emb, self.d_hidden,
                        self.init_scale)


def make_model(name: str, **params) -> object:
    """Create a model config by registered name, e.g. ``make_model("mlp", d_hidden=48)``."""
    return MODELS.create(name, **params)
