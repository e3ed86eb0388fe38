"""Figure 1: the dense network groks; its grokked ticket generalises without the delay (paper §1,
§3.2).

The grokked ticket keeps the ``1 - sparsity`` largest-magnitude weights of the dense run's
checkpoint at ``mask_step`` (default: its last step, after generalisation), rewound to θ0 and
retrained with the same split and recipe, the mask fixed.
"""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt

from .. import plots
from ..claims import DELAY, FAR_BELOW, Check, above, below, fmt, slug
from ..config import derive
from ..presets import as_kind, dense_config
from ..runs import run_many
from ..store import Run, Store

UNCHECKED = {}


def runs(scale: str = "quick", task: str = "modular", model: str | None = None, *, seed: int = 0,
         sparsity: float = 0.6, mask_step: int | None = None,
         ticket_weight_decay: float | None = None, task_params: dict | None = None,
         model_params: dict | None = None, checkpoint_every: int | None | str = "preset",
         device: str = "auto", store: Store | None = None, progress: bool = True) -> dict[str, list[Run]]:
    """The dense run and its grokked ticket: ``{"dense": [run], "ticket": [run]}``.

    The ticket retrains with weight decay ``ticket_weight_decay`` if given (Fig 17b: 0).
    ``checkpoint_every`` (default: the scale's) only changes which weights are kept on disk.
    """
    keep = {} if checkpoint_every == "preset" else {"checkpoint_every": checkpoint_every}
    dense = dense_config(task, model, scale=scale, seed=seed, task_params=as_kind("task_params", task_params, dict),
                         model_params=as_kind("model_params", model_params, dict), **keep)
    changes = {}
    if ticket_weight_decay is not None:
        changes["optim"] = dataclasses.replace(dense.optim, weight_decay=ticket_weight_decay)
    # The ticket keeps θ0 and its last weights (the explorer shows its neurons), not the dense run's
    # schedule: no analysis reads its intermediate checkpoints.
    ticket = derive(dense, sparsity=sparsity, step=mask_step, checkpoint_every=None, **changes)
    done = run_many([dense, ticket], store, device=device, progress=progress)
    return {"dense": [done[0]], "ticket": [done[1]]}


def checks(runs: dict[str, list[Run]], figure: str = "Fig 1") -> list[Check]:
    """The dense model groks late; the grokked ticket generalises almost as soon as it fits."""
    return history_checks(runs["dense"][0].history, runs["ticket"][0].history, figure)


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


def plot(runs: dict[str, list[Run]], scale: str | None = None, title: str = "Figure 1"):
    """Train and test accuracy of the dense run and its grokked ticket, t_mem and t_gen marked, on a
    linear step axis (upper panel, as the paper) and on a log step axis (lower panel, which shows the
    early steps)."""
    plots.use_sharp_figures()
    histories = {name: group[0].history for name, group in runs.items()}
    fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), constrained_layout=True)
    plots.train_test_curves(histories, title=f"{title}: {plots.setting(runs['dense'][0], scale)}",
                            ax=axes[0])
    plots.train_test_curves(histories, title="the same, log step axis", log_x=True, mark_times=False,
                            ax=axes[1])
    return fig
