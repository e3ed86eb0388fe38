"""The claims of `gtlib.figures.sparsity` (Fig 3a, 3b, 4b, 17a, 17b) and `gtlib.figures.ticket_time`
(Fig 4a) on fake histories: each claim reproduced on the paper's pattern and NOT reproduced on one
that contradicts it, every ticket paired with the dense run of its own seed, judged at the levels
every seed has (the first seed's grid alone where a claim needs it). The band is fixed here (×2 for
times, ±0.02 for accuracies, ±0.1 for correlations), whatever ``gtlib/rounding_band.json`` says."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from gtlib import claims
from gtlib.claims import CONTRADICTS, IN_BAND, MIXED, NOT_REPRODUCED, REPRODUCED, SUPPORTS, Interval
from gtlib.config import derive
from gtlib.figures import sparsity, ticket_time
from gtlib.history import RunHistory
from gtlib.presets import dense_config

STEPS = np.arange(0, 1001, 10)  # a budget of 1,000 steps
SEEDS = range(5)
TIME_CLAIMS = {"fig3a.tau_lowest_moderate", "fig3a.dense_tau_largest", "fig3b.t_mem_grows",
               "fig4b.moderate_faster", "fig4a.early_no_faster", "fig4a.late_fast"}


pytestmark = pytest.mark.usefixtures("fixed_band")  # tests/conftest.py: a band that never moves


def run(t_mem: int | None, t_gen: int | None, final_test: float = 1.0, plateau: float | None = None,
        optim: str = "dense recipe"):
    """A fake run whose accuracies jump to 1 at t_mem (train) and t_gen (test); without t_gen the
    test accuracy sits at ``final_test``; ``plateau`` sets the test accuracy from t_mem to t_gen."""
    def jump(t, before=0.1):
        return np.where(STEPS >= t, 1.0, before) if t is not None else np.full(len(STEPS), before)
    test = jump(t_gen) if t_gen is not None else np.full(len(STEPS), final_test)
    if plateau is not None and t_mem is not None:
        test = np.where((STEPS >= t_mem) & ((STEPS < t_gen) if t_gen else True), plateau, test)
    series = {"train_acc": jump(t_mem), "test_acc": test, "train_loss": np.ones(len(STEPS)),
              "test_loss": np.ones(len(STEPS)), "l1": np.ones(len(STEPS)), "l2": np.ones(len(STEPS))}
    return SimpleNamespace(history=RunHistory(STEPS, series), config=SimpleNamespace(optim=optim))


def verdicts(found) -> dict:
    return {c.id: c.verdict for c in found}


# ---------------------------------------------------------------------------------------------
# Figures 3a, 3b, 4b: tickets with the dense recipe, 0.0 the dense run of each seed

# τ_grok 90 (dense), 20, 3.75, 1.67 and censored at 0.9 (it fits at 200, never generalises)
PAPER_SWEEP = {0.0: (10, 900), 0.3: (20, 400), 0.6: (40, 150), 0.7: (60, 100), 0.9: (200, None, 0.4)}
# The least τ_grok at 0.3, the dense network's below the tickets', t_mem falling, a ticket at 0.6
# slower than the dense network and a ticket at 0.9 that generalises.
WRONG_SWEEP = {0.0: (40, 300), 0.3: (100, 110), 0.6: (10, 700), 0.7: (10, 400), 0.9: (5, 600)}
GRID_ONLY = {0.1: (10, 300), 0.5: (30, 300), 0.8: (80, 200)}  # the first seed's grid besides the seeded levels


def sweep(pattern: dict, grid: dict | None = None, n: int = 5) -> dict:
    """``{seed: {sparsity: run}}``: every seed at ``pattern``'s sparsities, the first also at ``grid``'s."""
    return {seed: {s: run(*args) for s, args in sorted({**pattern, **(grid or {} if seed == 0 else {})}.items())}
            for seed in range(n)}


def test_the_sweep_claims_are_decided_per_seed_at_the_seeded_sparsities():
    found = {c.id: c for c in sparsity.sweep_claims(sweep(PAPER_SWEEP, GRID_ONLY))}
    assert verdicts(found.values()) == dict.fromkeys(
        ["fig3a.tau_lowest_moderate", "fig3a.dense_tau_largest", "fig3b.t_mem_grows", "fig4b.moderate_faster",
         "fig4b.sparsest_fails"], REPRODUCED)
    assert all(c.n == 5 and c.robust for c in found.values())
    # The first seed's grid-only sparsities (0.1, 0.5, 0.8) do not enter: every seed reads the same levels.
    assert "0, 0.3, 0.6, 0.7, 0.9" in str(found["fig3b.t_mem_grows"].rule)
    assert found["fig3b.t_mem_grows"].values[0].low == pytest.approx(1.0)
    assert {k for k, c in found.items() if c.others} == TIME_CLAIMS & set(found)
    assert set(found["fig4b.moderate_faster"].others) == {"90%", "99%"}


def test_the_sweep_claims_are_not_reproduced_where_the_pattern_is_the_opposite():
    found = sparsity.sweep_claims(sweep(WRONG_SWEEP))
    assert verdicts(found) == dict.fromkeys(
        ["fig3a.tau_lowest_moderate", "fig3a.dense_tau_largest", "fig3b.t_mem_grows", "fig4b.moderate_faster",
         "fig4b.sparsest_fails"], NOT_REPRODUCED)


def test_each_seed_is_compared_with_its_own_dense_run_and_a_censored_one_is_not_skipped():
    levels = sweep(PAPER_SWEEP)
    levels[3][0.0] = run(10, None, 0.5)  # seed 3's dense run never generalises: t_gen > 1,000
    found = {c.id: c for c in sparsity.sweep_claims(levels)}
    faster = found["fig4b.moderate_faster"]
    assert faster.n == 5 and faster.values[3] == Interval(0, 0.4)  # 400 / (> 1,000): below 0.4, supports
    assert faster.classes[3] == SUPPORTS
    # A seed whose tickets are slower than its own dense run contradicts, whatever the others do.
    levels[4] = {s: run(*args) for s, args in WRONG_SWEEP.items()}
    assert {c.id: c for c in sparsity.sweep_claims(levels)}["fig4b.moderate_faster"].classes[4] == CONTRADICTS


def test_a_claim_the_seeded_levels_cannot_judge_falls_back_to_the_first_seeds_grid():
    # No seeded sparsities: the other seeds have their dense runs only, so every claim reads seed 0's grid.
    levels = {0: {s: run(*args) for s, args in {**PAPER_SWEEP, **GRID_ONLY}.items()},
              **{seed: {0.0: run(10, 900)} for seed in range(1, 5)}}
    found = sparsity.sweep_claims(levels)
    assert {c.n for c in found} == {1} and all(c.verdict == REPRODUCED for c in found)
    assert "0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9" in str(found[0].rule)


def test_tau_lowest_moderate_needs_the_least_tau_inside_05_08():
    # The least τ_grok at 0.3 (1.1): the moderate tickets' (≥ 40) are far above it.
    wrong = {**PAPER_SWEEP, 0.3: (100, 110), 0.6: (10, 500), 0.7: (10, 400)}
    found = {c.id: c for c in sparsity.sweep_claims(sweep(wrong))}
    assert found["fig3a.tau_lowest_moderate"].verdict == NOT_REPRODUCED


def test_sparsity_checks_keep_only_the_pages_figures():
    def one(seed_pattern):
        return sparsity.Sweep(run(10, 900), {s: run(*a) for s, a in seed_pattern.items() if s})
    result = sparsity.Result({seed: one(PAPER_SWEEP) for seed in SEEDS})
    assert {c.figure for c in sparsity.checks(result, sparsity.Params(figures=["Fig 4b"]))} == {"Fig 4b"}
    assert {c.figure for c in sparsity.checks(result, sparsity.Params())} == {"Fig 3a", "Fig 3b", "Fig 4b"}
    assert result.dense is result.first.dense and set(result.tickets) == {0.3, 0.6, 0.7, 0.9}
    assert [len(g) for g in result.labelled().values()] == [5] * 5


# ---------------------------------------------------------------------------------------------
# Figure 17: tickets trained without weight decay (the dense run is not one of the levels)

PAPER_NO_DECAY = {0.8: (20, 500), 0.81: (20, 700), 0.9: (50, None, 0.3)}
NO_DECAY_GRID = {0.1: (10, None, 0.6), 0.5: (10, None, 0.8), 0.7: (10, 300), 0.85: (20, None, 0.7)}


def no_decay(pattern: dict, grid: dict = NO_DECAY_GRID) -> dict:
    return {seed: {s: run(*args, optim="no weight decay")
                   for s, args in sorted({**pattern, **(grid if seed == 0 else {})}.items())} for seed in SEEDS}


def test_the_no_decay_claims_hold_on_the_papers_pattern():
    found = {c.id: c for c in sparsity.no_decay_claims(no_decay(PAPER_NO_DECAY))}
    assert verdicts(found.values()) == {"fig17a.dense_tickets_fail": REPRODUCED, "fig17a.sparsest_fails": REPRODUCED,
                                        "fig17a.critical_in_08_09": REPRODUCED, "fig17b.ticket_081_full": REPRODUCED}
    # Only the first seed has tickets at 0.5 or less: that claim needs its grid (N = 1).
    assert {k: c.n for k, c in found.items()} == {"fig17a.dense_tickets_fail": 1, "fig17a.sparsest_fails": 5,
                                                  "fig17a.critical_in_08_09": 5, "fig17b.ticket_081_full": 5}
    assert "seed 0 on its full grid: 0.81" in found["fig17a.critical_in_08_09"].ours
    assert not any(c.others for c in found.values())


def test_the_no_decay_claims_fail_where_the_pattern_is_the_opposite():
    # The tickets at 0.1 and 0.9 generalise; the one at 0.81 ends at 0.6.
    wrong = no_decay({**PAPER_NO_DECAY, 0.81: (20, None, 0.6), 0.9: (10, 800)},
                     {**NO_DECAY_GRID, 0.1: (10, 800)})
    assert verdicts(sparsity.no_decay_claims(wrong)) == dict.fromkeys(
        ["fig17a.dense_tickets_fail", "fig17a.sparsest_fails", "fig17a.critical_in_08_09",
         "fig17b.ticket_081_full"], NOT_REPRODUCED)


def test_the_critical_sparsity_below_08_is_not_in_08_09():
    # No ticket at 0.8 or 0.81 generalises: the largest that does is 0.7 (the first seed's grid).
    below = no_decay({**PAPER_NO_DECAY, 0.8: (20, None, 0.6), 0.81: (20, None, 0.9)})
    found = {c.id: c for c in sparsity.no_decay_claims(below)}
    assert found["fig17a.critical_in_08_09"].verdict == NOT_REPRODUCED
    assert found["fig17a.critical_in_08_09"].values[1].low == pytest.approx(0.9 - 0.95)
    assert "seed 0 on its full grid: 0.7" in found["fig17a.critical_in_08_09"].ours


def test_full_generalisation_is_a_final_test_accuracy_of_at_least_p():
    # 100 % would lie inside the accuracy band: a ticket ending at 0.99 generalises fully, one at 0.9 does not.
    found = {c.id: c for c in sparsity.no_decay_claims(no_decay({**PAPER_NO_DECAY, 0.81: (20, None, 0.99)}))}
    assert found["fig17b.ticket_081_full"].verdict == REPRODUCED
    assert "at least P = 95%" in str(found["fig17b.ticket_081_full"].rule)
    near = {c.id: c for c in sparsity.no_decay_claims(no_decay({**PAPER_NO_DECAY, 0.81: (20, None, 0.94)}))}
    assert near["fig17b.ticket_081_full"].classes == dict.fromkeys(SEEDS, IN_BAND)


def test_no_decay_checks_on_a_result_leave_the_dense_run_out():
    tickets = no_decay(PAPER_NO_DECAY)  # each seed's dense run trains with weight decay, its tickets without
    result = sparsity.Result({seed: sparsity.Sweep(run(10, 900), tickets[seed]) for seed in SEEDS})
    params = sparsity.Params(figures=["Fig 17a", "Fig 17b"], ticket_weight_decay=0.0)
    assert verdicts(sparsity.checks(result, params)) == dict.fromkeys(
        ["fig17a.dense_tickets_fail", "fig17a.sparsest_fails", "fig17a.critical_in_08_09",
         "fig17b.ticket_081_full"], REPRODUCED)


# ---------------------------------------------------------------------------------------------
# Configurations: the first seed's grid, every seed's seeded levels

def test_the_first_seed_gets_the_grid_and_every_seed_the_seeded_sparsities():
    params = sparsity.Params(scale="paper", seeds=(0, 1), sparsities=(0.0, 0.1, 0.9),
                             seeded_sparsities=(0.3, 0.9), ticket_weight_decay=0.0)
    dense, tickets = sparsity.plan(params, 1, grid=False)
    assert dense == dense_config("modular", None, scale="paper", seed=1, task_params={}, checkpoint_every=None)
    assert list(tickets) == [0.3, 0.9]
    optim = dense.optim.__class__(**{**vars(dense.optim), "weight_decay": 0.0})
    assert tickets[0.3] == derive(dense, sparsity=0.3, checkpoint_every=0, optim=optim)
    assert list(sparsity.plan(params, 0, grid=True)[1]) == [0.0, 0.1, 0.3, 0.9]
    # With the dense recipe, sparsity 0 is the dense run itself, not a ticket.
    same = sparsity.Params(scale="paper", sparsities=(0.0, 0.5), seeded_sparsities=(0.5,))
    assert list(sparsity.plan(same, 0, grid=True)[1]) == [0.5]


def test_the_seeded_fractions_map_to_the_nearest_checkpoints():
    params = ticket_time.Params(scale="paper", seeds=(0, 1), seeded_fractions=(0.47, 0.73, 0.87))
    dense, tickets = ticket_time.plan(params, 1, every_checkpoint=False)
    assert dense == dense_config("modular", None, scale="paper", seed=1, task_params={})
    assert list(tickets) == [14_000, 22_000, 26_000]  # the paper's 0.47, 0.73, 0.87 of 30k
    assert tickets[22_000] == derive(dense, sparsity=0.6, step=22_000, checkpoint_every=0)
    assert list(ticket_time.plan(params, 0, every_checkpoint=True)[1]) == list(range(2_000, 30_001, 2_000))
    with pytest.raises(ValueError, match=r"seeded_fractions must lie in \(0, 1\]"):
        ticket_time.Params(seeded_fractions=(0.0,))


# ---------------------------------------------------------------------------------------------
# Figure 4a: tickets split at t_gen of their own seed's dense run

def dense_4a():
    """The dense run's test accuracy: 0.1 until 200, 0.5 until 300, then 1 (t_gen = 300)."""
    dense = run(10, 300)
    dense.history.series["test_acc"] = np.where(STEPS >= 300, 1.0, np.where(STEPS >= 200, 0.5, 0.1))
    return dense


def ticket_sweeps(tickets: dict, first_only: dict | None = None, dense=dense_4a) -> ticket_time.Result:
    """Every seed with a ticket per mask step of ``tickets`` (step -> run arguments); the first seed
    also at ``first_only``'s steps."""
    return ticket_time.Result({seed: ticket_time.Sweep(dense(), {
        t: run(*args) for t, args in sorted({**tickets, **(first_only or {} if seed == 0 else {})}.items())})
        for seed in SEEDS})


def ticket_checks(result: ticket_time.Result) -> dict:
    return {c.id: c for c in ticket_time.checks(result, ticket_time.Params())}


FIG4A = ["fig4a.early_not_full", "fig4a.early_plateau", "fig4a.early_no_faster", "fig4a.late_fast",
         "fig4a.late_perfect"]
# Early (250): never generalises, levels off at the dense 0.5; late (400): fast and full.
PAPER_4A = {250: (10, None, 0.5), 400: (10, 50)}


def test_the_ticket_time_claims_hold_on_the_papers_pattern():
    found = ticket_checks(ticket_sweeps(PAPER_4A, {100: (10, None, 0.1), 600: (10, 60)}))
    assert verdicts(found.values()) == dict.fromkeys(FIG4A, REPRODUCED)
    assert {c.n for c in found.values()} == {5}
    assert {k for k, c in found.items() if c.others} == TIME_CLAIMS & set(found)
    assert "seed 0 (t_gen 300): 250: 0.50" in found["fig4a.early_not_full"].ours  # the shared steps only


def test_an_early_ticket_that_generalises_sooner_contradicts_two_claims():
    found = ticket_checks(ticket_sweeps({**PAPER_4A, 250: (10, 100)}))
    assert verdicts(found.values()) == {**dict.fromkeys(FIG4A, REPRODUCED),
                                        "fig4a.early_not_full": NOT_REPRODUCED,
                                        "fig4a.early_no_faster": NOT_REPRODUCED,
                                        "fig4a.early_plateau": found["fig4a.early_plateau"].verdict}


def test_an_early_plateau_far_from_the_dense_accuracy_contradicts():
    found = ticket_checks(ticket_sweeps({**PAPER_4A, 250: (10, None, 0.9)}))
    assert found["fig4a.early_plateau"].verdict == NOT_REPRODUCED
    assert found["fig4a.early_plateau"].values[0].low == pytest.approx(0.4)


def test_a_seed_without_an_informative_early_mask_cannot_say():
    # The early mask at 150: the dense accuracy there is 0.1, chance; every ticket would "match".
    found = ticket_checks(ticket_sweeps({150: (10, None, 0.1), 400: (10, 50)}))
    plateau = found["fig4a.early_plateau"]
    assert plateau.n == 5 and plateau.classes == dict.fromkeys(SEEDS, IN_BAND) and plateau.verdict == MIXED


def test_slow_or_partial_late_tickets_contradict():
    slow = ticket_checks(ticket_sweeps({**PAPER_4A, 400: (10, 900)}))
    assert slow["fig4a.late_fast"].verdict == NOT_REPRODUCED
    partial = ticket_checks(ticket_sweeps({**PAPER_4A, 400: (10, None, 0.5)}))
    assert partial["fig4a.late_perfect"].verdict == NOT_REPRODUCED


def test_each_seed_splits_at_its_own_dense_t_gen_and_a_seed_with_no_late_ticket_is_in_band():
    result = ticket_sweeps(PAPER_4A)
    never = run(10, None, 0.5)  # seed 2's dense run never generalises: both of its tickets are early
    result.sweeps[2] = ticket_time.Sweep(never, result.sweeps[2].tickets)
    found = ticket_checks(result)
    assert found["fig4a.late_fast"].n == 5 and found["fig4a.late_fast"].values[2] == Interval(-math.inf, math.inf)
    assert found["fig4a.late_fast"].classes[2] == IN_BAND and found["fig4a.late_fast"].verdict == REPRODUCED
    # Its ticket at 400 is early now, and generalises long before the dense run: seed 2 contradicts
    # the early claims, the others support them.
    assert found["fig4a.early_no_faster"].values[2] == Interval(0, 0.05)  # 50 / (> 1,000)
    assert found["fig4a.early_no_faster"].classes[2] == found["fig4a.early_not_full"].classes[2] == CONTRADICTS


def test_without_shared_steps_the_first_seed_alone_is_judged():
    result = ticket_sweeps({}, PAPER_4A)
    assert {c.n for c in ticket_checks(result).values()} == {1}
