"""The paper's claims, each decided over seeds, with censoring and a measured rounding band.

A claim is written once, as a `Claim`: its words, what the paper reports, a `Rule` (a per-seed
statistic, a comparison and a threshold) and the statistic's value for each seed. Everything else
is derived from those: each seed's class, the verdict, its robustness, the effect and the
threshold-sensitivity. The families (`gtlib.figures`) build the claims; this module decides them.

Why over seeds. Training near a threshold is chaotic: float rounding that differs between CPUs,
kernel sets, thread counts, batch sizes and GPUs moves a grokking time as much as another seed does
(the same seed and code generalised at step 12,640 in one batch and at 17,950 in another). A verdict
resting on one run and one threshold crossing is a coin toss there; a verdict over seeds, sized to
the measured rounding, is not.

**Censoring.** A run that never reaches a threshold within its budget of B steps has t > B, not "no
value": its statistic is an `Interval` bounded on one side (a ratio with a censored side is bounded
on one side only). One censored run never turns a claim into "no verdict".

**The rounding band** (`BAND`, ``gtlib/rounding_band.json``, derived by `gtlib.band` from pairs of
the same runs trained twice: the committed runs against a regeneration from an empty store) is, per
kind of statistic, the shift that covers nearly all (`gtlib.band.COVERAGE`) paired shifts: a factor
for times and ratios of times, an absolute difference for accuracies, rank correlations and graph
metrics.

**The rule, stated once.** For a claim over N seeds (fixed in advance: 0 … N−1, never chosen after
seeing results):

1. Each seed is classed by its interval widened by the band: *supporting* when the widened interval
   lies wholly on the claim's side of the threshold, *contradicting* when it lies wholly on the
   other side, *in band* otherwise (rounding alone could move it either way; so is a censored
   statistic whose open end reaches across the threshold, and an `UNKNOWN` one).
2. The verdict is *reproduced* when at least ⌈0.8 N⌉ seeds support it, *NOT reproduced* when at
   least ⌈0.8 N⌉ contradict it, *mixed* otherwise. (One seed in five may go the other way: a
   single seed's grokking time is heavy-tailed, and a rule that one seed could veto would hang
   every verdict on the least stable run. The page names the seed, and the effect shows it.)
3. The verdict is *robust* when it stays the same with every in-band seed counted as supporting and
   with every in-band seed counted as contradicting; otherwise *fragile*, and the page names the
   in-band seeds. A robust verdict is what a regeneration under other rounding must reproduce.

The MLP pages have five seeds; the Transformer's controls, MNIST and Table 1's score seeds three;
Figures 8, 15, 18, 19 and the sweeps' full grids one. At N < 5 a reproduction is written
"consistent in k of N", never "significant". Beside every verdict, never instead of it: the **effect**, the per-seed
statistic as median [min, max] (at N = 5, [min, max] is a distribution-free 94 % interval for the
median), the exact two-sided **sign-test p** where every seed lies on one side of the threshold,
and, for claims on times to an accuracy threshold, the verdict again at 90 % and 99 %
(*threshold-sensitive* when either differs).

**Which claims CI asserts at the quick scale**: those robust there with every seed at least
`QUICK_MARGIN` bands clear of the threshold (short runs move more than the paper-scale runs that
measured the band). ``make expected``
executes every page at the quick scale and writes each robust claim's verdict, with its seeds'
classes and the median's margin, to ``gtlib/expected_quick.json`` (`EXPECTED`); `make claims` then
fails where an asserted claim has another verdict. Any other claim is shown on its page, marked
"not asserted (fragile or near the band at the quick scale)", and CI asserts nothing about it.

Verdicts travel as data: `verdicts` turns a page's claims into JSON objects (`record` prints their
text, which nbval compares, and writes them to ``$GTLIB_VERDICTS`` where that is set;
`book/execute.py` sets it, and the book's summary page reads them; ``python -m gtlib claims
--json`` prints them).
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest, spearmanr

from . import blocks, metrics
from .band import BAND_FILE

# "Generalises long after it fits": t_gen more than DELAY times t_mem. The paper shows curves only;
# 3 is a clear delay in every setting shown (the paper-scale modular runs have τ_grok near 100-200).
DELAY = 3

# "Far below": the ticket's t_gen must be at most this fraction of the dense model's. The paper's
# Fig 1 shows the ticket crossing 95 % at about 2-3k steps against about 25k, a ratio near 0.1; half
# leaves room for a setting in which the dense network groks sooner.
FAR_BELOW = 0.5

# The share of seeds that must support (or contradict) a claim for a verdict: ⌈0.8 N⌉ of N.
QUORUM = 0.8

# CI asserts a claim at the quick scale when it is robust there with every seed at least this many
# bands from the threshold: the band was measured on paper-scale runs, and short quick runs move
# more (a quick claim 1.02 bands clear, Figure 8's periodic neurons, left the band when its runs
# were trained again in another batch).
QUICK_MARGIN = 2.0

# The other accuracy thresholds at which a claim on times is decided again (item 5 of the rule).
OTHER_THRESHOLDS = (0.90, 0.99)

REPRODUCED, NOT_REPRODUCED, MIXED = "reproduced", "NOT reproduced", "mixed"
SUPPORTS, CONTRADICTS, IN_BAND = "supports", "contradicts", "in band"

# Claim id -> {"expected": verdict, "classes": {seed: class}, "margin": ...}: what CI asserts.
EXPECTED_FILE = Path(__file__).with_name("expected_quick.json")
EXPECTED: dict[str, dict] = json.loads(EXPECTED_FILE.read_text())


# ---------------------------------------------------------------------------------------------
# Per-seed statistics: points, or intervals where a run was censored

@dataclass(frozen=True)
class Interval:
    """A per-seed statistic: a point (``low == high``) or, where a run never reached a threshold
    within its budget, the interval the censoring leaves (``high`` may be ``inf``)."""

    low: float
    high: float

    def __post_init__(self):
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.low > self.high:
            raise ValueError(f"an interval's low end {self.low} lies above its high end {self.high}")

    @classmethod
    def point(cls, value: float) -> "Interval":
        return cls(value, value)

    @property
    def is_point(self) -> bool:
        return self.low == self.high

    def __str__(self) -> str:
        if self.is_point:
            return fmt(self.low)
        if math.isinf(self.high) and math.isinf(self.low):
            return "unknown"
        if math.isinf(self.high):
            return f"> {fmt(self.low)}"
        if math.isinf(self.low) or self.low == 0:
            return f"< {fmt(self.high)}"
        return f"{fmt(self.low)}–{fmt(self.high)}"

    def as_json(self) -> list:
        """``[low, high]`` with null for an unbounded end."""
        return [None if math.isinf(v) else v for v in (self.low, self.high)]


UNKNOWN = Interval(-math.inf, math.inf)  # a seed whose statistic cannot be computed: always in band


def time(t: int | None, budget: int | float) -> Interval:
    """A time to a threshold: the step ``t``, or, where the run never got there (None), t > ``budget``
    (its last logged step)."""
    return Interval(float(budget), math.inf) if t is None else Interval.point(t)


def ratio(a: Interval, b: Interval) -> Interval:
    """a / b for positive intervals (times): the least over the largest, the largest over the least;
    `UNKNOWN` where either side is unknown."""
    if a.low < 0 or b.low < 0:
        return UNKNOWN
    def div(x: float, y: float) -> float:
        return math.inf if y == 0 else 0.0 if math.isinf(y) else x / y
    return Interval(div(a.low, b.high), div(a.high, b.low))


def gen_time(history, threshold: float | None = None) -> Interval:
    """The run's t_gen (test accuracy above ``threshold``, default the task's P; for regression the
    test loss below its threshold), censored at its last logged step."""
    return time(_time(history, "test", threshold), history.steps[-1])


def mem_time(history, threshold: float | None = None) -> Interval:
    """As `gen_time`, on the training set (t_mem)."""
    return time(_time(history, "train", threshold), history.steps[-1])


def _time(history, split: str, threshold: float | None) -> int | None:
    if threshold is None:
        return history.t_gen if split == "test" else history.t_mem
    if history.is_regression:
        return None
    return metrics.first_step_above(history.steps, history[f"{split}_acc"], threshold)


# ---------------------------------------------------------------------------------------------
# The rounding band

@dataclass(frozen=True)
class Band:
    """What rounding alone can do to one kind of statistic: multiply it by up to ``size`` (shape
    "factor", for times and their ratios) or move it by up to ``size`` (shape "delta")."""

    kind: str
    shape: str
    size: float

    def widen(self, value: Interval) -> Interval:
        if self.shape == "factor":
            return Interval(value.low / self.size, value.high * self.size)
        return Interval(value.low - self.size, value.high + self.size)


def load_band(path: Path = BAND_FILE) -> dict[str, Band]:
    """Kind -> its `Band`, from ``gtlib/rounding_band.json`` (written by `gtlib.band`)."""
    kinds = json.loads(path.read_text())["kinds"]
    return {kind: Band(kind, entry["shape"], float(entry["size"])) for kind, entry in kinds.items()}


BAND: dict[str, Band] = load_band()


# ---------------------------------------------------------------------------------------------
# Rules and claims

OPS = {"<": lambda x, t: x < t, "≤": lambda x, t: x <= t, ">": lambda x, t: x > t, "≥": lambda x, t: x >= t}


@dataclass(frozen=True)
class Rule:
    """``statistic op threshold``, e.g. ``t_gen(ticket) / t_gen(dense) ≤ 0.5``; ``kind`` names the
    statistic's rounding band (a key of `BAND`)."""

    statistic: str
    op: str
    threshold: float
    kind: str

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"a rule's comparison must be one of {', '.join(OPS)}, got {self.op!r}")
        if self.kind not in BAND:
            raise ValueError(f"a rule's kind must be one of {', '.join(BAND)}, got {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.statistic} {self.op} {fmt(self.threshold)}"

    def holds(self, x: float) -> bool:
        return OPS[self.op](x, self.threshold)

    def side(self, value: Interval) -> bool | None:
        """True when the whole interval satisfies the rule, False when none of it does, None when
        it straddles the threshold."""
        lo, hi = self.holds(value.low), self.holds(value.high)
        return lo if lo == hi else None

    def classify(self, value: Interval, band: Band | None = None) -> str:
        """The seed's class: `SUPPORTS`, `CONTRADICTS` or `IN_BAND` (the interval widened by the band
        straddles the threshold)."""
        side = self.side((band or BAND[self.kind]).widen(value))
        return IN_BAND if side is None else SUPPORTS if side else CONTRADICTS

    def margin(self, value: Interval, band: Band | None = None) -> float | None:
        """How far ``value`` lies from the threshold, in bands (positive on the claim's side; at 1
        it clears the threshold by exactly the band); None for an interval across the threshold."""
        band = band or BAND[self.kind]
        side = self.side(value)
        if side is None or band.size == (1.0 if band.shape == "factor" else 0.0):
            return None  # across the threshold, or no band to count in
        near = value.low if abs(value.low - self.threshold) < abs(value.high - self.threshold) else value.high
        if band.shape == "factor":
            if near <= 0 or self.threshold <= 0:
                return None
            distance = abs(math.log(near / self.threshold)) / math.log(band.size)
        else:
            distance = abs(near - self.threshold) / band.size
        return distance if side else -distance


def verdict_of(supporting: int, contradicting: int, n: int) -> str:
    """Rule 2: ⌈`QUORUM` · N⌉ seeds decide."""
    need = math.ceil(QUORUM * n - 1e-9)
    if n and supporting >= need:
        return REPRODUCED
    if n and contradicting >= need:
        return NOT_REPRODUCED
    return MIXED


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, decided over seeds.

    ``values``: seed -> the rule's statistic for that seed (seeds in the order fixed in advance);
    ``others``: for claims on times to an accuracy threshold, ``{"90%": values, "99%": values}``,
    the same statistic at the other thresholds of `OTHER_THRESHOLDS`; ``ours``: what the page adds
    in words (the times behind a ratio, say)."""

    id: str
    figure: str
    claim: str
    paper: str
    rule: Rule
    values: dict[int, Interval]
    ours: str = ""
    others: dict[str, dict[int, Interval]] = field(default_factory=dict)

    def __post_init__(self):
        if not self.values:
            raise ValueError(f"{self.id}: a claim needs the statistic of at least one seed")

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def classes(self) -> dict[int, str]:
        return {seed: self.rule.classify(v) for seed, v in self.values.items()}

    def _count(self, cls: str) -> int:
        return sum(c == cls for c in self.classes.values())

    @property
    def supporting(self) -> int:
        return self._count(SUPPORTS)

    @property
    def in_band(self) -> list[int]:
        return [s for s, c in self.classes.items() if c == IN_BAND]

    @property
    def verdict(self) -> str:
        return verdict_of(self.supporting, self._count(CONTRADICTS), self.n)

    @property
    def robust(self) -> bool:
        """Rule 3: the same verdict with every in-band seed pushed to either side."""
        s, c, b = self.supporting, self._count(CONTRADICTS), len(self.in_band)
        return verdict_of(s + b, c, self.n) == verdict_of(s, c + b, self.n) == self.verdict

    @property
    def holds(self) -> bool:
        return self.verdict == REPRODUCED

    @property
    def effect(self) -> tuple[Interval, float, float]:
        """The median of the per-seed statistic (an interval where censored runs leave it one),
        and its least and largest values."""
        lows = [v.low for v in self.values.values()]
        highs = [v.high for v in self.values.values()]
        return Interval(float(np.median(lows)), float(np.median(highs))), min(lows), max(highs)

    @property
    def margin(self) -> float | None:
        """The median's distance from the threshold, in bands (`Rule.margin`)."""
        return self.rule.margin(self.effect[0])

    @property
    def sign_p(self) -> float | None:
        """The exact two-sided sign test's p where every seed lies on one side of the threshold
        (before the band); None otherwise."""
        sides = [self.rule.side(v) for v in self.values.values()]
        if None in sides or len(set(sides)) != 1:
            return None
        return float(binomtest(len(sides), len(sides), 0.5).pvalue)

    @property
    def other_verdicts(self) -> dict[str, str]:
        """The verdict at each of the other thresholds (`others`)."""
        return {name: verdict_of(*(sum(self.rule.classify(v) == c for v in values.values())
                                   for c in (SUPPORTS, CONTRADICTS)), len(values))
                for name, values in self.others.items()}

    @property
    def threshold_sensitive(self) -> bool | None:
        """Whether the verdict changes at another threshold (None for claims not on times)."""
        found = self.other_verdicts
        return None if not found else any(v != self.verdict for v in found.values())

    @property
    def quick_expected(self) -> str | None:
        """The verdict CI asserts for this claim at the quick scale (`EXPECTED`); None: nothing."""
        entry = EXPECTED.get(self.id)
        return None if entry is None else entry["expected"]


def over_seeds(seeds, fn, thresholds: bool = False) -> tuple[dict[int, Interval], dict[str, dict[int, Interval]]]:
    """``fn(seed_index, threshold)`` for each seed: the claim's ``values`` and, with ``thresholds``,
    its ``others`` at `OTHER_THRESHOLDS` (``fn`` gets None for the task's own threshold)."""
    values = {s: fn(i, None) for i, s in enumerate(seeds)}
    others = {f"{t:.0%}": {s: fn(i, t) for i, s in enumerate(seeds)} for t in OTHER_THRESHOLDS} if thresholds else {}
    return values, others


# ---------------------------------------------------------------------------------------------
# Words and tables

def slug(figure: str) -> str:
    """``"Fig 2a"`` or ``"Figure 2a"`` -> ``"fig2a"``: the prefix of a claim's id (the summary page
    finds a figure's claims by it)."""
    return re.sub(r"[^a-z0-9]+", "", figure.lower().replace("figure", "fig"))


def fmt(value) -> str:
    """A time or number as the tables print it; None is \"never\"."""
    if value is None:
        return "never"
    if isinstance(value, (float, np.floating)):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{value:,}"


def verdict_words(claim: Claim | dict) -> str:
    """``reproduced (5 of 5 seeds support, robust)``; at N < 5 ``consistent in 3 of 3 seeds``; a
    claim not reproduced says how many seeds contradict it."""
    v = claim if isinstance(claim, dict) else as_json(claim)
    n, k = v["n_seeds"], v["supporting"]
    against = sum(c == CONTRADICTS for c in v["classes"].values())
    robust = "robust" if v["robust"] else f"fragile: seeds {', '.join(map(str, v['in_band']))} in band"
    if v["verdict"] == REPRODUCED and n < 5:
        return f"consistent in {k} of {n} seeds ({robust})"
    counts = f"{k} of {n} seed{'s' if n > 1 else ''} support"
    if against:
        counts += f", {against} contradict{'s' if against == 1 else ''}"
    return f"{v['verdict']} ({counts}, {robust})"


def effect_words(claim: Claim) -> str:
    """``0.021 [0.013, 0.045]``: the median and the range of the per-seed statistic, the sign test's
    p where every seed lies on one side, and, where the verdict at another threshold differs, the
    verdicts at both other thresholds."""
    median, lo, hi = claim.effect
    text = str(median) if claim.n == 1 else f"{median} [{fmt(lo)}, {fmt(hi)}]"
    if claim.sign_p is not None and claim.n > 1:
        text += f", sign test p = {claim.sign_p:.2g}"
    if claim.threshold_sensitive:
        text += "; threshold-sensitive: " + ", ".join(f"{v} at {t}" for t, v in claim.other_verdicts.items())
    return text


def quick_status(claim: Claim) -> str:
    """Whether CI asserts the claim's verdict at the quick scale, as the tables say it."""
    expected = claim.quick_expected
    return ("not asserted (fragile or near the band at the quick scale)" if expected is None
            else f"asserted: {expected}")


def per_seed(claim: Claim) -> str:
    """``seed 0: 0.021 (supports); ...``"""
    classes = claim.classes
    return "; ".join(f"seed {s}: {v} ({classes[s]})" for s, v in claim.values.items())


def table(claims: list[Claim], scale: str = "paper") -> pd.DataFrame:
    """The claims as a plain table (the text nbval and the tests read)."""
    rows = []
    for c in claims:
        row = {"id": c.id, "claim": c.claim, "paper": c.paper, "rule": str(c.rule),
               "per seed": per_seed(c), "effect": effect_words(c), "verdict": verdict_words(c)}
        if scale == "quick":
            row["quick scale"] = quick_status(c)
        rows.append(row)
    return pd.DataFrame(rows)


def badge(claim: Claim | dict) -> str:
    """A coloured verdict: green reproduced, red NOT reproduced, amber mixed; fragile verdicts
    outlined."""
    v = claim if isinstance(claim, dict) else as_json(claim)
    colour = {REPRODUCED: "gt-yes", NOT_REPRODUCED: "gt-no", MIXED: "gt-mixed"}[v["verdict"]]
    fragile = "" if v["robust"] else " gt-fragile"
    return (f'<span class="gt-badge {colour}{fragile}">{blocks.esc(v["verdict"])}</span>'
            f'<br><span class="gt-muted">{blocks.esc(verdict_words(v))}</span>')


def show(claims: list[Claim], scale: str = "paper") -> blocks.Block:
    """The claims for a page: every cell in full, the verdict with k of N and robust or fragile, the
    claim's id under its text (the id is what CI and the summary page refer to)."""
    rows = []
    for c in claims:
        ours = per_seed(c) + (f"<br>{blocks.esc(c.ours)}" if c.ours else "")
        row = {"claim": f"{blocks.esc(c.claim)}<br><span class=\"gt-muted\">{c.figure} · {c.id}</span>",
               "paper": blocks.esc(c.paper), "rule (per seed)": blocks.esc(str(c.rule)),
               "ours, per seed": ours, "effect": blocks.esc(effect_words(c)), "verdict": badge(c)}
        if scale == "quick":
            row["at the quick scale"] = quick_status(c)
        rows.append(row)
    shown = blocks.table(rows, raw=("claim", "paper", "rule (per seed)", "ours, per seed", "effect", "verdict"))
    shown.text = table(claims, scale).to_string(index=False)
    return shown


# ---------------------------------------------------------------------------------------------
# Verdicts as data

def as_json(c: Claim, scale: str = "paper") -> dict:
    """One claim as `verdicts` writes it."""
    median, lo, hi = c.effect
    return {"id": c.id, "figure": c.figure, "claim": c.claim, "rule": str(c.rule), "kind": c.rule.kind,
            "scale": scale, "n_seeds": c.n, "supporting": c.supporting,
            "values": {str(s): v.as_json() for s, v in c.values.items()},
            "classes": {str(s): cls for s, cls in c.classes.items()}, "in_band": c.in_band,
            "verdict": c.verdict, "robust": c.robust,
            "effect": {"median": median.as_json(), "min": None if math.isinf(lo) else lo,
                       "max": None if math.isinf(hi) else hi},
            "margin": c.margin, "seed_margins": {str(s): c.rule.margin(v) for s, v in c.values.items()},
            "sign_p": c.sign_p, "threshold_sensitive": c.threshold_sensitive,
            "other_thresholds": c.other_verdicts,
            "expected": c.quick_expected if scale == "quick" else None}


def verdicts(claims: list[Claim], scale: str) -> list[dict]:
    """The claims' verdicts as data (JSON objects): what the book, CI and ``--json`` read."""
    return [as_json(c, scale) for c in claims]


MISMATCH = "CI expects"


def verdict_line(v: dict) -> str:
    """``id: verdict (k of N seeds support, robust)``, flagged ``<- CI expects ...`` where CI
    expected another verdict."""
    flag = "" if v["expected"] in (None, v["verdict"]) else f"   <- {MISMATCH} {v['expected']}"
    return f"{v['id']}: {verdict_words(v)}{flag}"


def surprises(found: list[dict]) -> list[str]:
    """The ids whose verdict is not the one CI expects."""
    return [v["id"] for v in found if v["expected"] not in (None, v["verdict"])]


def summary(found: list[dict]) -> str:
    """One line closing the paper-scale verdict text: how many claims are robustly reproduced,
    robustly not reproduced, mixed and fragile."""
    counts = tally(found)
    return (f"{len(found)} claims: {counts['robust reproduced']} robustly reproduced, "
            f"{counts['robust NOT reproduced']} robustly not reproduced, {counts['robust mixed']} robustly mixed, "
            f"{counts['fragile']} fragile")


def tally(found: list[dict]) -> dict[str, int]:
    """Counts for the summary: robust reproduced / NOT reproduced / mixed, and fragile."""
    out = {f"robust {v}": 0 for v in (REPRODUCED, NOT_REPRODUCED, MIXED)} | {"fragile": 0}
    for v in found:
        out[f"robust {v['verdict']}" if v["robust"] else "fragile"] += 1
    return out


def verdict_text(found: list[dict]) -> str:
    """What nbval compares and `python -m gtlib claims` prints: at the quick scale the asserted
    claims with their verdicts (`verdict_line`), then the ids of those not asserted; at the paper
    scale every verdict and the summary line."""
    if not found:
        return "No claims checked."
    if found[0]["scale"] != "quick":
        return "\n".join([*map(verdict_line, found), summary(found)])
    asserted = [v for v in found if v["expected"] is not None]
    lines = ["Asserted at the quick scale:" if asserted else "Nothing asserted at the quick scale."]
    lines += [f"  {v['id']}: {v['verdict']}" + ("" if v["expected"] == v["verdict"]
                                                 else f"   <- {MISMATCH} {v['expected']}") for v in asserted]
    rest = [v["id"] for v in found if v["expected"] is None]
    if rest:
        lines.append("Not asserted at the quick scale (fragile or near the band there): " + ", ".join(rest))
    return "\n".join(lines)


def save(found: list[dict], path: Path | str) -> None:
    """Write verdicts as the file the book reads (``<page>.verdicts.json``)."""
    Path(path).write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n")


def record(claims: list[Claim], scale: str) -> None:
    """A page's verdict cell: print the verdict text (nbval compares it) and, where
    ``$GTLIB_VERDICTS`` names a file (`book/execute.py` sets it), write the verdicts there."""
    found = verdicts(claims, scale)
    print(verdict_text(found))
    if os.environ.get("GTLIB_VERDICTS"):
        save(found, os.environ["GTLIB_VERDICTS"])


def clear_of_the_band(v: dict) -> bool:
    """Whether every seed of a verdict lies at least `QUICK_MARGIN` bands from the threshold."""
    margins = v["seed_margins"].values()
    return all(m is not None and abs(m) >= QUICK_MARGIN for m in margins)


def measure_expected(found: list[dict]) -> dict[str, dict]:
    """What CI asserts, from the quick-scale verdicts of every page: each claim robust on every page
    that shows it, with one verdict and every seed `QUICK_MARGIN` bands clear of the threshold; with
    its seeds' classes and its margin (the least over pages)."""
    by_id: dict[str, list[dict]] = {}
    for v in found:
        by_id.setdefault(v["id"], []).append(v)
    out = {}
    for claim, vs in sorted(by_id.items()):
        if all(v["robust"] and clear_of_the_band(v) for v in vs) and len({v["verdict"] for v in vs}) == 1:
            margins = [v["margin"] for v in vs if v["margin"] is not None]
            out[claim] = {"expected": vs[0]["verdict"], "classes": vs[0]["classes"],
                          "margin": round(min(margins, key=abs), 2) if margins else None}
    return out


def write_expected(expected: dict[str, dict]) -> None:
    """Write `EXPECTED_FILE`, one claim a line, so that a diff shows which claims changed."""
    lines = [f" {json.dumps(claim)}: {json.dumps(entry, ensure_ascii=False)}"
             for claim, entry in sorted(expected.items())]
    EXPECTED_FILE.write_text("{\n" + ",\n".join(lines) + "\n}\n")


# ---------------------------------------------------------------------------------------------
# Small tools the families share

def at_step(history, metric: str, step: int) -> float:
    """``metric`` at the first logged step at or after ``step`` (the last one if beyond)."""
    i = min(int(np.searchsorted(history.steps, step)), len(history.steps) - 1)
    return float(history[metric][i])


def spearman(x, y) -> float:
    """Spearman's rank correlation (ties share their mean rank); 0 where it is undefined."""
    if np.ptp(np.asarray(x, float)) == 0 or np.ptp(np.asarray(y, float)) == 0:
        return 0.0  # a constant series has no rank order
    rho = spearmanr(x, y).statistic
    return 0.0 if rho is None or math.isnan(rho) else float(rho)


def unchecked_table(unchecked: dict[str, str], claims: list[Claim] | None = None) -> blocks.Block:
    """The claims of a figure that no rule tests, and why (a family's ``UNCHECKED``). An entry
    named "Fig X: ..." is shown only on a page whose ``claims`` include figure X."""
    shown = {c.figure for c in claims} if claims is not None else None

    def applies(claim: str) -> bool:
        figure = claim.split(":")[0]
        return shown is None or not figure.startswith("Fig ") or figure in shown

    rows = [{"claim of the paper": claim, "why it is not checked": why}
            for claim, why in unchecked.items() if applies(claim)]
    return blocks.table(rows or [{"claim of the paper": "none",
                                  "why it is not checked": "every claim of this figure is checked above"}])
