"""Figures 9 and 20: graph properties of the pruned network along the dense run (paper §5.2, App J,
App K).

At each checkpoint of each seed's dense run, the ticket mask (magnitude, sparsity 0.6, one global
threshold) and the weights give, per layer, the weighted spectral gap, the Ramanujan gap, and the
average shortest-path length and clustering coefficient of the layer's relational graph
(`gtlib.analysis.graphs` states the construction, which the paper does not give). Figure 9 averages
over the layers; Figure 20 shows the spectral metrics layer by layer. The dashed lines are random
masks of each layer's density at the last checkpoint, with the trained weights.

The claims are decided per seed on the phases of the seed's own run (`phases`), which the
generalisation window of Figure 7 (`mask_dynamics.generalisation_window`) separates: a metric's
mean over the checkpoints before the window against its mean over those after it, never its value
at the one checkpoint nearest t_gen, which rounding moves.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from ..analysis.graphs import METRICS, layer_metrics
from ..analysis.masks import magnitude_masks
from ..claims import UNKNOWN, Claim, Interval, Rule, slug, spearman
from ..params import FamilyParams
from ..store import Run, Store
from .mask_dynamics import (Params as MaskDynamicsParams, generalisation_window,
                            runs as mask_dynamics_runs, window_words)

NOTEBOOK = "fig9_graphs.ipynb"
FIGURES, TITLE = ("Fig 9a", "Fig 9b", "Fig 20"), "Figures 9 and 20"
UNCHECKED = {
    "the values of Table 1's graph rows": "they depend on a construction the paper does not give; "
    "ours is stated on this page",
}

# "Falls steadily": the rank correlation of the Ramanujan gap with the step, over every checkpoint.
STEADY = -0.8


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig9_graphs.ipynb`` (its cell tagged ``parameters`` says what each
    means); ``seeds``: one dense run per seed, the first the figure's."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    seeds: tuple[int, ...] = (0,)
    checkpoint_every: int | None = None
    sparsity: float = 0.6


@dataclass(frozen=True)
class Result:
    """The dense runs with their checkpoints, one per seed; ``tables`` keeps the graph metrics of
    their masks per sparsity once `table` has measured them (the page's table, checks and plot all
    read them)."""

    dense: tuple[Run, ...]
    tables: dict[float, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": list(self.dense)}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense runs with their checkpoints: those of Figure 7 (on modular arithmetic, of Figure 4a)."""
    figure7 = MaskDynamicsParams(scale=params.scale, task=params.task, model=params.model, seeds=params.seeds,
                                 checkpoint_every=params.checkpoint_every)
    return Result(mask_dynamics_runs(figure7, store=store, device=device, progress=progress).dense)


def table(result: Result, params: Params) -> pd.DataFrame:
    """`trajectory` of every seed's dense run at the page's sparsity (a first column ``seed``),
    measured once per result."""
    if params.sparsity not in result.tables:
        result.tables[params.sparsity] = pd.concat(
            [trajectory(run, params.sparsity).assign(seed=run.config.seed) for run in result.dense],
            ignore_index=True)[["seed", "step", "layer", *METRICS]]
    return result.tables[params.sparsity]


def trajectory(run: Run, sparsity: float = 0.6, random_seed: int = 0) -> pd.DataFrame:
    """Every metric of every layer at every checkpoint, and of random masks of the same densities
    (``step`` = "random"): columns step, layer, and one per metric."""
    names = list(run.masks())
    rows = []
    for step in run.checkpoint_steps:
        weights = run.weights(step)
        masks = magnitude_masks(weights, sparsity, names)
        for n in names:
            rows.append({"step": step, "layer": n, **layer_metrics(weights[n].numpy(), masks[n].numpy())})
    rng = np.random.default_rng(random_seed)
    last = run.weights()
    final = magnitude_masks(last, sparsity, names)
    for n in names:
        random = (rng.random(tuple(final[n].shape)) < float(final[n].mean())).astype(np.float64)
        rows.append({"step": "random", "layer": n, **layer_metrics(last[n].numpy(), random)})
    return pd.DataFrame(rows)


def _trained(rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One seed's rows at its checkpoints (no random-mask rows), steps as integers."""
    found = rows[(rows["seed"] == seed) & (rows["step"] != "random")]
    return found.astype({"step": int})


def _mean_over_layers(trained: pd.DataFrame) -> pd.DataFrame:
    return trained.groupby("step")[list(METRICS)].mean()


# ---------------------------------------------------------------------------------------------
# The phases of a run, and the statistics on them

def phases(history, steps: list[int]) -> dict[str, list[int]] | None:
    """The checkpoints (``steps``) of each phase of a run, from its own curves: **start**, the first
    checkpoint (the initialisation); **memorised**, those at or after t_mem (the network fits its
    training set; before it the masks change wholesale, see Figure 7) and before the
    generalisation window [t₁₀, t₉₀] (`mask_dynamics.generalisation_window`); **generalised**,
    those at or after t₉₀. None where the run never generalised (no window)."""
    window = generalisation_window(history)
    if window is None:
        return None
    t_mem = history.t_mem or 0
    return {"start": steps[:1], "memorised": [s for s in steps if t_mem <= s < window[0] and s > steps[0]],
            "generalised": [s for s in steps if s >= window[1]]}


def phase_means(series: pd.Series, found: dict[str, list[int]] | None) -> dict[str, float] | None:
    """The mean of ``series`` (indexed by step) over each phase; None where a phase is empty."""
    if found is None or not all(found.values()):
        return None
    return {name: float(series.loc[steps].mean()) for name, steps in found.items()}


def rises_then_narrows(series: pd.Series, found: dict[str, list[int]] | None) -> Interval:
    """The weighted spectral gap's mean over the memorised phase ÷ the larger of its value at the
    start and its mean over the generalised phase: above 1 when it rose during memorisation and
    narrowed after the network generalised. `UNKNOWN` where a phase is empty."""
    means = phase_means(series, found)
    if means is None:
        return UNKNOWN
    return Interval.point(means["memorised"] / max(means["start"], means["generalised"]))


def after_over_before(series: pd.Series, found: dict[str, list[int]] | None) -> Interval:
    """A metric's mean over the generalised phase ÷ its mean over the memorised phase (above 1: it
    rose as the network generalised). `UNKNOWN` where a phase is empty."""
    means = phase_means(series, found)
    if means is None:
        return UNKNOWN
    return Interval.point(means["generalised"] / means["memorised"])


def checks(result: Result, params: Params) -> list[Claim]:
    """Per seed: (9a) the weighted spectral gap (averaged over the layers) is higher while the
    network has memorised than at the start and than after it generalised; the Ramanujan gap falls
    steadily; (9b) the path length is longer and the clustering lower after the generalisation
    window than before it; (20) the spectral claims hold in every layer."""
    fig9a, fig9b, fig20 = FIGURES
    rows = table(result, params)
    seeds = [run.config.seed for run in result.dense]
    trained = {s: _trained(rows, s) for s in seeds}
    mean = {s: _mean_over_layers(trained[s]) for s in seeds}
    found = {run.config.seed: phases(run.history, list(mean[run.config.seed].index)) for run in result.dense}
    layers = {s: {n: g.set_index("step") for n, g in trained[s].groupby("layer", sort=False)} for s in seeds}
    windows = "; ".join(f"seed {run.config.seed}: {window_words(generalisation_window(run.history))}"
                        for run in result.dense)

    def per_seed(statistic, metric: str) -> dict[int, Interval]:
        return {s: statistic(mean[s][metric], found[s]) for s in seeds}

    def least_layer(metric: str) -> dict[int, Interval]:
        return {s: min((rises_then_narrows(g[metric], found[s]) for g in layers[s].values()), key=lambda v: v.low)
                for s in seeds}

    def ramanujan_rho(series: pd.Series) -> float:
        return spearman(list(series.index), list(series))

    gap = "weighted spectral gap"
    rises = ("mean over the memorised checkpoints ÷ the larger of the value at step 0 and the mean over "
             "the generalised checkpoints (a ratio of means)")
    return [
        Claim(f"{slug(fig9a)}.weighted_gap_rises_then_narrows", fig9a,
              "The weighted spectral gap rises during memorisation, then narrows as the network generalises",
              "rises sharply, then narrows (Fig 9a; Table 1: 0.61 → 0.81 → 0.36)",
              Rule(f"weighted spectral gap averaged over layers: {rises}", ">", 1, "structure"),
              per_seed(rises_then_narrows, gap),
              ours=f"memorised: from t_mem to the window; generalised: from its end on; {windows}"),
        Claim(f"{slug(fig9a)}.ramanujan_gap_falls", fig9a, "The Ramanujan gap falls steadily",
              "falls steadily from the start (Fig 9a, App K; Table 1: −2.6 → −4.6)",
              Rule("Spearman ρ(step, Ramanujan gap averaged over layers) over every checkpoint", "≤", STEADY,
                   "correlation"),
              {s: Interval.point(ramanujan_rho(mean[s]["Ramanujan gap"])) for s in seeds}),
        Claim(f"{slug(fig9b)}.path_length_rises", fig9b, "The average path length rises as the network generalises",
              "L rises with test accuracy, then settles (Fig 9b)",
              Rule("L averaged over layers: mean over the generalised checkpoints ÷ mean over the memorised ones "
                   "(a ratio of means)", ">", 1, "structure"),
              per_seed(after_over_before, "average path length")),
        Claim(f"{slug(fig9b)}.clustering_falls", fig9b, "The clustering coefficient falls as the network generalises",
              "C falls with test accuracy, then settles (Fig 9b)",
              Rule("C averaged over layers: mean over the generalised checkpoints ÷ mean over the memorised ones "
                   "(a ratio of means)", "<", 1, "structure"),
              per_seed(after_over_before, "clustering coefficient")),
        Claim(f"{slug(fig20)}.every_layer_gap_rises_then_narrows", fig20,
              "In every layer the weighted spectral gap rises, then narrows",
              "the weighted gap spikes during memorisation, then narrows (Fig 20a-d)",
              Rule(f"the least over the layers of the 9a statistic ({rises})", ">", 1, "structure"), least_layer(gap)),
        Claim(f"{slug(fig20)}.every_layer_ramanujan_falls", fig20, "In every layer the Ramanujan gap falls steadily",
              "falls steadily from the start (Fig 20a-d)",
              Rule("the largest over the layers of Spearman ρ(step, Ramanujan gap)", "≤", STEADY, "correlation"),
              {s: Interval.point(max(ramanujan_rho(g["Ramanujan gap"]) for g in layers[s].values())) for s in seeds}),
    ]


def plot(result: Result, params: Params):
    """Figure 9: each metric of the first seed averaged over the layers (thick) and per layer (thin),
    the other seeds' means faint, with the test accuracy, the first seed's generalisation window
    (shaded) and random-mask references; Figure 20: the first seed's two spectral gaps layer by layer."""
    plots.use_sharp_figures()
    run = result.dense[0]
    rows = table(result, params)
    first = run.config.seed
    trained = _trained(rows, first)
    random = rows[(rows["seed"] == first) & (rows["step"] == "random")].set_index("layer")
    mean = _mean_over_layers(trained)
    others = [_mean_over_layers(_trained(rows, r.config.seed)) for r in result.dense[1:]]
    window = generalisation_window(run.history)
    fig, axes = plt.subplots(3, 2, figsize=(10, 11), constrained_layout=True)
    h = run.history
    for ax, metric in zip(axes.flat[:4], METRICS):
        for n, g in trained.groupby("layer", sort=False):
            ax.plot(g["step"], g[metric], linewidth=0.8, alpha=0.6, label=n)
        for i, other in enumerate(others):
            ax.plot(other.index, other[metric], color="grey", linewidth=1, alpha=0.35,
                    label="mean, other seeds" if i == 0 else None)
        ax.plot(mean.index, mean[metric], "k-", linewidth=2, label=f"mean, seed {first}")
        ax.axhline(random[metric].mean(), color="black", linestyle="--", linewidth=1, label="random masks")
        twin = ax.twinx()
        twin.plot(h.steps, h["test_acc"], color=plots.colour("dense"), alpha=0.4)
        twin.set_ylim(-0.02, 1.02)
        twin.set_ylabel("test accuracy", color=plots.colour("dense"))
        if window is not None:
            ax.axvspan(*window, color="grey", alpha=0.15, label="generalisation window")
        ax.set_title(("(9a) " if "gap" in metric else "(9b) ") + metric, fontsize=10)
        ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=7)
    for ax, metric in zip(axes[2], ("weighted spectral gap", "Ramanujan gap")):
        for n, g in trained.groupby("layer", sort=False):
            ax.plot(g["step"], g[metric], "o-", markersize=3, label=n)
            ax.axhline(random.loc[n, metric], linestyle="--", linewidth=0.8, color=ax.lines[-1].get_color())
        ax.set_title(f"(20) {metric} per layer, seed {first} (dashed: random masks)", fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.suptitle(f"{TITLE}: {plots.setting(run, params.scale)}")
    return fig
