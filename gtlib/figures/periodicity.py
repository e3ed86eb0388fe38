"""Figure 8: the grokked ticket's input weights turn periodic at once, the dense network's only as
it groks (paper §5.2, App E).

The neurons' input weights are the rows of W_in · W_E (48 × 67 for the paper's MLP; for the ticket
the masked product), and their **Fourier entropy** (`gtlib.analysis.fourier`) is logged during
training by the ``fourier_entropy`` probe. The page plots the per-neuron Shannon entropy of the
normalised power spectrum, averaged over the neurons; the authors' code's variant (a cross-entropy
of normalised amplitudes, SPEC §1.11) is logged too and one parameter away (``variant="authors"``).

The dense run and its ticket here are a pair of their own: the Figure 1 pair again (same recipe and
seed), logging metrics and the entropy every 50 steps and keeping a checkpoint every fifteenth of
the run (every 2k steps at the paper scale, as the paper's 0k, 2k, 30k panels need).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import plots
from ..analysis.fourier import dominant_share, max_entropy, neuron_inputs, power_spectrum
from ..claims import Check, above, below, fmt, slug
from ..config import derive
from ..params import FamilyParams
from ..presets import check_scale, dense_config
from ..runs import run_many
from ..store import Run, Store
from .grokked_ticket import Result

NOTEBOOK = "fig8_periodicity.ipynb"
FIGURE, TITLE = "Fig 8", "Figure 8"
PROBE = "fourier_entropy"
PERIODIC = 0.5  # a neuron is periodic when more than half its input power lies at one frequency
EVAL_EVERY = {"paper": 50, "quick": 10}
NEURONS = 4  # the neurons whose input weights the figure draws
VARIANTS = ("shannon", "authors")

UNCHECKED = {
    "the ticket's neurons use the frequencies of the generalising solution": "no reference solution "
    "is fixed; the spectra are shown",
}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig8_periodicity.ipynb`` (its cell tagged ``parameters`` says what each
    means)."""

    scale: str = "quick"
    task_params: dict = field(default_factory=dict)
    seed: int = 0
    sparsity: float = 0.6
    variant: str = "shannon"

    def __post_init__(self):
        super().__post_init__()
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; valid: {', '.join(VARIANTS)}")


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run and its grokked ticket on modular arithmetic with the paper's MLP, logging the
    Fourier entropy (Figure 1's `Result`), trained where missing."""
    check_scale(params.scale)
    base = dense_config("modular", "mlp", scale=params.scale, seed=params.seed, task_params=params.task_params)
    dense = dataclasses.replace(base, eval_every=EVAL_EVERY[params.scale], probes=(PROBE,),
                                checkpoint_every=base.steps // 15)
    ticket = derive(dense, sparsity=params.sparsity)
    return Result(*run_many([dense, ticket], store, device=device, progress=progress))


def early_step(run: Run) -> int:
    """The paper's "2k epochs" in this run: a fifteenth of it (its second checkpoint)."""
    return run.config.steps // 15


def half_drop_step(run: Run, variant: str = "shannon") -> int | None:
    """The first logged step at which the entropy has made half of its fall from step 0 to the end
    (None if it does not fall)."""
    h = run.history
    fe = h[_series(variant)]
    drop = fe[0] - fe[-1]
    if drop <= 0:
        return None
    return int(h.steps[np.flatnonzero(fe <= fe[0] - drop / 2)[0]])


def _series(variant: str) -> str:
    return PROBE if variant == "shannon" else f"{PROBE}_authors"


def periodic_share(run: Run, step: int) -> float:
    """The mean over neurons of the largest share of a neuron's input power at one frequency, at
    ``step`` (1: every neuron a pure sinusoid; dead neurons left out)."""
    return float(torch.nanmean(dominant_share(neuron_inputs(run.weights(step), run.masks()))))


def checks(result: Result, params: Params) -> list[Check]:
    """The ticket's entropy makes half its fall within the first fifteenth of training (the
    paper's 2k of 30k steps); the dense network's only once it groks (at half its t_gen or later);
    at that early step the ticket's neurons are the more periodic."""
    dense, ticket = result.dense, result.ticket
    figure, f = FIGURE, slug(FIGURE)
    early = early_step(ticket)
    t_ticket, t_dense = half_drop_step(ticket, params.variant), half_drop_step(dense, params.variant)
    t_gen = dense.history.t_gen
    share = {name: periodic_share(r, early) for name, r in (("dense", dense), ("ticket", ticket))}
    return [
        Check(f"{f}.ticket_entropy_falls_early", figure,
              "The ticket's Fourier entropy falls quickly, within about 2k steps",
              "the ticket's FE falls by about 2k epochs",
              f"half of its fall done by step {early:,} (a fifteenth of training)",
              f"half done at step {fmt(t_ticket)}", t_ticket is not None and t_ticket <= early,
              None if t_ticket is None else below(t_ticket, early)),
        Check(f"{f}.dense_entropy_falls_with_grokking", figure,
              "The dense network's Fourier entropy falls only as it groks",
              "the dense network's FE falls slowly, with grokking",
              "half of its fall done no earlier than half its t_gen",
              f"half done at step {fmt(t_dense)}; t_gen = {fmt(t_gen)}",
              t_dense is not None and t_gen is not None and t_dense >= 0.5 * t_gen,
              None if t_dense is None or t_gen is None else above(t_dense, 0.5 * t_gen)),
        Check(f"{f}.ticket_periodic_early", figure,
              f"At step {early:,} the ticket's neurons are periodic, the dense network's not yet",
              "ticket periodic at 2k, dense only at 30k (Fig 8 bottom)",
              f"mean largest single-frequency share of a neuron's input power ≥ {PERIODIC} for the "
              f"ticket, < {PERIODIC} for the dense network",
              f"ticket {share['ticket']:.2f}, dense {share['dense']:.2f}",
              share["ticket"] >= PERIODIC > share["dense"],
              min(above(share["ticket"], PERIODIC), below(share["dense"], PERIODIC))),
    ]


def plot(result: Result, params: Params):
    """Top: the Fourier entropy of the dense run and the ticket during training, with their test
    accuracy. Below: the input weights of the first `NEURONS` living neurons over the 67 residues
    at step 0, at the early step and at the end, for each; last, the ticket's final spectra."""
    plots.use_sharp_figures()
    dense, ticket, variant = result.dense, result.ticket, params.variant
    steps = [0, early_step(ticket), ticket.config.steps]
    fig = plt.figure(figsize=(9, 13), constrained_layout=True)
    grid = fig.add_gridspec(4, 3)
    ax = fig.add_subplot(grid[0, :])
    for name, run in (("dense", dense), ("ticket", ticket)):
        h = run.history
        ax.plot(h.steps, h[_series(variant)], color=plots.colour(name), label=f"{plots.display(name)}, entropy")
    p = dense.config.task.p
    if variant == "shannon":
        ax.axhline(max_entropy(p), color="grey", linestyle=":", linewidth=1, label="white noise")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_ylabel(f"Fourier entropy ({variant})")
    ax.set_xlabel("step")
    twin = ax.twinx()
    for name, run in (("dense", dense), ("ticket", ticket)):
        twin.plot(run.history.steps, run.history["test_acc"], "--", color=plots.colour(name), alpha=0.5)
    twin.set_ylabel("test accuracy (dashed)")
    twin.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"{TITLE}: Fourier entropy of the neurons' input weights; {plots.setting(dense, params.scale)}")
    for row, (name, run) in enumerate((("dense", dense), ("ticket", ticket)), start=1):
        for col, step in enumerate(steps):
            rows = neuron_inputs(run.weights(step), run.masks()).numpy()
            alive = [i for i in range(rows.shape[0]) if np.abs(rows[i]).sum() > 0][:NEURONS]
            a = fig.add_subplot(grid[row, col])
            for k, i in enumerate(alive):
                a.plot(rows[i] / (np.abs(rows[i]).max() or 1) + 2.2 * k, linewidth=0.8)
            a.set_yticks([])
            a.set_title(f"{plots.display(name)}, step {step:,}", fontsize=9)
            a.set_xlabel("input residue a", fontsize=8)
    a = fig.add_subplot(grid[3, :])
    spec = power_spectrum(neuron_inputs(ticket.weights(), ticket.masks())).numpy()
    total = spec.sum(-1, keepdims=True)
    share = np.divide(spec, total, out=np.zeros_like(spec), where=total > 0)
    a.imshow(share, aspect="auto", cmap="magma", extent=(0.5, share.shape[1] + 0.5, share.shape[0], 0))
    a.set_xlabel("frequency k")
    a.set_ylabel("neuron")
    a.set_title("the ticket's neurons at the end: share of input power at each frequency")
    return fig
