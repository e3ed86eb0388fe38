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
from ..claims import UNKNOWN, Claim, Interval, Rule, slug
from ..config import derive
from ..params import FamilyParams
from ..presets import check_scale, dense_config
from ..runs import run_many
from ..store import Run, Store
from .mask_dynamics import generalisation_window, window_words

NOTEBOOK = "fig8_periodicity.ipynb"
FIGURE, TITLE = "Fig 8", "Figure 8"
PROBE = "fourier_entropy"
PERIODIC = 0.5  # a neuron is periodic when more than half its input power lies at one frequency
HALF = 0.5  # "falls by step t": half of the entropy's fall from initialisation to the end made by t
SMOOTHING = 1 / 30  # the entropy at a step: its mean over this share of the run around it (1k of 30k)
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


@dataclass(frozen=True)
class Result:
    """The dense run of the page's seed and its grokked ticket."""

    dense: Run
    ticket: Run

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": [self.dense], "ticket": [self.ticket]}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run and its grokked ticket on modular arithmetic with the paper's MLP, logging the
    Fourier entropy, trained where missing."""
    check_scale(params.scale)
    base = dense_config("modular", "mlp", scale=params.scale, seed=params.seed, task_params=params.task_params)
    dense = dataclasses.replace(base, eval_every=EVAL_EVERY[params.scale], probes=(PROBE,),
                                checkpoint_every=base.steps // 15)
    ticket = derive(dense, sparsity=params.sparsity)
    return Result(*run_many([dense, ticket], store, device=device, progress=progress))


def early_step(run: Run) -> int:
    """The paper's "2k epochs" in this run: a fifteenth of it (its second checkpoint)."""
    return run.config.steps // 15


def _series(variant: str) -> str:
    return PROBE if variant == "shannon" else f"{PROBE}_authors"


def entropy_near(run: Run, step: float, variant: str = "shannon") -> float:
    """The Fourier entropy "at" ``step``: its mean over the logged steps in a span of `SMOOTHING`
    of the run centred on ``step`` (the logged step nearest ``step`` where none lies in it): not one
    logged point, which moves with every wobble of training."""
    h = run.history
    fe = h[_series(variant)]
    half = run.config.steps * SMOOTHING / 2
    inside = np.abs(h.steps - step) <= half
    if not inside.any():
        inside = np.abs(h.steps - step) == np.abs(h.steps - step).min()
    return float(fe[inside].mean())


def fall_share(run: Run, step: float, variant: str = "shannon") -> float:
    """The share of the entropy's fall made by ``step``: (FE(0) − FE(step)) / (FE(0) − FE(end)),
    FE(0) at initialisation, FE(step) and FE(end) smoothed (`entropy_near`). 0 at step 0,
    1 at the end; 0 throughout where the entropy does not fall at all."""
    start = float(run.history[_series(variant)][0])
    drop = start - entropy_near(run, run.config.steps, variant)
    return 0.0 if drop <= 0 else (start - entropy_near(run, step, variant)) / drop


def share_before_window(run: Run, variant: str = "shannon") -> Interval:
    """`fall_share` at the start t₁₀ of the run's generalisation window
    (`mask_dynamics.generalisation_window`: where its test accuracy has covered a tenth of its
    rise): how much of the entropy's fall came before the network began to generalise. A window
    read off the whole test curve, not the one step at which it crosses P, which rounding moves.
    Where the run never generalised (no window), the window would start after the run, and how far
    the entropy would have fallen by then is unknown: any value (in band)."""
    window = generalisation_window(run.history)
    if window is None:
        return UNKNOWN
    return Interval.point(fall_share(run, window[0], variant))


def periodic_share(run: Run, step: int) -> float:
    """The mean over neurons of the largest share of a neuron's input power at one frequency, at
    ``step`` (1: every neuron a pure sinusoid; dead neurons left out)."""
    return float(torch.nanmean(dominant_share(neuron_inputs(run.weights(step), run.masks()))))


def checks(result: Result, params: Params) -> list[Claim]:
    """Figure 8's claims for the page's one seed (the dense run and its ticket): the ticket's
    entropy has made half its fall by the early step (a fifteenth of training, the paper's 2k of
    30k); the dense network's has made at most half of it before its generalisation window (it
    falls as it groks); at the early step the ticket's neurons are periodic and the dense network's not."""
    dense, ticket, variant, seed = result.dense, result.ticket, params.variant, params.seed
    figure, f = FIGURE, slug(FIGURE)
    early = early_step(ticket)
    smoothed = f"the entropy read as its mean over the {ticket.config.steps * SMOOTHING:,.0f} steps around a step"
    ticket_falls = Rule(f"share of the ticket's Fourier-entropy fall made by step {early:,} ({smoothed})",
                        "≥", HALF, "correlation")
    dense_falls = Rule(f"share of the dense network's Fourier-entropy fall made by the start t₁₀ of its "
                       f"generalisation window ({smoothed})", "≤", HALF, "correlation")
    periodic = Rule(f"the ticket's mean largest single-frequency share of a neuron's input power at step {early:,}",
                    "≥", PERIODIC, "correlation")
    not_periodic = Rule(f"the dense network's mean largest single-frequency share of a neuron's input power "
                        f"at step {early:,}", "<", PERIODIC, "correlation")
    return [
        Claim(f"{f}.ticket_entropy_falls_early", figure,
              "The ticket's Fourier entropy falls quickly, within about 2k steps",
              "the ticket's FE falls by about 2k epochs", ticket_falls,
              {seed: Interval.point(fall_share(ticket, early, variant))}),
        Claim(f"{f}.dense_entropy_falls_with_grokking", figure,
              "The dense network's Fourier entropy falls only as it groks",
              "the dense network's FE falls slowly, with grokking", dense_falls,
              {seed: share_before_window(dense, variant)}, ours=window_words(generalisation_window(dense.history))),
        Claim(f"{f}.ticket_periodic_early", figure, f"At step {early:,} the ticket's neurons are periodic",
              "ticket already periodic at 2k (Fig 8 bottom)", periodic,
              {seed: Interval.point(periodic_share(ticket, early))}),
        Claim(f"{f}.dense_not_periodic_early", figure, f"At step {early:,} the dense network's neurons are not "
              "periodic yet", "dense periodic only at 30k (Fig 8 bottom)", not_periodic,
              {seed: Interval.point(periodic_share(dense, early))}),
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
    window = generalisation_window(dense.history)
    if window is not None:  # the dense claim reads its entropy where this window starts
        ax.axvspan(*window, color=plots.colour("dense"), alpha=0.1, label="dense: generalisation window")
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
