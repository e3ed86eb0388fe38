"""The checks of the figure families that read weights, masks and graph metrics, on fake runs: each
claim must hold on the paper's pattern and fail on a pattern that contradicts it, so that no check
passes whatever the runs (tests/test_claims.py does the same for the families that read histories
only)."""
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from gtlib.analysis.graphs import METRICS
from gtlib.figures import edge_popup_table, graphs, mask_dynamics, periodicity, weights_and_masks
from gtlib.history import RunHistory


class FakeRun:
    """What the checks read of a stored `Run`: its config, its history, its weights at each
    checkpoint (step -> name -> tensor) and its masks (default: all ones)."""

    def __init__(self, history: RunHistory, checkpoints: dict | None = None, masks: dict | None = None,
                 checkpoint_every: int | None = None):
        self.history = history
        self.config = SimpleNamespace(steps=int(history.steps[-1]), checkpoint_every=checkpoint_every)
        self.checkpoints = checkpoints or {}
        self._masks = masks

    @property
    def checkpoint_steps(self) -> list[int]:
        return sorted(self.checkpoints)

    def weights(self, step: int | None = None) -> dict[str, torch.Tensor]:
        return self.checkpoints[self.config.steps if step is None else step]

    def masks(self) -> dict[str, torch.Tensor]:
        if self._masks is not None:
            return self._masks
        return {n: torch.ones_like(w) for n, w in next(iter(self.checkpoints.values())).items()}


def history(last: int, t_mem: int = 50, t_gen: int | None = None, test_acc=None, **series) -> RunHistory:
    """Logged every 10 steps to ``last``: train accuracy jumps from 0.1 to 1 at ``t_mem``, test
    accuracy at ``t_gen`` (or is ``test_acc(steps)``); ``series`` adds others (name -> f(steps))."""
    steps = np.arange(0, last + 1, 10)
    jump = lambda t: np.where(steps >= t, 1.0, 0.1) if t is not None else np.full(len(steps), 0.1)
    ones = np.ones(len(steps))
    return RunHistory(steps, {"train_acc": jump(t_mem), "train_loss": ones, "test_loss": ones,
                              "test_acc": jump(t_gen) if test_acc is None else test_acc(steps),
                              **{name: f(steps) for name, f in series.items()}})


def verdicts(checks) -> dict[str, bool]:
    return {c.id: c.holds for c in checks}


# ---------------------------------------------------------------------------------------------
# Figure 7: the masks change most where test accuracy changes most

def shuffled_once(change_at: dict[str, int]) -> dict[int, dict[str, torch.Tensor]]:
    """Checkpoints every 100 steps to 600 of matrices whose entries are shuffled once, at step
    ``change_at[name]``: only then does that matrix's magnitude mask move (a shuffle keeps the
    values, so the global threshold and the other matrices' masks stay as they are)."""
    gen = torch.Generator().manual_seed(0)
    base = {n: torch.randn(6, 10, generator=gen) for n in change_at}
    shuffled = {n: w.flatten()[torch.randperm(w.numel(), generator=gen)].view_as(w) for n, w in base.items()}
    return {t: {n: shuffled[n] if t >= change_at[n] else base[n] for n in base} for t in range(0, 601, 100)}


def mask_dynamics_verdicts(change_at: dict[str, int], t_gen: int) -> dict[str, bool]:
    run = FakeRun(history(600, t_mem=50, t_gen=t_gen), shuffled_once(change_at), checkpoint_every=100)
    return verdicts(mask_dynamics.checks(mask_dynamics.Result(run), mask_dynamics.Params()))


def test_mask_dynamics_checks_fail_when_the_masks_change_away_from_generalisation():
    # The intervals compared end at steps 200, ..., 600 (from the first checkpoint after t_mem = 50).
    ids = ("fig7.distance_peaks_with_generalisation", "fig7.every_matrix_peaks_there")
    same = mask_dynamics_verdicts({"W_E": 400, "W_in": 400, "W_U": 400}, t_gen=350)
    assert same == dict.fromkeys(ids, True)
    apart = mask_dynamics_verdicts({"W_E": 200, "W_in": 200, "W_U": 200}, t_gen=550)
    assert apart == dict.fromkeys(ids, False)
    # Two matrices of three peak with generalisation, the third two intervals later: the mean does.
    one_late = mask_dynamics_verdicts({"W_E": 400, "W_in": 400, "W_U": 600}, t_gen=350)
    assert one_late == {ids[0]: True, ids[1]: False}


# ---------------------------------------------------------------------------------------------
# Figure 8: the ticket's Fourier entropy falls at once, the dense network's with grokking

P, EMBED, NEURONS = 31, 8, 6


def mlp_weights(periodic: bool, seed: int) -> dict[str, torch.Tensor]:
    """W_E [EMBED, P] and W_in [NEURONS, EMBED]: with ``periodic`` every row of W_E is a sinusoid of
    frequency 3 over the residues, so every neuron's input weights are one too; else noise."""
    gen = torch.Generator().manual_seed(seed)
    phase = 2 * math.pi * torch.rand(EMBED, 1, generator=gen)
    w_e = (torch.cos(2 * math.pi * 3 * torch.arange(P) / P + phase) if periodic
           else torch.randn(EMBED, P, generator=gen))
    return {"W_E": w_e, "W_in": torch.randn(NEURONS, EMBED, generator=gen)}


def entropy_run(falls_at: int, periodic_early: bool, t_gen: int | None = None) -> FakeRun:
    """1,500 steps (the early step is 100) whose Fourier entropy falls from 3 to 1 at ``falls_at``."""
    h = history(1500, t_gen=t_gen, fourier_entropy=lambda s: np.where(s >= falls_at, 1.0, 3.0))
    return FakeRun(h, {100: mlp_weights(periodic_early, seed=falls_at)})


def test_periodicity_checks_fail_when_the_dense_network_turns_periodic_first():
    ids = ("fig8.ticket_entropy_falls_early", "fig8.dense_entropy_falls_with_grokking",
           "fig8.ticket_periodic_early")
    paper = periodicity.Result(dense=entropy_run(900, periodic_early=False, t_gen=1000),
                               ticket=entropy_run(50, periodic_early=True))
    assert verdicts(periodicity.checks(paper, periodicity.Params())) == dict.fromkeys(ids, True)
    reversed_ = periodicity.Result(dense=entropy_run(100, periodic_early=True, t_gen=1000),
                                   ticket=entropy_run(800, periodic_early=False))
    assert verdicts(periodicity.checks(reversed_, periodicity.Params())) == dict.fromkeys(ids, False)


# ---------------------------------------------------------------------------------------------
# Figures 9 and 20: graph metrics of the masks along the dense run

GRAPH_STEPS = [0, 100, 200, 300, 400, 500]
PAPER_TRAJECTORY = {  # per checkpoint; t_mem = 50 and t_gen = 350 (nearest checkpoint: 300)
    "weighted spectral gap": [0.5, 0.8, 0.9, 0.6, 0.5, 0.4],  # peaks at 200, ends ≥ 10 % lower
    "Ramanujan gap": [-2.0, -2.5, -3.0, -3.5, -4.0, -4.5],     # falls steadily
    "average path length": [1.90, 1.91, 1.92, 1.93, 1.93, 1.93],  # rises from 100 to 300
    "clustering coefficient": [0.80, 0.75, 0.70, 0.65, 0.65, 0.65],  # falls from 100 to 300
}


def graph_table(layers: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """`graphs.trajectory`'s table from each layer's metrics per checkpoint, with random-mask rows."""
    rows = [{"step": step, "layer": layer, **{m: values[m][i] for m in METRICS}}
            for layer, values in layers.items() for i, step in enumerate(GRAPH_STEPS)]
    rows += [{"step": "random", "layer": layer, **dict.fromkeys(METRICS, 0.0)} for layer in layers]
    return pd.DataFrame(rows)


def graph_verdicts(layers: dict[str, dict[str, list[float]]]) -> dict[str, bool]:
    params = graphs.Params()
    result = graphs.Result(FakeRun(history(500, t_mem=50, t_gen=350)), {params.sparsity: graph_table(layers)})
    return verdicts(graphs.checks(result, params))


def test_graph_checks_fail_when_every_metric_moves_the_other_way():
    assert graph_verdicts({"W_E": PAPER_TRAJECTORY, "W_in": PAPER_TRAJECTORY}) == {
        "fig9a.weighted_gap_rises_then_narrows": True, "fig9a.ramanujan_gap_falls": True,
        "fig9b.path_length_rises": True, "fig9b.clustering_falls": True,
        "fig20.every_layer_gap_rises_then_narrows": True, "fig20.every_layer_ramanujan_falls": True}
    opposite = {"weighted spectral gap": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9],  # rises to the end
                "Ramanujan gap": [-4.5, -4.0, -3.5, -3.0, -2.5, -2.0],
                "average path length": [1.93, 1.93, 1.92, 1.91, 1.90, 1.90],
                "clustering coefficient": [0.65, 0.65, 0.70, 0.75, 0.80, 0.80]}
    assert not any(graph_verdicts({"W_E": opposite, "W_in": opposite}).values())


def test_graph_checks_per_layer_fail_on_one_layer_the_mean_hides():
    flat_gap = {**PAPER_TRAJECTORY, "weighted spectral gap": [0.5] * 6,  # no peak inside the run
                "Ramanujan gap": [-2.0, -1.9, -1.8, -1.7, -1.6, -1.5]}  # rises, less than W_E falls
    got = graph_verdicts({"W_E": PAPER_TRAJECTORY, "W_in": flat_gap})
    assert got["fig9a.ramanujan_gap_falls"] and got["fig9a.weighted_gap_rises_then_narrows"]
    assert not got["fig20.every_layer_ramanujan_falls"]
    assert not got["fig20.every_layer_gap_rises_then_narrows"]


# ---------------------------------------------------------------------------------------------
# Figures 18 and 19: trained weights and the ticket's masks are periodic, pruned-at-init masks not

ROWS = 64


def residue_matrix(kind: str, seed: int) -> torch.Tensor:
    """``[ROWS, P]`` over the residues: ``"periodic"`` weights (sinusoids of frequency 3),
    a ``"periodic mask"`` (where such a sinusoid is large, density about 0.4), a ``"random mask"``
    (density 0.4) or ``"noise"`` weights."""
    gen = torch.Generator().manual_seed(seed)
    wave = torch.cos(2 * math.pi * 3 * torch.arange(P) / P + 2 * math.pi * torch.rand(ROWS, 1, generator=gen))
    return {"periodic": wave, "periodic mask": (wave > 0.3).double(),
            "noise": torch.randn(ROWS, P, generator=gen),
            "random mask": (torch.rand(ROWS, P, generator=gen) < 0.4).double()}[kind]


def both(kind: str, seed: int) -> dict[str, torch.Tensor]:
    return {"W_E": residue_matrix(kind, seed), "W_U": residue_matrix(kind, seed + 1)}


def weights_and_masks_verdicts(trained: str, ticket_mask: str, random_mask: str) -> dict[str, bool]:
    dense = FakeRun(history(100), {0: both("noise", 0), 100: both(trained, 2)})
    result = weights_and_masks.Result(dense, {"ticket": FakeRun(history(100), masks=both(ticket_mask, 4)),
                                              "random": FakeRun(history(100), masks=both(random_mask, 6))})
    return verdicts(weights_and_masks.checks(result, weights_and_masks.Params()))


def test_weights_and_masks_checks_fail_when_the_periodicity_is_on_the_wrong_side():
    ids = ("fig18.weights_periodic", "fig18.ticket_masks_periodic", "fig19.random_masks_not_periodic")
    assert weights_and_masks_verdicts("periodic", "periodic mask", "random mask") == dict.fromkeys(ids, True)
    assert weights_and_masks_verdicts("noise", "random mask", "periodic mask") == dict.fromkeys(ids, False)


# ---------------------------------------------------------------------------------------------
# Table 1: from a memorising network, structure alone generalises

REPORT = [0, 600, 1000, 1400, 2000]


def arm_run(accuracy, weights_change: bool = False, graph_rows: dict | None = None) -> FakeRun:
    """2,000 steps whose test accuracy passes through ``accuracy`` at 600, 1,000, 1,400 and 2,000
    steps; its weights at the end are those at step 0 unless ``weights_change``. ``graph_rows``: the
    graph metrics its ``supermask_graphs`` probe logged at those steps (metric -> values)."""
    logged = {f"graph {m}": lambda s, v=v: np.interp(s, REPORT, [v[0], *v]) for m, v in (graph_rows or {}).items()}
    h = history(2000, test_acc=lambda s: np.interp(s, REPORT, [0.05, *accuracy]), **logged)
    start = {"W_in": torch.ones(4, 3)}
    return FakeRun(h, {0: start, 2000: {"W_in": start["W_in"] + float(weights_change)}})


def table1_verdicts(frozen: list[float], gap: list[float], ramanujan: list[float],
                    wd=(0.5, 0.95, 1.0, 1.0), ep_wd=(0.85, 0.96, 0.99, 1.0),
                    weights_change: bool = False) -> dict[str, bool]:
    """Table 1's checks on the three arms (two score seeds each for the edge-popup arms) and the
    graph rows of EP w/o WD (``gap``, ``ramanujan``) at the four report steps."""
    rows = {**dict.fromkeys(METRICS, [0.0] * 4), "weighted spectral gap": gap, "Ramanujan gap": ramanujan}
    arms = {"WD": (arm_run(wd),), "EP w/o WD": (arm_run(frozen, weights_change, rows),) * 2,
            "EP w/ WD": (arm_run(ep_wd),) * 2}
    return verdicts(edge_popup_table.checks(edge_popup_table.Result(None, arms), edge_popup_table.Params()))


PAPER_TABLE1 = dict(frozen=[0.7, 0.8, 0.85, 0.92], gap=[0.61, 0.81, 0.48, 0.36],
                    ramanujan=[-2.55, -4.02, -4.34, -4.56])
IDS_TABLE1 = ("table1.structure_alone_generalises", "table1.ep_with_wd_fastest",
              "table1.weighted_gap_rises_then_falls", "table1.ramanujan_keeps_falling")


def test_table1_checks_fail_on_a_pattern_that_contradicts_the_paper():
    assert table1_verdicts(**PAPER_TABLE1) == dict.fromkeys(IDS_TABLE1, True)
    contradicted = table1_verdicts(frozen=[0.3, 0.4, 0.45, 0.5], gap=[0.3, 0.4, 0.5, 0.6],
                                   ramanujan=[-2.5, -3.0, -2.9, -3.5], wd=[0.9, 1.0, 1.0, 1.0])
    assert contradicted == dict.fromkeys(IDS_TABLE1, False)


def test_table1_structure_alone_fails_when_the_frozen_weights_moved():
    moved = table1_verdicts(**PAPER_TABLE1, weights_change=True)
    assert moved == {**dict.fromkeys(IDS_TABLE1, True), "table1.structure_alone_generalises": False}
