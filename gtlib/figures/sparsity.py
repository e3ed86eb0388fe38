"""Figures 3, 4b and 17: how much to prune (paper §3.2, App H).

Grokked tickets of one dense run at several sparsities, masks from its last step. (3a) τ_grok is
smallest at a moderate sparsity and largest for the dense network; (3b) the ticket fits its
training set later the more is removed; (4b) tickets up to 0.7 generalise faster than the dense
network, 0.9 fails. (17) Trained *without* weight decay (``ticket_weight_decay=0``; the mask still
comes from a dense run with weight decay), tickets generalise fully only up to a critical sparsity,
which the paper puts at 0.81.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..claims import Check, above, below, fmt, least, spearman
from ..config import derive
from ..params import FamilyParams
from ..presets import dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig3_sparsity_sweep.ipynb"
PAPER_CRITICAL = 0.81  # App H: the critical sparsity without weight decay

UNCHECKED = {
    "Fig 4b: 0.3 is \"not quick enough\"": "a judgement on the curves, with no threshold to test",
}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig3_sparsity_sweep.ipynb`` (its cell tagged ``parameters`` says what
    each means). ``figures``: whose claims to check, Fig 3a, 3b, 4b or Fig 17a, 17b; they title the
    plot."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    seed: int = 0
    sparsities: tuple[float, ...] = tuple(i / 10 for i in range(10))
    ticket_weight_decay: float | None = None
    figures: tuple[str, ...] = ("Fig 3a", "Fig 3b", "Fig 4b")


@dataclass(frozen=True)
class Result:
    """The dense run and its grokked ticket at each sparsity (in the order asked for). A sparsity
    of 0 with the dense recipe is the dense run itself, not a ticket (a ticket that keeps every
    weight retrains the same network from the same θ0)."""

    dense: Run
    tickets: dict[float, Run]

    def swept(self) -> dict[float, Run]:
        """``{sparsity: run}`` in increasing sparsity, with the dense run as 0 when the tickets train
        with its recipe."""
        out = dict(self.tickets)
        if 0.0 not in out and all(r.config.optim == self.dense.config.optim for r in out.values()):
            out[0.0] = self.dense
        return dict(sorted(out.items()))

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {"dense": [self.dense], **{f"sparsity {s:g}": [r] for s, r in self.tickets.items()}}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """The dense run and its grokked ticket at each sparsity, masks from its last step, trained
    where missing. With ``ticket_weight_decay`` the tickets (not the dense run) train with that
    weight decay (Fig 17: 0)."""
    dense = dense_config(params.task, params.model, scale=params.scale, seed=params.seed,
                         task_params=params.task_params, checkpoint_every=None)
    changes = {}
    if params.ticket_weight_decay is not None:
        changes["optim"] = dataclasses.replace(dense.optim, weight_decay=params.ticket_weight_decay)
    plan = {s: derive(dense, sparsity=s, checkpoint_every=0, **changes)  # no analysis reads its weights (benchmarks/store_reads.md)
            for s in params.sparsities if s != 0 or changes}
    done = run_many([dense, *plan.values()], store, device=device, progress=progress)
    return Result(done[0], dict(zip(plan, done[1:])))


def checks(result: Result, params: Params) -> list[Check]:
    """The claims of ``figures``: Fig 3a, 3b, 4b (tickets with the dense recipe) or Fig 17a, 17b
    (tickets trained without weight decay)."""
    swept = result.swept()
    if any(f.startswith("Fig 17") for f in params.figures):
        found = no_decay_checks({s: r for s, r in swept.items() if r is not result.dense})
    else:
        found = sweep_checks(swept)
    return [c for c in found if c.figure in params.figures]


def sweep_checks(runs: dict[float, Run]) -> list[Check]:
    """Figure 3a/3b/4b on ``{sparsity: run}``, 0.0 the dense network."""
    tau = {s: r.history.tau_grok for s, r in runs.items()}
    finite = {s: t for s, t in tau.items() if t is not None}
    tickets = {s: t for s, t in finite.items() if s > 0}
    dense = tau.get(0.0)
    out = []
    if tickets:
        inside = {s: t for s, t in finite.items() if 0.5 <= s <= 0.8}
        outside = {s: t for s, t in finite.items() if not 0.5 <= s <= 0.8}
        best = min(finite, key=finite.get)
        best_in, best_out = least(inside.values()), least(outside.values())
        out.append(Check(
            "fig3a.tau_lowest_moderate", "Fig 3a", "τ_grok is lowest at a moderate sparsity",
            "lowest at 0.7", "the smallest τ_grok lies at a sparsity in [0.5, 0.8]",
            f"lowest at {best:g} (τ_grok {fmt(finite[best])}); best outside [0.5, 0.8]: "
            f"{fmt(best_out)}", 0.5 <= best <= 0.8,
            None if best_in is None else (1.0 if best_out is None else below(best_in, best_out))))
    if dense is not None and tickets:
        largest = max(tickets.values())
        out.append(Check(
            "fig3a.dense_tau_largest", "Fig 3a",
            "The dense network has the largest τ_grok among those that generalise", "largest at 0.0",
            "τ_grok(dense) > τ_grok of every ticket that generalises",
            f"dense {fmt(dense)}, largest ticket {fmt(largest)}", dense > largest, below(largest, dense)))
    t_mem = {s: r.history.t_mem for s, r in runs.items()}
    fitted = sorted(s for s in runs if t_mem[s] is not None)
    if 0.0 in fitted and len(fitted) > 2:
        # A trend, not two end points: t_mem grows with sparsity (Spearman's ρ ≥ 0.8), and every
        # ticket at 0.5 or more fits later than the dense network.
        high = [s for s in fitted if s >= 0.5]
        rho = spearman(fitted, [t_mem[s] for s in fitted])
        later = all(t_mem[s] > t_mem[0.0] for s in high)
        out.append(Check(
            "fig3b.t_mem_grows", "Fig 3b", "Fitting the training set takes longer at high sparsity",
            "t_mem delayed at higher pruning rates",
            "Spearman ρ(sparsity, t_mem) ≥ 0.8, and t_mem of every ticket at ≥ 0.5 above the dense one",
            ", ".join(f"{s:g}: {fmt(t_mem[s])}" for s in sorted(t_mem)) + f"; ρ = {rho:.2f}",
            rho >= 0.8 and later,
            least([above(rho, 0.8), *(above(t_mem[s], t_mem[0.0]) for s in high)])))
    t_gen = {s: r.history.t_gen for s, r in runs.items()}
    moderate = [s for s in sorted(runs) if 0 < s <= 0.7]
    if 0.0 in runs and moderate and t_gen[0.0] is not None:
        worst = None if any(t_gen[s] is None for s in moderate) else max(t_gen[s] for s in moderate)
        out.append(Check(
            "fig4b.moderate_faster", "Fig 4b", "Every ticket with sparsity up to 0.7 generalises "
            "before the dense network", "0.1, 0.3, 0.5 and 0.7 all speed it up",
            "t_gen of every ticket with sparsity ≤ 0.7 < t_gen(dense)",
            ", ".join(f"{s:g}: {fmt(t_gen[s])}" for s in moderate) + f" vs dense {fmt(t_gen[0.0])}",
            worst is not None and worst < t_gen[0.0], None if worst is None else below(worst, t_gen[0.0])))
    sparsest = max(runs)
    if sparsest >= 0.9:
        h = runs[sparsest].history
        out.append(Check(
            "fig4b.sparsest_fails", "Fig 4b", f"The ticket at sparsity {sparsest:g} fails to generalise",
            "0.9 fails (≈ 0.4)", f"test accuracy never above {h.threshold:.0%}",
            f"final test accuracy {h['test_acc'][-1]:.2f}", h.t_gen is None,
            below(float(h["test_acc"].max()), h.threshold)))
    return out


def no_decay_checks(runs: dict[float, Run]) -> list[Check]:
    """Figure 17 on ``{sparsity: ticket trained without weight decay}``: the tickets at 0.5 or less
    and the sparsest (0.9) do not generalise; the critical sparsity, the *largest* whose ticket still
    generalises fully (100 % test accuracy), lies in [0.8, 0.9) (the paper: 0.81)."""
    threshold = next(iter(runs.values())).history.threshold
    peak = {s: float(r.history["test_acc"].max()) for s, r in runs.items()}
    low = sorted(s for s in runs if s <= 0.5)
    out = []
    if low:
        out.append(Check(
            "fig17a.dense_tickets_fail", "Fig 17a", "Without weight decay the tickets with sparsity "
            "≤ 0.5 do not generalise", "below the critical rate tickets stay below full generalisation",
            f"test accuracy of each never above {threshold:.0%}",
            ", ".join(f"{s:g}: {runs[s].history['test_acc'][-1]:.2f}" for s in low),
            all(runs[s].history.t_gen is None for s in low), least(below(peak[s], threshold) for s in low)))
    if max(runs) >= 0.9:
        s = max(runs)
        out.append(Check(
            "fig17a.sparsest_fails", "Fig 17a", f"Without weight decay the ticket at {s:g} does not "
            "generalise", "0.9 collapses", f"test accuracy never above {threshold:.0%}",
            f"final test accuracy {runs[s].history['test_acc'][-1]:.2f}",
            runs[s].history.t_gen is None, below(peak[s], threshold)))
    critical = critical_sparsity(runs)
    crossed = [s for s in sorted(runs) if runs[s].history.t_gen is not None]
    out.append(Check(
        "fig17b.critical_in_08_09", "Fig 17b", "Without weight decay the largest sparsity that "
        "generalises fully (the critical sparsity) lies in [0.8, 0.9)",
        f"critical sparsity {PAPER_CRITICAL:g}", "largest sparsity whose test accuracy reaches 100 % "
        "is in [0.8, 0.9)",
        f"critical: {fmt(critical) if critical is not None else 'none reaches 100 %'}; above "
        f"{threshold:.0%}: {', '.join(f'{s:g}' for s in crossed) or 'none'}",
        critical is not None and 0.8 <= critical < 0.9))
    return out


def critical_sparsity(runs: dict[float, Run]) -> float | None:
    """The largest sparsity whose ticket reaches 100 % test accuracy (None if none does)."""
    full = [s for s, r in runs.items() if r.history["test_acc"].max() >= 1.0]
    return max(full, default=None)


def plot(result: Result, params: Params):
    """τ_grok (log scale) and final test accuracy against sparsity (0 = the dense network), then the
    test and train accuracy of every sparsity; for tickets trained without weight decay, also
    Figure 17b (the tickets at the paper's critical sparsity and at ours against the dense run).
    The title is the page's ``figures``."""
    plots.use_sharp_figures()
    swept = result.swept()
    dense = result.dense
    no_decay = dense not in swept.values()
    fig, axes = plt.subplots(5 if no_decay else 4, 1, figsize=(8, 17.5 if no_decay else 14),
                             constrained_layout=True)
    sparsities = list(swept)
    taus = [swept[s].history.tau_grok for s in sparsities]
    ax = axes[0]
    ax.plot(sparsities, [np.nan if t is None else t for t in taus], "o-", color="tab:blue")
    never = [s for s, t in zip(sparsities, taus) if t is None]
    if never:  # no τ_grok: marked along the top edge
        ax.plot(never, [0.97] * len(never), "x", color="tab:red", transform=ax.get_xaxis_transform(),
                label="never reaches the threshold")
        ax.legend(fontsize=8, loc="lower left")
    if any(t is not None for t in taus):
        ax.set_yscale("log")
    ax.set_xlim(min(sparsities) - 0.05, max(sparsities) + 0.05)
    ax.set_xlabel("sparsity (fraction removed; 0 = dense)")
    ax.set_ylabel("τ_grok = t_gen / t_mem")
    ax.set_title(f"{', '.join(params.figures)}: τ_grok against sparsity; {plots.setting(dense, params.scale)}")
    axes[1].plot(sparsities, [swept[s].history["test_acc"][-1] for s in sparsities], "o-",
                 color="tab:green")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xlabel("sparsity")
    axes[1].set_ylabel("final test accuracy")
    axes[1].set_title("final test accuracy")
    plots.coloured(axes[2], swept, "test_acc", "sparsity")
    axes[2].set_title("test accuracy")
    plots.coloured(axes[3], swept, "train_acc", "sparsity")
    axes[3].set_title("train accuracy")
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
