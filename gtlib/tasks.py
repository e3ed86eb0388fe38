"""Tasks: each is a frozen dataclass of its parameters that builds a seeded train/test `Dataset`.

A task's fields are part of a run's identity (see `gtlib.config`), so every field is validated when
the task is created, before anything is trained or written.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch

from .registry import Registry

TASKS: Registry[type] = Registry("task")


@dataclass
class Dataset:
    """Full-batch data for one run.

    ``x_*`` are float inputs (the modular tasks give one-hot tokens of shape [N, 2, p]); ``y_*`` are
    class indices for ``loss == "cross_entropy"`` and float targets for ``loss == "mse"``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_outputs: int
    loss: str

    def to(self, device: torch.device | str) -> "Dataset":
        move = lambda t: t.to(device)  # noqa: E731
        return Dataset(move(self.x_train), move(self.y_train), move(self.x_test), move(self.y_test),
                       self.n_outputs, self.loss)


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {value}")


# (a, b) -> c before reduction mod p. The set of Fig 2c follows the authors' 2024 code (SPEC §1.1).
MODULAR_OPS: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "x2y2": lambda a, b: a * a + b * b,
    "x2xyy2": lambda a, b: a * a + a * b + b * b,
}

# Which (a, b) pairs make up the data set. The authors' code enumerates a <= b (2278 pairs for
# p = 67); the paper's count, 2211, is that of a < b.
PAIR_SETS: dict[str, Callable[[int, int], bool]] = {
    "a<=b": lambda a, b: a <= b,
    "a<b": lambda a, b: a < b,
    "all": lambda a, b: True,
}


@TASKS.register("modular")
@dataclass(frozen=True)
class ModularArithmetic:
    """c = op(a, b) mod p on token pairs (a, b), 0 <= a, b < p (paper §3.1).

    The split follows the authors' ``gen_train_test``: the pair list is shuffled by Python's
    ``random`` seeded with the run seed and the first ``int(train_fraction * N)`` pairs train, so
    different seeds also give different splits.
    """

    name: ClassVar[str] = "modular"
    op: str = "add"
    p: int = 67
    train_fraction: float = 0.4
    pairs: str = "a<=b"

    def __post_init__(self):
        if self.op not in MODULAR_OPS:
            raise ValueError(f"unknown modular op {self.op!r}; valid: {', '.join(MODULAR_OPS)}")
        if not isinstance(self.p, int) or self.p < 2:
            raise ValueError(f"modulus p must be an integer >= 2, got {self.p!r}")
        _check_fraction("train_fraction", self.train_fraction)
        if self.pairs not in PAIR_SETS:
            raise ValueError(f"unknown pair set {self.pairs!r}; valid: {', '.join(PAIR_SETS)}")

    def all_pairs(self) -> list[tuple[int, int]]:
        keep = PAIR_SETS[self.pairs]
        return [(a, b) for a in range(self.p) for b in range(self.p) if keep(a, b)]

    def split(self, seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        pairs = self.all_pairs()
        random.Random(seed).shuffle(pairs)
        cut = int(self.train_fraction * len(pairs))
        if cut == 0 or cut == len(pairs):
            raise ValueError(f"train_fraction {self.train_fraction} leaves an empty split of "
                             f"{len(pairs)} pairs")
        return pairs[:cut], pairs[cut:]

    def _encode(self, pairs: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        op = MODULAR_OPS[self.op]
        tokens = torch.tensor(pairs, dtype=torch.long)
        x = torch.nn.functional.one_hot(tokens, self.p).float()  # [N, 2, p]
        y = torch.tensor([op(a, b) % self.p for a, b in pairs], dtype=torch.long)
        return x, y

    def build(self, seed: int) -> Dataset:
        train, test = self.split(seed)
        return Dataset(*self._encode(train), *self._encode(test), n_outputs=self.p,
                       loss="cross_entropy")


def make_task(name: str, **params) -> object:
    """Create a task by registered name, e.g. ``make_task("modular", op="add", p=67)``."""
    return TASKS.create(name, **params)
