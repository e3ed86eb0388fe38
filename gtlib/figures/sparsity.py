"""Figures 3, 4b and 17: how much to prune (paper §3.2, App H).

Grokked tickets of a dense run at several sparsities, masks from its last step. (3a) τ_grok is
smallest at a moderate sparsity and largest for the dense network; (3b) the ticket fits its
training set later the more is removed; (4b) tickets up to 0.7 generalise faster than the dense
network, 0.9 fails. (17) Trained *without* weight decay (``ticket_weight_decay=0``; the mask still
comes from a dense run with weight decay), tickets generalise fully only up to a critical sparsity,
which the paper puts at 0.81.

t_mem and t_gen are the first logged steps with train (test) accuracy above the task's P (95 % for
modular arithmetic), τ_grok = t_gen / t_mem; a run that never gets there within its budget is
censored (`gtlib.claims`). A ticket *generalises fully* when its final test accuracy is at least P
and *fails* when it ends below P: "100 %" would lie inside the accuracy band (`gtlib.claims.BAND`),
where no run could ever clear it.

**Seeds.** The first seed of ``seeds`` is the paper's figure: it gets a ticket at every sparsity of
the grid ``sparsities``. Every seed, the first included, also gets a ticket at each of
``seeded_sparsities``: the levels around each transition the paper states, fixed in advance. Each
claim is decided per seed (`gtlib.claims`) at the sparsities every seed has, where those suffice to
judge it; a claim that needs the grid (Fig 17a's tickets at 0.5 or less) is judged on the first
seed's grid alone (N = 1). Every ticket is compared with the dense run of its own seed.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..claims import UNKNOWN, Claim, Interval, Rule, gen_time, mem_time, over_seeds, ratio, slug, spearman
from ..config import RunConfig, derive
from ..params import FamilyParams
from ..presets import dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig3_sparsity_sweep.ipynb"
PAPER_CRITICAL = 0.81  # App H: the critical sparsity without weight decay
MODERATE = (0.5, 0.8)  # Fig 3a: "a moderate sparsity" (the paper: lowest at 0.7)
FASTER_UP_TO = 0.7     # Fig 4b: 0.1, 0.3, 0.5 and 0.7 all speed generalisation up
FAILS_FROM = 0.9       # Fig 4b, 17a: the ticket at 0.9 fails
DENSE_LIKE = 0.5       # Fig 17a: without weight decay the tickets at 0.5 or less do not generalise
CRITICAL_RANGE = (0.8, 0.9)  # Fig 17a: the critical sparsity lies between 0.8 and 0.9
# A statistic a seed cannot give (no ticket of its own in the window the claim reads): in band.

UNCHECKED = {
    "Fig 4b: 0.3 is \"not quick enough\"": "a judgement on the curves, with no threshold to test",
    "Fig 17a: the critical sparsity is 0.81": "the critical sparsity is a level of the grid, not a "
    "measured statistic with a rounding band; the claims check that it lies in [0.8, 0.9) and that "
    "the ticket at 0.81 generalises fully, and the first seed's critical sparsity on the full grid "
    "is named beside them",
}

Levels = dict[float, Run]  # sparsity -> run (0.0: the dense run, where the tickets share its recipe)


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig3_sparsity_sweep.ipynb`` (its cell tagged ``parameters`` says what
    each means). ``figures``: whose claims to check, Fig 3a, 3b, 4b or Fig 17a, 17b; they title the
    plot. The first of ``seeds`` gets the grid ``sparsities``; every seed gets ``seeded_sparsities``."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    sparsities: tuple[float, ...] = tuple(i / 10 for i in range(10))
    seeded_sparsities: tuple[float, ...] = ()
    ticket_weight_decay: float | None = None
    figures: tuple[str, ...] = ("Fig 3a", "Fig 3b", "Fig 4b")

    def __post_init__(self):
        super().__post_init__()
        if not self.seeds:
            raise ValueError("seeds must name at least one seed (the first is the figure's)")


@dataclass(frozen=True)
class Sweep:
    """One seed's dense run and its grokked ticket at each sparsity (increasing). A sparsity of 0
    with the dense recipe is the dense run itself, not a ticket (a ticket that keeps every weight
    retrains the same network from the same θ0)."""

    dense: Run
    tickets: dict[float, Run]

    def swept(self) -> Levels:
        """``{sparsity: run}`` in increasing sparsity, with the dense run as 0 when the tickets train
        with its recipe."""
        out = dict(self.tickets)
        if 0.0 not in out and all(r.config.optim == self.dense.config.optim for r in out.values()):
            out[0.0] = self.dense
        return dict(sorted(out.items()))


@dataclass(frozen=True)
class Result:
    """Seed -> its `Sweep`, in the order of ``seeds``: the first (the figure's) at every sparsity of
    the grid and the seeded ones, the others at the seeded sparsities."""

    sweeps: dict[int, Sweep]

    @property
    def first(self) -> Sweep:
        return next(iter(self.sweeps.values()))

    @property
    def dense(self) -> Run:
        """The first seed's dense run (the figure's)."""
        return self.first.dense

    @property
    def tickets(self) -> dict[float, Run]:
        """The first seed's tickets (the figure's)."""
        return self.first.tickets

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them: the dense runs, then each sparsity's tickets
        (one per seed that has it)."""
        out: dict[float, list[Run]] = {}
        for sweep in self.sweeps.values():
            for s, run in sweep.tickets.items():
                out.setdefault(s, []).append(run)
        return {"dense": [s.dense for s in self.sweeps.values()],
                **{f"sparsity {s:g}": out[s] for s in sorted(out)}}


def plan(params: Params, seed: int, grid: bool) -> tuple[RunConfig, dict[float, RunConfig]]:
    """One seed's dense configuration and its tickets' (masks from its last step), at the grid
    (``grid``: the first seed) and the seeded sparsities. With ``ticket_weight_decay`` the tickets
    (not the dense run) train with that weight decay (Fig 17: 0)."""
    dense = dense_config(params.task, params.model, scale=params.scale, seed=seed,
                         task_params=params.task_params, checkpoint_every=None)
    changes = {}
    if params.ticket_weight_decay is not None:
        changes["optim"] = dataclasses.replace(dense.optim, weight_decay=params.ticket_weight_decay)
    levels = sorted({*params.seeded_sparsities, *(params.sparsities if grid else ())})
    # No analysis reads a ticket's weights (benchmarks/store_reads.md): they keep none.
    return dense, {s: derive(dense, sparsity=s, checkpoint_every=0, **changes)
                   for s in levels if s != 0 or changes}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """Every seed's dense run and its grokked tickets (`plan`), trained where missing."""
    plans = {seed: plan(params, seed, grid=i == 0) for i, seed in enumerate(params.seeds)}
    every = list(dict.fromkeys(c for dense, tickets in plans.values() for c in (dense, *tickets.values())))
    done = dict(zip(every, run_many(every, store, device=device, progress=progress)))
    return Result({seed: Sweep(done[dense], {s: done[c] for s, c in tickets.items()})
                   for seed, (dense, tickets) in plans.items()})


# ---------------------------------------------------------------------------------------------
# Claims

def checks(result: Result, params: Params) -> list[Claim]:
    """The claims of ``figures``: Fig 3a, 3b, 4b (tickets with the dense recipe) or Fig 17a, 17b
    (tickets trained without weight decay), each decided over the seeds (`judged_on`)."""
    if any(f.startswith("Fig 17") for f in params.figures):
        found = no_decay_claims({seed: {s: r for s, r in sweep.swept().items() if r is not sweep.dense}
                                 for seed, sweep in result.sweeps.items()})
    else:
        found = sweep_claims({seed: sweep.swept() for seed, sweep in result.sweeps.items()})
    return [c for c in found if c.figure in params.figures]


def judged_on(levels: dict[int, Levels], needs: Callable[[Levels], bool]) -> dict[int, Levels]:
    """The runs a claim is judged on: every seed at the sparsities all seeds have, where those hold
    what the claim ``needs``; otherwise the first seed alone at all of its sparsities (its grid,
    N = 1); otherwise none (the claim cannot be judged here)."""
    shared = set.intersection(*(set(lv) for lv in levels.values()))
    common = {seed: {s: lv[s] for s in sorted(shared)} for seed, lv in levels.items()}
    if needs(next(iter(common.values()))):
        return common
    seed, first = next(iter(levels.items()))
    return {seed: dict(sorted(first.items()))} if needs(first) else {}


def tau(history, threshold: float | None = None) -> Interval:
    """τ_grok = t_gen / t_mem at ``threshold`` (None: the task's P), censored where either time is;
    a t_mem of 0 counts as one step (as `gtlib.metrics.tau_grok`)."""
    t_mem = mem_time(history, threshold)
    return ratio(gen_time(history, threshold), Interval(max(t_mem.low, 1), max(t_mem.high, 1)))


def least(values: Iterable[Interval]) -> Interval:
    """The smallest of several statistics, each possibly censored."""
    values = list(values)
    return Interval(min(v.low for v in values), min(v.high for v in values)) if values else UNKNOWN


def largest(values: Iterable[Interval]) -> Interval:
    """The largest of several statistics, each possibly censored."""
    values = list(values)
    return Interval(max(v.low for v in values), max(v.high for v in values)) if values else UNKNOWN


def final_acc(run: Run) -> float:
    return float(run.history["test_acc"][-1])


def _threshold(judged: dict[int, Levels]) -> float:
    """The task's P."""
    return next(iter(next(iter(judged.values())).values())).history.threshold


def _regression(judged: dict[int, Levels]) -> bool:
    """A regression task has no accuracy: no claims on accuracies, no `others`."""
    return next(iter(next(iter(judged.values())).values())).history.is_regression


def _over_seeds(judged: dict[int, Levels], statistic: Callable[[Levels, float | None], Interval], times: bool):
    """``statistic(levels, threshold)`` for each judged seed: a claim's values and, for claims on
    times to an accuracy threshold (``times``), its ``others`` at 90 % and 99 %."""
    levels = list(judged.values())
    return over_seeds(list(judged), lambda i, t: statistic(levels[i], t), times and not _regression(judged))


def _moderate(s: float) -> bool:
    return MODERATE[0] <= s <= MODERATE[1]


def sweep_claims(levels: dict[int, Levels]) -> list[Claim]:
    """Figure 3a/3b/4b on ``{seed: {sparsity: run}}``, 0.0 the dense run of the seed: each claim
    judged where the sparsities it needs are (`judged_on`)."""
    wanted = [
        (_tau_lowest_moderate, lambda lv: any(map(_moderate, lv)) and not all(map(_moderate, lv))),
        (_dense_tau_largest, lambda lv: 0.0 in lv and len(lv) > 1),
        (_t_mem_grows, lambda lv: 0.0 in lv and len(lv) > 2),
        (_moderate_faster, lambda lv: 0.0 in lv and any(0 < s <= FASTER_UP_TO for s in lv)),
    ]
    out = [claim(judged) for claim, needs in wanted if (judged := judged_on(levels, needs))]
    fails = judged_on(levels, lambda lv: max(lv) >= FAILS_FROM)
    if fails and not _regression(fails):
        out.append(sparsest_fails(fails, "Fig 4b", "0.9 fails (≈ 0.4)"))
    return out


def _tau_lowest_moderate(judged: dict[int, Levels]) -> Claim:
    """Fig 3a: the least τ_grok lies at a moderate sparsity, in `MODERATE`: per seed the least
    τ_grok there over the least elsewhere (the dense network included)."""
    def statistic(lv: Levels, t: float | None) -> Interval:
        taus = {s: tau(r.history, t) for s, r in lv.items()}
        return ratio(least(v for s, v in taus.items() if _moderate(s)),
                     least(v for s, v in taus.items() if not _moderate(s)))

    values, others = _over_seeds(judged, statistic, times=True)
    lowest = "; ".join(f"seed {seed}: {min(lv, key=lambda s: tau(lv[s].history).low):g}"
                       for seed, lv in judged.items())
    return Claim(
        "fig3a.tau_lowest_moderate", "Fig 3a", "τ_grok is lowest at a moderate sparsity", "lowest at 0.7",
        Rule(f"least τ_grok at sparsity in [{MODERATE[0]:g}, {MODERATE[1]:g}] / least τ_grok at the other "
             f"sparsities (of {_levels(judged)}; 0 = dense)", "<", 1, "time"),
        values, ours=f"the sparsity with the least τ_grok: {lowest}", others=others)


def _dense_tau_largest(judged: dict[int, Levels]) -> Claim:
    """Fig 3a: the dense network has the largest τ_grok of those that generalise (a ticket that
    never reaches the threshold has no τ_grok on the paper's plot, and neither has a dense run that
    never does). A seed none of whose tickets generalises, or whose dense run never does, cannot
    say: in band."""
    def statistic(lv: Levels, t: float | None) -> Interval:
        generalised = [tau(r.history, t) for s, r in lv.items() if s > 0 and gen_time(r.history, t).is_point]
        if not generalised or not gen_time(lv[0.0].history, t).is_point:
            return UNKNOWN
        return ratio(tau(lv[0.0].history, t), largest(generalised))

    values, others = _over_seeds(judged, statistic, times=True)
    dense = "; ".join(f"seed {seed}: {tau(lv[0.0].history)}" for seed, lv in judged.items())
    return Claim(
        "fig3a.dense_tau_largest", "Fig 3a",
        "The dense network has the largest τ_grok among those that generalise", "largest at 0.0",
        Rule(f"τ_grok(dense) / the largest τ_grok of the tickets that generalise ({_levels(judged)})",
             ">", 1, "time"),
        values, ours=f"τ_grok(dense): {dense}", others=others)


def _t_mem_grows(judged: dict[int, Levels]) -> Claim:
    """Fig 3b: t_mem grows with sparsity, a trend rather than two end points: Spearman's ρ between
    sparsity (0 = dense) and t_mem. A run that never fits its training set enters at its budget,
    behind every run that fits."""
    def statistic(lv: Levels, t: float | None) -> Interval:
        return Interval.point(spearman(list(lv), [mem_time(r.history, t).low for r in lv.values()]))

    values, others = _over_seeds(judged, statistic, times=True)
    t_mem = "; ".join(f"seed {seed}: " + ", ".join(f"{s:g}: {mem_time(r.history)}" for s, r in lv.items())
                      for seed, lv in judged.items())
    return Claim(
        "fig3b.t_mem_grows", "Fig 3b", "Fitting the training set takes longer at high sparsity",
        "t_mem delayed at higher pruning rates",
        Rule(f"Spearman ρ(sparsity, t_mem) over {_levels(judged)} (0 = dense)", "≥", 0.8, "correlation"),
        values, ours=f"t_mem: {t_mem}", others=others)


def _moderate_faster(judged: dict[int, Levels]) -> Claim:
    """Fig 4b: every ticket up to `FASTER_UP_TO` generalises before the dense network of its seed:
    per seed the largest ratio of their t_gen to the dense one."""
    def statistic(lv: Levels, t: float | None) -> Interval:
        dense = gen_time(lv[0.0].history, t)
        return largest(ratio(gen_time(r.history, t), dense) for s, r in lv.items() if 0 < s <= FASTER_UP_TO)

    values, others = _over_seeds(judged, statistic, times=True)
    times = "; ".join(f"seed {seed}: " + ", ".join(f"{s:g}: {gen_time(r.history)}" for s, r in lv.items()
                                                  if s <= FASTER_UP_TO)
                      for seed, lv in judged.items())
    return Claim(
        "fig4b.moderate_faster", "Fig 4b",
        f"Every ticket with sparsity up to {FASTER_UP_TO:g} generalises before the dense network",
        "0.1, 0.3, 0.5 and 0.7 all speed it up",
        Rule(f"largest t_gen(ticket) / t_gen(dense) over the tickets at "
             f"{_levels(judged, lambda s: 0 < s <= FASTER_UP_TO)}", "<", 1, "time"),
        values, ours=f"t_gen (0 = dense): {times}", others=others)


def sparsest_fails(judged: dict[int, Levels], figure: str, paper: str) -> Claim:
    """Fig 4b, 17a: the ticket at the sparsest level (0.9) fails: its final test accuracy is below P."""
    sparsest = max(next(iter(judged.values())))
    threshold = _threshold(judged)
    values = {seed: Interval.point(final_acc(lv[sparsest])) for seed, lv in judged.items()}
    return Claim(
        f"{slug(figure)}.sparsest_fails", figure,
        f"The ticket at sparsity {sparsest:g} fails to generalise", paper,
        Rule(f"final test accuracy of the ticket at {sparsest:g} (P = {threshold:.0%})", "<", threshold,
             "accuracy"), values)


def no_decay_claims(levels: dict[int, Levels]) -> list[Claim]:
    """Figure 17 on ``{seed: {sparsity: ticket trained without weight decay}}``: the tickets at 0.5
    or less and the sparsest (0.9) do not generalise, the critical sparsity (the *largest* whose
    ticket still generalises fully) lies in [0.8, 0.9) (the paper: 0.81), and the ticket at 0.81
    generalises fully."""
    if _regression(levels):
        return []
    out = []
    if judged := judged_on(levels, lambda lv: any(s <= DENSE_LIKE for s in lv)):
        out.append(_dense_tickets_fail(judged))
    if judged := judged_on(levels, lambda lv: max(lv) >= FAILS_FROM):
        out.append(sparsest_fails(judged, "Fig 17a", "0.9 collapses"))
    critical = judged_on(levels, lambda lv: any(_in_critical_range(s) for s in lv) and max(lv) >= FAILS_FROM)
    if critical:
        out.append(_critical_in_08_09(critical, levels))
    if judged := judged_on(levels, lambda lv: _at(lv, PAPER_CRITICAL) is not None):
        out.append(_ticket_at_critical_full(judged))
    return out


def _at(lv: Levels, sparsity: float) -> float | None:
    """The level of ``lv`` equal to ``sparsity`` (None: not swept)."""
    return next((s for s in lv if math.isclose(s, sparsity)), None)


def _in_critical_range(s: float) -> bool:
    return CRITICAL_RANGE[0] <= s < CRITICAL_RANGE[1]


def _dense_tickets_fail(judged: dict[int, Levels]) -> Claim:
    """Fig 17a: without weight decay the tickets at 0.5 or less do not generalise: the highest
    final test accuracy among them is below P."""
    threshold = _threshold(judged)
    values = {seed: Interval.point(max(final_acc(r) for s, r in lv.items() if s <= DENSE_LIKE))
              for seed, lv in judged.items()}
    finals = "; ".join(f"seed {seed}: " + ", ".join(f"{s:g}: {final_acc(r):.2f}" for s, r in lv.items()
                                                  if s <= DENSE_LIKE)
                       for seed, lv in judged.items())
    return Claim(
        "fig17a.dense_tickets_fail", "Fig 17a",
        f"Without weight decay the tickets with sparsity ≤ {DENSE_LIKE:g} do not generalise",
        "below the critical rate tickets stay below full generalisation",
        Rule(f"highest final test accuracy of the tickets at {_levels(judged, lambda s: s <= DENSE_LIKE)} "
             f"(P = {threshold:.0%})", "<", threshold, "accuracy"),
        values, ours=f"final test accuracy: {finals}")


def critical_sparsity(levels: Levels) -> float | None:
    """The largest sparsity whose ticket generalises fully (final test accuracy at least P; None if
    none does)."""
    full = [s for s, r in levels.items() if final_acc(r) >= r.history.threshold]
    return max(full, default=None)


def _critical_in_08_09(judged: dict[int, Levels], levels: dict[int, Levels]) -> Claim:
    """Fig 17a: the critical sparsity lies in [0.8, 0.9): some ticket there generalises fully (final
    test accuracy ≥ P) and none at 0.9 or beyond does. Both margins in one number: the smaller of
    (best final accuracy in [0.8, 0.9) − P) and (P − best final accuracy at 0.9 or beyond), at
    least 0 exactly when the critical sparsity lies in [0.8, 0.9); each accuracy moves by at most the
    band, so the statistic does too."""
    threshold = _threshold(judged)

    def margin(lv: Levels) -> float:
        inside = max(final_acc(r) for s, r in lv.items() if _in_critical_range(s))
        beyond = max(final_acc(r) for s, r in lv.items() if s >= CRITICAL_RANGE[1])
        return min(inside - threshold, threshold - beyond)

    values = {seed: Interval.point(margin(lv)) for seed, lv in judged.items()}
    def critical(lv: Levels) -> str:
        found = critical_sparsity(lv)
        return "none generalises fully" if found is None else f"{found:g}"

    per_seed = "; ".join(f"seed {seed}: {critical(lv)}" for seed, lv in judged.items())
    seed, first = next(iter(levels.items()))
    grid = f"; seed {seed} on its full grid: {critical(first)}" if len(first) > len(next(iter(judged.values()))) else ""
    return Claim(
        "fig17a.critical_in_08_09", "Fig 17a",
        "Without weight decay the largest sparsity that generalises fully (the critical sparsity) lies "
        "in [0.8, 0.9)", f"critical sparsity {PAPER_CRITICAL:g}",
        Rule(f"min(A − P, P − B), A the best final test accuracy at {_levels(judged, _in_critical_range)}, "
             f"B the best at {_levels(judged, lambda s: s >= CRITICAL_RANGE[1])}, P = {threshold:.0%}",
             "≥", 0, "accuracy"),
        values, ours=f"critical sparsity (final test accuracy ≥ P): {per_seed}{grid}")


def _ticket_at_critical_full(judged: dict[int, Levels]) -> Claim:
    """Fig 17b: the ticket at the paper's critical sparsity, 0.81, trained without weight decay,
    generalises fully: final test accuracy at least P."""
    threshold = _threshold(judged)
    values = {seed: Interval.point(final_acc(lv[_at(lv, PAPER_CRITICAL)])) for seed, lv in judged.items()}
    return Claim(
        "fig17b.ticket_081_full", "Fig 17b",
        f"Without weight decay the ticket at {PAPER_CRITICAL:g} generalises fully",
        "reaches full generalisation with no weight decay",
        Rule(f"final test accuracy of the ticket at {PAPER_CRITICAL:g} (full: at least P = {threshold:.0%})",
             "≥", threshold, "accuracy"), values)


def _levels(judged: dict[int, Levels], keep: Callable[[float], bool] = lambda s: True) -> str:
    """The sparsities a claim reads, as its rule names them: ``0, 0.3, 0.6``."""
    return ", ".join(f"{s:g}" for s in next(iter(judged.values())) if keep(s))


# ---------------------------------------------------------------------------------------------
# The figure

def _shown(result: Result, params: Params) -> Levels:
    """The first seed's sweep as the figure shows it: the grid ``sparsities`` (and the dense run as
    0 where it is one of them)."""
    grid = {*params.sparsities, 0.0}
    return {s: r for s, r in result.first.swept().items() if any(math.isclose(s, g) for g in grid)}


def _faint(ax, result: Result, value: Callable[[Run], float | None], top: float | None = None) -> bool:
    """The other seeds' seeded sparsities as faint markers (a value of None: at ``top`` of the
    axes, as a cross); whether there were any."""
    others = list(result.sweeps.items())[1:]
    for i, (seed, sweep) in enumerate(others):
        levels = sweep.swept()
        xs = list(levels)
        ys = [value(r) for r in levels.values()]
        ax.plot([x for x, y in zip(xs, ys) if y is not None], [y for y in ys if y is not None], "o",
                color="grey", alpha=0.35, markersize=4, label="other seeds (seeded sparsities)" if i == 0 else None)
        never = [x for x, y in zip(xs, ys) if y is None]
        if never and top is not None:
            ax.plot(never, [top] * len(never), "x", color="grey", alpha=0.35, transform=ax.get_xaxis_transform())
    return bool(others)


def plot(result: Result, params: Params):
    """τ_grok (log scale) and final test accuracy against sparsity (0 = the dense network) for the
    first seed's grid, the other seeds' seeded sparsities as faint markers; then the test and train
    accuracy of every sparsity of the first seed; for tickets trained without weight decay, also
    Figure 17b (the tickets at the paper's critical sparsity and at ours against the dense run).
    The title is the page's ``figures``."""
    plots.use_sharp_figures()
    swept = _shown(result, params)
    dense = result.dense
    no_decay = dense not in swept.values()
    fig, axes = plt.subplots(5 if no_decay else 4, 1, figsize=(8, 17.5 if no_decay else 14),
                             constrained_layout=True)
    sparsities = list(swept)
    taus = [swept[s].history.tau_grok for s in sparsities]
    ax = axes[0]
    ax.plot(sparsities, [np.nan if t is None else t for t in taus], "o-", color="tab:blue",
            label=f"seed {params.seeds[0]}")
    never = [s for s, t in zip(sparsities, taus) if t is None]
    if never:  # no τ_grok: marked along the top edge
        ax.plot(never, [0.97] * len(never), "x", color="tab:red", transform=ax.get_xaxis_transform(),
                label="never reaches the threshold")
    _faint(ax, result, lambda r: r.history.tau_grok, top=0.97)
    ax.legend(fontsize=8, loc="lower left")
    if any(t is not None for t in taus):
        ax.set_yscale("log")
    ax.set_xlim(min(sparsities) - 0.05, max(sparsities) + 0.05)
    ax.set_xlabel("sparsity (fraction removed; 0 = dense)")
    ax.set_ylabel("τ_grok = t_gen / t_mem")
    ax.set_title(f"{', '.join(params.figures)}: τ_grok against sparsity; {plots.setting(dense, params.scale)}")
    axes[1].plot(sparsities, [final_acc(swept[s]) for s in sparsities], "o-", color="tab:green",
                 label=f"seed {params.seeds[0]}")
    if _faint(axes[1], result, final_acc):
        axes[1].legend(fontsize=8, loc="lower left")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xlabel("sparsity")
    axes[1].set_ylabel("final test accuracy")
    axes[1].set_title("final test accuracy")
    plots.coloured(axes[2], swept, "test_acc", "sparsity")
    axes[2].set_title(f"test accuracy, seed {params.seeds[0]}")
    plots.coloured(axes[3], swept, "train_acc", "sparsity")
    axes[3].set_title(f"train accuracy, seed {params.seeds[0]}")
    if no_decay:
        ours = critical_sparsity(swept)
        shown = sorted({min(swept, key=lambda s: abs(s - PAPER_CRITICAL)),
                        *([ours] if ours is not None else [])})
        decay = swept[shown[0]].config.optim.weight_decay
        plots.train_test_curves({"dense": dense.history,
                                 **{f"ticket {s:g}": swept[s].history for s in shown}}, ax=axes[4],
                                title=f"(17b) tickets with weight decay {decay:g} at the paper's "
                                      f"critical sparsity and at ours; dense with "
                                      f"{dense.config.optim.weight_decay:g}")
    return fig
