"""Figure 4a: only a ticket taken after generalisation is a grokked ticket (paper §3.2).

Tickets (sparsity 0.6, rewound to θ0) whose masks come from the dense run's checkpoints, one every
``checkpoint_every`` steps (the paper: 2k; the authors' ``train_prune.sh``). Tickets from before the
dense network generalises do not fully generalise: their test accuracy levels off near the dense
network's at the mask's step. Tickets from after it reach 100 % quickly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..claims import Check, at_step, below, fmt, least, never_or_after, slug
from ..config import derive
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


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig4_ticket_time.ipynb`` (its cell tagged ``parameters`` says what each
    means)."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    seed: int = 0
    checkpoint_every: int | None = None
    sparsity: float = 0.6

    def __post_init__(self):
        super().__post_init__()
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer (the dense run's checkpoints "
                             f"give the tickets' masks), got {self.checkpoint_every!r}")


@dataclass(frozen=True)
class Result:
    """The dense run, keeping every checkpoint, and the ticket whose mask comes from each of them."""

    dense: Run
    tickets: dict[int, Run]  # mask step -> ticket

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": [self.dense], **{f"mask at step {t}": [r] for t, r in self.tickets.items()}}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run and one ticket per checkpoint after step 0, trained where missing.
    ``checkpoint_every`` defaults to the scale's (quick 250, paper 2k)."""
    keep = {} if params.checkpoint_every is None else {"checkpoint_every": params.checkpoint_every}
    dense = dense_config(params.task, params.model, scale=params.scale, seed=params.seed,
                         task_params=params.task_params, **keep)
    # The tickets keep no weights: no analysis reads them (benchmarks/store_reads.md).
    plan = {t: derive(dense, sparsity=params.sparsity, step=t, checkpoint_every=0)
            for t in dense.checkpoint_steps[1:]}
    done = run_many([dense, *plan.values()], store, device=device, progress=progress)
    return Result(done[0], dict(zip(plan, done[1:])))


def plateau(history) -> float:
    """A ticket's plateau: its median test accuracy over the logged steps in [t_mem, 5 t_mem] (the
    whole run if it never fits its training set)."""
    t_mem, steps = history.t_mem, history.steps
    window = np.ones(len(steps), bool) if t_mem is None else (steps >= t_mem) & (steps <= 5 * max(t_mem, 1))
    return float(np.median(history["test_acc"][window]))


def checks(result: Result, params: Params) -> list[Check]:
    """Tickets from before the dense network generalises: no full generalisation, a plateau at the
    dense accuracy of the mask's step, no speed-up. Tickets from after: fast, and 100 %."""
    figure, f = FIGURE, slug(FIGURE)
    dense = result.dense.history
    tickets = result.tickets
    t_gen, threshold = dense.t_gen, dense.threshold
    # A dense run that never generalises makes every mask an early one.
    early = {t: r.history for t, r in tickets.items() if t_gen is None or t < t_gen}
    late = {t: r.history for t, r in tickets.items() if t_gen is not None and t >= t_gen}
    out = []
    if early:
        peaks = {t: float(h["test_acc"].max()) for t, h in early.items()}
        out.append(Check(
            f"{f}.early_not_full", figure,
            "Tickets taken before the dense network generalises do not fully generalise",
            "tickets from before 25k (non-grokked) do not fully generalise",
            f"test accuracy of each never above {threshold:.0%}",
            ", ".join(f"step {t:,}: {v:.2f}" for t, v in peaks.items()) + " (highest)",
            all(v <= threshold for v in peaks.values()), least(below(v, threshold) for v in peaks.values())))
        informative = {t: h for t, h in early.items() if at_step(dense, "test_acc", t) > INFORMATIVE}
        levels = {t: plateau(h) for t, h in informative.items()}
        at_mask = {t: at_step(dense, "test_acc", t) for t in informative}
        gaps = [abs(levels[t] - at_mask[t]) for t in informative]
        out.append(Check(
            f"{f}.early_plateau", figure, "Tickets taken before it level off at the dense network's "
            "test accuracy at the mask's step", "their plateau matches the dense model's test accuracy "
            "at time t", f"|plateau − dense accuracy at the mask's step| ≤ 0.1 for every mask where "
            f"the dense accuracy is above {INFORMATIVE:g} (plateau: median test accuracy between "
            "t_mem and 5 t_mem)",
            ", ".join(f"step {t:,}: {levels[t]:.2f} vs {at_mask[t]:.2f}" for t in informative)
            or f"no mask with dense accuracy above {INFORMATIVE:g}",
            bool(gaps) and max(gaps) <= 0.1, least(below(g, 0.1) for g in gaps)))
        times = {t: h.t_gen for t, h in early.items()}
        out.append(Check(
            f"{f}.early_no_faster", figure,
            "Tickets taken before the dense network generalises are no faster than it",
            "no speed-up (curves only)", "t_gen of each ≥ t_gen(dense), or never",
            ", ".join(f"step {t:,}: {fmt(v)}" for t, v in times.items()) + f" vs dense {fmt(t_gen)}",
            all(v is None or (t_gen is not None and v >= t_gen) for v in times.values()),
            None if t_gen is None else least(never_or_after(v, t_gen) for v in times.values())))
    if late:
        times = {t: h.t_gen for t, h in late.items()}
        finals = {t: float(h["test_acc"][-1]) for t, h in late.items()}
        out.append(Check(
            f"{f}.late_fast", figure, "Tickets taken after it generalise quickly", "reach 100 % quickly",
            "t_gen of each ≤ half the dense t_gen",
            ", ".join(f"step {t:,}: {fmt(v)}" for t, v in times.items()) + f" vs dense {fmt(t_gen)}",
            all(v is not None and v <= 0.5 * t_gen for v in times.values()),
            None if any(v is None for v in times.values()) else
            least(below(v, 0.5 * t_gen) for v in times.values())))
        out.append(Check(
            f"{f}.late_perfect", figure, "Tickets taken after it generalise perfectly", "reach 100 %",
            "final test accuracy of each = 1 (every test example)",
            ", ".join(f"step {t:,}: {v:.4f}" for t, v in finals.items()),
            all(v == 1.0 for v in finals.values())))
    return out


def plot(result: Result, params: Params):
    """Test accuracy of the tickets, coloured by the step their mask comes from; below, the dense
    run itself with those steps marked."""
    plots.use_sharp_figures()
    fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), constrained_layout=True)
    tickets, dense = result.tickets, result.dense
    plots.coloured(axes[0], tickets, "test_acc", "mask at step")
    axes[0].set_title(f"{TITLE}: tickets from different steps; {plots.setting(dense, params.scale)}")
    h = dense.history
    axes[1].plot(h.steps, h["test_acc"], color=plots.colour("dense"), label="dense test")
    axes[1].plot(h.steps, h["train_acc"], "--", color=plots.colour("dense"), label="dense train")
    for t in tickets:
        axes[1].axvline(t, color="grey", linestyle=":", linewidth=1)
    plots.finish(axes[1], "accuracy", "the dense run; dotted: the steps the masks come from",
                 threshold=h.threshold)
    axes[1].set_ylim(-0.02, 1.02)
    return fig
