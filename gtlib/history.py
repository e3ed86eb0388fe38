"""Logged metrics of training runs, and the paper's times derived from them.

Paper §3.1, with the threshold P (95 % for modular arithmetic):
- t_mem, the first logged step whose *train* accuracy exceeds P;
- t_gen, the first logged step whose *test* accuracy exceeds P;
- τ_grok = t_gen / t_mem, the delay of generalisation relative to memorisation.
For regression, which has no accuracy, the same times use the loss (`metrics.LOSS_THRESHOLD`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import metrics

# The names of the series in a History, in the order the loop writes them.
SERIES = ("train_loss", "train_acc", "test_loss", "test_acc", "l1", "l2")


@dataclass
class History:
    """Logged metrics: ``steps`` [T] and each series [T, R] (R runs trained together).

    Besides `SERIES`, probes add series of their own (see `gtlib.probes`).

    ``l1`` and ``l2`` are the global norms of the effective (masked) weights θ ⊙ m.
    """

    steps: list[int] = field(default_factory=list)
    series: dict[str, list[list[float]]] = field(default_factory=lambda: {k: [] for k in SERIES})

    def append(self, step: int, values: dict[str, torch.Tensor]) -> None:
        """Log ``values`` (name -> [R]): the standard series and any probe's."""
        self.steps.append(step)
        for k, v in values.items():
            self.series.setdefault(k, []).append(v.tolist())

    def run(self, r: int) -> "RunHistory":
        """The history of run r alone."""
        return RunHistory(np.array(self.steps), {k: np.array(v)[:, r] for k, v in self.series.items()})

    def state(self) -> dict:
        return {"steps": list(self.steps), "series": {k: [list(row) for row in v]
                                                       for k, v in self.series.items()}}


@dataclass
class RunHistory:
    """One run's logged metrics as numpy arrays, with the paper's derived times."""

    steps: np.ndarray
    series: dict[str, np.ndarray]
    threshold: float = metrics.THRESHOLD  # accuracy above which a step counts (the task's P)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.series[name]

    @property
    def is_regression(self) -> bool:
        return bool(np.all(np.isnan(self.series["train_acc"])))

    @property
    def t_mem(self) -> int | None:
        """First logged step with train accuracy > 95 %; for regression, with train loss below
        `metrics.LOSS_THRESHOLD`."""
        if self.is_regression:
            return metrics.loss_time(self.steps, self.series["train_loss"])
        return metrics.first_step_above(self.steps, self.series["train_acc"], self.threshold)

    @property
    def t_gen(self) -> int | None:
        """As `t_mem`, on the test set."""
        if self.is_regression:
            return metrics.loss_time(self.steps, self.series["test_loss"])
        return metrics.first_step_above(self.steps, self.series["test_acc"], self.threshold)

    @property
    def tau_grok(self) -> float | None:
        return metrics.tau_grok(self.t_mem, self.t_gen)
