"""Figures 7 and 15: the mask changes most while the network generalises (paper §5.1, App F).

Along each seed's dense run, the ticket mask of each checkpoint (magnitude, sparsity 0.6, one global
threshold, as the tickets are made) is compared with the next one by the Jaccard distance, per
matrix (`gtlib.analysis.masks`), beside the change of test accuracy over the same interval (for
regression, which has no accuracy, the fall of the test loss on a log scale). The paper: checkpoints
2k steps apart, the distance peaks where test accuracy changes most, around 16-20k steps in its run.

The intervals start at the first checkpoint at or after the dense run's t_mem (the paper's first
mask, at 2k steps, comes after its network has fitted the training set): before that the masks
change wholesale as the network leaves its random initialisation, which says nothing about
generalisation.

The claims are decided per seed on the seed's own **generalisation window** (`generalisation_window`,
which Figures 9 and 20 share): the masks change faster inside it than outside it. A window rests on
the whole test curve, not on the one step where it crosses P, which rounding moves.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from ..analysis.masks import distances_over_training, unrelated_distance
from ..claims import UNKNOWN, Claim, Interval, Rule, at_step, slug
from ..params import FamilyParams
from ..presets import check_scale, dense_config, task_presets
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig7_mask_dynamics.ipynb"
UNCHECKED = {
    "the peak lies at 16k-20k steps": "that is where the paper's run generalises; ours generalises "
    "at its own time, and the claims compare with each seed's own generalisation window",
}

# The generalisation window runs from where the test curve has covered RISE[0] of its range to where
# it has covered RISE[1] (`generalisation_window`).
RISE = (0.1, 0.9)

# A statistic that cannot be computed for a seed (no window: the run never generalised; or no
# interval or checkpoint on one side of it) is `claims.UNKNOWN`: the seed is in band.


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig7_mask_dynamics.ipynb`` (its cell tagged ``parameters`` says what
    each means). ``figure`` names the claims and titles the plot (Fig 7, Fig 15a, Fig 15b);
    ``seeds``: one dense run per seed, the first the figure's."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    checkpoint_every: int | None = None
    sparsity: float = 0.6
    figure: str = "Fig 7"


@dataclass(frozen=True)
class Result:
    """The dense runs with their checkpoints, one per seed in the order of ``Params.seeds``."""

    dense: tuple[Run, ...]

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": list(self.dense)}


def default_spacing(scale: str, task: str) -> int:
    """Steps between the checkpoints compared: the scale's checkpoint interval where it has one
    (modular arithmetic: paper 2k, as the paper; quick 250), else a sixteenth of the run."""
    preset = task_presets(task).get(scale, {})
    if preset.get("checkpoint_every"):
        return preset["checkpoint_every"]
    steps, every = preset.get("steps", 30_000), preset.get("eval_every", 10)
    return max(every, steps // 16 // every * every)


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run of each seed, keeping a checkpoint every ``checkpoint_every`` steps, trained
    if missing. On modular arithmetic, with the default spacing, these are the dense runs of
    Figure 4a. On the other tasks the dense runs of Figure 2 kept only their last weights, and their
    tickets were made from those: rather than replace them, Figure 15 trains runs of its own, which
    log metrics twice as often (so they are other runs, with other keys)."""
    check_scale(params.scale)
    every = params.checkpoint_every or default_spacing(params.scale, params.task)
    preset = task_presets(params.task).get(params.scale, {})
    own = {} if preset.get("checkpoint_every") else {"eval_every": max(1, preset.get("eval_every", 10) // 2)}
    dense = [dense_config(params.task, params.model, scale=params.scale, seed=seed, checkpoint_every=every,
                          task_params=params.task_params, **own) for seed in params.seeds]
    return Result(tuple(run_many(dense, store, device=device, progress=progress)))


# ---------------------------------------------------------------------------------------------
# The generalisation window

def progress_curve(history) -> np.ndarray:
    """What rises as a run generalises, at each logged step: test accuracy; for regression, which
    has none, −log₁₀ of the test loss."""
    if history.is_regression:
        return -np.log10(np.asarray(history["test_loss"], dtype=float))
    return np.asarray(history["test_acc"], dtype=float)


def generalisation_window(history) -> tuple[int, int] | None:
    """The seed's **generalisation window** [t₁₀, t₉₀], from its own test curve a (`progress_curve`:
    test accuracy, or −log₁₀ test loss for regression) at its logged steps. With lo and hi the least
    and the largest value of a over the run, t₁₀ and t₉₀ are the first logged steps at which a
    reaches lo + 0.1 (hi − lo) and lo + 0.9 (hi − lo) (`RISE`): the steps over which test accuracy
    covers the middle 80 % of its rise.

    Rounding that moves the one step at which a crosses P (t_gen) by a few logged steps moves the
    window's ends by about as much, and a statistic over many checkpoints on either side of it
    hardly at all. None where the run never generalises within its budget (no t_gen): there is no
    window, and a claim that needs one leaves that seed undecided (`UNKNOWN`: in band), neither
    supporting nor contradicting it."""
    if history.t_gen is None:
        return None
    a = progress_curve(history)
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    start, end = (int(history.steps[np.flatnonzero(a >= lo + f * (hi - lo))[0]]) for f in RISE)
    return start, end


def window_words(window: tuple[int, int] | None) -> str:
    return "never generalised: no window" if window is None else f"window {window[0]:,}–{window[1]:,}"


# ---------------------------------------------------------------------------------------------
# Mask distances along a run

def dynamics(run: Run, sparsity: float = 0.6) -> dict:
    """The mask distances and the change of test accuracy (or of log test loss) between consecutive
    checkpoints of ``run`` from its t_mem on: {"steps": interval ends, "distance": name -> [JD], "mean": [JD averaged over the matrices], "change": [Δ], "window": the
    run's `generalisation_window`, "inside": [whether each interval overlaps it], "reference": JD of
    unrelated masks}."""
    first = max(run.history.t_mem or 0, 1)
    steps = [t for t in run.checkpoint_steps if t >= first]
    names = list(run.masks())
    distance = distances_over_training({t: run.weights(t) for t in steps}, sparsity, names)
    h = run.history
    if h.is_regression:
        level = [np.log10(at_step(h, "test_loss", t)) for t in steps]
        change = [level[i] - level[i + 1] for i in range(len(steps) - 1)]  # a fall is positive
    else:
        level = [at_step(h, "test_acc", t) for t in steps]
        change = [level[i + 1] - level[i] for i in range(len(steps) - 1)]
    window = generalisation_window(h)
    # The interval (t_i, t_i+1] overlaps the window [t₁₀, t₉₀] when t_i+1 ≥ t₁₀ and t_i < t₉₀: a
    # window inside one interval makes that interval the one inside.
    inside = [window is not None and steps[i + 1] >= window[0] and steps[i] < window[1]
              for i in range(len(steps) - 1)]
    return {"steps": steps[1:], "distance": distance,
            "mean": list(np.mean([distance[n] for n in names], axis=0)),
            "change": change, "window": window, "inside": inside,
            "reference": unrelated_distance(1.0 - sparsity)}


def inside_over_outside(distances: list[float], inside: list[bool]) -> Interval:
    """Mean JD over the intervals inside the generalisation window ÷ mean JD over the others:
    above 1 where the masks change faster while the network generalises. `UNKNOWN` where either
    side has no interval."""
    d, mask = np.asarray(distances, dtype=float), np.asarray(inside, dtype=bool)
    if not mask.any() or mask.all():
        return UNKNOWN
    within, without = float(d[mask].mean()), float(d[~mask].mean())
    return Interval.point(float("inf") if without == 0 else within / without)


def checks(result: Result, params: Params) -> list[Claim]:
    """Per seed, on its own generalisation window: the masks (their distance averaged over the
    matrices) change faster inside it than outside it, and so does every matrix's."""
    figure, f = params.figure, slug(params.figure)
    seeds = [run.config.seed for run in result.dense]
    found = [dynamics(run, params.sparsity) for run in result.dense]
    mean = {s: inside_over_outside(d["mean"], d["inside"]) for s, d in zip(seeds, found)}
    # A matrix whose mask never changes (one small enough to be kept whole, say) has no change to
    # place: it is left out of "every matrix".
    per_matrix = [{n: inside_over_outside(v, d["inside"]) for n, v in d["distance"].items() if any(v)}
                  for d in found]
    least = {s: min(m.values(), key=lambda v: v.low, default=UNKNOWN) for s, m in zip(seeds, per_matrix)}
    every = result.dense[0].config.checkpoint_every
    windows = "; ".join(f"seed {s}: {window_words(d['window'])}" for s, d in zip(seeds, found))
    weakest = "; ".join(f"seed {s}: {min(m, key=lambda n: m[n].low, default='none changed')}"
                        for s, m in zip(seeds, per_matrix))
    side = "mean JD per interval inside the seed's generalisation window ÷ mean JD outside it"
    return [
        Claim(f"{f}.distance_peaks_with_generalisation", figure,
              "The masks change most while the network generalises",
              "JD peaks where test accuracy changes most (Fig 7: 16k-20k)",
              Rule(f"{side} (JD averaged over the matrices; a ratio of means)", ">", 1, "trajectory"), mean,
              ours=f"checkpoints {every:,} steps apart from t_mem; {windows}"),
        Claim(f"{f}.every_matrix_peaks_there", figure, "Every matrix's mask changes most there",
              "the peak is seen in every layer (W_emb, W_in, W_out, W_unemb)",
              Rule(f"the least over the matrices whose mask changes of {side} (a ratio of means)", ">", 1,
                   "trajectory"), least,
              ours=f"the matrix with the least ratio: {weakest}"),
    ]


# ---------------------------------------------------------------------------------------------
# The figure and its numbers

def change_words(run: Run) -> str:
    return "Δ log₁₀ test loss (fall)" if run.history.is_regression else "Δ test accuracy"


def plot(result: Result, params: Params):
    """Per matrix, the Jaccard distance between consecutive masks (red) and the change of test
    accuracy (green) of the first seed, its generalisation window shaded; the other seeds' distances
    thin and faint. The dotted line is the distance of two unrelated masks of the same density. The
    title is the page's ``figure``, spelt out."""
    plots.use_sharp_figures()
    run, others = result.dense[0], result.dense[1:]
    d = dynamics(run, params.sparsity)
    rest = [dynamics(r, params.sparsity) for r in others]
    names = list(d["distance"])
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(8, 2.6 * (len(names) + 1)), sharex=True,
                             constrained_layout=True)
    kind = change_words(run)
    for ax, name in zip(axes, [*names, None]):
        pick = (lambda x: x["mean"]) if name is None else (lambda x, n=name: x["distance"][n])
        for other in rest:
            ax.plot(other["steps"], pick(other), "-", color="tab:red", linewidth=0.8, alpha=0.25)
        ax.plot(d["steps"], pick(d), "o-", color="tab:red",
                label=f"Jaccard distance, seed {run.config.seed}" + (" (thin: other seeds)" if rest else ""))
        ax.axhline(d["reference"], color="tab:red", linestyle=":", linewidth=1, label="unrelated masks")
        ax.set_ylabel(f"JD, {name or 'mean over matrices'}")
        twin = ax.twinx()
        twin.plot(d["steps"], d["change"], "s-", color="tab:green", label=kind)
        twin.set_ylabel(kind, color="tab:green")
        if d["window"] is not None:
            ax.axvspan(*d["window"], color="grey", alpha=0.15, label="generalisation window")
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=8, loc="upper left")
    title = params.figure.replace("Fig", "Figure")
    axes[0].set_title(f"{title}: masks of consecutive checkpoints; {plots.setting(run, params.scale)}")
    axes[-1].set_xlabel("step at the end of the interval")
    return fig


def table(result: Result, params: Params) -> pd.DataFrame:
    """The numbers behind the figure: per seed and interval, the Jaccard distance of each matrix,
    the change of test accuracy (or of log test loss) and whether the interval lies in the seed's
    generalisation window."""
    frames = []
    for run in result.dense:
        d = dynamics(run, params.sparsity)
        columns = {"seed": run.config.seed, "interval end": d["steps"],
                   **{f"JD {n}": v for n, v in d["distance"].items()}, "JD mean": d["mean"],
                   change_words(run).replace("₁₀", "10"): d["change"], "in window": d["inside"]}
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames).round(3).set_index(["seed", "interval end"])
