"""Figures 5, 6, 12, 13, 14 and 16: neither weight norm nor sparsity explains the grokked ticket
(paper §4, App C, App G).

Besides the dense run and its grokked ticket (sparsity 0.6, mask from the last step):
- the *norm-matched controls* (§4.1): the dense θ0 · r_p with r_p = ‖θ0 ⊙ m‖_p / ‖θ0‖_p, p = 1, 2,
  trained without a mask: a dense network at the ticket's initial norm;
- *pruning at initialisation* (§4.2): masks of the same sparsity scored on θ0 by random pruning,
  SNIP, GraSP or SynFlow, trained from θ0 ⊙ m.
Each run's configuration is made by `gtlib.config.derive`, its starting point by
`gtlib.starting_points`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..claims import Check, at_step, below, fmt, least, never_or_after, slug
from ..config import derive
from ..params import FamilyParams
from ..presets import check_scale, dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig5_controls.ipynb"
PRUNERS_AT_INIT = ("random", "snip", "grasp", "synflow_tokens")
NORMED = ("dense", "ticket", "L1 control", "L2 control")
# The derived runs keep their histories and masks, no weights: no analysis reads them
# (benchmarks/store_reads.md); their θ0 is the dense run's start, rebuilt exactly.
HISTORY_ONLY = {"checkpoint_every": 0}

UNCHECKED = {
    "Fig 6: the L2 norms reach a \"generalized zone\"": "checked as final L2 norms within a factor "
    "1.2 of each other; the zone itself is not defined in the paper",
}


@dataclass(frozen=True)
class Params(FamilyParams):
    """The parameters of ``fig5_controls.ipynb`` (its cell tagged ``parameters`` says what each
    means). ``figures``: the labels of the norm-matched controls' claims, of pruning at
    initialisation's and of the norms' (three seeds: Fig 12, 14, 12; the Transformer: Fig 16, -, 13);
    they title the plot's panels."""

    scale: str = "quick"
    task: str = "modular"
    model: str | None = None
    task_params: dict = field(default_factory=dict)
    model_params: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    sparsity: float = 0.6
    pruners: tuple[str, ...] = PRUNERS_AT_INIT
    norm_ratio: str = "global"
    figures: tuple[str, ...] = ("Fig 5a", "Fig 5b", "Fig 6")

    def __post_init__(self):
        super().__post_init__()
        if len(self.figures) != 3:
            raise ValueError(f"figures must name three figures (controls, pruning at initialisation, "
                             f"norms), got {list(self.figures)}")


@dataclass(frozen=True)
class Result:
    """One run per seed of every network, seeds in the same order: the four of `NORMED` (the dense
    run, its ticket, the L1- and L2-norm-matched dense controls) and each pruning at initialisation."""

    normed: dict[str, tuple[Run, ...]]  # a name of NORMED -> runs
    pruned: dict[str, tuple[Run, ...]]  # pruner -> runs

    def labelled(self) -> dict[str, list[Run]]:
        """The runs as the page's tables name them."""
        return {name: list(group) for name, group in {**self.normed, **self.pruned}.items()}


def runs(params: Params, *, store: Store | None = None, device: str = "auto",
         progress: bool = True) -> Result:
    """Every network of the page for every seed, trained where missing. ``norm_ratio``: the paper's
    global ratio, or ``"per_matrix"`` (the authors' code)."""
    check_scale(params.scale)
    sparsity, norm_ratio = params.sparsity, params.norm_ratio
    plan: dict[str, list] = {}
    for seed in params.seeds:
        dense = dense_config(params.task, params.model, scale=params.scale, seed=seed,
                             task_params=params.task_params, model_params=params.model_params,
                             checkpoint_every=None)
        variants = {
            "dense": dense,
            "ticket": derive(dense, sparsity=sparsity, **HISTORY_ONLY),
            "L1 control": derive(dense, sparsity=sparsity, use="l1_norm", norm_ratio=norm_ratio,
                                 **HISTORY_ONLY),
            "L2 control": derive(dense, sparsity=sparsity, use="l2_norm", norm_ratio=norm_ratio,
                                 **HISTORY_ONLY),
            **{p: derive(dense, sparsity=sparsity, step=0, pruner=p, **HISTORY_ONLY) for p in params.pruners},
        }
        for name, cfg in variants.items():
            plan.setdefault(name, []).append(cfg)
    every = [c for cfgs in plan.values() for c in cfgs]
    done = dict(zip(every, run_many(every, store, device=device, progress=progress)))
    found = {name: tuple(done[c] for c in cfgs) for name, cfgs in plan.items()}
    return Result({name: found[name] for name in NORMED},
                  {name: group for name, group in found.items() if name not in NORMED})


def checks(result: Result, params: Params) -> list[Check]:
    """The norm-matched controls, pruning at initialisation and the norms, labelled by ``figures``.
    Times are compared seed by seed: a claim holds when it holds for every seed."""
    norm_fig, pai_fig, norms_fig = params.figures
    by_name = {**result.normed, **result.pruned}
    pruners = list(result.pruned)
    seeds = [r.config.seed for r in result.normed["dense"]]
    t_gen = {name: [r.history.t_gen for r in group] for name, group in by_name.items()}
    several = f" (seeds {', '.join(map(str, seeds))})" if len(seeds) > 1 else ""

    def per_seed(values) -> str:
        return " / ".join(fmt(v) for v in values)

    out = []
    for control in ("L1 control", "L2 control"):
        pairs = list(zip(t_gen["ticket"], t_gen[control]))
        out.append(Check(
            f"{slug(norm_fig)}.ticket_beats_{control.split()[0].lower()}", norm_fig,
            f"The ticket generalises far faster than the dense {control} at the same initial norm",
            "controls grok late, like the dense network (curves only)",
            "for every seed t_gen(ticket) ≤ ½ t_gen(control), or the control never generalises",
            f"{per_seed(t_gen['ticket'])} vs {per_seed(t_gen[control])}{several}",
            all(t is not None and (c is None or t <= 0.5 * c) for t, c in pairs),
            None if any(t is None for t, _ in pairs) else
            least(1.0 if c is None else below(t, 0.5 * c) for t, c in pairs)))
    for pruner in pruners:
        pairs = list(zip(t_gen[pruner], t_gen["dense"]))
        out.append(Check(
            f"{slug(pai_fig)}.{pruner}_no_better", pai_fig,
            f"Pruning at initialisation ({plots.display(pruner)}) does no better than the dense network",
            "every method worse than the base (curves only)",
            "for every seed t_gen(pruned) ≥ t_gen(dense), or never",
            f"{per_seed(t_gen[pruner])} vs dense {per_seed(t_gen['dense'])}",
            all(d is not None and (p is None or p >= d) for p, d in pairs),
            None if any(d is None for _, d in pairs) else least(never_or_after(p, d) for p, d in pairs)))
    if "random" in pruners and len(pruners) > 1:
        final = {p: float(np.mean([r.history["test_acc"][-1] for r in by_name[p]])) for p in pruners}
        worst = min((p for p in pruners if p != "random"), key=final.get)
        out.append(Check(
            f"{slug(pai_fig)}.some_worse_than_random", pai_fig,
            "Some method of pruning at initialisation does worse than random pruning",
            "some methods are worse than random (Fig 5b, 14)",
            "the lowest final test accuracy among SNIP, GraSP, SynFlow < random pruning's (means over seeds)",
            ", ".join(f"{plots.display(p)} {v:.2f}" for p, v in final.items()),
            final[worst] < final["random"], below(final[worst], final["random"])))
    l1, l2 = ({name: float(np.mean([r.history[norm][-1] for r in by_name[name]])) for name in NORMED}
              for norm in ("l1", "l2"))
    spread = max(l2.values()) / min(l2.values())
    out.append(Check(
        f"{slug(norms_fig)}.l2_similar", norms_fig, "The final L2 norms of θ ⊙ m lie in a similar range",
        "L2 norms converge to a similar \"generalized zone\"", "largest ≤ 1.2 × smallest (means over seeds)",
        ", ".join(f"{k} {v:,.1f}" for k, v in l2.items()), spread <= 1.2, below(spread, 1.2)))
    others = min(v for k, v in l1.items() if k != "ticket")
    out.append(Check(
        f"{slug(norms_fig)}.ticket_l1_smallest", norms_fig, "The ticket ends with the smallest L1 norm of θ ⊙ m",
        "L1 norms converge to different values; the ticket's is smaller",
        "L1(ticket) < L1 of every other network (means over seeds)",
        ", ".join(f"{k} {v:,.0f}" for k, v in l1.items()), l1["ticket"] < others, below(l1["ticket"], others)))
    # The dynamics: each network's L2 norm falls while its test accuracy rises (from t_mem, when it
    # has fitted the training set, to t_gen).
    falls = {}
    for name in NORMED:
        for r in by_name[name]:
            h = r.history
            if h.t_mem is not None and h.t_gen is not None and h.t_gen > h.t_mem:
                falls[(name, r.config.seed)] = (at_step(h, "l2", h.t_gen), at_step(h, "l2", h.t_mem))
    out.append(Check(
        f"{slug(norms_fig)}.l2_falls_while_generalising", norms_fig,
        "The L2 norm of θ ⊙ m falls while test accuracy rises",
        "L2 norms all fall with the test-accuracy rise (Fig 6)",
        "L2 at t_gen < L2 at t_mem, for every network and seed that generalises after it fits",
        ", ".join(f"{k[0]}{f' s{k[1]}' if several else ''}: {a:,.1f} vs {b:,.1f}"
                  for k, (a, b) in falls.items()) or "no network generalises after it fits",
        bool(falls) and all(a < b for a, b in falls.values()),
        least(below(a, b) for a, b in falls.values())))
    return out


def plot(result: Result, params: Params):
    """Test accuracy (log step axis) of the dense run, the ticket and the norm-matched controls;
    of the ticket against pruning at initialisation (if any); then the L2 and the L1 norm of θ ⊙ m.
    Mean over seeds, with a min-max band. Panel titles carry the page's ``figures`` labels."""
    plots.use_sharp_figures()
    norm_fig, pai_fig, norms_fig = params.figures
    normed, pruners = result.normed, list(result.pruned)
    metric = "test_loss" if normed["dense"][0].history.is_regression else "test_acc"
    fig, axes = plt.subplots(4 if pruners else 3, 1, figsize=(8, 14 if pruners else 10.5),
                             constrained_layout=True)
    heading = plots.setting(normed["dense"][0], params.scale)
    plots.variant_curves(normed, metric, title=f"{norm_fig}: weight norm is not the cause; {heading}",
                         log_x=True, ax=axes[0])
    if pruners:
        plots.variant_curves({"dense": normed["dense"], "ticket": normed["ticket"], **result.pruned}, metric,
                             title=f"{pai_fig}: sparsity is not the cause", log_x=True, ax=axes[1])
    plots.variant_curves(normed, "l2", title=f"{norms_fig} (left): L2 norm of θ ⊙ m", ax=axes[-2])
    plots.variant_curves(normed, "l1", title=f"{norms_fig} (right): L1 norm of θ ⊙ m", ax=axes[-1])
    if metric.endswith("loss"):
        for ax in axes[:-2]:
            ax.set_yscale("log")
    return fig
