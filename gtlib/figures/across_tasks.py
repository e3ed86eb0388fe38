"""Figures 2, 10 and 11: the grokked ticket shortens the delay whatever the task and the model
(paper §3.2, App B, App C).

A *group* is one task, or one modular operation (Fig 2c); each group has a dense run and its grokked
ticket (sparsity 0.6, mask from the dense run's last step) per seed. Every claim is stated per group
and per seed, the ticket against the dense run of its own seed, and decided over the seeds
(`gtlib.claims`). Figure 11 makes the same comparison on the losses.

Symbols (paper §3.1): t_mem and t_gen are the first logged steps whose train and test accuracy exceed
the task's threshold P (95 %; for regression, whose train and test loss fall below
`LOSS_THRESHOLD`); τ_grok = t_gen / t_mem.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from .. import blocks, claims, plots
from ..claims import DELAY, Claim, Interval, Rule, fmt, slug
from ..config import derive
from ..metrics import LOSS_THRESHOLD, first_step_below
from ..params import FamilyParams
from ..presets import check_scale, dense_config
from ..runs import run_many
from ..store import Run, Store
from .grokked_ticket import delay

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


def checks(result: Result, params: Params) -> list[Claim]:
    """For every group the dense network groks and the ticket generalises earlier, each claim per
    seed with the ticket paired with the dense run of its own seed (a run that never gets there is
    censored, `gtlib.claims`). Figure 2a also: the ticket generalises about when the dense network
    fits. With ``curves="loss"`` (Figure 11): the ticket's train and test losses approach zero
    before the dense network's."""
    out = []
    for name, group in result.groups.items():
        dense = [r.history for r in group.dense]
        ticket = [r.history for r in group.ticket]
        if params.curves == "loss":
            out += loss_claims(name, dense, ticket, params.seeds, params.figure)
        else:
            out += time_claims(name, dense, ticket, params.seeds, params.figure)
    return out


def _paired(dense: list, ticket: list, seeds) -> list[tuple]:
    """(dense, ticket) per seed, refusing a group whose runs and seeds do not match one to one."""
    if not len(dense) == len(ticket) == len(seeds):
        raise ValueError(f"one dense run and one ticket per seed: {len(dense)} dense runs, "
                         f"{len(ticket)} tickets, {len(seeds)} seeds")
    return list(zip(dense, ticket))


def _per_seed(seeds, pairs, fn) -> str:
    """``seed 0 …; seed 1 …``: what the page adds beside a statistic (the times behind a ratio)."""
    return "; ".join(f"seed {s} {fn(d, tk)}" for s, (d, tk) in zip(seeds, pairs))


def time_claims(name: str, dense: list, ticket: list, seeds=(0,), figure: str = "Fig 2") -> list[Claim]:
    """The claims of one group on t_mem and t_gen (accuracy above the task's P, or, for regression,
    test loss below `LOSS_THRESHOLD`). Each is decided again at 90 % and 99 % test accuracy, except
    for regression, which has no accuracy."""
    pairs = _paired(dense, ticket, seeds)
    regression = dense[0].is_regression
    g = f"{slug(figure)}.{slug(name)}"
    times_at = (f"t_mem, t_gen: train, test loss below {LOSS_THRESHOLD:g}" if regression
                else f"t_mem, t_gen: train, test accuracy > {100 * dense[0].threshold:.0f} %")

    def over(fn):
        """The claim's values (and, but for regression, others) from ``fn(dense, ticket, threshold)``."""
        return claims.over_seeds(seeds, lambda i, p: fn(*pairs[i], p), thresholds=not regression)

    values, others = over(lambda d, tk, p: delay(d, p))
    out = [Claim(
        f"{g}.dense_groks", figure, f"{name}: the dense network generalises long after it fits",
        "a delay (curves only)", Rule(f"τ_grok(dense) = t_gen / t_mem ({times_at})", ">", DELAY, "time"),
        values, "t_mem / t_gen: " + _per_seed(seeds, pairs, lambda d, tk: f"{fmt(d.t_mem)} / {fmt(d.t_gen)}"),
        others)]
    values, others = over(lambda d, tk, p: claims.ratio(claims.gen_time(tk, p), claims.gen_time(d, p)))
    out.append(Claim(
        f"{g}.ticket_earlier", figure, f"{name}: the ticket generalises earlier",
        "ticket earlier (curves only)", Rule(f"t_gen(ticket) / t_gen(dense) ({times_at})", "<", 1, "time"),
        values, "t_gen ticket vs dense: " + _per_seed(seeds, pairs, lambda d, tk: f"{fmt(tk.t_gen)} vs {fmt(d.t_gen)}"),
        others))
    if figure in ("Fig 2", "Fig 2a"):
        # "Rises when the dense network's train accuracy does": on the paper's 30k-step axis,
        # within a tenth of the dense network's grokking time of its t_mem. As a ratio of times,
        # t_gen(ticket) ≤ t_mem(dense) + 0.1 · t_gen(dense) reads as below.
        values, others = over(lambda d, tk, p: claims.ratio(claims.gen_time(tk, p), _fit_window(d, p)))
        out.append(Claim(
            f"{g}.ticket_with_dense_fit", figure,
            f"{name}: the ticket's test accuracy rises when the dense network's train accuracy does",
            "they rise together (Fig 2a)",
            Rule("t_gen(ticket) / (t_mem(dense) + 0.1 · t_gen(dense))", "≤", 1, "time"), values,
            "t_gen(ticket) vs t_mem(dense), t_gen(dense): " + _per_seed(
                seeds, pairs, lambda d, tk: f"{fmt(tk.t_gen)} vs {fmt(d.t_mem)}, {fmt(d.t_gen)}"),
            others))
    return out


def _fit_window(dense, threshold: float | None) -> Interval:
    """t_mem(dense) + 0.1 · t_gen(dense), censored where either never came."""
    mem, gen = claims.mem_time(dense, threshold), claims.gen_time(dense, threshold)
    return Interval(mem.low + 0.1 * gen.low, mem.high + 0.1 * gen.high)


def loss_claims(name: str, dense: list, ticket: list, seeds=(0,), figure: str = "Fig 11") -> list[Claim]:
    """Figure 11: per seed, the ticket's train and test losses approach zero before the dense
    network's. "Reach zero faster": the first step each run's loss falls below a level both reach,
    twice the larger of their final losses (cross-entropy never reaches 0, and a fixed level may be
    reached by neither). Not a time to an accuracy threshold: no other thresholds."""
    pairs = _paired(dense, ticket, seeds)
    g = f"{slug(figure)}.{slug(name)}"
    out = []
    for split in ("train", "test"):
        metric = f"{split}_loss"
        times = [_times_to_common_level(d, tk, metric) for d, tk in pairs]
        values = {s: claims.ratio(tk, d) for s, (d, tk) in zip(seeds, times)}
        out.append(Claim(
            f"{g}.ticket_{split}_loss_first", figure, f"{name}: the ticket's {split} loss approaches zero sooner",
            "the ticket's losses reach 0 faster (curves only)",
            Rule(f"t(ticket) / t(dense), t the first step with {split} loss below twice the larger final "
                 f"{split} loss of the two", "<", 1, "time"), values,
            "t ticket vs dense: " + "; ".join(f"seed {s} {tk} vs {d}" for s, (d, tk) in zip(seeds, times))))
    return out


def _times_to_common_level(dense, ticket, metric: str) -> tuple[Interval, Interval]:
    """The first steps at which the dense run's and the ticket's ``metric`` fall below twice the
    larger of their final values (a level both reach; censored at the last step should a loss be
    NaN)."""
    level = 2 * max(float(dense[metric][-1]), float(ticket[metric][-1]))
    return tuple(claims.time(first_step_below(h.steps, h[metric], level), h.steps[-1]) for h in (dense, ticket))


# ---------------------------------------------------------------------------------------------
# What the page says beside the claims

# A dense run whose t_gen comes in the last fifth of its step budget, or never, is "at the budget's
# edge": a longer budget could have moved its times, and with them the claims on it.
EDGE = 0.8


def budget_edge(result: Result) -> dict[str, Run]:
    """The dense runs at the budget's edge (t_gen > `EDGE` · steps, or never), by label."""
    out = {}
    for name, group in result.groups.items():
        for run in group.dense:
            t_gen, budget = run.history.t_gen, run.history.steps[-1]
            if t_gen is None or t_gen > EDGE * budget:
                out[f"{name} dense, seed {run.config.seed}"] = run
    return out


def budget_edge_table(result: Result) -> blocks.Block:
    """`budget_edge` as the page shows it: each such run's t_gen, step budget and final test
    accuracy (test loss for regression), or one line saying there are none."""
    edge = budget_edge(result)
    if not edge:
        line = f"Every dense run generalised before {100 * EDGE:.0f} % of its step budget."
        return blocks.paragraph(blocks.esc(line), line)
    final = "test_loss" if result.first.history.is_regression else "test_acc"
    rows = [{"run": label, "t_gen": fmt(run.history.t_gen), "steps": fmt(int(run.history.steps[-1])),
             f"final {final.replace('_', ' ').replace('acc', 'accuracy')}": f"{float(run.history[final][-1]):.4f}"}
            for label, run in edge.items()]
    return _introduced(f"Dense runs at the edge of their step budget (t_gen later than {100 * EDGE:.0f} % of it, or "
                       "never): a longer budget could move their times, and the claims that rest on them.",
                       blocks.table(rows, numeric=tuple(rows[0])[1:]))


def _introduced(line: str, table: blocks.Block) -> blocks.Block:
    """A table under a line of text that says what it shows."""
    return blocks.Block(blocks.paragraph(blocks.esc(line), line).html + table.html, line + "\n" + table.text)


def n_test_examples(run: Run) -> int:
    """The number of test examples of the run's task: the pairs its split leaves out (modular
    arithmetic), else ``n_test``, else the built data set's."""
    task, seed = run.config.task, run.config.seed
    if hasattr(task, "split"):
        return len(task.split(seed)[1])
    n_test = getattr(task, "n_test", None)
    return n_test if n_test is not None else len(task.build(seed).y_test)


def plateau(result: Result) -> list[dict]:
    """Per group, role and seed: the final and the best test accuracy, and how many test examples
    are still wrong at the last step (of how many)."""
    rows = []
    for name, group in result.groups.items():
        for role in ("dense", "ticket"):
            for run in getattr(group, role):
                acc = run.history["test_acc"]
                n = n_test_examples(run)
                rows.append({"run": f"{name} {role}, seed {run.config.seed}",
                             "final test acc": float(acc[-1]), "best test acc": float(acc.max()),
                             "test examples wrong at the end": round((1 - float(acc[-1])) * n),
                             "test examples": n})
    return rows


def plateau_table(result: Result) -> blocks.Block | None:
    """For the Transformer (Fig 2b, 11b), whose runs at the paper scale level off just above or just
    below 95 % test accuracy, so that t_gen may hang on a handful of test pairs: `plateau` as a
    table. None (shown as nothing) for any other model."""
    if result.first.config.model.name != "transformer":
        return None
    rows = [{**row, "final test acc": f"{row['final test acc']:.4f}", "best test acc": f"{row['best test acc']:.4f}"}
            for row in plateau(result)]
    return _introduced("The Transformer's test accuracy can level off near the 95 % threshold, where t_gen hangs "
                       "on a handful of test pairs: per run, its final and best test accuracy and the test pairs "
                       "still wrong at the last step.",
                       blocks.table(rows, numeric=tuple(rows[0])[1:]))


def curves(result: Result, params: Params) -> str:
    """The page's ``curves``, by default accuracy for classification, loss for regression (which
    has no accuracy)."""
    return params.curves or ("loss" if result.first.history.is_regression else "accuracy")


def plot(result: Result, params: Params):
    """Dense (dashed, green) and ticket (solid, blue), a shade per group (operation): the first
    seed's curve (the paper's figure seed), with a band from the least to the largest value over all
    seeds; the test curve on a linear and a log step axis, then the train curve on a log step axis.
    The title is the page's ``figure``."""
    plots.use_sharp_figures()
    shown = curves(result, params)
    metrics = {"loss": ("test_loss", "train_loss"), "accuracy": ("test_acc", "train_acc")}[shown]
    panels = [(metrics[0], False)] + [(m, True) for m in metrics]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.4 * len(panels)), constrained_layout=True)
    first = result.first
    heading = f"{params.figure}: {plots.setting(first, params.scale)}"
    seeds = params.seeds
    if len(seeds) > 1:
        heading += f", seed {seeds[0]} (band: seeds {', '.join(map(str, seeds))})"
    for ax, (metric, log_x) in zip(axes, panels):
        for i, (name, group) in enumerate(result.groups.items()):
            shade = {role: plots.role_shade(role, i, len(result.groups)) for role in ("dense", "ticket")}
            _first_with_band(ax, group.dense, metric, "--", shade["dense"], f"{name} dense")
            _first_with_band(ax, group.ticket, metric, "-", shade["ticket"], f"{name} grokked ticket")
        plots.finish(ax, metric, heading + (", log step axis" if log_x else ""), log_x,
                     log_y=shown == "loss", threshold=first.history.threshold)
    return fig


def _first_with_band(ax, runs: tuple[Run, ...], metric: str, style: str, colour, label: str) -> None:
    """The first run's ``metric`` as a line and, with several runs (seeds), a pale band from their
    least to their largest value at each logged step."""
    first = runs[0].history
    ax.plot(first.steps, first[metric], style, color=colour, label=label)
    if len(runs) > 1:
        values = np.stack([r.history[metric] for r in runs])
        ax.fill_between(first.steps, values.min(0), values.max(0), color=colour, alpha=0.15, linewidth=0)
