"""The state a training run resumes from, keyed by parameter *name*.

A batch of R runs trains as one computation (`gtlib.runs`), but each run is stored, and resumed, on
its own: `ResumeState.split` gives run r's state as if it had trained alone (a run axis of 1), and
`ResumeState.stack` joins the states of runs resumed from the same step into a batch's. Everything is
keyed by name (the model's parameters, AdamW's per-parameter tensors, the history's series), so a new
parameter, optimiser tensor or probe is carried along or refused by name, never silently misplaced
by position. On disk it is a plain dict of tensors and lists (`as_dict` / `from_dict`), loaded with
``weights_only=True``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ResumeState:
    """Training state after ``step`` updates.

    ``weights``: parameter name -> tensor [R, ...]; ``optimizer``: parameter name -> AdamW's
    tensors (``step`` per run-batch, ``exp_avg`` and ``exp_avg_sq`` [R, ...]); ``history``: the
    logged steps and, per series, one row of R values per logged step (`gtlib.history.History`).
    """

    step: int
    weights: dict[str, torch.Tensor]
    optimizer: dict[str, dict[str, torch.Tensor]]
    history_steps: list[int]
    history_series: dict[str, list[list[float]]]

    def split(self, r: int) -> "ResumeState":
        """Run r's state, shaped as if it had trained alone. Copies: saving a view would write the
        whole batch's storage into each run's file."""
        def one(t: torch.Tensor) -> torch.Tensor:
            return t[r:r + 1].detach().cpu().clone() if t.dim() else t.detach().cpu().clone()

        return ResumeState(self.step, {n: one(w) for n, w in self.weights.items()},
                           {n: {k: one(v) for k, v in s.items()} for n, s in self.optimizer.items()},
                           list(self.history_steps),
                           {k: [row[r:r + 1] for row in rows] for k, rows in self.history_series.items()})

    @staticmethod
    def stack(states: list["ResumeState"], device: torch.device | str = "cpu") -> "ResumeState":
        """The batch state of runs resumed from one step (the inverse of `split`)."""
        first = states[0]
        steps = {s.step for s in states}
        if len(steps) > 1:
            raise ValueError(f"runs resumed from different steps cannot train as one batch: {sorted(steps)}")
        for s in states[1:]:
            if (s.weights.keys() != first.weights.keys() or s.optimizer.keys() != first.optimizer.keys()
                    or s.history_series.keys() != first.history_series.keys()):
                raise ValueError("runs with different parameters or series cannot train as one batch")

        def cat(tensors: list[torch.Tensor]) -> torch.Tensor:
            return (torch.cat(tensors) if tensors[0].dim() else tensors[0]).to(device)

        return ResumeState(
            first.step,
            {n: cat([s.weights[n] for s in states]) for n in first.weights},
            {n: {k: cat([s.optimizer[n][k] for s in states]) for k in first.optimizer[n]}
             for n in first.optimizer},
            list(first.history_steps),
            {k: [sum((s.history_series[k][t] for s in states), []) for t in range(len(rows))]
             for k, rows in first.history_series.items()})

    def as_dict(self) -> dict:
        return {"step": self.step, "weights": self.weights, "optimizer": self.optimizer,
                "history": {"steps": self.history_steps, "series": self.history_series}}

    @classmethod
    def from_dict(cls, data: dict) -> "ResumeState":
        return cls(data["step"], data["weights"], data["optimizer"], data["history"]["steps"],
                   data["history"]["series"])
