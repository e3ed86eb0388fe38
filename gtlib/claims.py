"""The paper's claims, each written once as a check over results, with the paper's number beside ours.

A `Check` holds the claim in words, what the paper reports, the **pass rule** (the quantity, its
threshold and tolerance), what this code measured, the verdict and the **margin**: how far the
deciding quantity lies from the rule's threshold, as a fraction of the threshold (positive on the
passing side). Where the paper gives no number (v3 shows only curves), "paper" says what its figure
shows and where the reading comes from.

Which claims CI asserts at the quick scale
-------------------------------------------
Training runs are chaotic near a threshold: float rounding differs between CPUs, kernel sets,
thread counts and GPUs, and a short run amplifies it (the quick ticket at sparsity 0.1 has t_gen 620
on one CPU and 680 on another). So a verdict is asserted at the quick scale only where it has a
margin, by this rule:

    a claim is asserted at the quick scale when, on the recording machine, its margin there is at
    least 20 % (for a claim over several runs: for every run), and `make claims-perturbed` (the
    quick claims again with `ATEN_CPU_CAPABILITY=default`, and with one thread, each from an empty
    store) gives the same verdict.

Each figure family (`gtlib.figures`) lists in its ``QUICK`` every claim it asserts, with the verdict
CI expects (a claim that robustly fails at the quick scale is asserted as failing). Every other claim
is shown on its page, marked "not asserted at the quick scale (within noise)", and CI asserts nothing
about it. CI compares **which** claims hold, never only how many. At the paper scale every claim is
shown with its verdict.

This module holds what every family shares: the `Check` type, margins, the table and the text that
CI compares; the claims themselves live with their figures.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from . import blocks


# "Generalises long after it fits": t_gen more than DELAY times t_mem. The paper shows curves only;
# 3 is a clear delay in every setting shown (the paper-scale modular runs have τ_grok near 100-200).
DELAY = 3

# "Far below": the ticket's t_gen must be at most this fraction of the dense model's. The paper's
# Fig 1 shows the ticket crossing 95 % at about 2-3k steps against about 25k, a ratio near 0.1; half
# leaves room for a setting in which the dense network groks sooner.
FAR_BELOW = 0.5

@dataclass(frozen=True)
class Check:
    """One claim of the paper checked against our runs.

    ``id`` is stable across machines and runs (``fig1.ticket_far_below``); ``margin`` is the
    distance of the deciding quantity from the rule's threshold as a fraction of the threshold,
    positive when the claim holds (None where the rule has no numeric threshold)."""

    id: str
    figure: str
    claim: str
    paper: str
    rule: str
    ours: str
    holds: bool
    margin: float | None = None
    quick_expected: bool | None = None  # the verdict CI asserts at the quick scale; None: nothing

    def __post_init__(self):  # numpy and pandas comparisons give their own booleans and floats
        object.__setattr__(self, "holds", bool(self.holds))
        if self.margin is not None:
            object.__setattr__(self, "margin", float(self.margin))


def with_quick(checks: list[Check], quick: dict[str, bool]) -> list[Check]:
    """The checks with the verdicts their family asserts at the quick scale (claim id -> verdict)."""
    return [dataclasses.replace(c, quick_expected=quick.get(c.id)) for c in checks]


def slug(figure: str) -> str:
    """``"Fig 2a"`` -> ``"fig2a"``: the prefix of a check's id."""
    return re.sub(r"[^a-z0-9]+", "", figure.lower())


def fmt(value) -> str:
    """A time or number as the tables print it; None is \"never\"."""
    if value is None:
        return "never"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{value:,}"


def least(values) -> float | None:
    """The smallest of the values that are not None (None if there are none)."""
    values = [v for v in values if v is not None]
    return min(values) if values else None


def below(value: float | None, threshold: float) -> float | None:
    """Margin of ``value < threshold``: (threshold - value) / |threshold| (None for a zero threshold)."""
    return None if value is None or threshold == 0 else (threshold - value) / abs(threshold)


def above(value: float | None, threshold: float) -> float | None:
    """Margin of ``value > threshold``: (value - threshold) / |threshold| (None for a zero threshold)."""
    return None if value is None or threshold == 0 else (value - threshold) / abs(threshold)


def never_or_after(t: int | None, bound: float) -> float:
    """Margin of "t_gen is later than ``bound``, or never": a run that never generalises is as far
    past the bound as a run can be (margin 1)."""
    return 1.0 if t is None else above(t, bound)


# ---------------------------------------------------------------------------------------------
# Tables and the CI view

def percent(margin: float | None) -> str:
    """A margin as the tables print it: whole percents, one decimal below 10 % (never "-0%")."""
    if margin is None:
        return ""
    return f"{margin:+.0%}" if abs(margin) >= 0.1 else f"{margin:+.1%}"


def table(checks: list[Check], scale: str = "paper") -> pd.DataFrame:
    """The checks as a table: claim, paper, rule, ours, margin, verdict; at the quick scale also
    whether CI asserts the verdict."""
    rows = []
    for c in checks:
        row = {"id": c.id, "figure": c.figure, "claim": c.claim, "paper": c.paper, "pass rule": c.rule,
               "ours": c.ours, "margin": percent(c.margin),
               "verdict": "reproduced" if c.holds else "NOT reproduced"}
        if scale == "quick":
            expected = c.quick_expected
            row["quick scale"] = ("not asserted (within noise)" if expected is None else
                                  f"asserted: {'reproduced' if expected else 'NOT reproduced'}")
        rows.append(row)
    return pd.DataFrame(rows)


def show(checks: list[Check], scale: str = "paper") -> blocks.Block:
    """The claims for a page: every cell in full, a coloured verdict, the claim's id under its text
    (the id is what CI and the summary page refer to)."""
    rows = []
    for c in checks:
        row = {"claim": f"{blocks.esc(c.claim)}<br><span class=\"gt-muted\">{c.figure} · {c.id}</span>",
               "paper": blocks.esc(c.paper), "pass rule": blocks.esc(c.rule), "ours": blocks.esc(c.ours),
               "margin": percent(c.margin), "verdict": blocks.badge(c.holds)}
        if scale == "quick":
            expected = c.quick_expected
            row["at the quick scale"] = ("not asserted (within noise)" if expected is None else
                                         f"asserted: {'reproduced' if expected else 'NOT reproduced'}")
        rows.append(row)
    shown = blocks.table(rows, numeric=("margin",), raw=("claim", "paper", "pass rule", "ours", "verdict"))
    shown.text = table(checks, scale).to_string(index=False)
    return shown


def summary(checks: list[Check]) -> str:
    """One line, e.g. ``4 of 4 claims reproduced``, for the book's summary page."""
    failed = [c.claim for c in checks if not c.holds]
    line = f"{len(checks) - len(failed)} of {len(checks)} claims reproduced"
    return line + (f"; not reproduced: {'; '.join(failed)}" if failed else "")


MISMATCH = "CI expects"


def verdicts(checks: list[Check], scale: str) -> str:
    """What CI compares (nbval, `book/execute.py --check`): at the quick scale the asserted claims
    with their verdicts, then the ids of those not asserted; at the paper scale every verdict and
    the summary line. A verdict that differs from the expected one is flagged with ``CI expects``."""
    def word(holds: bool) -> str:
        return "reproduced" if holds else "NOT reproduced"

    if scale != "quick":
        lines = [f"{c.id}: {word(c.holds)}" for c in checks]
        return "\n".join([*lines, summary(checks)])
    asserted = [c for c in checks if c.quick_expected is not None]
    lines = ["Asserted at the quick scale:" if asserted else "Nothing asserted at the quick scale."]
    for c in asserted:
        flag = "" if c.holds == c.quick_expected else f"   <- {MISMATCH} {word(c.quick_expected)}"
        lines.append(f"  {c.id}: {word(c.holds)}{flag}")
    rest = [c.id for c in checks if c.quick_expected is None]
    if rest:
        lines.append("Not asserted at the quick scale (within noise): " + ", ".join(rest))
    return "\n".join(lines)




def mean_time(histories, attr: str) -> float | None:
    """The mean of ``t_mem`` or ``t_gen`` over runs; None if any run never gets there."""
    times = [getattr(h, attr) for h in histories]
    return None if any(t is None for t in times) else float(np.mean(times))


def at_step(history, metric: str, step: int) -> float:
    """``metric`` at the first logged step at or after ``step`` (the last one if beyond)."""
    i = min(int(np.searchsorted(history.steps, step)), len(history.steps) - 1)
    return float(history[metric][i])


def spearman(x, y) -> float:
    """Spearman's rank correlation (ties share their mean rank); 0 where it is undefined."""
    rho = spearmanr(x, y).statistic
    return 0.0 if rho is None or math.isnan(rho) else float(rho)


def unchecked_table(unchecked: dict[str, str], checks: list[Check] | None = None) -> blocks.Block:
    """The claims of a figure that no check tests, and why (a family's ``UNCHECKED``). An entry
    named "Fig X: ..." is shown only on a page whose ``checks`` include figure X."""
    shown = {c.figure for c in checks} if checks is not None else None

    def applies(claim: str) -> bool:
        figure = claim.split(":")[0]
        return shown is None or not figure.startswith("Fig ") or figure in shown

    rows = [{"claim of the paper": claim, "why it is not checked": why}
            for claim, why in unchecked.items() if applies(claim)]
    return blocks.table(rows or [{"claim of the paper": "none",
                                  "why it is not checked": "every claim of this figure is checked above"}])
