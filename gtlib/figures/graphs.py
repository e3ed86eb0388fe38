"""Figures 9 and 20: graph properties of the pruned network along the dense run (paper §5.2, App J,
App K).

At each checkpoint of the dense run, the ticket mask (magnitude, sparsity 0.6, one global threshold)
and the weights give, per layer, the weighted spectral gap, the Ramanujan gap, and the average
shortest-path length and clustering coefficient of the layer's relational graph
(`gtlib.analysis.graphs` states the construction, which the paper does not give). Figure 9 averages
over the layers; Figure 20 shows the spectral metrics layer by layer. The dashed lines are random
masks of each layer's density at the last checkpoint, with the trained weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from ..analysis.graphs import METRICS, layer_metrics
from ..analysis.masks import magnitude_masks
from ..claims import Check, above, below, least, slug, spearman
from ..params import FamilyParams
from ..store import Run, Store
from .mask_dynamics import Params as MaskDynamicsParams, runs as mask_dynamics_runs

NOTEBOOK = "fig9_graphs.ipynb"
FIGURES, TITLE = ("Fig 9a", "Fig 9b", "Fig 20"), "Figures 9 and 20"
UNCHECKED = {
    "the values of Table 1's graph rows": "they depend on a construction the paper does not give; "
    "ours is stated on this page",
}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig9_graphs.ipynb`` (its cell tagged ``parameters`` says what each
    means)."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    seed: int = 0
    checkpoint_every: int | None = None
    sparsity: float = 0.6


@dataclass(frozen=True)
class Result:
    """The dense run with its checkpoints; ``tables`` keeps the graph metrics of its masks per
    sparsity once `table` has measured them (the page's table, checks and plot all read them)."""

    dense: Run
    tables: dict[float, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": [self.dense]}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run with its checkpoints: the run of Figure 7 (on modular arithmetic, of Figure 4a)."""
    figure7 = MaskDynamicsParams(scale=params.scale, task=params.task, model=params.model, seed=params.seed,
                                 checkpoint_every=params.checkpoint_every)
    return Result(mask_dynamics_runs(figure7, store=store, device=device, progress=progress).dense)


def table(result: Result, params: Params) -> pd.DataFrame:
    """`trajectory` of the dense run at the page's sparsity, measured once per result."""
    if params.sparsity not in result.tables:
        result.tables[params.sparsity] = trajectory(result.dense, params.sparsity)
    return result.tables[params.sparsity]


def trajectory(run: Run, sparsity: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """Every metric of every layer at every checkpoint, and of random masks of the same densities
    (``step`` = "random"): columns step, layer, and one per metric."""
    names = list(run.masks())
    rows = []
    for step in run.checkpoint_steps:
        weights = run.weights(step)
        masks = magnitude_masks(weights, sparsity, names)
        for n in names:
            rows.append({"step": step, "layer": n, **layer_metrics(weights[n].numpy(), masks[n].numpy())})
    rng = np.random.default_rng(seed)
    last = run.weights()
    final = magnitude_masks(last, sparsity, names)
    for n in names:
        random = (rng.random(tuple(final[n].shape)) < float(final[n].mean())).astype(np.float64)
        rows.append({"step": "random", "layer": n, **layer_metrics(last[n].numpy(), random)})
    return pd.DataFrame(rows)


def _mean_over_layers(table: pd.DataFrame) -> pd.DataFrame:
    trained = table[table["step"] != "random"]
    return trained.groupby("step")[list(METRICS)].mean()


def checks(result: Result, params: Params) -> list[Check]:
    """(9a) the weighted spectral gap rises during memorisation and narrows as the network
    generalises; the Ramanujan gap falls steadily; (9b) the path length rises and the clustering
    falls with test accuracy; (20) the spectral claims hold in every layer."""
    fig9a, fig9b, fig20 = FIGURES
    run = result.dense
    rows = table(result, params)
    mean = _mean_over_layers(rows)
    steps = list(mean.index)
    t_gen = run.history.t_gen
    at_gen = min(steps, key=lambda s: abs(s - (t_gen if t_gen is not None else steps[-1])))
    out = []

    def rises_then_narrows(series: pd.Series) -> tuple[bool, float | None, str]:
        peak = series.idxmax()
        inside = steps[0] < peak < steps[-1]
        narrowed = series.iloc[-1] <= 0.9 * series.max()
        return (inside and narrowed and peak <= at_gen,
                below(series.iloc[-1], 0.9 * series.max()) if inside else None,
                f"peak {series.max():.3f} at step {peak:,}; end {series.iloc[-1]:.3f}")

    holds, margin, text = rises_then_narrows(mean["weighted spectral gap"])
    out.append(Check(
        f"{slug(fig9a)}.weighted_gap_rises_then_narrows", fig9a,
        "The weighted spectral gap rises during memorisation, then narrows as the network generalises",
        "rises sharply, then narrows (Fig 9a; Table 1: 0.61 → 0.81 → 0.36)",
        "mean over layers: its peak lies after step 0 and no later than t_gen, and it ends ≥ 10 % below the peak",
        f"{text}; t_gen = {t_gen:,}" if t_gen is not None else text, holds, margin))
    rho = spearman(steps, list(mean["Ramanujan gap"]))
    out.append(Check(
        f"{slug(fig9a)}.ramanujan_gap_falls", fig9a, "The Ramanujan gap falls steadily",
        "falls steadily from the start (Fig 9a, App K; Table 1: −2.6 → −4.6)",
        "Spearman ρ(step, Ramanujan gap averaged over layers) ≤ −0.8",
        f"ρ = {rho:.2f}; {mean['Ramanujan gap'].iloc[0]:.2f} → {mean['Ramanujan gap'].iloc[-1]:.2f}",
        rho <= -0.8, below(rho, -0.8) if rho < 0 else -1.0))
    # "With test accuracy": from the first checkpoint at or after t_mem (the network has fitted its
    # training set; before it the masks change wholesale, see Figure 7) to the one nearest t_gen.
    t_mem = run.history.t_mem or 0
    fitted = next((s for s in steps if s >= t_mem and s > 0), steps[0])
    length, clustering = mean["average path length"], mean["clustering coefficient"]
    window = f"step {fitted:,} → {at_gen:,}"
    out.append(Check(
        f"{slug(fig9b)}.path_length_rises", fig9b, "The average path length rises as the network generalises",
        "L rises with test accuracy, then settles (Fig 9b)", "L at t_gen > L at t_mem (nearest checkpoints)",
        f"{length[fitted]:.4f} → {length[at_gen]:.4f} ({window})",
        length[at_gen] > length[fitted], above(length[at_gen], length[fitted])))
    out.append(Check(
        f"{slug(fig9b)}.clustering_falls", fig9b, "The clustering coefficient falls as the network generalises",
        "C falls with test accuracy, then settles (Fig 9b)", "C at t_gen < C at t_mem (nearest checkpoints)",
        f"{clustering[fitted]:.4f} → {clustering[at_gen]:.4f} ({window})",
        clustering[at_gen] < clustering[fitted], below(clustering[at_gen], clustering[fitted])))
    trained = rows[rows["step"] != "random"]
    per_layer = {n: rises_then_narrows(g.set_index("step")["weighted spectral gap"])
                 for n, g in trained.groupby("layer", sort=False)}
    out.append(Check(
        f"{slug(fig20)}.every_layer_gap_rises_then_narrows", fig20,
        "In every layer the weighted spectral gap rises, then narrows", "the weighted gap spikes during "
        "memorisation, then narrows (Fig 20a-d)", "the 9a rule, layer by layer",
        "; ".join(f"{n}: {t}" for n, (_, _, t) in per_layer.items()),
        all(h for h, _, _ in per_layer.values()), least(m for _, m, _ in per_layer.values())))
    rhos = {n: spearman(list(g["step"]), list(g["Ramanujan gap"])) for n, g in trained.groupby("layer", sort=False)}
    out.append(Check(
        f"{slug(fig20)}.every_layer_ramanujan_falls", fig20, "In every layer the Ramanujan gap falls steadily",
        "falls steadily from the start (Fig 20a-d)", "Spearman ρ ≤ −0.8 in every layer",
        ", ".join(f"{n}: ρ = {r:.2f}" for n, r in rhos.items()), all(r <= -0.8 for r in rhos.values()),
        least(below(r, -0.8) if r < 0 else -1.0 for r in rhos.values())))
    return out


def plot(result: Result, params: Params):
    """Figure 9: each metric averaged over the layers (thick) and per layer (thin), with the test
    accuracy and random-mask references; Figure 20: the two spectral gaps layer by layer."""
    plots.use_sharp_figures()
    run = result.dense
    rows = table(result, params)
    trained = rows[rows["step"] != "random"]
    random = rows[rows["step"] == "random"].set_index("layer")
    mean = _mean_over_layers(rows)
    fig, axes = plt.subplots(3, 2, figsize=(10, 11), constrained_layout=True)
    h = run.history
    for ax, metric in zip(axes.flat[:4], METRICS):
        for n, g in trained.groupby("layer", sort=False):
            ax.plot(g["step"], g[metric], linewidth=0.8, alpha=0.6, label=n)
        ax.plot(mean.index, mean[metric], "k-", linewidth=2, label="mean")
        ax.axhline(random[metric].mean(), color="black", linestyle="--", linewidth=1, label="random masks")
        twin = ax.twinx()
        twin.plot(h.steps, h["test_acc"], color=plots.colour("dense"), alpha=0.4)
        twin.set_ylim(-0.02, 1.02)
        twin.set_ylabel("test accuracy", color=plots.colour("dense"))
        if h.t_gen is not None:
            ax.axvline(h.t_gen, color="grey", linestyle=":", linewidth=1)
        ax.set_title(("(9a) " if "gap" in metric else "(9b) ") + metric, fontsize=10)
        ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=7)
    for ax, metric in zip(axes[2], ("weighted spectral gap", "Ramanujan gap")):
        for n, g in trained.groupby("layer", sort=False):
            ax.plot(g["step"], g[metric], "o-", markersize=3, label=n)
            ax.axhline(random.loc[n, metric], linestyle="--", linewidth=0.8, color=ax.lines[-1].get_color())
        ax.set_title(f"(20) {metric} per layer (dashed: random masks)", fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.suptitle(f"{TITLE}: {plots.setting(run, params.scale)}")
    return fig
