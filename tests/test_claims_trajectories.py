"""The claims of Figures 7, 15 (`gtlib.figures.mask_dynamics`) and 9, 20 (`gtlib.figures.graphs`) on
fake runs: each claim holds on the paper's pattern and fails on one that contradicts it, per seed, on
the seed's own generalisation window (a band of ×1.1 for ratios and ±0.1 for correlations, whatever
``gtlib/rounding_band.json`` says)."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from gtlib import claims
from gtlib.analysis.graphs import METRICS
from gtlib.claims import CONTRADICTS, IN_BAND, MIXED, NOT_REPRODUCED, REPRODUCED, SUPPORTS
from gtlib.figures import graphs, mask_dynamics
from gtlib.history import RunHistory



pytestmark = pytest.mark.usefixtures("fixed_band")  # tests/conftest.py: a band that never moves


class FakeRun:
    """What the claims read of a stored `Run`: its config (seed, steps, checkpoint spacing), its
    history, its weights at each checkpoint (step -> name -> tensor) and its masks (all ones)."""

    def __init__(self, history: RunHistory, checkpoints: dict | None = None, checkpoint_every: int | None = None,
                 seed: int = 0):
        self.history = history
        self.config = SimpleNamespace(steps=int(history.steps[-1]), checkpoint_every=checkpoint_every, seed=seed)
        self.checkpoints = checkpoints or {}

    @property
    def checkpoint_steps(self) -> list[int]:
        return sorted(self.checkpoints)

    def weights(self, step: int | None = None) -> dict[str, torch.Tensor]:
        return self.checkpoints[self.config.steps if step is None else step]

    def masks(self) -> dict[str, torch.Tensor]:
        return {n: torch.ones_like(w) for n, w in next(iter(self.checkpoints.values())).items()}


def history(last: int, t_mem: int = 50, t_gen: int | None = None, test_acc=None) -> RunHistory:
    """Logged every 10 steps to ``last``: train accuracy jumps from 0.1 to 1 at ``t_mem``, test
    accuracy at ``t_gen`` (never where None), or is ``test_acc(steps)``."""
    steps = np.arange(0, last + 1, 10)
    jump = lambda t: np.where(steps >= t, 1.0, 0.1) if t is not None else np.full(len(steps), 0.1)
    ones = np.ones(len(steps))
    return RunHistory(steps, {"train_acc": jump(t_mem), "train_loss": ones, "test_loss": ones,
                              "test_acc": jump(t_gen) if test_acc is None else test_acc(steps)})


def by_id(found) -> dict:
    return {c.id: c for c in found}


# ---------------------------------------------------------------------------------------------
# The generalisation window

def test_the_window_covers_the_middle_80_percent_of_the_seeds_own_rise():
    ramp = history(600, test_acc=lambda s: np.clip((s - 100) / 400, 0, 1))  # 0 at 100, 1 at 500
    assert mask_dynamics.generalisation_window(ramp) == (140, 460)
    assert mask_dynamics.generalisation_window(history(600, t_gen=350)) == (350, 350)  # a jump: one step
    assert mask_dynamics.generalisation_window(history(600, t_gen=None)) is None  # never generalised


def test_regression_has_its_window_on_the_fall_of_log_test_loss():
    steps = np.arange(0, 601, 10)
    loss = 10.0 ** -np.clip((steps - 100) / 100, 0, 4)  # 1 until 100, then down a decade per 100 steps
    nan = np.full(len(steps), np.nan)
    regression = RunHistory(steps, {"train_acc": nan, "test_acc": nan, "train_loss": loss, "test_loss": loss})
    assert mask_dynamics.generalisation_window(regression) == (140, 460)


def test_the_phases_of_a_run_are_split_by_its_window():
    ramp = history(600, t_mem=50, test_acc=lambda s: np.clip((s - 100) / 400, 0, 1))
    assert graphs.phases(ramp, [0, 100, 200, 300, 400, 500, 600]) == {
        "start": [0], "memorised": [100], "generalised": [500, 600]}
    assert graphs.phases(history(600, t_gen=None), [0, 100]) is None


# ---------------------------------------------------------------------------------------------
# Figures 7 and 15: the masks change faster inside the generalisation window than outside it

MASK_IDS = ("fig7.distance_peaks_with_generalisation", "fig7.every_matrix_peaks_there")


def shuffled_once(change_at: dict[str, int]) -> dict[int, dict[str, torch.Tensor]]:
    """Checkpoints every 100 steps to 600 of matrices whose entries are shuffled once, at step
    ``change_at[name]``: only then does that matrix's magnitude mask move (a shuffle keeps the
    values, so the global threshold and the other matrices' masks stay as they are)."""
    gen = torch.Generator().manual_seed(0)
    base = {n: torch.randn(6, 10, generator=gen) for n in change_at}
    shuffled = {n: w.flatten()[torch.randperm(w.numel(), generator=gen)].view_as(w) for n, w in base.items()}
    return {t: {n: shuffled[n] if t >= change_at[n] else base[n] for n in base} for t in range(0, 601, 100)}


def mask_run(change_at: dict[str, int], t_gen: int | None, seed: int = 0) -> FakeRun:
    return FakeRun(history(600, t_mem=50, t_gen=t_gen), shuffled_once(change_at), checkpoint_every=100, seed=seed)


def mask_claims(*runs: FakeRun) -> dict:
    return by_id(mask_dynamics.checks(mask_dynamics.Result(tuple(runs)), mask_dynamics.Params()))


def test_mask_claims_hold_when_the_masks_change_inside_the_window_and_fail_outside_it():
    # The intervals compared end at 200, ..., 600 (from the first checkpoint after t_mem = 50); a
    # jump of test accuracy at 350 makes (300, 400] the window's interval.
    same = mask_claims(mask_run({"W_E": 400, "W_in": 400, "W_U": 400}, t_gen=350))
    assert all(same[i].classes == {0: SUPPORTS} for i in MASK_IDS)
    apart = mask_claims(mask_run({"W_E": 200, "W_in": 200, "W_U": 200}, t_gen=550))
    assert all(apart[i].classes == {0: CONTRADICTS} and apart[i].verdict == NOT_REPRODUCED for i in MASK_IDS)


def test_every_matrix_fails_on_one_matrix_the_mean_hides():
    one_late = mask_claims(mask_run({"W_E": 400, "W_in": 400, "W_U": 600}, t_gen=350))
    assert one_late[MASK_IDS[0]].classes == {0: SUPPORTS}
    assert one_late[MASK_IDS[1]].classes == {0: CONTRADICTS}
    assert "W_U" in one_late[MASK_IDS[1]].ours


def test_mask_claims_are_decided_per_seed_and_a_run_that_never_generalised_is_in_band():
    runs = [mask_run({"W_E": 400, "W_in": 400, "W_U": 400}, t_gen=350, seed=s) for s in range(4)]
    runs.append(mask_run({"W_E": 400, "W_in": 400, "W_U": 400}, t_gen=None, seed=4))
    found = mask_claims(*runs)[MASK_IDS[0]]
    assert found.classes == {0: SUPPORTS, 1: SUPPORTS, 2: SUPPORTS, 3: SUPPORTS, 4: IN_BAND}
    assert (found.verdict, found.robust) == (REPRODUCED, True)
    runs[1] = mask_run({"W_E": 200, "W_in": 200, "W_U": 200}, t_gen=550, seed=1)
    mixed = mask_claims(*runs)[MASK_IDS[0]]  # 3 support, 1 contradicts, 1 in band
    assert (mixed.verdict, mixed.robust) == (MIXED, False)


def test_a_matrix_whose_mask_never_changes_is_left_out_of_every_matrix():
    never = mask_claims(mask_run({"W_E": 400, "W_in": 400, "W_U": 10_000}, t_gen=350))
    assert never[MASK_IDS[1]].classes == {0: SUPPORTS}


# ---------------------------------------------------------------------------------------------
# Figures 9 and 20: graph metrics of the masks along the dense run

GRAPH_STEPS = [0, 100, 200, 300, 400, 500]
# Per checkpoint; t_mem = 50 and t_gen = 350: start 0, memorised 100-300, generalised 400 and 500.
PAPER_TRAJECTORY = {
    "weighted spectral gap": [0.5, 0.8, 0.9, 0.6, 0.5, 0.4],  # memorised 0.77 over max(0.5, 0.45)
    "Ramanujan gap": [-2.0, -2.5, -3.0, -3.5, -4.0, -4.5],     # falls steadily
    "average path length": [1.5, 1.6, 1.7, 1.8, 2.2, 2.2],    # 2.2 after against 1.7 before
    "clustering coefficient": [0.80, 0.75, 0.70, 0.65, 0.50, 0.50],  # 0.5 after against 0.7 before
}
OPPOSITE = {"weighted spectral gap": [0.9, 0.5, 0.5, 0.6, 0.8, 0.9],  # falls, then rises
            "Ramanujan gap": [-4.5, -4.0, -3.5, -3.0, -2.5, -2.0],
            "average path length": [2.2, 2.2, 2.2, 2.0, 1.6, 1.5],
            "clustering coefficient": [0.50, 0.50, 0.50, 0.60, 0.80, 0.80]}
GRAPH_IDS = ("fig9a.weighted_gap_rises_then_narrows", "fig9a.ramanujan_gap_falls", "fig9b.path_length_rises",
             "fig9b.clustering_falls", "fig20.every_layer_gap_rises_then_narrows", "fig20.every_layer_ramanujan_falls")


def graph_table(seeds: dict[int, dict[str, dict[str, list[float]]]]) -> pd.DataFrame:
    """`graphs.table`'s table from each seed's layers' metrics per checkpoint, with random-mask rows."""
    rows = [{"seed": seed, "step": step, "layer": layer, **{m: values[m][i] for m in METRICS}}
            for seed, layers in seeds.items() for layer, values in layers.items() for i, step in enumerate(GRAPH_STEPS)]
    rows += [{"seed": seed, "step": "random", "layer": layer, **dict.fromkeys(METRICS, 0.0)}
             for seed, layers in seeds.items() for layer in layers]
    return pd.DataFrame(rows)


def graph_claims(seeds: dict[int, dict[str, dict[str, list[float]]]], t_gen: dict[int, int | None] | None = None) -> dict:
    params = graphs.Params()
    runs = tuple(FakeRun(history(500, t_mem=50, t_gen=(t_gen or {}).get(s, 350)), seed=s) for s in seeds)
    return by_id(graphs.checks(graphs.Result(runs, {params.sparsity: graph_table(seeds)}), params))


def test_graph_claims_hold_on_the_papers_pattern_and_fail_when_every_metric_moves_the_other_way():
    paper = graph_claims({0: {"W_E": PAPER_TRAJECTORY, "W_in": PAPER_TRAJECTORY}})
    assert list(paper) == list(GRAPH_IDS)
    assert all(paper[i].classes == {0: SUPPORTS} for i in GRAPH_IDS)
    opposite = graph_claims({0: {"W_E": OPPOSITE, "W_in": OPPOSITE}})
    assert all(opposite[i].classes == {0: CONTRADICTS} for i in GRAPH_IDS)


def test_the_weighted_gap_must_both_rise_and_narrow():
    never_narrows = {**PAPER_TRAJECTORY, "weighted spectral gap": [0.5, 0.8, 0.9, 0.9, 1.0, 1.0]}
    never_rises = {**PAPER_TRAJECTORY, "weighted spectral gap": [1.0, 0.8, 0.8, 0.8, 0.4, 0.4]}
    for layers in (never_narrows, never_rises):
        found = graph_claims({0: {"W_E": layers}})
        assert found[GRAPH_IDS[0]].classes == {0: CONTRADICTS}


def test_graph_claims_per_layer_fail_on_one_layer_the_mean_hides():
    strong = {**PAPER_TRAJECTORY, "weighted spectral gap": [0.2, 0.9, 0.9, 0.9, 0.2, 0.2]}
    against = {**PAPER_TRAJECTORY, "weighted spectral gap": [0.5, 0.4, 0.4, 0.4, 0.5, 0.5],  # falls, then rises
               "Ramanujan gap": [-2.0, -1.9, -1.8, -1.7, -1.6, -1.5]}  # rises, less than W_E falls
    found = graph_claims({0: {"W_E": strong, "W_in": against}})
    assert found["fig9a.weighted_gap_rises_then_narrows"].classes == {0: SUPPORTS}
    assert found["fig9a.ramanujan_gap_falls"].classes == {0: SUPPORTS}
    assert found["fig20.every_layer_gap_rises_then_narrows"].classes == {0: CONTRADICTS}
    assert found["fig20.every_layer_ramanujan_falls"].classes == {0: CONTRADICTS}


def test_graph_claims_are_decided_per_seed_and_a_run_that_never_generalised_is_in_band():
    paper = {"W_E": PAPER_TRAJECTORY}
    found = graph_claims({0: paper, 1: paper, 2: {"W_E": OPPOSITE}, 3: paper, 4: paper}, t_gen={4: None})
    window_claims = ("fig9a.weighted_gap_rises_then_narrows", "fig9b.path_length_rises", "fig9b.clustering_falls")
    for i in window_claims:
        assert found[i].classes == {0: SUPPORTS, 1: SUPPORTS, 2: CONTRADICTS, 3: SUPPORTS, 4: IN_BAND}
        # 3 of 5 support: mixed, and fragile, for seed 4 would make it 4 if it supported
        assert (found[i].verdict, found[i].robust, found[i].in_band) == (MIXED, False, [4])
    # The Ramanujan gap's trend needs no window: seed 4 is decided too.
    assert found["fig9a.ramanujan_gap_falls"].classes[4] == SUPPORTS
    assert found["fig9a.ramanujan_gap_falls"].verdict == REPRODUCED  # 4 of 5
