"""Figure 4a: only a ticket taken after generalisation is a grokked ticket (paper §3.2).

Tickets (sparsity 0.6, rewound to θ0) whose masks come from the dense run's checkpoints, one every
``checkpoint_every`` steps (the paper: 2k; the authors' ``train_prune.sh``). Tickets from before the
dense network generalises do not fully generalise: their test accuracy levels off near the dense
network's at the mask's step. Tickets from after it reach 100 % quickly.

t_gen is the first logged step with test accuracy above the task's P (95 % for modular
arithmetic); a run that never gets there within its budget is censored (`gtlib.claims`). A ticket is
*early* when its mask's step precedes t_gen of its own seed's dense run, *late* when it is at or
after it (a dense run that never generalises makes every mask early).

**Seeds.** The first seed of ``seeds`` is the paper's figure: it gets a ticket at every checkpoint
of its dense run. Every seed, the first included, also gets tickets at ``seeded_fractions`` of its
dense run's steps (each mapped to the nearest checkpoint; the paper's 0.47, 0.73, 0.87 of 30k are
14k, 22k and 26k), fixed in advance. Each claim is decided per seed over the mask steps every seed
has (the first seed's alone, N = 1, where the seeds share none): a window statistic over the seed's
early (or late) tickets. A seed with no ticket in the window cannot say: its statistic is unknown,
in band.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..claims import FAR_BELOW, UNKNOWN, Claim, Interval, Rule, at_step, gen_time, over_seeds, ratio, slug
from ..config import RunConfig, derive
from ..params import FamilyParams
from ..presets import dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig4_ticket_time.ipynb"
FIGURE, TITLE = "Fig 4a", "Figure 4a"
UNCHECKED = {}

# A mask is informative about the plateau only where the dense test accuracy at its step is above
# this: near chance every ticket "matches" it.
INFORMATIVE = 0.1
# "Their plateau matches the dense model's test accuracy at time t": within this, in accuracy.
MATCH = 0.1
# A statistic a seed cannot give (no ticket of its own in the window): in band.


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig4_ticket_time.ipynb`` (its cell tagged ``parameters`` says what each
    means). The first of ``seeds`` gets a ticket at every checkpoint; every seed gets tickets at
    ``seeded_fractions`` of its dense run's steps."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    checkpoint_every: int | None = None
    seeded_fractions: tuple[float, ...] = ()
    sparsity: float = 0.6

    def __post_init__(self):
        super().__post_init__()
        if not self.seeds:
            raise ValueError("seeds must name at least one seed (the first is the figure's)")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer (the dense run's checkpoints "
                             f"give the tickets' masks), got {self.checkpoint_every!r}")
        if any(not 0 < f <= 1 for f in self.seeded_fractions):
            raise ValueError(f"seeded_fractions must lie in (0, 1] (fractions of the dense run's steps), "
                             f"got {list(self.seeded_fractions)}")


@dataclass(frozen=True)
class Sweep:
    """One seed's dense run, keeping its checkpoints, and the ticket whose mask comes from each
    of the steps asked for (increasing)."""

    dense: Run
    tickets: dict[int, Run]  # mask step -> ticket


@dataclass(frozen=True)
class Result:
    """Seed -> its `Sweep`, in the order of ``seeds``: the first (the figure's) with a ticket at
    every checkpoint, the others at the seeded steps."""

    sweeps: dict[int, Sweep]

    @property
    def first(self) -> Sweep:
        return next(iter(self.sweeps.values()))

    @property
    def dense(self) -> Run:
        """The first seed's dense run (the figure's)."""
        return self.first.dense

    @property
    def tickets(self) -> dict[int, Run]:
        """The first seed's tickets (the figure's)."""
        return self.first.tickets

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them: the dense runs, then each mask step's tickets
        (one per seed that has it)."""
        out: dict[int, list[Run]] = {}
        for sweep in self.sweeps.values():
            for t, run in sweep.tickets.items():
                out.setdefault(t, []).append(run)
        return {"dense": [s.dense for s in self.sweeps.values()],
                **{f"mask at step {t}": out[t] for t in sorted(out)}}


def nearest_checkpoint(dense: RunConfig, fraction: float) -> int:
    """The checkpoint step of ``dense`` (step 0 aside) nearest ``fraction`` of its steps; the earlier
    of two equally near."""
    return min(dense.checkpoint_steps[1:], key=lambda t: (abs(t - fraction * dense.steps), t))


def plan(params: Params, seed: int, every_checkpoint: bool) -> tuple[RunConfig, dict[int, RunConfig]]:
    """One seed's dense configuration and its tickets': at every checkpoint after step 0
    (``every_checkpoint``: the first seed) and at the seeded fractions. ``checkpoint_every``
    defaults to the scale's (quick 250, paper 2k)."""
    keep = {} if params.checkpoint_every is None else {"checkpoint_every": params.checkpoint_every}
    dense = dense_config(params.task, params.model, scale=params.scale, seed=seed,
                         task_params=params.task_params, **keep)
    steps = {nearest_checkpoint(dense, f) for f in params.seeded_fractions}
    if every_checkpoint:
        steps |= set(dense.checkpoint_steps[1:])
    # The tickets keep no weights: no analysis reads them (benchmarks/store_reads.md).
    return dense, {t: derive(dense, sparsity=params.sparsity, step=t, checkpoint_every=0) for t in sorted(steps)}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """Every seed's dense run and its tickets (`plan`), trained where missing."""
    plans = {seed: plan(params, seed, every_checkpoint=i == 0) for i, seed in enumerate(params.seeds)}
    every = list(dict.fromkeys(c for dense, tickets in plans.values() for c in (dense, *tickets.values())))
    done = dict(zip(every, run_many(every, store, device=device, progress=progress)))
    return Result({seed: Sweep(done[dense], {t: done[c] for t, c in tickets.items()})
                   for seed, (dense, tickets) in plans.items()})


# ---------------------------------------------------------------------------------------------
# Claims

def plateau(history) -> float:
    """A ticket's plateau: its median test accuracy over the logged steps in [t_mem, 5 t_mem] (the
    whole run if it never fits its training set)."""
    t_mem, steps = history.t_mem, history.steps
    window = np.ones(len(steps), bool) if t_mem is None else (steps >= t_mem) & (steps <= 5 * max(t_mem, 1))
    return float(np.median(history["test_acc"][window]))


def judged_on(result: Result) -> dict[int, Sweep]:
    """Each seed's dense run with its tickets at the mask steps every seed has; where the seeds
    share none, the first seed alone with all of its tickets (N = 1)."""
    shared = set.intersection(*(set(s.tickets) for s in result.sweeps.values()))
    if not shared:
        seed, first = next(iter(result.sweeps.items()))
        return {seed: first}
    return {seed: Sweep(s.dense, {t: s.tickets[t] for t in sorted(shared)}) for seed, s in result.sweeps.items()}


def early(sweep: Sweep) -> dict[int, Run]:
    """The tickets whose mask precedes t_gen of the dense run (all of them if it never generalises)."""
    t_gen = sweep.dense.history.t_gen
    return {t: r for t, r in sweep.tickets.items() if t_gen is None or t < t_gen}


def late(sweep: Sweep) -> dict[int, Run]:
    """The tickets whose mask is at or after t_gen of the dense run."""
    t_gen = sweep.dense.history.t_gen
    return {t: r for t, r in sweep.tickets.items() if t_gen is not None and t >= t_gen}


def checks(result: Result, params: Params) -> list[Claim]:
    """Tickets from before the dense network generalises: no full generalisation, a plateau at the
    dense accuracy of the mask's step, no speed-up. Tickets from after: fast, and full. Each
    decided per seed over its own early (late) tickets; a claim exists where some seed has a ticket
    in its window."""
    judged = judged_on(result)
    out = []
    if any(early(s) for s in judged.values()):
        out += [early_not_full(judged), early_plateau(judged), early_no_faster(judged)]
    if any(late(s) for s in judged.values()):
        out += [late_fast(judged), late_perfect(judged)]
    return out


def _per_seed(judged: dict[int, Sweep], window: Callable[[Sweep], dict[int, Run]],
              statistic: Callable[[int, Run, Run, float | None], Interval], pick: Callable, times: bool):
    """``pick`` (`least` or `largest`) of ``statistic(step, ticket, dense, threshold)`` over each seed's
    tickets in ``window``: the claim's values (UNKNOWN for a seed with none) and, for claims on times
    (``times``), its ``others`` at 90 % and 99 % (the windows stay split at the dense t_gen at P: the
    same tickets, their times at another threshold)."""
    sweeps = list(judged.values())

    def one(i: int, threshold: float | None) -> Interval:
        found = [statistic(t, r, sweeps[i].dense, threshold) for t, r in window(sweeps[i]).items()]
        return pick(found) if found else UNKNOWN

    regression = sweeps[0].dense.history.is_regression
    return over_seeds(list(judged), one, thresholds=times and not regression)


def least(values: list[Interval]) -> Interval:
    """The smallest of several statistics, each possibly censored."""
    return Interval(min(v.low for v in values), min(v.high for v in values))


def largest(values: list[Interval]) -> Interval:
    """The largest of several statistics, each possibly censored."""
    return Interval(max(v.low for v in values), max(v.high for v in values))


def _speed(step: int, ticket: Run, dense: Run, threshold: float | None) -> Interval:
    return ratio(gen_time(ticket.history, threshold), gen_time(dense.history, threshold))


def _listing(judged: dict[int, Sweep], window: Callable[[Sweep], dict[int, Run]], value: Callable[[Run], str]) -> str:
    """``seed 0 (t_gen 24,000): 14,000: 0.41, 22,000: 0.62; ...``: each seed's tickets in the window."""
    return "; ".join(f"seed {seed} (t_gen {gen_time(s.dense.history)}): "
                     + (", ".join(f"{t:,}: {value(r)}" for t, r in window(s).items()) or "none")
                     for seed, s in judged.items())


def _threshold(judged: dict[int, Sweep]) -> float:
    return next(iter(judged.values())).dense.history.threshold


def early_not_full(judged: dict[int, Sweep]) -> Claim:
    """No early ticket's test accuracy ever exceeds P."""
    threshold = _threshold(judged)
    values, _ = _per_seed(judged, early, lambda _, r, d, t: Interval.point(float(r.history["test_acc"].max())),
                          largest, times=False)
    return Claim(
        f"{slug(FIGURE)}.early_not_full", FIGURE,
        "Tickets taken before the dense network generalises do not fully generalise",
        "tickets from before 25k (non-grokked) do not fully generalise",
        Rule(f"highest test accuracy of the tickets whose mask precedes t_gen(dense) (P = {threshold:.0%})",
             "≤", threshold, "accuracy"), values,
        ours="highest test accuracy: " + _listing(judged, early, lambda r: f"{r.history['test_acc'].max():.2f}"))


def early_plateau(judged: dict[int, Sweep]) -> Claim:
    """Each early ticket whose mask is informative (the dense test accuracy at the mask's step is
    above `INFORMATIVE`) levels off within `MATCH` of that accuracy. A seed with no informative
    early mask cannot say."""
    def gap(step: int, r: Run, dense: Run, t: float | None) -> Interval:
        return Interval.point(abs(plateau(r.history) - at_step(dense.history, "test_acc", step)))

    def informative(s: Sweep) -> dict[int, Run]:
        return {t: r for t, r in early(s).items() if at_step(s.dense.history, "test_acc", t) > INFORMATIVE}

    values, _ = _per_seed(judged, informative, gap, largest, times=False)
    return Claim(
        f"{slug(FIGURE)}.early_plateau", FIGURE, "Tickets taken before it level off at the dense network's "
        "test accuracy at the mask's step", "their plateau matches the dense model's test accuracy at time t",
        Rule(f"largest |plateau − dense test accuracy at the mask's step| over the early tickets whose dense "
             f"accuracy there is above {INFORMATIVE:g} (plateau: median test accuracy between t_mem and 5 t_mem)",
             "≤", MATCH, "accuracy"), values,
        ours="plateau vs dense accuracy at the mask's step: " + "; ".join(
            f"seed {seed}: " + (", ".join(f"{t:,}: {plateau(r.history):.2f} vs "
                                          f"{at_step(s.dense.history, 'test_acc', t):.2f}"
                                          for t, r in informative(s).items()) or "no informative early mask")
            for seed, s in judged.items()))


def early_no_faster(judged: dict[int, Sweep]) -> Claim:
    """No early ticket generalises sooner than the dense run of its seed."""
    values, others = _per_seed(judged, early, _speed, least, times=True)
    return Claim(
        f"{slug(FIGURE)}.early_no_faster", FIGURE,
        "Tickets taken before the dense network generalises are no faster than it",
        "no speed-up (curves only)",
        Rule("least t_gen(ticket) / t_gen(dense) over the tickets whose mask precedes t_gen(dense)", "≥", 1,
             "time"), values,
        ours="t_gen: " + _listing(judged, early, lambda r: str(gen_time(r.history))), others=others)


def late_fast(judged: dict[int, Sweep]) -> Claim:
    """Every late ticket generalises far sooner than the dense run of its seed."""
    values, others = _per_seed(judged, late, _speed, largest, times=True)
    return Claim(
        f"{slug(FIGURE)}.late_fast", FIGURE, "Tickets taken after it generalise quickly", "reach 100 % quickly",
        Rule("largest t_gen(ticket) / t_gen(dense) over the tickets whose mask is at or after t_gen(dense)",
             "≤", FAR_BELOW, "time"), values,
        ours="t_gen: " + _listing(judged, late, lambda r: str(gen_time(r.history))), others=others)


def late_perfect(judged: dict[int, Sweep]) -> Claim:
    """Every late ticket generalises fully: final test accuracy at least P (a threshold near 100 %
    would lie inside the accuracy band, where no run could clear it)."""
    threshold = _threshold(judged)
    values, _ = _per_seed(judged, late, lambda _, r, d, t: Interval.point(float(r.history["test_acc"][-1])),
                          least, times=False)
    return Claim(
        f"{slug(FIGURE)}.late_perfect", FIGURE, "Tickets taken after it generalise fully", "reach 100 %",
        Rule(f"lowest final test accuracy of the tickets whose mask is at or after t_gen(dense) "
             f"(full: at least P = {threshold:.0%})", "≥", threshold, "accuracy"), values,
        ours="final test accuracy: " + _listing(judged, late, lambda r: f"{r.history['test_acc'][-1]:.4f}"))


# ---------------------------------------------------------------------------------------------
# The figure

def plot(result: Result, params: Params):
    """Test accuracy of the first seed's tickets, coloured by the step their mask comes from; the
    dense run itself with those steps marked; then every ticket's t_gen against its mask's step,
    both over its own dense run's t_gen (the first seed's joined, the other seeds' faint)."""
    plots.use_sharp_figures()
    fig, axes = plt.subplots(3, 1, figsize=(8, 11), constrained_layout=True)
    tickets, dense = result.tickets, result.dense
    plots.coloured(axes[0], tickets, "test_acc", "mask at step")
    axes[0].set_title(f"{TITLE}: tickets from different steps; {plots.setting(dense, params.scale)}, "
                      f"seed {params.seeds[0]}")
    h = dense.history
    axes[1].plot(h.steps, h["test_acc"], color=plots.colour("dense"), label="dense test")
    axes[1].plot(h.steps, h["train_acc"], "--", color=plots.colour("dense"), label="dense train")
    for t in tickets:
        axes[1].axvline(t, color="grey", linestyle=":", linewidth=1)
    plots.finish(axes[1], "accuracy", "the dense run; dotted: the steps the masks come from",
                 threshold=h.threshold)
    axes[1].set_ylim(-0.02, 1.02)
    _speed_against_split(axes[2], result)
    return fig


def _speed_against_split(ax, result: Result) -> None:
    """t_gen of each ticket over t_gen of its seed's dense run (log scale; a ticket that never
    generalises: a cross along the top edge) against its mask step over that t_gen (1: the split
    between early and late tickets). A seed whose dense run never generalises has no split: it is
    left out, and the title says so."""
    left_out, shown = [], False
    for i, (seed, sweep) in enumerate(result.sweeps.items()):
        t_gen = sweep.dense.history.t_gen
        if t_gen is None:
            left_out.append(seed)
            continue
        shown = True
        times = {t / t_gen: r.history.t_gen for t, r in sweep.tickets.items()}
        xs = [x for x, t in times.items() if t is not None]
        never = [x for x, t in times.items() if t is None]
        style = dict(color="tab:blue", label=f"seed {seed}") if i == 0 else dict(
            color="grey", alpha=0.35, markersize=4, label="other seeds (seeded steps)" if i == 1 else None)
        ax.plot(xs, [times[x] / t_gen for x in xs], "o-" if i == 0 else "o", **style)
        if never:
            ax.plot(never, [0.97] * len(never), "x", transform=ax.get_xaxis_transform(),
                    **{k: v for k, v in style.items() if k != "label"})
    ax.axvline(1, color="black", linestyle=":", linewidth=1)
    ax.axhline(1, color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("mask step / t_gen(dense) of its seed (early left of 1, late right)")
    ax.set_ylabel("t_gen(ticket) / t_gen(dense)")
    never = f"; dense never generalises, left out: seed {', '.join(map(str, left_out))}" if left_out else ""
    ax.set_title(f"each ticket's t_gen against its mask's step, both over its dense run's t_gen; "
                 f"×: never generalises{never}", fontsize=9)
    if shown:
        ax.legend(fontsize=8, loc="lower left")
