"""Figure 1: the dense network groks; its grokked ticket generalises without the delay (paper §1,
§3.2).

The grokked ticket keeps the ``1 - sparsity`` largest-magnitude weights of the dense run's
checkpoint at ``mask_step`` (default: its last step, after generalisation), rewound to θ0 and
retrained with the same split and recipe, the mask fixed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import matplotlib.pyplot as plt

from .. import plots
from ..claims import DELAY, FAR_BELOW, Check, above, below, fmt, slug
from ..config import derive
from ..params import FamilyParams
from ..presets import dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig1_grokked_ticket.ipynb"
UNCHECKED = {}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig1_grokked_ticket.ipynb`` (its cell tagged ``parameters`` says what
    each means); ``notebooks/own_task.ipynb`` gives another task, figure and title."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    model_params: dict = field(default_factory=dict)
    seed: int = 0
    sparsity: float = 0.6
    mask_step: int | None = None
    ticket_weight_decay: float | None = None
    figure: str = "Fig 1"
    title: str = "Figure 1"


@dataclass(frozen=True)
class Result:
    """The dense run and its grokked ticket."""

    dense: Run
    ticket: Run

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": [self.dense], "ticket": [self.ticket]}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run and its grokked ticket, trained where missing. The ticket retrains with weight
    decay ``ticket_weight_decay`` if given (Fig 17b: 0)."""
    dense = dense_config(params.task, params.model, scale=params.scale, seed=params.seed,
                         task_params=params.task_params, model_params=params.model_params)
    changes = {}
    if params.ticket_weight_decay is not None:
        changes["optim"] = dataclasses.replace(dense.optim, weight_decay=params.ticket_weight_decay)
    # The ticket keeps θ0 and its last weights (the explorer shows its neurons), not the dense run's
    # schedule: no analysis reads its intermediate checkpoints.
    ticket = derive(dense, sparsity=params.sparsity, step=params.mask_step, checkpoint_every=None, **changes)
    done = run_many([dense, ticket], store, device=device, progress=progress)
    return Result(*done)


def checks(result: Result, params: Params) -> list[Check]:
    """The dense model groks late; the grokked ticket generalises almost as soon as it fits."""
    return history_checks(result.dense.history, result.ticket.history, params.figure)


def history_checks(dense, ticket, figure: str = "Fig 1") -> list[Check]:
    """The Figure 1 checks on two histories (the dense run's and the ticket's)."""
    f = slug(figure)
    if dense.is_regression:
        fit = Check(f"{f}.fits", figure, "Both networks fit the training set", "both fit",
                    "train loss below the task's loss threshold",
                    f"t_mem = {fmt(dense.t_mem)} and {fmt(ticket.t_mem)}",
                    dense.t_mem is not None and ticket.t_mem is not None)
    else:
        finals = (float(dense["train_acc"][-1]), float(ticket["train_acc"][-1]))
        fit = Check(f"{f}.fits", figure, "Both networks reach 100 % training accuracy",
                    "1.00 and 1.00", "final train accuracy = 1 for both (every training example)",
                    f"{finals[0]:.3f} and {finals[1]:.3f}", min(finals) == 1.0)
    tau = dense.tau_grok
    ratio = None if dense.t_gen is None or ticket.t_gen is None else ticket.t_gen / dense.t_gen
    return [fit, Check(
        f"{f}.dense_groks", figure, "The dense network groks: it generalises long after it memorises",
        "t_mem < 2k, t_gen ≈ 25k (Fig 1)", f"τ_grok = t_gen / t_mem > {DELAY}",
        f"t_mem = {fmt(dense.t_mem)}, t_gen = {fmt(dense.t_gen)}, τ_grok = {fmt(tau)}",
        tau is not None and tau > DELAY, above(tau, DELAY)), Check(
        f"{f}.ticket_far_faster", figure, "The ticket's t_gen is far below the dense network's",
        "≈ 2-3k vs ≈ 25k, ratio ≈ 0.1 (Fig 1)", f"t_gen(ticket) / t_gen(dense) ≤ {FAR_BELOW}",
        f"{fmt(ticket.t_gen)} vs {fmt(dense.t_gen)}, ratio {fmt(ratio)}",
        ratio is not None and ratio <= FAR_BELOW, below(ratio, FAR_BELOW)), Check(
        f"{f}.ticket_tau_lower", figure, "The ticket's τ_grok is below the dense network's",
        "smaller (Fig 1, Fig 3a)", "τ_grok(ticket) < τ_grok(dense)",
        f"{fmt(ticket.tau_grok)} vs {fmt(tau)}",
        ticket.tau_grok is not None and tau is not None and ticket.tau_grok < tau,
        None if ticket.tau_grok is None or tau is None else below(ticket.tau_grok, tau))]


def plot(result: Result, params: Params):
    """Train and test accuracy of the dense run and its grokked ticket, t_mem and t_gen marked, on a
    linear step axis (upper panel, as the paper) and on a log step axis (lower panel, which shows the
    early steps)."""
    plots.use_sharp_figures()
    histories = {"dense": result.dense.history, "ticket": result.ticket.history}
    fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), constrained_layout=True)
    plots.train_test_curves(histories, title=f"{params.title}: {plots.setting(result.dense, params.scale)}",
                            ax=axes[0])
    plots.train_test_curves(histories, title="the same, log step axis", log_x=True, mark_times=False,
                            ax=axes[1])
    return fig
