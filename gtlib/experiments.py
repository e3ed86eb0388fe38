"""Recipes: the runs behind each figure family, at a chosen scale.

Scales:
- ``paper``: the paper's recipe (SPEC §1.4): AdamW lr 1e-3, weight decay 1, 40 % of the pairs for
  training, 30k full-batch steps for the base run and for the ticket; checkpoints every 2k steps.
- ``quick``: a setting that groks in a few hundred steps, so that CI can show each claim in about a
  minute on a 2-core CPU: lr 1e-2 and 50 % of the pairs for training (the base setting of the
  paper's own edge-popup experiment, SPEC §1.9), 1,500 steps.
Both scales log train and test metrics every 10 steps.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import OptimConfig, RunConfig, derive
from .models import make_model
from .runs import run
from .store import Run, Store
from .tasks import make_task

SCALES = ("quick", "paper")

# scale -> task -> the settings that differ from the library defaults (which are the paper's).
PRESETS: dict[str, dict[str, dict]] = {
    "paper": {
        "modular": {"steps": 30_000, "checkpoint_every": 2_000},
    },
    "quick": {
        "modular": {"steps": 1_500, "checkpoint_every": 500, "task": {"train_fraction": 0.5},
                    "optim": {"lr": 1e-2}},
    },
}


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")


def base_config(task: str = "modular", model: str = "mlp", *, scale: str = "quick", seed: int = 0,
                task_params: dict | None = None, model_params: dict | None = None,
                **changes) -> RunConfig:
    """The dense base run of ``task`` at ``scale``; ``task_params``, ``model_params`` and
    ``changes`` (RunConfig fields) override the preset."""
    _check_scale(scale)
    make_task(task)  # an unknown task name fails here, with the valid names
    preset = dict(PRESETS[scale].get(task, {}))
    task_cfg = make_task(task, **{**preset.pop("task", {}), **(task_params or {})})
    model_cfg = make_model(model, **{**preset.pop("model", {}), **(model_params or {})})
    optim = OptimConfig(**preset.pop("optim", {}))
    return RunConfig(task=task_cfg, model=model_cfg, optim=optim, seed=seed, **{**preset, **changes})


@dataclass
class TicketComparison:
    """A dense base run and the ticket derived from it."""

    base: Run
    ticket: Run

    @property
    def runs(self) -> dict[str, Run]:
        return {"dense": self.base, "ticket": self.ticket}


def grokked_ticket(scale: str = "quick", task: str = "modular", model: str = "mlp", *,
                   seed: int = 0, sparsity: float = 0.6, ticket_step: int | None = None,
                   ticket_weight_decay: float | None = None, device: str = "auto",
                   store: Store | None = None, progress: bool = True,
                   task_params: dict | None = None) -> TicketComparison:
    """Figure 1 / 2a: the dense run and its grokked ticket.

    The ticket keeps the ``1 - sparsity`` largest-magnitude weights of the base run's checkpoint at
    ``ticket_step`` (default: its last step, after generalisation), rewinds them to θ0 and retrains
    with the same split and recipe (weight decay ``ticket_weight_decay`` if given).
    """
    base_cfg = base_config(task, model, scale=scale, seed=seed, task_params=task_params)
    changes = {}
    if ticket_weight_decay is not None:
        changes["optim"] = dataclasses.replace(base_cfg.optim, weight_decay=ticket_weight_decay)
    ticket_cfg = derive(base_cfg, sparsity=sparsity, step=ticket_step, **changes)
    base = run(base_cfg, store, device=device, progress=progress)
    ticket = run(ticket_cfg, store, device=device, progress=progress)
    return TicketComparison(base, ticket)
