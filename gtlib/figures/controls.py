"""Figures 5, 6, 12, 13, 14 and 16: neither weight norm nor sparsity explains the grokked ticket
(paper §4, App C, App G).

Besides the dense run and its grokked ticket (sparsity 0.6, mask from the last step):
- the *norm-matched controls* (§4.1): the dense θ0 · r_p with r_p = ‖θ0 ⊙ m‖_p / ‖θ0‖_p, p = 1, 2,
  trained without a mask: a dense network at the ticket's initial norm;
- *pruning at initialisation* (§4.2): masks of the same sparsity scored on θ0 by random pruning,
  SNIP, GraSP or SynFlow, trained from θ0 ⊙ m.
Each run's configuration is made by `gtlib.config.derive`, its starting point by
`gtlib.starting_points`.

Every claim is decided over the page's seeds (`gtlib.claims`): each derived run (ticket, control,
pruning at initialisation) is compared with the dense run and the ticket of its own seed, one
statistic per seed. t_gen and t_mem are the first logged steps with test (train) accuracy above the
task's P (95 % for modular arithmetic); a run that never gets there within its budget is censored.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..claims import FAR_BELOW, UNKNOWN, Claim, Interval, Rule, at_step, gen_time, mem_time, over_seeds, ratio, slug
from ..config import derive
from ..params import FamilyParams
from ..presets import check_scale, dense_config
from ..runs import run_many
from ..store import Run, Store

NOTEBOOK = "fig5_controls.ipynb"
PRUNERS_AT_INIT = ("random", "snip", "grasp", "synflow_tokens")
NORMED = ("dense", "ticket", "L1 control", "L2 control")
CONTROLS = ("L1 control", "L2 control")
# The derived runs keep their histories and masks, no weights: no analysis reads them
# (benchmarks/store_reads.md); their θ0 is the dense run's start, rebuilt exactly.
HISTORY_ONLY = {"checkpoint_every": 0}

UNCHECKED = {
    "Fig 6: where the \"generalized zone\" of L2 norms lies": "the paper does not define the zone; "
    "its claim that the norms converge there is checked as final L2 norms within a factor 1.2 of each "
    "other, seed by seed",
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


def checks(result: Result, params: Params) -> list[Claim]:
    """The norm-matched controls, pruning at initialisation and the norms, labelled by ``figures``,
    each decided over the page's seeds: every run is compared with the dense run and the ticket of
    its own seed (the i-th run of each network has the i-th seed)."""
    norm_fig, pai_fig, norms_fig = params.figures
    seeds = [r.config.seed for r in result.normed["dense"]]
    out = [control_claim(result, seeds, control, norm_fig) for control in CONTROLS]
    out += [pruned_claim(result, seeds, pruner, pai_fig) for pruner in result.pruned]
    if "random" in result.pruned and len(result.pruned) > 1 and not _regression(result):
        out.append(worse_than_random_claim(result, seeds, pai_fig))
    out += norm_claims(result, seeds, norms_fig)
    return out


def _regression(result: Result) -> bool:
    """A regression task (polynomial): no accuracy, so no claims on accuracies and no `others`."""
    return result.normed["dense"][0].history.is_regression


def _gen_time_ratio(seeds, top: tuple[Run, ...], bottom: tuple[Run, ...], regression: bool):
    """Per seed t_gen(top) / t_gen(bottom), the two runs of the same seed; censored where either
    never generalises; with `others` at 90 % and 99 % test accuracy for accuracy tasks."""
    return over_seeds(seeds, lambda i, t: ratio(gen_time(top[i].history, t), gen_time(bottom[i].history, t)),
                      thresholds=not regression)


def _times(seeds, name: str, runs: tuple[Run, ...], other: str, others: tuple[Run, ...]) -> str:
    """``t_gen, ticket vs L1 control: seed 0: 1,800 vs > 30,000; ...``: the times behind a ratio."""
    pairs = "; ".join(f"seed {s}: {gen_time(a.history)} vs {gen_time(b.history)}"
                      for s, a, b in zip(seeds, runs, others))
    return f"t_gen, {name} vs {other}: {pairs}"


def control_claim(result: Result, seeds, control: str, figure: str) -> Claim:
    """§4.1: the ticket groks far sooner than the dense network started at the ticket's initial L1
    (or L2) norm. t_gen: the first step with test accuracy above P (95 %). A control that never
    generalises leaves the ratio bounded above, which supports the claim."""
    ticket, matched = result.normed["ticket"], result.normed[control]
    values, others = _gen_time_ratio(seeds, ticket, matched, _regression(result))
    return Claim(
        f"{slug(figure)}.ticket_beats_{control.split()[0].lower()}", figure,
        f"The ticket generalises far faster than the dense {control} at the same initial norm",
        "controls grok late, like the dense network (curves only)",
        Rule(f"t_gen(ticket) / t_gen({control})", "≤", FAR_BELOW, "time"), values,
        ours=_times(seeds, "ticket", ticket, control, matched), others=others)


def pruned_claim(result: Result, seeds, pruner: str, figure: str) -> Claim:
    """§4.2: a network pruned at initialisation to the ticket's sparsity generalises no sooner than
    the dense network of its seed (the paper: every method is worse than the base)."""
    pruned, dense = result.pruned[pruner], result.normed["dense"]
    values, others = _gen_time_ratio(seeds, pruned, dense, _regression(result))
    name = plots.display(pruner)
    return Claim(
        f"{slug(figure)}.{pruner}_no_better", figure,
        f"Pruning at initialisation ({name}) does no better than the dense network",
        "every method worse than the base (curves only)",
        Rule(f"t_gen({name}) / t_gen(dense)", "≥", 1, "time"), values,
        ours=_times(seeds, name, pruned, "dense", dense), others=others)


def worse_than_random_claim(result: Result, seeds, figure: str) -> Claim:
    """Fig 5b, 14: some scored method of pruning at initialisation ends below random pruning. Per
    seed: the lowest final test accuracy among the scored methods minus random pruning's."""
    scored = [p for p in result.pruned if p != "random"]
    final = {p: [r.history["test_acc"][-1] for r in runs] for p, runs in result.pruned.items()}
    values = {s: Interval.point(min(final[p][i] for p in scored) - final["random"][i])
              for i, s in enumerate(seeds)}
    lowest = "; ".join(f"seed {s}: {plots.display(min(scored, key=lambda p: final[p][i]))}"
                       for i, s in enumerate(seeds))
    names = ", ".join(plots.display(p) for p in scored)
    return Claim(
        f"{slug(figure)}.some_worse_than_random", figure,
        "Some method of pruning at initialisation does worse than random pruning",
        "some methods are worse than random (Fig 5b, 14)",
        Rule(f"lowest final test accuracy among {names} − random pruning's", "<", 0, "accuracy"), values,
        ours=f"the lowest: {lowest}")


def norm_claims(result: Result, seeds, figure: str) -> list[Claim]:
    """Fig 6 (12, 13): the norms of θ ⊙ m of the four networks of `NORMED`, seed by seed: the final
    L2 norms meet in a similar range, the ticket ends with the smallest L1 norm, and each L2 norm
    falls while test accuracy rises."""
    final = {norm: {name: [r.history[norm][-1] for r in runs] for name, runs in result.normed.items()}
             for norm in ("l1", "l2")}

    def medians(norm: str) -> str:
        return "final, median over seeds: " + ", ".join(
            f"{name} {float(np.median(v)):,.1f}" for name, v in final[norm].items())

    def per_seed(statistic) -> dict[int, Interval]:
        """seed -> statistic(the networks' final norms of that seed, by name)."""
        return {s: Interval.point(statistic({name: v[i] for name, v in final["l2"].items()},
                                            {name: v[i] for name, v in final["l1"].items()}))
                for i, s in enumerate(seeds)}

    spread = per_seed(lambda l2, l1: max(l2.values()) / min(l2.values()))
    ticket_l1 = per_seed(lambda l2, l1: l1["ticket"] / min(v for name, v in l1.items() if name != "ticket"))
    falls, others = over_seeds(seeds, lambda i, t: l2_fall(result, i, t), thresholds=not _regression(result))
    return [
        Claim(f"{slug(figure)}.l2_similar", figure, "The final L2 norms of θ ⊙ m lie in a similar range",
              "L2 norms converge to a similar \"generalized zone\"",
              Rule("largest / smallest final L2 norm of the four networks", "≤", 1.2, "magnitude"), spread,
              ours=medians("l2")),
        Claim(f"{slug(figure)}.ticket_l1_smallest", figure, "The ticket ends with the smallest L1 norm of θ ⊙ m",
              "L1 norms converge to different values; the ticket's is smaller",
              Rule("final L1(ticket) / the smallest final L1 of the other networks", "<", 1, "magnitude"), ticket_l1,
              ours=medians("l1")),
        Claim(f"{slug(figure)}.l2_falls_while_generalising", figure,
              "The L2 norm of θ ⊙ m falls while test accuracy rises",
              "L2 norms all fall with the test-accuracy rise (Fig 6)",
              Rule("largest L2(t_gen) / L2(t_mem) over the networks that generalise after they fit", "<", 1,
                   "magnitude"), falls,
              ours=l2_fall_words(result, seeds), others=others),
    ]


def _l2_falls(result: Result, i: int, threshold: float | None) -> dict[str, float]:
    """Network -> L2(t_gen) / L2(t_mem) for seed index ``i``, over the networks of `NORMED` that
    fit and then generalise (t_mem < t_gen, both at ``threshold``; None: the task's P). A network
    that never generalises has no rise of test accuracy to speak of, and one that generalises as
    it fits has no interval: both are left out."""
    out = {}
    for name, runs in result.normed.items():
        h = runs[i].history
        t_mem, t_gen = mem_time(h, threshold), gen_time(h, threshold)
        if t_mem.is_point and t_gen.is_point and t_gen.low > t_mem.low:
            out[name] = at_step(h, "l2", int(t_gen.low)) / at_step(h, "l2", int(t_mem.low))
    return out


def l2_fall(result: Result, i: int, threshold: float | None = None) -> Interval:
    """The largest ratio of `_l2_falls` (below 1 when every such network's L2 norm fell); where no
    network of the seed generalises after it fits, the statistic is unknown: (0, ∞), in band."""
    found = _l2_falls(result, i, threshold)
    return Interval.point(max(found.values())) if found else UNKNOWN


def l2_fall_words(result: Result, seeds) -> str:
    """Each network's L2(t_gen) / L2(t_mem) as a median over the seeds where it generalises after
    it fits, and per seed the network with the largest ratio (the one `l2_fall` reports)."""
    found = [_l2_falls(result, i, None) for i in range(len(seeds))]
    medians = ", ".join(f"{name} {float(np.median(v)):.3g}" if (v := [f[name] for f in found if name in f])
                        else f"{name} never" for name in result.normed)
    largest = "; ".join(f"seed {s}: {max(f, key=f.get) if f else 'no network generalises after it fits'}"
                        for s, f in zip(seeds, found))
    return f"L2(t_gen) / L2(t_mem), median over seeds: {medians}. The largest: {largest}"


def plot(result: Result, params: Params):
    """Test accuracy (log step axis) of the dense run, the ticket and the norm-matched controls;
    of the ticket against pruning at initialisation (if any); then the L2 and the L1 norm of θ ⊙ m.
    Each curve is the mean over every seed of the page (``seeds``, the same runs the claims are
    decided on), with a min-max band over them where there are several. Panel titles carry the
    page's ``figures`` labels."""
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
