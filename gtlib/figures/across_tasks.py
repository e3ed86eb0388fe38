"""Figures 2, 10 and 11: the grokked ticket shortens the delay whatever the task and the model
(paper §3.2, App B, App C).

A *group* is one task, or one modular operation (Fig 2c); each group has a dense run and its grokked
ticket (sparsity 0.6, mask from the dense run's last step) per seed. Figure 11 makes the same
comparison on the losses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt

from .. import plots
from ..claims import DELAY, Check, above, below, fmt, mean_time, slug
from ..config import derive
from ..metrics import LOSS_THRESHOLD, first_step_below
from ..params import FamilyParams
from ..presets import check_scale, dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig2_tasks.ipynb"
CURVES = ("accuracy", "loss")
UNCHECKED = {
    "Fig 2c: the list of operations": "the paper does not name them; we use the authors' 2024 code's",
    "Fig 10c: MNIST test accuracy reaches 95 %": "with 1,000 training images it never does, here "
    "or in Omnigrok; the times use 85 %",
}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig2_tasks.ipynb`` (its cell tagged ``parameters`` says what each
    means). ``figure`` names the claims and the plot."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    model_params: dict = field(default_factory=dict)
    ops: tuple[str, ...] | None = None
    seeds: tuple[int, ...] = (0,)
    sparsity: float = 0.6
    curves: str | None = None
    figure: str = "Fig 2"

    def __post_init__(self):
        super().__post_init__()
        if self.curves not in (None, *CURVES):
            raise ValueError(f"curves must be one of {', '.join(CURVES)} (or None), got {self.curves!r}")
        if self.ops is not None and self.task != "modular":
            raise ValueError(f"ops apply to the modular task only, not {self.task!r}")


@dataclass(frozen=True)
class Group:
    """One task or modular operation: its dense runs and their tickets, one per seed, in the same order."""

    dense: tuple[Run, ...]
    ticket: tuple[Run, ...]


@dataclass(frozen=True)
class Result:
    """Group name (the task, or each modular operation of ``ops``) -> its runs."""

    groups: dict[str, Group]

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {f"{name} {role}": list(getattr(group, role))
                for name, group in self.groups.items() for role in ("dense", "ticket")}

    @property
    def first(self) -> Run:
        """A dense run, for what every run shares: the setting, the kind of task."""
        return next(iter(self.groups.values())).dense[0]


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run and the grokked ticket of every group and seed, trained where missing. Groups
    are the modular operations ``ops`` (Fig 2c) or the task.

    Only θ0 and the last weights are kept on disk. Every configuration is built and validated before
    anything trains.
    """
    check_scale(params.scale)
    ops = params.ops
    groups = {op: {**params.task_params, "op": op} for op in ops} if ops else {params.task: params.task_params}
    plan: dict[str, tuple[list, list]] = {}
    for name, task_params in groups.items():
        dense = [dense_config(params.task, params.model, scale=params.scale, seed=s, task_params=task_params,
                              model_params=params.model_params, checkpoint_every=None) for s in params.seeds]
        plan[name] = (dense, [derive(cfg, sparsity=params.sparsity, checkpoint_every=0)
                              for cfg in dense])  # no analysis reads its weights (benchmarks/store_reads.md)
    every = [c for dense, tickets in plan.values() for c in (*dense, *tickets)]
    done = dict(zip(every, run_many(every, store, device=device, progress=progress)))
    return Result({name: Group(tuple(done[c] for c in dense), tuple(done[c] for c in tickets))
                   for name, (dense, tickets) in plan.items()})


def checks(result: Result, params: Params) -> list[Check]:
    """For every group the dense network groks and the ticket generalises earlier (times are means
    over seeds; a run that never gets there makes its mean "never"). Figure 2a also: the ticket
    generalises about when the dense network fits. With ``curves="loss"`` (Figure 11): the
    ticket's train and test losses approach zero before the dense network's."""
    figure, f = params.figure, slug(params.figure)
    out = []
    for name, group in result.groups.items():
        dense = [r.history for r in group.dense]
        ticket = [r.history for r in group.ticket]
        seeds = f" (mean of {len(dense)} seeds)" if len(dense) > 1 else ""
        g = f"{f}.{slug(name)}"
        if params.curves == "loss":
            # "Reach zero faster": the first step each run's loss falls below a level both reach,
            # twice the larger of their final losses (cross-entropy never reaches 0, and a fixed
            # level may be reached by neither).
            for split in ("train", "test"):
                times = [_times_to_common_level(d, t, f"{split}_loss") for d, t in zip(dense, ticket)]
                t_dense = sum(d for d, _ in times) / len(times)
                t_ticket = sum(t for _, t in times) / len(times)
                out.append(Check(
                    f"{g}.ticket_{split}_loss_first", figure,
                    f"{name}: the ticket's {split} loss approaches zero sooner",
                    "the ticket's losses reach 0 faster (curves only)",
                    f"first step with {split} loss below twice the larger final {split} loss of the "
                    "two: ticket < dense", f"{fmt(t_ticket)} vs {fmt(t_dense)}{seeds}",
                    t_ticket < t_dense, below(t_ticket, t_dense)))
            continue
        d_mem, d_gen = mean_time(dense, "t_mem"), mean_time(dense, "t_gen")
        t_gen = mean_time(ticket, "t_gen")
        kind = f"test loss below {LOSS_THRESHOLD:g}" if dense[0].is_regression else \
            f"test accuracy > {dense[0].threshold:.0%}"
        delay = None if d_mem is None or d_gen is None else d_gen / max(d_mem, 1)
        out.append(Check(
            f"{g}.dense_groks", figure, f"{name}: the dense network generalises long after it fits",
            "a delay (curves only)", f"t_gen > {DELAY} · t_mem",
            f"t_mem = {fmt(d_mem)}, t_gen = {fmt(d_gen)}{seeds}",
            delay is not None and delay > DELAY, above(delay, DELAY)))
        out.append(Check(
            f"{g}.ticket_earlier", figure, f"{name}: the ticket generalises earlier",
            "ticket earlier (curves only)", f"t_gen(ticket) < t_gen(dense), t_gen at {kind}",
            f"{fmt(t_gen)} vs {fmt(d_gen)}{seeds}",
            t_gen is not None and (d_gen is None or t_gen < d_gen),
            None if t_gen is None else (1.0 if d_gen is None else below(t_gen, d_gen))))
        if figure in ("Fig 2", "Fig 2a") and d_mem is not None and d_gen is not None:
            # "Rises when the dense network's train accuracy does": on the paper's 30k-step axis,
            # within a tenth of the dense network's grokking time of its t_mem.
            lag = None if t_gen is None else t_gen - d_mem
            out.append(Check(
                f"{g}.ticket_with_dense_fit", figure,
                f"{name}: the ticket's test accuracy rises when the dense network's train accuracy does",
                "they rise together (Fig 2a)", "t_gen(ticket) − t_mem(dense) ≤ 0.1 · t_gen(dense)",
                f"{fmt(t_gen)} − {fmt(d_mem)} = {fmt(lag)} vs 0.1 × {fmt(d_gen)}{seeds}",
                lag is not None and lag <= 0.1 * d_gen, None if lag is None else below(lag, 0.1 * d_gen)))
    return out


def _times_to_common_level(dense, ticket, metric: str) -> tuple[int, int]:
    """The first steps at which the dense run's and the ticket's ``metric`` fall below twice the
    larger of their final values (a level both reach)."""
    level = 2 * max(float(dense[metric][-1]), float(ticket[metric][-1]))
    return (first_step_below(dense.steps, dense[metric], level),
            first_step_below(ticket.steps, ticket[metric], level))


def curves(result: Result, params: Params) -> str:
    """The page's ``curves``, by default accuracy for classification, loss for regression (which
    has no accuracy)."""
    return params.curves or ("loss" if result.first.history.is_regression else "accuracy")


def plot(result: Result, params: Params):
    """Dense (dashed, green) and ticket (solid, blue), a shade per group (operation), mean over seeds
    with a min-max band:
    the test curve on a linear and a log step axis, then the train curve on a log step axis.
    The title is the page's ``figure``."""
    plots.use_sharp_figures()
    shown = curves(result, params)
    metrics = {"loss": ("test_loss", "train_loss"), "accuracy": ("test_acc", "train_acc")}[shown]
    panels = [(metrics[0], False)] + [(m, True) for m in metrics]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.4 * len(panels)), constrained_layout=True)
    first = result.first
    heading = f"{params.figure}: {plots.setting(first, params.scale)}"
    for ax, (metric, log_x) in zip(axes, panels):
        for i, (name, group) in enumerate(result.groups.items()):
            shade = {role: plots.role_shade(role, i, len(result.groups)) for role in ("dense", "ticket")}
            plots.band(ax, [r.history for r in group.dense], metric, "--", shade["dense"], f"{name} dense")
            plots.band(ax, [r.history for r in group.ticket], metric, "-", shade["ticket"],
                       f"{name} grokked ticket")
        plots.finish(ax, metric, heading + (", log step axis" if log_x else ""), log_x,
                     log_y=shown == "loss", threshold=first.history.threshold)
    return fig
