"""Figures 7 and 15: the mask changes most while the network generalises (paper §5.1, App F).

Along the dense run, the ticket mask of each checkpoint (magnitude, sparsity 0.6, one global
threshold, as the tickets are made) is compared with the next one by the Jaccard distance, per
matrix (`gtlib.analysis.masks`), beside the change of test accuracy over the same interval (for
regression, which has no accuracy, the fall of the test loss on a log scale). The paper: checkpoints
2k steps apart, the distance peaks where test accuracy changes most, around 16-20k steps in its run.

The intervals start at the first checkpoint at or after the dense run's t_mem (the paper's first
mask, at 2k steps, comes after its network has fitted the training set): before that the masks
change wholesale as the network leaves its random initialisation, which says nothing about
generalisation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from ..analysis.masks import distances_over_training, unrelated_distance
from ..claims import Check, at_step, slug
from ..params import FamilyParams
from ..presets import check_scale, dense_config, task_presets
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig7_mask_dynamics.ipynb"
UNCHECKED = {
    "the peak lies at 16k-20k steps": "that is where the paper's run generalises; ours generalises "
    "at its own t_gen, which is what the checks compare with",
}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig7_mask_dynamics.ipynb`` (its cell tagged ``parameters`` says what
    each means). ``figure`` names the claims and titles the plot (Fig 7, Fig 15a, Fig 15b)."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    seed: int = 0
    checkpoint_every: int | None = None
    sparsity: float = 0.6
    figure: str = "Fig 7"


@dataclass(frozen=True)
class Result:
    """The dense run with its checkpoints."""

    dense: Run

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": [self.dense]}


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
    """The dense run, keeping a checkpoint every ``checkpoint_every`` steps, trained if missing.
    On modular arithmetic, with the default spacing, this is the dense run of Figure 4a. On the
    other tasks the dense runs of Figure 2 kept only their last weights, and their tickets were made
    from those: rather than replace them, Figure 15 trains runs of its own, which log metrics twice
    as often (so they are other runs, with other keys)."""
    check_scale(params.scale)
    every = params.checkpoint_every or default_spacing(params.scale, params.task)
    preset = task_presets(params.task).get(params.scale, {})
    own = {} if preset.get("checkpoint_every") else {"eval_every": max(1, preset.get("eval_every", 10) // 2)}
    dense = dense_config(params.task, params.model, scale=params.scale, seed=params.seed,
                         checkpoint_every=every, task_params=params.task_params, **own)
    return Result(*run_many([dense], store, device=device, progress=progress))


def dynamics(run: Run, sparsity: float = 0.6) -> dict:
    """The mask distances and the change of test accuracy (or of log test loss) between consecutive
    checkpoints of ``run`` from its t_mem on: {"steps": interval ends, "distance": name -> [JD], "mean": [JD averaged
    over the matrices], "change": [Δ], "reference": JD of unrelated masks}."""
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
    return {"steps": steps[1:], "distance": distance,
            "mean": list(np.mean([distance[n] for n in names], axis=0)), "change": change,
            "reference": unrelated_distance(1.0 - sparsity)}


def checks(result: Result, params: Params) -> list[Check]:
    """The interval in which the masks change most is the one in which the network generalises
    (for the distance averaged over the matrices, and for every matrix), within one interval."""
    run = result.dense
    d = dynamics(run, params.sparsity)
    steps, change = d["steps"], d["change"]
    figure, f = params.figure, slug(params.figure)
    kind = "fall of log₁₀ test loss" if run.history.is_regression else "rise of test accuracy"
    most = int(np.argmax(change))
    peak = int(np.argmax(d["mean"]))
    every = run.config.checkpoint_every
    out = [Check(
        f"{f}.distance_peaks_with_generalisation", figure,
        "The masks change most where test accuracy changes most",
        "JD peaks where test accuracy changes most (Fig 7: 16k-20k)",
        f"the interval of largest JD (mean over matrices) is the interval of largest {kind}, or next to it",
        f"JD peaks in the interval ending at step {steps[peak]:,} ({d['mean'][peak]:.2f}); largest "
        f"{kind} in the one ending at {steps[most]:,} ({change[most]:+.2f}); checkpoints {every:,} steps apart",
        abs(peak - most) <= 1)]
    peaks = {n: int(np.argmax(v)) for n, v in d["distance"].items()}
    out.append(Check(
        f"{f}.every_matrix_peaks_there", figure, "Every matrix's mask changes most there",
        "the peak is seen in every layer (W_emb, W_in, W_out, W_unemb)",
        f"each matrix's largest JD lies in the interval of largest {kind}, or next to it",
        ", ".join(f"{n}: {steps[i]:,}" for n, i in peaks.items()),
        all(abs(i - most) <= 1 for i in peaks.values())))
    return out


def plot(result: Result, params: Params):
    """Per matrix, the Jaccard distance between consecutive masks (red) and the change of test
    accuracy (green), the interval of largest change marked; the dotted line is the distance of two
    unrelated masks of the same density. The title is the page's ``figure``, spelt out."""
    plots.use_sharp_figures()
    run = result.dense
    d = dynamics(run, params.sparsity)
    names = list(d["distance"])
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(8, 2.6 * (len(names) + 1)), sharex=True,
                             constrained_layout=True)
    kind = "Δ log₁₀ test loss (fall)" if run.history.is_regression else "Δ test accuracy"
    most = d["steps"][int(np.argmax(d["change"]))]
    for ax, (name, values) in zip(axes, [*d["distance"].items(), ("mean over matrices", d["mean"])]):
        ax.plot(d["steps"], values, "o-", color="tab:red", label="Jaccard distance")
        ax.axhline(d["reference"], color="tab:red", linestyle=":", linewidth=1,
                   label="unrelated masks")
        ax.set_ylabel(f"JD, {name}")
        twin = ax.twinx()
        twin.plot(d["steps"], d["change"], "s-", color="tab:green", label=kind)
        twin.set_ylabel(kind, color="tab:green")
        ax.axvline(most, color="grey", linestyle="--", linewidth=1)
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=8, loc="upper left")
    title = params.figure.replace("Fig", "Figure")
    axes[0].set_title(f"{title}: masks of consecutive checkpoints; {plots.setting(run, params.scale)}")
    axes[-1].set_xlabel("step at the end of the interval")
    return fig


def table(result: Result, params: Params) -> pd.DataFrame:
    """The numbers behind the figure: per interval, the Jaccard distance of each matrix and the
    change of test accuracy (or of log test loss)."""
    run = result.dense
    d = dynamics(run, params.sparsity)
    kind = "Δ log10 test loss (fall)" if run.history.is_regression else "Δ test accuracy"
    columns = {"interval end": d["steps"], **{f"JD {n}": v for n, v in d["distance"].items()},
               "JD mean": d["mean"], kind: d["change"]}
    return pd.DataFrame(columns).round(3).set_index("interval end")
