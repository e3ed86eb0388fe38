"""The claim checks on synthetic histories: each must pass on the paper's pattern and fail on a
pattern that contradicts it."""
from types import SimpleNamespace

import numpy as np

from gtlib import claims
from gtlib.train import RunHistory

STEPS = np.arange(0, 1001, 10)


def run(t_mem: int | None, t_gen: int | None, final_test: float = 1.0, l1: float = 1.0,
        l2: float | None = None):
    """A fake run whose accuracies jump to 1 at t_mem (train) and t_gen (test)."""
    def jump(t, final=1.0):
        return np.where(STEPS >= t, final, 0.1) if t is not None else np.full(len(STEPS), 0.1)
    test = jump(t_gen) if t_gen is not None else np.full(len(STEPS), final_test)
    series = {"train_acc": jump(t_mem), "test_acc": test, "train_loss": np.ones(len(STEPS)),
              "test_loss": np.ones(len(STEPS)), "l1": np.full(len(STEPS), l1),
              "l2": np.full(len(STEPS), l1 if l2 is None else l2)}
    return SimpleNamespace(history=RunHistory(STEPS, series))


def verdicts(checks):
    return [c.holds for c in checks]


def test_sparsity_checks_follow_the_paper_pattern():
    paper = {0.0: run(10, 900), 0.1: run(10, 500), 0.3: run(20, 400), 0.5: run(30, 300),
             0.7: run(60, 100), 0.9: run(200, None, final_test=0.4)}
    assert verdicts(claims.sparsity_checks(paper)) == [True] * 5
    # A ticket slower than the dense network and a 0.9 ticket that generalises both fail.
    wrong = {**paper, 0.3: run(10, 950), 0.9: run(200, 600)}
    got = {c.claim: c.holds for c in claims.sparsity_checks(wrong)}
    assert not got["Every ticket with sparsity up to 0.7 generalises before the dense network"]
    assert not got["The ticket at sparsity 0.9 fails to generalise"]
    assert not got["The dense network has the largest τ_grok among those that generalise"]


def test_no_decay_checks_need_a_critical_sparsity_between_08_and_09():
    paper = {0.1: run(10, None, 0.6), 0.5: run(10, None, 0.8), 0.8: run(10, None, 0.9),
             0.81: run(20, 700), 0.9: run(50, None, 0.3)}
    assert verdicts(claims.no_decay_checks(paper)) == [True, True, True]
    none_critical = {**paper, 0.81: run(20, None, 0.9)}
    assert verdicts(claims.no_decay_checks(none_critical)) == [True, True, False]
    dense_generalises = {**paper, 0.1: run(10, 800)}
    assert verdicts(claims.no_decay_checks(dense_generalises))[0] is False


def test_ticket_step_checks_split_at_the_base_generalisation():
    base = run(10, 500)  # test accuracy 0.1 until step 500
    early_plateau = {200: run(10, None, 0.15), 600: run(10, 100)}
    assert verdicts(claims.ticket_step_checks(base, early_plateau)) == [True, True, True, True]
    early_generalises = {200: run(10, 400), 600: run(10, 100)}
    assert verdicts(claims.ticket_step_checks(base, early_generalises)) == [False, True, False, True]
    plateau_too_high = {200: run(10, None, 0.5), 600: run(10, 100)}
    assert verdicts(claims.ticket_step_checks(base, plateau_too_high)) == [True, False, True, True]


def test_control_checks_compare_ticket_controls_and_pruners():
    variants = {"dense": [run(10, 800, l1=9)], "ticket": [run(10, 100, l1=3)],
                "L1 control": [run(10, 700, l1=5)], "L2 control": [run(10, 750, l1=6)],
                "snip": [run(10, 900, l1=4)]}
    assert verdicts(claims.control_checks(variants, ["snip"])) == [True, True, True, False, True]
    variants = {**variants, "dense": [run(10, 800, l1=9, l2=5)], "ticket": [run(10, 100, l1=3, l2=5.5)],
                "L1 control": [run(10, 700, l1=5, l2=5)], "L2 control": [run(10, 750, l1=6, l2=4.8)]}
    assert verdicts(claims.control_checks(variants, ["snip"])) == [True, True, True, True, True]
    variants["snip"] = [run(10, 300, l1=4)]       # pruning at initialisation beats the dense run
    variants["L2 control"] = [run(10, 150, l1=2)]  # a control nearly as fast, with a smaller norm
    assert verdicts(claims.control_checks(variants, ["snip"])) == [True, False, False, False, False]


def test_control_checks_take_the_pages_figure_labels():
    variants = {"dense": [run(10, 800)], "ticket": [run(10, 100)], "L1 control": [run(10, 700)],
                "L2 control": [run(10, 750)], "snip": [run(10, 900)]}
    labels = [c.figure for c in claims.control_checks(variants, ["snip"], ["Fig 12", "Fig 14", "Fig 12"])]
    assert labels == ["Fig 12", "Fig 12", "Fig 14", "Fig 12", "Fig 12"]
