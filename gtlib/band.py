"""The rounding band: what float rounding alone does to each kind of statistic, measured.

The same run trained twice under different rounding (another CPU, ``ATEN_CPU_CAPABILITY=default``,
another thread count or batch) gives two values of every statistic a claim reads. The band of a
kind is the shift that covers `COVERAGE` of those paired shifts, never below the kind's `FLOORS`:

- ``time``: a time to a threshold or a ratio of such times; the shift is the factor max(a/b, b/a);
- ``trajectory``: a ratio of a trajectory's means over windows (how much a mask changes inside the
  generalisation window against outside it; a factor);
- ``structure``: a ratio of graph metrics or of the periodicity of weights and masks (a factor);
- ``magnitude``: a ratio of norms or of losses (a factor);
- ``accuracy``: an accuracy (final, best, at a step, a plateau, a difference of two); |a − b|;
- ``correlation``: a rank correlation or a fraction in [0, 1]; |a − b|.

Three sources of pairs (`derive`): the claims' own per-seed statistics in two ``python -m gtlib
claims --json`` outputs over the same pages (`pairs_from_verdicts`: the committed runs and a
regeneration from an empty store; only points on both sides); the runs two stores both hold
(`pairs_from_stores`: per run, t_gen where both generalised, the final test accuracy, the final L1
and L2 norms); and the run tables of the earlier regenerations in ``benchmarks/``
(`pairs_from_table`: t_gen and final test accuracy). Those tables list only the runs whose times
differ, so they overstate the shifts (a run trained twice to the same times is a pair with no
shift): the band they give errs wide.

``python -m gtlib band [A.jsonl B.jsonl ...] [--stores A B] [--tables MD ...] [--write]`` prints the
band and its derivation; ``--write`` replaces ``gtlib/rounding_band.json``, which `gtlib.claims`
reads.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .config import from_json
from .store import Store, is_sealed


BAND_FILE = Path(__file__).with_name("rounding_band.json")
PAIRS_FILE = Path(__file__).with_name("rounding_pairs.csv")  # every pair behind BAND_FILE
# 95 %, not all: the last 5 % are runs beside a critical rate or a budget's edge (the ticket at
# sparsity 0.76 moved ×10.6), and the verdict's quorum already lets one seed in five go the other way.
COVERAGE = 0.95
SHAPES = {"time": "factor", "trajectory": "factor", "structure": "factor", "magnitude": "factor",
          "accuracy": "delta", "correlation": "delta"}
# The least band of a kind, whatever the pairs say: the regeneration of 2026-12-04 moved t_gen by
# more than ×2 for 6 % of its runs, so a time band below 2 would call routine rounding a finding.
FLOORS = {"time": 2.0, "trajectory": 1.0, "structure": 1.0, "magnitude": 1.0, "accuracy": 0.0, "correlation": 0.0}


def shift(kind: str, a: float, b: float) -> float:
    """The paired shift of one statistic: a factor ≥ 1 or an absolute difference."""
    if SHAPES[kind] == "factor":
        if a <= 0 or b <= 0:
            return math.nan
        return max(a / b, b / a)
    return abs(a - b)


def pairs_from_verdicts(a: list[dict], b: list[dict]) -> pd.DataFrame:
    """The per-seed statistics of the same claims in two verdict lists, where both are points."""
    other = {(v["id"], seed): (v["kind"], value) for v in b for seed, value in v["values"].items()}
    rows = []
    for v in a:
        for seed, value in v["values"].items():
            match = other.get((v["id"], seed))
            if match is None or value[0] is None or value[0] != value[1]:
                continue
            kind, theirs = match
            if theirs[0] is None or theirs[0] != theirs[1] or kind != v["kind"]:
                continue
            rows.append({"kind": kind, "source": f"{v['id']} seed {seed}", "a": value[0], "b": theirs[0]})
    return pd.DataFrame(rows, columns=["kind", "source", "a", "b"])


def pairs_from_stores(a: Path | str, b: Path | str) -> pd.DataFrame:
    """Per run that the stores at ``a`` and ``b`` both hold (a folder of the same key: the same
    configuration, trained twice): t_gen where both generalised (``time``), the final test accuracy
    (``accuracy``), the final L1 and L2 norms (``magnitude``)."""
    stores = [Store(a), Store(b)]
    rows = []
    for folder in sorted((Path(a) / "runs").iterdir()):
        if not (is_sealed(folder) and is_sealed(Path(b) / "runs" / folder.name)):
            continue
        cfg = from_json(json.loads((folder / "config.json").read_text()))
        h, g = (store.load(cfg).history for store in stores)
        if h.t_gen is not None and g.t_gen is not None:
            rows.append({"kind": "time", "source": cfg.label, "a": float(h.t_gen), "b": float(g.t_gen)})
        if not h.is_regression:
            rows.append({"kind": "accuracy", "source": cfg.label, "a": float(h["test_acc"][-1]),
                         "b": float(g["test_acc"][-1])})
        for norm in ("l1", "l2"):
            rows.append({"kind": "magnitude", "source": f"{cfg.label} ({norm})", "a": float(h[norm][-1]),
                         "b": float(g[norm][-1])})
    return pd.DataFrame(rows, columns=["kind", "source", "a", "b"])


ROW = re.compile(r"^\| (?P<run>.+?) \| (?P<mem_a>\d+|None), (?P<gen_a>\d+|None) \| (?P<mem_b>\d+|None), "
                 r"(?P<gen_b>\d+|None) \| (?P<acc_a>[\d.]+), (?P<acc_b>[\d.]+) \|$")


def pairs_from_table(path: Path | str) -> pd.DataFrame:
    """The run table of a `benchmarks/bench_paper.py` report: per run, t_gen here and committed
    (``time``, where both generalised) and those runs' final test accuracies (``accuracy``)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        m = ROW.match(line)
        if not m or "None" in (m["gen_a"], m["gen_b"]):
            continue
        source = f"{Path(path).name}: {m['run']}"
        rows.append({"kind": "time", "source": source, "a": float(m["gen_a"]), "b": float(m["gen_b"])})
        rows.append({"kind": "accuracy", "source": source, "a": float(m["acc_a"]), "b": float(m["acc_b"])})
    return pd.DataFrame(rows, columns=["kind", "source", "a", "b"])


def read_pairs(path: Path | str = PAIRS_FILE) -> pd.DataFrame:
    """Pairs as `write` saved them."""
    return pd.read_csv(path)


def derive(pairs: pd.DataFrame, sources: list[str]) -> dict:
    """The band of every kind (`SHAPES`) from paired statistics, with its derivation. A statistic
    that two claims share (Figure 1's and Figure 2a's ratio of the same runs) counts once."""
    pairs = pairs.drop_duplicates(subset=["kind", "a", "b"])
    kinds = {}
    for kind, shape in SHAPES.items():
        found = pairs[pairs.kind == kind]
        shifts = np.array([shift(kind, a, b) for a, b in zip(found.a, found.b)], float)
        finite = np.isfinite(shifts)
        measured = float(np.quantile(shifts[finite], COVERAGE, method="higher")) if finite.any() else None
        size = None if measured is None else max(FLOORS[kind], measured)  # None: nothing measured it
        worst = found.iloc[int(np.argmax(np.where(finite, shifts, -np.inf)))] if finite.any() else None
        shifts = shifts[finite]
        kinds[kind] = {"shape": shape, "size": size and round(size, 4), "pairs": int(len(shifts)),
                       "measured": None if measured is None else round(measured, 4),
                       "floor": FLOORS[kind],
                       "median_shift": None if not len(shifts) else round(float(np.median(shifts)), 4),
                       "largest": None if worst is None else f"{worst.source}: {worst.a:g} vs {worst.b:g}"}
    return {"coverage": COVERAGE, "sources": sources, "kinds": kinds}


def write(band: dict, pairs: pd.DataFrame, path: Path = BAND_FILE, pairs_path: Path = PAIRS_FILE) -> None:
    """Write the band `gtlib.claims` reads and the pairs it was derived from (`read_pairs` reads
    them back); every kind must have been measured."""
    unmeasured = [kind for kind, entry in band["kinds"].items() if entry["size"] is None]
    if unmeasured:
        raise ValueError(f"no pairs measure the band of {', '.join(unmeasured)}: add a regeneration's verdicts")
    pairs.to_csv(pairs_path, index=False, float_format="%.6g")
    path.write_text(json.dumps(band, indent=1, ensure_ascii=False) + "\n")
