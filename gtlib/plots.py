"""Shared plot style and helpers; each figure family (`gtlib.figures`) draws its own figure with them.

One colour per role across the book, as in the paper: dense green, ticket blue, each control and
pruner its own (`COLOURS`); train dashed, test solid. Legends use the names in `DISPLAY`, never code
names. In a notebook, once `use_sharp_figures` has run (each family's ``plot`` runs it), figures are
shown at twice their pixel density (sharp on high-density screens) with an alt text that says what
each panel plots (`describe`).
"""
from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .history import RunHistory

try:  # only inside IPython (a notebook, papermill); plain scripts use matplotlib as it is
    from IPython import get_ipython
    from matplotlib_inline.backend_inline import configure_inline_support
except ImportError:  # pragma: no cover - both come with the notebook requirements
    get_ipython = None

COLOURS = {"dense": "tab:green", "ticket": "tab:blue", "L1 control": "tab:orange",
           "L2 control": "tab:red", "random": "tab:gray", "snip": "tab:purple", "grasp": "tab:brown",
           "synflow": "tab:pink", "synflow_tokens": "tab:pink", "magnitude": "tab:olive"}
SPARE_COLOURS = ["tab:cyan", "tab:orange", "tab:purple", "tab:brown", "tab:olive"]  # other names

# How legends and tables name the variants.
DISPLAY = {"dense": "dense", "ticket": "grokked ticket", "L1 control": "L1-norm-matched dense",
           "L2 control": "L2-norm-matched dense", "random": "random pruning", "snip": "SNIP",
           "grasp": "GraSP", "synflow": "SynFlow (100 rounds)",
           "synflow_tokens": "SynFlow (1 round, training inputs)", "magnitude": "magnitude"}


def role_shade(name: str, i: int, n: int) -> tuple:
    """The colour of role ``name`` (dense green, ticket blue) for group ``i`` of ``n`` (for example
    one of several operations): a shade of the role's colour map, so the role stays readable."""
    if n == 1:
        return COLOURS[name]
    return plt.get_cmap({"dense": "Greens", "ticket": "Blues"}[name])(0.45 + 0.5 * i / (n - 1))


def display(name: str) -> str:
    return DISPLAY.get(name, name)


def colour(name: str, i: int = 0) -> str:
    return COLOURS.get(name, SPARE_COLOURS[i % len(SPARE_COLOURS)])


def setting(run, scale: str | None = None) -> str:
    """A title fragment naming what a run trained: ``(a + b) mod 67, MLP, paper scale``."""
    cfg = run.config
    task = cfg.task.name + (f" ({cfg.task.op})" if getattr(cfg.task, "op", "add") != "add" else "")
    return f"{task}, {cfg.model.name}" + (f", {scale} scale" if scale else "")


def _mark_time(ax, step: int | None, colour: str, label: str, y: float) -> None:
    if step is None:
        return
    ax.axvline(step, color=colour, linestyle=":", linewidth=1)
    ax.annotate(label, (step, y), xycoords=("data", "axes fraction"), xytext=(3, 0),
                textcoords="offset points", color=colour, fontsize=8, va="center")


def train_test_curves(histories: dict[str, RunHistory], *, title: str = "", log_x: bool = False,
                      mark_times: bool = True, ax=None, losses: bool = False):
    """Train (dashed) and test (solid) accuracy of each run, with t_mem and t_gen marked and the
    threshold they use drawn; losses on a log scale instead with ``losses`` (as Figure 11) and for
    regression, which has no accuracy."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    regression = any(h.is_regression for h in histories.values())
    loss = losses or regression
    kind = "loss" if loss else "acc"
    for i, (name, h) in enumerate(histories.items()):
        c = colour(name.split()[0] if name.startswith("ticket ") else name, i)
        ax.plot(h.steps, h[f"train_{kind}"], "--", color=c, label=f"{display(name)} train")
        ax.plot(h.steps, h[f"test_{kind}"], "-", color=c, label=f"{display(name)} test")
        if mark_times:
            _mark_time(ax, h.t_mem, c, "$t_{mem}$", 0.08 + 0.12 * i)
            _mark_time(ax, h.t_gen, c, "$t_{gen}$", 0.5 + 0.12 * i)
    if log_x:
        ax.set_xscale("symlog", linthresh=10)
    if loss:
        ax.set_yscale("log")
        ax.set_ylabel("loss (MSE)" if regression else "loss")
    else:
        threshold = next(iter(histories.values())).threshold
        ax.axhline(threshold, color="grey", linewidth=0.5)
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step (= epoch, full batch)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return ax


def _mean_band(histories: list[RunHistory], metric: str):
    """Mean and min/max over runs logged at the same steps."""
    values = np.stack([h[metric] for h in histories])
    return histories[0].steps, values.mean(0), values.min(0), values.max(0)


def band(ax, histories: list[RunHistory], metric: str, style: str, colour, label: str) -> None:
    """The mean of ``metric`` over runs, with a min-max band when there are several."""
    steps, mean, low, high = _mean_band(histories, metric)
    ax.plot(steps, mean, style, color=colour, label=label)
    if len(histories) > 1:
        ax.fill_between(steps, low, high, color=colour, alpha=0.15, linewidth=0)


def finish(ax, metric: str, title: str, log_x: bool = False, log_y: bool = False,
           threshold: float | None = None) -> None:
    """Axis scales, limits, labels and the accuracy threshold shared by every curve plot."""
    if log_x:
        ax.set_xscale("symlog", linthresh=10)
    if log_y:
        ax.set_yscale("log")
    if metric.endswith("acc"):
        ax.set_ylim(-0.02, 1.02)
        if threshold is not None:
            ax.axhline(threshold, color="grey", linewidth=0.5)
    ax.set_xlabel("step (= epoch, full batch)")
    ax.set_ylabel(metric.replace("_", " ").replace("acc", "accuracy"))
    ax.set_title(title)
    ax.legend(fontsize=8)


def variant_curves(variants: dict, metric: str, *, title: str = "", log_x: bool = False, ax=None):
    """One curve per variant (mean over seeds, min-max band): e.g. test accuracy of the dense run,
    the ticket and its controls. ``variants``: name -> runs."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for i, (name, runs) in enumerate(variants.items()):
        band(ax, [r.history for r in runs], metric, "-", colour(name, i), display(name))
    threshold = next(iter(variants.values()))[0].history.threshold
    finish(ax, metric, title, log_x, threshold=threshold)
    return ax


def coloured(ax, runs: dict, metric: str, label: str, log_x: bool = True) -> None:
    """One curve per run of a sweep, coloured along the swept value. ``runs``: value -> run."""
    cmap = plt.get_cmap("viridis")
    for i, (value, run) in enumerate(runs.items()):
        ax.plot(run.history.steps, run.history[metric], color=cmap(i / max(len(runs) - 1, 1)),
                label=f"{label} {value:g}")
    threshold = next(iter(runs.values())).history.threshold
    finish(ax, metric, "", log_x, threshold=threshold)
    ax.legend(fontsize=7, ncol=2)


# ---------------------------------------------------------------------------------------------
# How figures reach a notebook page

def describe(fig: Figure) -> str:
    """Alt text for a figure: per panel its title, axes and the curves its legend names."""
    parts = []
    for ax in fig.axes:
        if not ax.get_visible() or not (ax.lines or ax.images or ax.collections or ax.patches):
            continue
        text = ax.get_title() or "panel"
        axes = [label for label in (ax.get_xlabel(), ax.get_ylabel()) if label]
        if axes:
            text += f" ({' against '.join(reversed(axes))})"
        legend = ax.get_legend()
        if legend is not None:
            names = [t.get_text() for t in legend.get_texts()]
            text += ": " + ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        parts.append(text)
    title = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    body = "; ".join(dict.fromkeys(parts)) or "a figure"
    return f"{title}. {body}" if title else body[0].upper() + body[1:]


def _retina_png(fig: Figure):
    """PNG at twice the pixel density, shown at the figure's size, with its alt text (IPython
    formatters may return data and metadata; `book/execute.py` gives the alt text to the page)."""
    buffer = io.BytesIO()
    dpi = 2 * fig.dpi
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    width, height = plt.imread(io.BytesIO(buffer.getvalue())).shape[1::-1]
    return buffer.getvalue(), {"width": width // 2, "height": height // 2, "alt": describe(fig)}


def use_sharp_figures() -> None:
    """In IPython with the inline backend, show matplotlib figures as PNG at 2x with alt text;
    elsewhere nothing. Every figure family's ``plot`` calls it first; calling it again does nothing."""
    shell = get_ipython() if get_ipython is not None else None
    backend = plt.get_backend()
    if shell is None or "inline" not in backend:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    if formatter.type_printers.get(Figure) is _retina_png:
        return
    configure_inline_support(shell, backend)  # now, once: later calls keep the formatter below
    formatter.for_type(Figure, _retina_png)
