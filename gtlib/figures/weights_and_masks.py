"""Figures 18 and 19: the trained weights and the grokked ticket's masks are periodic; masks from
pruning at initialisation are not (paper App I).

The runs are those of Figures 1 and 5 (the dense run, its grokked ticket, the networks pruned at
initialisation): no training of their own. Periodicity over the residues is measured by the
*spectral concentration* of a matrix's rows (`gtlib.analysis.fourier`): the share of their average
power spectrum held by the three strongest frequencies, compared with random masks of the same
density. Only W_E and W_U have a residue axis (their columns are the 67 residues); W_in and W_out
are shown but not measured.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import plots
from ..analysis.fourier import random_concentration, spectral_concentration
from ..claims import Claim, Interval, Rule, slug
from ..config import derive
from ..params import FamilyParams
from ..presets import check_scale, dense_config
from ..runs import run_many
from ..store import Run, Store
from .controls import PRUNERS_AT_INIT

NOTEBOOK = "fig18_weights_and_masks.ipynb"
FIGURES, TITLE = ("Fig 18", "Fig 19"), "Figures 18 and 19"
RESIDUE_MATRICES = ("W_E", "W_U")
MORE_PERIODIC = 1.25  # a "periodic" mask: at least this many times a random mask's concentration
TRAINED_OVER_INIT = 2  # "periodic" weights: at least this many times θ0's concentration

UNCHECKED = {
    "the masks show *the same* periodicity as the weights": "the masks' strongest frequencies are "
    "sums and differences of the weights' (a magnitude mask keeps where |Σ cos| is large); the table "
    "lists both",
}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig18_weights_and_masks.ipynb`` (its cell tagged ``parameters`` says
    what each means)."""

    scale: str = "quick"
    task_params: dict = field(default_factory=dict)
    seed: int = 0
    sparsity: float = 0.6
    pruners: tuple[str, ...] = PRUNERS_AT_INIT


@dataclass(frozen=True)
class Result:
    """The dense run and the runs whose masks are shown: ``"ticket"`` (magnitude pruning of the
    trained dense run), then each pruning at initialisation, by pruner."""

    dense: Run
    pruned: dict[str, Run]

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": [self.dense], **{name: [run] for name, run in self.pruned.items()}}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The runs of Figures 1 and 5 (paper's MLP, modular addition), trained where missing."""
    check_scale(params.scale)
    dense = dense_config("modular", "mlp", scale=params.scale, seed=params.seed, checkpoint_every=None,
                         task_params=params.task_params)
    # The derived runs keep their masks and no weights: only the masks are read here.
    sparsity = params.sparsity
    plan = {"ticket": derive(dense, sparsity=sparsity, checkpoint_every=0),
            **{p: derive(dense, sparsity=sparsity, step=0, pruner=p, checkpoint_every=0) for p in params.pruners}}
    done = run_many([dense, *plan.values()], store, device=device, progress=progress)
    return Result(done[0], dict(zip(plan, done[1:])))


def concentrations(result: Result) -> dict[str, dict[str, float]]:
    """Spectral concentration of W_E and W_U: of the dense run's weights at step 0 and at the end,
    of every mask, and of random masks of each mask's density."""
    dense = result.dense
    out = {"θ0": {n: spectral_concentration(dense.weights(0)[n]) for n in RESIDUE_MATRICES},
           "trained weights": {n: spectral_concentration(dense.weights()[n]) for n in RESIDUE_MATRICES}}
    for name, run in result.pruned.items():
        masks = run.masks()
        out[f"{name} mask"] = {n: spectral_concentration(masks[n]) for n in RESIDUE_MATRICES}
        out[f"{name} random reference"] = {
            n: random_concentration(tuple(masks[n].shape), float(masks[n].mean())) for n in RESIDUE_MATRICES}
    return out


def table(result: Result) -> pd.DataFrame:
    """The spectral concentration of W_E and W_U for the weights, every mask and its random
    reference."""
    return pd.DataFrame(concentrations(result)).T.round(3)


def _mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def mask_ratios(c: dict[str, dict[str, float]]) -> dict[str, float]:
    """From `concentrations`, for each pruned run (``"ticket"``, then each pruner): its mask's
    spectral concentration over that of random masks of the same density (W_E and W_U averaged,
    each before dividing)."""
    return {name.removesuffix(" mask"): _mean(v) / _mean(c[name.replace(" mask", " random reference")])
            for name, v in c.items() if name.endswith(" mask")}


def checks(result: Result, params: Params) -> list[Claim]:
    """Figures 18 and 19's claims for the page's one seed: the trained weights are periodic
    (spectral concentration at least twice θ0's); the ticket's masks are (at least `MORE_PERIODIC`
    × random masks of their density); masks from pruning at initialisation are not (below it).
    W_E and W_U averaged."""
    fig18, fig19 = FIGURES
    seed = params.seed
    c = concentrations(result)
    trained, theta0 = _mean(c["trained weights"]), _mean(c["θ0"])
    ratio = mask_ratios(c)
    against_random = "spectral concentration of the {} masks (W_E, W_U) / that of random masks of their density"
    out = [
        Claim(f"{slug(fig18)}.weights_periodic", fig18, "The trained weights W_E and W_U are periodic",
              "periodic patterns in the trained weights",
              Rule("spectral concentration of the trained W_E, W_U / that of θ0", "≥", TRAINED_OVER_INIT, "structure"),
              {seed: Interval.point(trained / theta0)}, ours=f"trained {trained:.2f}, θ0 {theta0:.2f}"),
        Claim(f"{slug(fig18)}.ticket_masks_periodic", fig18, "The grokked ticket's masks are periodic",
              "the masks show the periodicity",
              Rule(against_random.format("ticket's"), "≥", MORE_PERIODIC, "structure"),
              {seed: Interval.point(ratio["ticket"])})]
    for name, value in ratio.items():
        if name == "ticket":
            continue
        out.append(Claim(
            f"{slug(fig19)}.{name}_masks_not_periodic", fig19,
            f"Masks from pruning at initialisation ({plots.display(name)}) are not periodic",
            "no periodic structure", Rule(against_random.format(plots.display(name)), "<", MORE_PERIODIC, "structure"),
            {seed: Interval.point(value)}))
    return out


def display_order(weights: torch.Tensor) -> torch.Tensor:
    """An order of the rows of a ``[d, p]`` matrix by the frequency, then the phase, of each row's
    strongest component over the residues: rows of one frequency come together and their stripes
    line up (the order of the d embedding dimensions is arbitrary)."""
    spectrum = torch.fft.rfft(weights.double(), dim=-1)[:, 1:]
    freq = spectrum.abs().argmax(-1)
    phase = torch.angle(spectrum.gather(1, freq[:, None]))[:, 0]
    return torch.from_numpy(np.lexsort((phase.numpy(), freq.numpy())))


def plot(result: Result, params: Params):
    """The dense run's trained weights, then the masks of the ticket and of each pruning at
    initialisation (`draw`)."""
    return draw(result.dense, result.pruned, f"{TITLE}: {plots.setting(result.dense, params.scale)}")


def draw(dense, masked: dict, title: str):
    """One row per network: ``dense``'s weights (at its last step), then the masks of each run of
    ``masked`` (name -> run); one column per matrix (W_E, W_in, W_out, W_U). The embedding
    dimensions of W_E and W_U are ordered by the trained weights' dominant frequency and phase, the
    same order in every row, so that periodic structure shows as stripes. The explorer draws its
    checkpoints with it too (`gtlib.widgets`)."""
    plots.use_sharp_figures()
    trained = dense.weights()
    order = {n: display_order(trained[n]) for n in RESIDUE_MATRICES}
    rows = [("trained weights\n(dense)", trained, "RdBu_r")]
    rows += [(f"{plots.display(name)}\nmask", run.masks(), "Greys") for name, run in masked.items()]
    names = list(dense.masks())
    fig, axes = plt.subplots(len(rows), len(names), figsize=(10, 2.2 * len(rows)), constrained_layout=True)
    for r, (label, tensors, cmap) in enumerate(rows):
        for col, name in enumerate(names):
            image = tensors[name].float()
            if name in RESIDUE_MATRICES:
                image = image[order[name]].T  # residues down the side, dimensions ordered
            image = image.numpy()
            ax = axes[r, col]
            limit = abs(image).max() or 1
            ax.imshow(image, aspect="auto", cmap=cmap, interpolation="nearest",
                      vmin=-limit if cmap == "RdBu_r" else 0, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name + (" (residues × d)" if name in RESIDUE_MATRICES else ""), fontsize=9)
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title)
    return fig
