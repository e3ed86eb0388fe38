"""One function per figure; matplotlib only. Colours follow the paper: dense base green, ticket blue;
train dashed, test solid."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .train import RunHistory

COLOURS = {"dense": "tab:green", "ticket": "tab:blue", "L1 control": "tab:orange",
           "L2 control": "tab:red", "random": "tab:gray", "snip": "tab:purple", "grasp": "tab:brown",
           "synflow": "tab:pink", "synflow_tokens": "tab:pink", "magnitude": "tab:olive"}
SPARE_COLOURS = ["tab:cyan", "tab:orange", "tab:purple", "tab:brown", "tab:olive"]  # other names


def _mark_time(ax, step: int | None, colour: str, label: str, y: float) -> None:
    if step is None:
        return
    ax.axvline(step, color=colour, linestyle=":", linewidth=1)
    ax.annotate(label, (step, y), xycoords=("data", "axes fraction"), xytext=(3, 0),
                textcoords="offset points", color=colour, fontsize=8, va="center")


def train_test_curves(histories: dict[str, RunHistory], *, title: str = "", log_x: bool = False,
                      mark_times: bool = True, ax=None):
    """Train (dashed) and test (solid) accuracy of each run, with t_mem and t_gen marked; losses on a
    log scale for regression, which has no accuracy."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    loss = any(h.is_regression for h in histories.values())
    kind = "loss" if loss else "acc"
    for i, (name, h) in enumerate(histories.items()):
        colour = COLOURS.get(name, SPARE_COLOURS[i % len(SPARE_COLOURS)])
        ax.plot(h.steps, h[f"train_{kind}"], "--", color=colour, label=f"{name} train")
        ax.plot(h.steps, h[f"test_{kind}"], "-", color=colour, label=f"{name} test")
        if mark_times:
            _mark_time(ax, h.t_mem, colour, "$t_{mem}$", 0.08 + 0.12 * i)
            _mark_time(ax, h.t_gen, colour, "$t_{gen}$", 0.5 + 0.12 * i)
    if log_x:
        ax.set_xscale("symlog", linthresh=10)
    if loss:
        ax.set_yscale("log")
        ax.set_ylabel("loss (MSE)")
    else:
        ax.axhline(0.95, color="grey", linewidth=0.5)
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step (= epoch, full batch)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return ax


def figure1(histories: dict[str, RunHistory], title: str = "Dense network vs grokked ticket"):
    """Figure 1 (left) / 2a: train and test accuracy of the dense base run and its grokked ticket,
    on a linear step axis (as the paper) and on a log axis (which shows the early steps)."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), constrained_layout=True)
    train_test_curves(histories, title=title, ax=axes[0])
    train_test_curves(histories, title="same, log step axis", log_x=True, mark_times=False, ax=axes[1])
    return fig


def _mean_band(histories: list[RunHistory], metric: str):
    """Mean and min/max over runs logged at the same steps."""
    values = np.stack([h[metric] for h in histories])
    return histories[0].steps, values.mean(0), values.min(0), values.max(0)


def _band(ax, histories: list[RunHistory], metric: str, style: str, colour, label: str) -> None:
    """The mean of ``metric`` over runs, with a min-max band when there are several."""
    steps, mean, low, high = _mean_band(histories, metric)
    ax.plot(steps, mean, style, color=colour, label=label)
    if len(histories) > 1:
        ax.fill_between(steps, low, high, color=colour, alpha=0.15, linewidth=0)


def _finish(ax, metric: str, title: str, log_x: bool = False, log_y: bool = False) -> None:
    """Axis scales, limits and labels shared by every curve plot."""
    if log_x:
        ax.set_xscale("symlog", linthresh=10)
    if log_y:
        ax.set_yscale("log")
    if metric.endswith("acc"):
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step (= epoch, full batch)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.legend(fontsize=8)


def comparison_curves(groups: dict, metric: str = "test_acc", *, title: str = "", log_x: bool = False,
                      log_y: bool = False, ax=None):
    """Dense (dashed) and ticket (solid) curves of ``metric``, one colour per group (an operation, a
    task); with several seeds, the mean with a min-max band."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for i, (name, comparisons) in enumerate(groups.items()):
        _band(ax, [c.base.history for c in comparisons], metric, "--", f"C{i}", f"{name} dense")
        _band(ax, [c.ticket.history for c in comparisons], metric, "-", f"C{i}", f"{name} ticket")
    _finish(ax, metric, title, log_x, log_y)
    return ax


def default_curves(groups: dict) -> tuple[str, ...]:
    """Accuracy for classification, loss for regression (which has no accuracy)."""
    regression = any(c.base.history.is_regression for cs in groups.values() for c in cs)
    return ("test_loss", "train_loss") if regression else ("test_acc", "train_acc")


def figure2(groups: dict, metrics, title: str = "", log_y: bool | None = None):
    """The first metric (e.g. test accuracy) on a linear and a log step axis, then each further
    metric (e.g. train accuracy) on a log step axis. ``metrics`` may be "loss" or "accuracy" for test
    then train; losses use a log scale."""
    metrics = {"loss": ("test_loss", "train_loss"), "accuracy": ("test_acc", "train_acc")}.get(
        metrics, metrics)
    log_y = metrics[0].endswith("loss") if log_y is None else log_y
    panels = [(metrics[0], False)] + [(m, True) for m in metrics]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.4 * len(panels)), constrained_layout=True)
    for ax, (metric, log_x) in zip(axes, panels):
        comparison_curves(groups, metric, title=title + (", log step axis" if log_x else ""),
                          log_x=log_x, log_y=log_y, ax=ax)
    return fig


def variant_curves(variants: dict, metric: str, *, title: str = "", log_x: bool = False, ax=None):
    """One curve per variant (mean over seeds, min-max band): e.g. test accuracy of the dense run,
    the ticket and its controls."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for i, (name, runs) in enumerate(variants.items()):
        _band(ax, [r.history for r in runs], metric, "-", COLOURS.get(name, f"C{i}"), name)
    _finish(ax, metric, title, log_x)
    return ax


def figure5(variants: dict, pruners: list[str], title: str = ""):
    """5a: test accuracy of dense, ticket and the norm-matched controls; 5b: test accuracy of the
    ticket against pruning at initialisation; 6: L2 and L1 norms of the effective weights."""
    metric = "test_loss" if any(r.history.is_regression for runs in variants.values() for r in runs) \
        else "test_acc"
    norm_group = {k: variants[k] for k in ("dense", "ticket", "L1 control", "L2 control")}
    pai = {k: variants[k] for k in ("dense", "ticket", *pruners)}
    # Without pruners (the Transformer pages, Fig 13/16) there is no 5b panel.
    fig, axes = plt.subplots(4 if pruners else 3, 1, figsize=(8, 14 if pruners else 10.5),
                             constrained_layout=True)
    variant_curves(norm_group, metric, title=f"(5a) weight norm is not the cause {title}", log_x=True,
                   ax=axes[0])
    if pruners:
        variant_curves(pai, metric, title=f"(5b) sparsity is not the cause {title}", log_x=True,
                       ax=axes[1])
    variant_curves(norm_group, "l2", title="(6, left) L2 norm of θ ⊙ m", ax=axes[-2])
    variant_curves(norm_group, "l1", title="(6, right) L1 norm of θ ⊙ m", ax=axes[-1])
    if metric.endswith("loss"):
        for ax in axes[:-2]:
            ax.set_yscale("log")
    return fig


def _coloured(ax, runs: dict, metric: str, label: str, log_x: bool = True):
    """One curve per run of a sweep, coloured along the swept value."""
    cmap = plt.get_cmap("viridis")
    for i, (value, run) in enumerate(runs.items()):
        ax.plot(run.history.steps, run.history[metric], color=cmap(i / max(len(runs) - 1, 1)),
                label=f"{label} {value:g}")
    _finish(ax, metric, "", log_x)
    ax.legend(fontsize=7, ncol=2)


def sparsity_figure(runs: dict, title: str = ""):
    """Figure 3 / 4b / 17: τ_grok and final test accuracy against sparsity (0 = the dense network),
    then test and train accuracy of every sparsity."""
    sparsities = list(runs)
    taus = [runs[s].history.tau_grok for s in sparsities]
    fig, axes = plt.subplots(4, 1, figsize=(8, 14), constrained_layout=True)
    ax = axes[0]
    ax.plot(sparsities, [np.nan if t is None else t for t in taus], "o-", color="tab:blue")
    never = [s for s, t in zip(sparsities, taus) if t is None]
    if never:  # no τ_grok: marked along the top edge
        ax.plot(never, [0.97] * len(never), "x", color="tab:red", transform=ax.get_xaxis_transform(),
                label="never reaches the threshold")
        ax.legend(fontsize=8, loc="lower left")
    ax.set_yscale("log")
    ax.set_xlim(min(sparsities) - 0.05, max(sparsities) + 0.05)
    ax.set_xlabel("sparsity (fraction removed; 0 = dense)")
    ax.set_ylabel("τ_grok = t_gen / t_mem")
    ax.set_title(f"(3a) {title}")
    axes[1].plot(sparsities, [runs[s].history["test_acc"][-1] for s in sparsities], "o-",
                 color="tab:green")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xlabel("sparsity")
    axes[1].set_ylabel("final test accuracy")
    axes[1].set_title("final test accuracy")
    _coloured(axes[2], runs, "test_acc", "sparsity")
    axes[2].set_title("(4b, 17) test accuracy")
    _coloured(axes[3], runs, "train_acc", "sparsity")
    axes[3].set_title("(3b) train accuracy")
    return fig


def ticket_step_figure(base, tickets: dict, title: str = ""):
    """Figure 4a: test accuracy of tickets taken at several steps of the base run, and the base
    run's own test accuracy with the steps marked."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), constrained_layout=True)
    _coloured(axes[0], tickets, "test_acc", "mask at step")
    axes[0].set_title(f"(4a) tickets from different steps {title}")
    h = base.history
    axes[1].plot(h.steps, h["test_acc"], color="tab:green", label="dense test")
    axes[1].plot(h.steps, h["train_acc"], "--", color="tab:green", label="dense train")
    for t in tickets:
        axes[1].axvline(t, color="grey", linestyle=":", linewidth=1)
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("accuracy")
    axes[1].set_title("the base run; dotted: the steps the masks come from")
    axes[1].legend(fontsize=8)
    return fig
