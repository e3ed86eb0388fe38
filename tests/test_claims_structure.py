"""The claims of Figure 8 (periodicity), Figures 18 and 19 (weights and masks) and Table 1
(edge-popup) on fake runs: each claim is reproduced on the paper's pattern and NOT reproduced on a
pattern that contradicts it, so that no claim passes whatever the runs. The rounding band is fixed
here (as in tests/test_rules.py), so that a re-measured ``gtlib/rounding_band.json`` changes no
case."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gtlib import claims
from gtlib.analysis.graphs import METRICS
from gtlib.claims import CONTRADICTS, IN_BAND, MIXED, NOT_REPRODUCED, REPRODUCED, SUPPORTS
from gtlib.figures import edge_popup_table, periodicity, weights_and_masks
from gtlib.history import RunHistory



pytestmark = pytest.mark.usefixtures("fixed_band")  # tests/conftest.py: a band that never moves


class FakeRun:
    """What the claims read of a stored `Run`: its config, its history, its weights at each
    checkpoint (step -> name -> tensor) and its masks (default: all ones)."""

    def __init__(self, history: RunHistory, checkpoints: dict | None = None, masks: dict | None = None):
        self.history = history
        self.config = SimpleNamespace(steps=int(history.steps[-1]))
        self.checkpoints = checkpoints or {}
        self._masks = masks

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


def decided(found) -> dict[str, str]:
    return {c.id: c.verdict for c in found}


# ---------------------------------------------------------------------------------------------
# Figure 8: the ticket's Fourier entropy falls at once, the dense network's as it groks

P, EMBED, NEURONS = 31, 8, 6
FIG8 = ("fig8.ticket_entropy_falls_early", "fig8.dense_entropy_falls_with_grokking",
        "fig8.ticket_periodic_early", "fig8.dense_not_periodic_early")


def mlp_weights(periodic: bool, seed: int) -> dict[str, torch.Tensor]:
    """W_E [EMBED, P] and W_in [NEURONS, EMBED]: with ``periodic`` every row of W_E is a sinusoid of
    frequency 3 over the residues, so every neuron's input weights are one too; else noise."""
    gen = torch.Generator().manual_seed(seed)
    phase = 2 * math.pi * torch.rand(EMBED, 1, generator=gen)
    w_e = (torch.cos(2 * math.pi * 3 * torch.arange(P) / P + phase) if periodic
           else torch.randn(EMBED, P, generator=gen))
    return {"W_E": w_e, "W_in": torch.randn(NEURONS, EMBED, generator=gen)}


def ramp(start: int, end: int, low: float, high: float):
    """steps -> a series at ``low`` until ``start``, at ``high`` from ``end``, linear between."""
    return lambda s: np.interp(s, [start, end], [low, high])


def entropy_run(entropy, periodic_early: bool, test_acc) -> FakeRun:
    """1,500 steps (the early step is 100; the entropy is smoothed over 50 steps) with the Fourier
    entropy ``entropy(steps)`` and test accuracy ``test_acc(steps)``; its weights at step 100 are
    periodic or noise."""
    h = history(1500, test_acc=test_acc, fourier_entropy=entropy)
    return FakeRun(h, {100: mlp_weights(periodic_early, seed=int(periodic_early))})


GROKS = ramp(800, 1200, 0.0, 1.0)  # test accuracy rises over 800-1,200: the window is 840-1,160
AT_ONCE = ramp(0, 100, 0.0, 1.0)


def fig8(result) -> dict[str, str]:
    return decided(periodicity.checks(result, periodicity.Params()))


def test_periodicity_claims_hold_on_the_papers_pattern():
    paper = periodicity.Result(dense=entropy_run(ramp(900, 1300, 3.0, 1.0), False, GROKS),  # falls as it groks
                               ticket=entropy_run(ramp(0, 60, 3.0, 1.0), True, AT_ONCE))
    assert fig8(paper) == dict.fromkeys(FIG8, REPRODUCED)


def test_periodicity_claims_fail_when_the_dense_network_turns_periodic_first():
    reversed_ = periodicity.Result(dense=entropy_run(ramp(50, 150, 3.0, 1.0), True, GROKS),  # falls long before
                                   ticket=entropy_run(ramp(700, 900, 3.0, 1.0), False, AT_ONCE))
    assert fig8(reversed_) == dict.fromkeys(FIG8, NOT_REPRODUCED)


def test_the_entropy_is_read_over_a_span_not_at_one_logged_point():
    # One logged point at the early step jumps back to the start: its 50-step mean barely moves.
    spike = lambda s: np.where(s == 100, 3.0, np.interp(s, [0, 60], [3.0, 1.0]))
    ticket = entropy_run(spike, True, AT_ONCE)
    assert periodicity.fall_share(ticket, 100) == pytest.approx(0.8)  # 4 of the 5 points fell fully
    dense = entropy_run(ramp(900, 1300, 3.0, 1.0), False, GROKS)
    assert periodicity.fall_share(dense, 0) == 0 and periodicity.fall_share(dense, 1500) == 1


def test_a_dense_run_that_never_generalised_leaves_its_claim_in_band_not_undecided():
    never = entropy_run(ramp(900, 1300, 3.0, 1.0), False, lambda s: np.full(len(s), 0.05))
    result = periodicity.Result(dense=never, ticket=entropy_run(ramp(0, 60, 3.0, 1.0), True, AT_ONCE))
    claim = next(c for c in periodicity.checks(result, periodicity.Params()) if c.id == FIG8[1])
    assert claim.classes == {0: IN_BAND} and claim.verdict == MIXED and not claim.robust


# ---------------------------------------------------------------------------------------------
# Figures 18 and 19: trained weights and the ticket's masks are periodic, pruned-at-init masks not

ROWS = 64
FIG18 = ("fig18.weights_periodic", "fig18.ticket_masks_periodic", "fig19.random_masks_not_periodic")


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


def weights_and_masks_verdicts(trained: str, ticket_mask: str, random_mask: str) -> dict[str, str]:
    dense = FakeRun(history(100), {0: both("noise", 0), 100: both(trained, 2)})
    result = weights_and_masks.Result(dense, {"ticket": FakeRun(history(100), masks=both(ticket_mask, 4)),
                                              "random": FakeRun(history(100), masks=both(random_mask, 6))})
    return decided(weights_and_masks.checks(result, weights_and_masks.Params()))


def test_weights_and_masks_claims_hold_where_the_weights_and_the_tickets_masks_are_periodic():
    assert weights_and_masks_verdicts("periodic", "periodic mask", "random mask") == dict.fromkeys(FIG18, REPRODUCED)


def test_weights_and_masks_claims_fail_when_the_periodicity_is_on_the_wrong_side():
    assert weights_and_masks_verdicts("noise", "random mask", "periodic mask") == dict.fromkeys(FIG18, NOT_REPRODUCED)


# ---------------------------------------------------------------------------------------------
# Table 1: from a memorising network, structure alone generalises (three score seeds)

REPORT = [0, 600, 1000, 1400, 2000]
TABLE1 = ("table1.structure_alone_generalises", "table1.frozen_weights_unchanged", "table1.ep_with_wd_fastest",
          "table1.weighted_gap_rises_then_falls", "table1.ramanujan_keeps_falling")


def arm_run(accuracy, weights_change: bool = False, graph_rows: dict | None = None) -> FakeRun:
    """2,000 steps whose test accuracy passes through ``accuracy`` at 600, 1,000, 1,400 and 2,000
    steps; its weights at the end are those at step 0 unless ``weights_change``. ``graph_rows``: the
    graph metrics its ``supermask_graphs`` probe logged at those steps (metric -> values), NaN
    between them as the probe logs them."""
    def probe(values):
        return lambda s: np.where(np.isin(s, REPORT), np.interp(s, REPORT, [values[0], *values]), np.nan)
    logged = {f"graph {m}": probe(v) for m, v in (graph_rows or {}).items()}
    h = history(2000, test_acc=lambda s: np.interp(s, REPORT, [0.05, *accuracy]), **logged)
    start = {"W_in": torch.ones(4, 3)}
    return FakeRun(h, {0: start, 2000: {"W_in": start["W_in"] + float(weights_change)}})


def table1_claims(frozen, gap, ramanujan, wd=(0.5, 0.95, 1.0, 1.0), ep_wd=(0.85, 0.96, 0.99, 1.0),
                  weights_change: bool = False) -> list[claims.Claim]:
    """Table 1's claims on the three arms (WD one run; the edge-popup arms one per score seed, the
    three seeds a little apart) with the graph rows of EP w/o WD (``gap``, ``ramanujan``) at the four
    report steps."""
    rows = {**dict.fromkeys(METRICS, [0.0] * 4), "weighted spectral gap": gap, "Ramanujan gap": ramanujan}
    nudge = lambda values, k: [v - 0.005 * k for v in values]
    arms = {"WD": (arm_run(wd),),
            "EP w/o WD": tuple(arm_run(nudge(frozen, k), weights_change, rows) for k in range(3)),
            "EP w/ WD": tuple(arm_run(nudge(ep_wd, k)) for k in range(3))}
    return edge_popup_table.checks(edge_popup_table.Result(None, arms), edge_popup_table.Params())


def table1_verdicts(**pattern) -> dict[str, str]:
    found = table1_claims(**pattern)
    assert all(list(c.values) == [0, 1, 2] for c in found)  # decided per score seed
    return decided(found)


PAPER_TABLE1 = dict(frozen=[0.7, 0.8, 0.85, 0.92], gap=[0.61, 0.81, 0.48, 0.36],
                    ramanujan=[-2.55, -4.02, -4.34, -4.56])


def test_table1_claims_hold_on_the_papers_pattern():
    assert table1_verdicts(**PAPER_TABLE1) == dict.fromkeys(TABLE1, REPRODUCED)


def test_table1_claims_fail_on_a_pattern_that_contradicts_the_paper():
    contradicted = table1_verdicts(frozen=[0.3, 0.4, 0.45, 0.5], gap=[0.3, 0.4, 0.5, 0.6],
                                   ramanujan=[-2.5, -3.0, -2.8, -2.6], wd=[0.9, 1.0, 1.0, 1.0],
                                   weights_change=True)
    assert contradicted == dict.fromkeys(TABLE1, NOT_REPRODUCED)


def test_table1_frozen_weights_claim_fails_alone_when_the_frozen_weights_moved():
    moved = table1_verdicts(**PAPER_TABLE1, weights_change=True)
    assert moved == {**dict.fromkeys(TABLE1, REPRODUCED), "table1.frozen_weights_unchanged": NOT_REPRODUCED}


def test_one_ramanujan_step_out_of_order_is_in_band():
    one_swap = table1_verdicts(**{**PAPER_TABLE1, "ramanujan": [-2.55, -4.34, -4.02, -4.56]})
    assert one_swap["table1.ramanujan_keeps_falling"] == MIXED


def test_each_table1_rule_states_its_statistic_and_threshold_once():
    rules = {c.id: str(c.rule) for c in table1_claims(**PAPER_TABLE1)}
    assert rules["table1.structure_alone_generalises"].startswith("EP w/o WD test accuracy at 2,000 steps")
    assert rules["table1.structure_alone_generalises"].endswith("≥ 0.82")
    assert rules["table1.ep_with_wd_fastest"].startswith("test accuracy at 600 steps, EP w/ WD − the larger")
    assert rules["table1.ep_with_wd_fastest"].endswith("> 0")


def test_table1_pairs_each_score_seed_with_its_own_runs():
    # Score seed 2's EP w/ WD lags its own EP w/o WD at 600 steps: that seed alone contradicts.
    rows = {m: [0.0] * 4 for m in METRICS}
    arms = {"WD": (arm_run((0.5, 0.95, 1.0, 1.0)),),
            "EP w/o WD": tuple(arm_run((0.7, 0.8, 0.85, 0.92), graph_rows=rows) for _ in range(3)),
            "EP w/ WD": (arm_run((0.85, 0.96, 0.99, 1.0)),) * 2 + (arm_run((0.6, 0.9, 0.99, 1.0)),)}
    found = edge_popup_table.checks(edge_popup_table.Result(None, arms), edge_popup_table.Params())
    fastest = next(c for c in found if c.id == "table1.ep_with_wd_fastest")
    assert fastest.classes == {0: SUPPORTS, 1: SUPPORTS, 2: CONTRADICTS} and fastest.verdict == MIXED
