"""One function per figure; matplotlib only. Colours follow the paper: dense base green, ticket blue;
train dashed, test solid."""
from __future__ import annotations

import matplotlib.pyplot as plt

from .train import RunHistory

COLOURS = {"dense": "tab:green", "ticket": "tab:blue"}


def _mark_time(ax, step: int | None, colour: str, label: str, y: float) -> None:
    if step is None:
        return
    ax.axvline(step, color=colour, linestyle=":", linewidth=1)
    ax.annotate(label, (step, y), xytext=(3, 0), textcoords="offset points", color=colour,
                fontsize=8, va="center")


def accuracy_curves(histories: dict[str, RunHistory], *, title: str = "", log_x: bool = False,
                    mark_times: bool = True, ax=None):
    """Train (dashed) and test (solid) accuracy of each run, with t_mem and t_gen marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for i, (name, h) in enumerate(histories.items()):
        colour = COLOURS.get(name, f"C{i}")
        ax.plot(h.steps, h["train_acc"], "--", color=colour, label=f"{name} train")
        ax.plot(h.steps, h["test_acc"], "-", color=colour, label=f"{name} test")
        if mark_times:
            _mark_time(ax, h.t_mem, colour, "$t_{mem}$", 0.08 + 0.12 * i)
            _mark_time(ax, h.t_gen, colour, "$t_{gen}$", 0.5 + 0.12 * i)
    if log_x:
        ax.set_xscale("symlog", linthresh=10)
    ax.axhline(0.95, color="grey", linewidth=0.5)
    ax.set_xlabel("step (= epoch, full batch)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def figure1(histories: dict[str, RunHistory], title: str = "Dense network vs grokked ticket"):
    """Figure 1 (left) / 2a: accuracy of the dense base run and its grokked ticket, on a linear
    step axis (as the paper) and on a log axis (which shows the early steps)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    accuracy_curves(histories, title=title, ax=axes[0])
    accuracy_curves(histories, title="same, log step axis", log_x=True, mark_times=False, ax=axes[1])
    return fig
