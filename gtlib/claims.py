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
    least 20 % (for a claim over several runs: for every run; for a claim shown on several pages:
    on every page), and `make claims-perturbed` (the quick claims again with
    `ATEN_CPU_CAPABILITY=default`, and with one thread, each from an empty store) gives the same
    verdict. A claim without a margin (its rule counts examples or compares intervals) is asserted
    on the second condition alone.

The claims asserted, each with the verdict CI expects (a claim that robustly fails at the quick
scale is asserted as failing) and the margins measured, are listed in one file,
``gtlib/expected_quick.json`` (`EXPECTED`), which `make claims-perturbed WRITE_EXPECTED=1` writes by
this rule (`python -m gtlib expected`; without ``WRITE_EXPECTED`` it fails where an asserted verdict
disagrees). Its margins are keyed by where they were measured: ``recording-machine`` (the verdicts
`make claims` gives), ``aten-default`` and ``one-thread`` (the two perturbations); null is a claim
without a margin, and a margin that is absent was not measured (the first file was written from the
hand-kept comments it replaced, which gave the recording machine's margins only). Every
other claim is shown on its page, marked "not asserted at the quick scale (within noise)", and CI
asserts nothing about it. CI compares **which** claims hold, never only how many. At the paper
scale every claim is shown with its verdict.

Verdicts travel as data: `verdicts` turns a page's checks into JSON objects (`record` prints their
text, which nbval compares, and writes them to ``$GTLIB_VERDICTS`` where that is set:
`book/execute.py` sets it to the page's ``<output>.verdicts.json``, which its ``--check`` and the
book's summary page read; a notebook run by hand writes nothing).

This module holds what every family shares: the `Check` type, margins, the table, the verdicts and
the rule above; the claims themselves live with their figures.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

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

# The quick-scale rule above: the least margin, as a fraction of the threshold, of a claim CI asserts.
ASSERTED_MARGIN = 0.2

# Claim id -> {"expected": the verdict CI asserts at the quick scale, "margins": where measured -> margin}.
EXPECTED_FILE = Path(__file__).with_name("expected_quick.json")
EXPECTED: dict[str, dict] = json.loads(EXPECTED_FILE.read_text())


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

    def __post_init__(self):  # numpy and pandas comparisons give their own booleans and floats
        object.__setattr__(self, "holds", bool(self.holds))
        if self.margin is not None:
            object.__setattr__(self, "margin", float(self.margin))

    @property
    def quick_expected(self) -> bool | None:
        """The verdict CI asserts for this claim at the quick scale (`EXPECTED`); None: nothing."""
        entry = EXPECTED.get(self.id)
        return None if entry is None else entry["expected"]


def slug(figure: str) -> str:
    """``"Fig 2a"`` or ``"Figure 2a"`` -> ``"fig2a"``: the prefix of a check's id (the summary page
    finds a figure's claims by it)."""
    return re.sub(r"[^a-z0-9]+", "", figure.lower().replace("figure", "fig"))


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


def word(holds: bool) -> str:
    """A verdict as the tables and the verdict text write it."""
    return "reproduced" if holds else "NOT reproduced"


def quick_status(check: Check) -> str:
    """Whether CI asserts the check's verdict at the quick scale, as the tables say it."""
    expected = check.quick_expected
    return "not asserted (within noise)" if expected is None else f"asserted: {word(expected)}"


def table(checks: list[Check], scale: str = "paper") -> pd.DataFrame:
    """The checks as a table: claim, paper, rule, ours, margin, verdict; at the quick scale also
    whether CI asserts the verdict."""
    rows = []
    for c in checks:
        row = {"id": c.id, "figure": c.figure, "claim": c.claim, "paper": c.paper, "pass rule": c.rule,
               "ours": c.ours, "margin": percent(c.margin),
               "verdict": word(c.holds)}
        if scale == "quick":
            row["quick scale"] = quick_status(c)
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
            row["at the quick scale"] = quick_status(c)
        rows.append(row)
    shown = blocks.table(rows, numeric=("margin",), raw=("claim", "paper", "pass rule", "ours", "verdict"))
    shown.text = table(checks, scale).to_string(index=False)
    return shown


def summary(verdicts: list[dict]) -> str:
    """One line, e.g. ``4 of 4 claims reproduced``, closing the paper-scale verdict text."""
    failed = [v["claim"] for v in verdicts if not v["holds"]]
    held = f"{len(verdicts) - len(failed)} of {len(verdicts)} claims reproduced"
    return held + (f"; not reproduced: {'; '.join(failed)}" if failed else "")


def verdicts(checks: list[Check], scale: str) -> list[dict]:
    """The checks' verdicts as data (JSON objects), what the book and CI read: ``expected`` is the
    verdict CI asserts (at the quick scale; None where it asserts nothing); ``seeds`` is left for
    the number of seeds behind a verdict (None: not recorded)."""
    return [{"id": c.id, "figure": c.figure, "claim": c.claim, "holds": c.holds,
             "expected": c.quick_expected if scale == "quick" else None, "margin": c.margin,
             "scale": scale, "seeds": None} for c in checks]


MISMATCH = "CI expects"


def verdict_line(verdict: dict) -> str:
    """``id: verdict``, flagged with ``<- CI expects ...`` where CI expected the other verdict."""
    expected = verdict["expected"]
    flag = "" if expected in (None, verdict["holds"]) else f"   <- {MISMATCH} {word(expected)}"
    return f"{verdict['id']}: {word(verdict['holds'])}{flag}"


def surprises(verdicts: list[dict]) -> list[str]:
    """The ids whose verdict is not the one CI expects."""
    return [v["id"] for v in verdicts if v["expected"] not in (None, v["holds"])]


def verdict_text(verdicts: list[dict]) -> str:
    """What nbval compares and `python -m gtlib claims` prints: at the quick scale the asserted
    claims with their verdicts (`verdict_line`), then the ids of those not asserted; at the paper
    scale every verdict and the summary line."""
    if not verdicts:
        return "No claims checked."
    if verdicts[0]["scale"] != "quick":
        return "\n".join([*map(verdict_line, verdicts), summary(verdicts)])
    asserted = [v for v in verdicts if v["expected"] is not None]
    lines = ["Asserted at the quick scale:" if asserted else "Nothing asserted at the quick scale."]
    lines += [f"  {verdict_line(v)}" for v in asserted]
    rest = [v["id"] for v in verdicts if v["expected"] is None]
    if rest:
        lines.append("Not asserted at the quick scale (within noise): " + ", ".join(rest))
    return "\n".join(lines)


def save(verdicts: list[dict], path: Path | str) -> None:
    """Write verdicts as the file the book reads (``<page>.verdicts.json``)."""
    Path(path).write_text(json.dumps(verdicts, indent=1, ensure_ascii=False) + "\n")


def record(checks: list[Check], scale: str) -> None:
    """A page's verdict cell: print the verdict text (nbval compares it) and, where
    ``$GTLIB_VERDICTS`` names a file (`book/execute.py` sets it), write the verdicts there."""
    found = verdicts(checks, scale)
    print(verdict_text(found))
    if os.environ.get("GTLIB_VERDICTS"):
        save(found, os.environ["GTLIB_VERDICTS"])


def measure_expected(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """The claims the quick-scale rule above asserts, as `EXPECTED` holds them, from the verdicts of
    every page in each condition (``{"recording-machine": [...], "aten-default": [...], ...}``,
    the recording machine's first): a claim asserted must have one verdict everywhere, and on the
    recording machine a margin of at least `ASSERTED_MARGIN` on every page (or no margin)."""
    found: dict[str, dict[str, list[dict]]] = {}  # id -> condition -> its verdicts (one per page)
    for condition, page_verdicts in runs.items():
        for v in page_verdicts:
            found.setdefault(v["id"], {}).setdefault(condition, []).append(v)
    out = {}
    for claim, where in sorted(found.items()):
        held = {v["holds"] for vs in where.values() for v in vs}
        if set(where) != set(runs) or len(held) != 1:
            continue
        margins = {c: min((v["margin"] for v in where[c] if v["margin"] is not None),
                          key=abs, default=None) for c in runs}
        recorded = margins[next(iter(runs))]
        if recorded is None or abs(recorded) >= ASSERTED_MARGIN:  # decided before rounding
            out[claim] = {"expected": held.pop(),
                          "margins": {c: None if m is None else round(m, 3) for c, m in margins.items()}}
    return out


def write_expected(expected: dict[str, dict]) -> None:
    """Write `EXPECTED_FILE`, one claim a line, so that a diff shows which claims changed."""
    lines = [f" {json.dumps(claim)}: {json.dumps(entry)}" for claim, entry in sorted(expected.items())]
    EXPECTED_FILE.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def disagreements(runs: dict[str, list[dict]]) -> list[str]:
    """One line per claim of `EXPECTED` that some condition of ``runs`` did not give its expected
    verdict, on some page or on none."""
    out = []
    for claim, entry in EXPECTED.items():
        for condition, page_verdicts in runs.items():
            got = [v["holds"] for v in page_verdicts if v["id"] == claim]
            if not got or set(got) != {entry["expected"]}:
                shown = ", ".join(map(word, got)) if got else "not on any page"
                out.append(f"{claim}: {shown} with {condition}; {MISMATCH} {word(entry['expected'])}")
    return out


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
