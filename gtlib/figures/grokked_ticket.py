"""Figure 1: the dense network groks; its grokked ticket generalises without the delay (paper §1,
§3.2).

The grokked ticket keeps the ``1 - sparsity`` largest-magnitude weights of the dense run's
checkpoint at ``mask_step`` (default: its last step, after generalisation), rewound to θ0 and
retrained with the same split and recipe, the mask fixed. Each seed has its own dense run and its
own ticket (the seed sets θ0 and the train/test split); every claim compares a ticket with the dense
run of its own seed, and is decided over the seeds (`gtlib.claims`).

Symbols (paper §3.1): t_mem and t_gen are the first logged steps whose train and test accuracy exceed
the task's threshold P (95 % for modular arithmetic); τ_grok = t_gen / t_mem.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import matplotlib.pyplot as plt

from .. import claims, plots
from ..claims import DELAY, FAR_BELOW, Claim, Interval, Rule, fmt, slug
from ..config import RunConfig, derive
from ..metrics import LOSS_THRESHOLD
from ..params import FamilyParams
from ..presets import dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig1_grokked_ticket.ipynb"
UNCHECKED = {}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig1_grokked_ticket.ipynb`` (its cell tagged ``parameters`` says what
    each means); ``notebooks/own_task.ipynb`` gives another task, figure and title. The first of
    ``seeds`` is the one the figure shows (the paper's)."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    model_params: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    sparsity: float = 0.6
    mask_step: int | None = None
    ticket_weight_decay: float | None = None
    figure: str = "Fig 1"
    title: str = "Figure 1"

    def __post_init__(self):
        super().__post_init__()
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")


@dataclass(frozen=True)
class Result:
    """The dense run of each seed and its grokked ticket, both in the order of ``Params.seeds``."""

    dense: tuple[Run, ...]
    ticket: tuple[Run, ...]

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": list(self.dense), "ticket": list(self.ticket)}


def ticket_config(params: Params, seed: int) -> RunConfig:
    """The grokked ticket of ``seed``: retrained with weight decay ``ticket_weight_decay`` if given
    (Fig 17b: 0). It keeps no weights: this figure reads its history only, so it is the same run
    as Figure 2a's ticket of that seed (and a stored ticket that kept weights serves it too)."""
    # The preset keeps the dense run's checkpoints, so that an intermediate mask_step names one.
    base = dense_config(params.task, params.model, scale=params.scale, seed=seed,
                        task_params=params.task_params, model_params=params.model_params)
    changes = {}
    if params.ticket_weight_decay is not None:
        changes["optim"] = dataclasses.replace(base.optim, weight_decay=params.ticket_weight_decay)
    return derive(base, sparsity=params.sparsity, step=params.mask_step, checkpoint_every=0, **changes)


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run and the grokked ticket of every seed, trained where missing.

    The dense run shown is the ticket's own parent: with the mask from the last step (the default)
    that is the run keeping θ0 and its last weights only (``checkpoint_every=None``), the parent of
    every ticket and control of its seed. Where a seed also has a dense training that kept a
    checkpoint every 2k steps (the parent of Figure 4a's tickets), that is a training of its own,
    which float rounding may have moved: it is not the one this figure's ticket was pruned from."""
    tickets = [ticket_config(params, seed) for seed in params.seeds]
    dense = [t.mask.parent for t in tickets]
    done = run_many([*dense, *tickets], store, device=device, progress=progress)
    n = len(tickets)
    return Result(tuple(done[:n]), tuple(done[n:]))


def checks(result: Result, params: Params) -> list[Claim]:
    """The dense model groks late; the grokked ticket generalises almost as soon as it fits."""
    return history_checks([r.history for r in result.dense], [r.history for r in result.ticket],
                          params.seeds, params.figure)


def tau_grok(history, threshold: float | None = None) -> Interval:
    """τ_grok = t_gen / t_mem at ``threshold`` (default the task's P), censored where a time never
    came; a t_mem of 0 counts as one step, as in `gtlib.metrics.tau_grok`."""
    mem = claims.mem_time(history, threshold)
    return claims.ratio(claims.gen_time(history, threshold), Interval(max(mem.low, 1), max(mem.high, 1)))


def delay(history, threshold: float | None = None) -> Interval:
    """τ_grok for "the network groks": as `tau_grok` where the run generalised, `claims.UNKNOWN` where
    it never did within its steps (a run that never generalises shows no delayed generalisation; how
    late it would have come, the run cannot say)."""
    return tau_grok(history, threshold) if claims.gen_time(history, threshold).is_point else claims.UNKNOWN


def history_checks(dense: list, ticket: list, seeds=(0,), figure: str = "Fig 1") -> list[Claim]:
    """The Figure 1 claims on histories: the dense run's and the ticket's of each seed, in the
    order of ``seeds``."""
    if not len(dense) == len(ticket) == len(seeds):
        raise ValueError(f"one dense run and one ticket per seed: {len(dense)} dense runs, "
                         f"{len(ticket)} tickets, {len(seeds)} seeds")
    f = slug(figure)
    regression = dense[0].is_regression
    pairs = list(zip(dense, ticket))
    on_times = not regression  # times to an accuracy threshold, decided again at 90 % and 99 %

    def over(fn, thresholds=False):
        """The claim's values (and others) from ``fn(dense, ticket, threshold)`` of each seed."""
        return claims.over_seeds(seeds, lambda i, p: fn(*pairs[i], p), thresholds=thresholds)

    def times(name: str, fn) -> str:
        """What the page adds per seed: the times behind the statistic."""
        return f"{name}: " + "; ".join(f"seed {s} {fn(d, tk)}" for s, (d, tk) in zip(seeds, pairs))

    values, _ = over(lambda d, tk, p: _fit(d, tk))
    fit = Claim(f"{f}.fits", figure, "Both networks fit the training set",
                "both fit" if regression else "100 % training accuracy for both (1.00 and 1.00)",
                _fit_rule(dense[0]), values)

    values, others = over(lambda d, tk, p: delay(d, p), on_times)
    groks = Claim(
        f"{f}.dense_groks", figure, "The dense network groks: it generalises long after it memorises",
        "t_mem < 2k, t_gen ≈ 25k (Fig 1)", Rule("τ_grok(dense) = t_gen / t_mem", ">", DELAY, "time"), values,
        times("t_mem / t_gen", lambda d, tk: f"{fmt(d.t_mem)} / {fmt(d.t_gen)}"), others)

    values, others = over(lambda d, tk, p: claims.ratio(claims.gen_time(tk, p), claims.gen_time(d, p)), on_times)
    faster = Claim(
        f"{f}.ticket_far_faster", figure, "The ticket's t_gen is far below the dense network's",
        "≈ 2-3k vs ≈ 25k, ratio ≈ 0.1 (Fig 1)", Rule("t_gen(ticket) / t_gen(dense)", "≤", FAR_BELOW, "time"),
        values, times("t_gen ticket vs dense", lambda d, tk: f"{fmt(tk.t_gen)} vs {fmt(d.t_gen)}"), others)

    values, others = over(lambda d, tk, p: claims.ratio(tau_grok(tk, p), tau_grok(d, p)), on_times)
    lower = Claim(
        f"{f}.ticket_tau_lower", figure, "The ticket's τ_grok is below the dense network's",
        "smaller (Fig 1, Fig 3a)", Rule("τ_grok(ticket) / τ_grok(dense)", "<", 1, "time"), values,
        times("τ_grok ticket vs dense", lambda d, tk: f"{fmt(tk.tau_grok)} vs {fmt(d.tau_grok)}"), others)
    return [fit, groks, faster, lower]


def _fit_rule(history) -> Rule:
    """"Fits" with a tolerance: the paper's 100 % training accuracy is not demanded exactly (a
    threshold near 1 could never be cleared by more than the accuracy band), but the task's P, the
    accuracy that defines t_mem. For regression, the train loss below the loss threshold."""
    if history.is_regression:
        return Rule(f"the larger final train loss of dense and ticket / {LOSS_THRESHOLD:g}", "<", 1, "magnitude")
    wrong = 100 * (1 - history.threshold)
    return Rule(f"the lower final train accuracy of dense and ticket (the task's P: at most {wrong:.0f} % "
                "of training examples wrong)", "≥", history.threshold, "accuracy")


def _fit(dense, ticket) -> Interval:
    """How well the worse of the two fits: the lower final train accuracy, or, for regression, the
    larger final train loss over the loss threshold."""
    if dense.is_regression:
        return Interval.point(max(float(dense["train_loss"][-1]), float(ticket["train_loss"][-1])) / LOSS_THRESHOLD)
    return Interval.point(min(float(dense["train_acc"][-1]), float(ticket["train_acc"][-1])))


def plot(result: Result, params: Params):
    """Train and test accuracy of the first seed's dense run and grokked ticket (the paper's
    figure), t_mem and t_gen marked, on a linear step axis (upper panel, as the paper) and on a log
    step axis (lower panel, which shows the early steps); the other seeds' curves faint behind."""
    plots.use_sharp_figures()
    histories = {"dense": result.dense[0].history, "ticket": result.ticket[0].history}
    seeds = params.seeds
    heading = f"{params.title}: {plots.setting(result.dense[0], params.scale)}"
    if len(seeds) > 1:
        heading += f", seed {seeds[0]} (seeds {', '.join(map(str, seeds[1:]))} faint)"
    fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), constrained_layout=True)
    for ax in axes:
        _faint(ax, result)
    plots.train_test_curves(histories, title=heading, ax=axes[0])
    plots.train_test_curves(histories, title="the same, log step axis", log_x=True, mark_times=False,
                            ax=axes[1])
    return fig


def _faint(ax, result: Result) -> None:
    """The seeds after the first: thin, pale train (dashed) and test (solid) curves in the role's
    colour, drawn first so that the first seed's lie on top; one legend entry for them all."""
    kind = "loss" if result.dense[0].history.is_regression else "acc"
    for role in ("dense", "ticket"):
        for n, run in enumerate(getattr(result, role)[1:]):
            h = run.history
            label = f"other seeds, {plots.display(role)}" if n == 0 else None
            ax.plot(h.steps, h[f"train_{kind}"], "--", color=plots.colour(role), alpha=0.25, linewidth=0.8)
            ax.plot(h.steps, h[f"test_{kind}"], "-", color=plots.colour(role), alpha=0.25, linewidth=0.8,
                    label=label)
