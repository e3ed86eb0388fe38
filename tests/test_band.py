"""The rounding band (gtlib.band): measured from pairs, per kind, never below its floor; the committed
band is complete and what gtlib.claims reads."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from gtlib import band, claims
from gtlib.claims import Claim, Interval, Rule


def pairs(kind, shifts):
    return pd.DataFrame([{"kind": kind, "source": f"run {i}", "a": a, "b": b} for i, (a, b) in enumerate(shifts)])


def test_the_band_covers_the_stated_share_of_paired_shifts_and_respects_its_floor():
    times = pairs("time", [(100 + i, (100 + i) * f) for i, f in enumerate([1.0] * 90 + [1.5] * 5 + [2.5] * 4 + [10.0])])
    acc = pairs("accuracy", [(1.0 - i / 1e4, 1.0 - i / 1e4 - d) for i, d in enumerate([0.0] * 95 + [0.01] * 4 + [0.3])])
    derived = band.derive(pd.concat([times, acc]), ["test"])["kinds"]
    assert derived["time"]["measured"] == 2.5 and derived["time"]["size"] == 2.5   # 95 % of 100 pairs
    assert derived["accuracy"]["size"] == 0.01
    assert derived["structure"]["size"] is None and derived["structure"]["pairs"] == 0  # nothing measured it
    few = band.derive(pairs("time", [(100, 120)]), ["test"])["kinds"]["time"]
    assert few["size"] == band.FLOORS["time"] and few["measured"] == 1.2
    with pytest.raises(ValueError, match="no pairs measure the band of trajectory, structure, magnitude, correlation"):
        band.write(band.derive(pd.concat([times, acc]), ["test"]), pd.concat([times, acc]))


def test_pairs_come_from_the_same_claims_points_in_both_and_censored_ones_left_out():
    rule = Rule("t_gen(ticket) / t_gen(dense)", "≤", 0.5, "time")
    committed = claims.verdicts([Claim("fig1.x", "Fig 1", "c", "p", rule,
                                       {0: Interval.point(0.02), 1: Interval(0.1, float("inf"))})], "paper")
    again = claims.verdicts([Claim("fig1.x", "Fig 1", "c", "p", rule,
                                   {0: Interval.point(0.03), 1: Interval.point(0.2)})], "paper")
    found = band.pairs_from_verdicts(committed, again)
    assert found[["kind", "a", "b"]].values.tolist() == [["time", 0.02, 0.03]]


def test_the_committed_band_is_complete_and_the_one_claims_read():
    committed = json.loads(band.BAND_FILE.read_text())
    assert set(committed["kinds"]) == set(band.SHAPES) and committed["coverage"] == band.COVERAGE
    for kind, entry in committed["kinds"].items():
        assert entry["size"] >= band.FLOORS[kind] and entry["size"] == claims.BAND[kind].size
        assert entry["pairs"] > 0, f"the {kind} band was never measured"


def test_the_band_command_reads_the_run_tables_of_earlier_regenerations(tmp_path):
    table = tmp_path / "report.md"
    table.write_text("| run | t_mem, t_gen here | committed | final test accuracy here, committed |\n"
                     "| modular/mlp seed 1 | 90, 15240 | 90, 17950 | 1.000, 0.990 |\n"
                     "| modular/mlp seed 2 | 90, None | 90, 16310 | 0.874, 0.966 |\n")
    out = subprocess.run([sys.executable, "-m", "gtlib", "band", "--tables", str(table)],
                         capture_output=True, text=True, check=True).stdout
    derived = json.loads(out)["kinds"]
    assert derived["time"]["pairs"] == 1 and derived["accuracy"]["measured"] == 0.01
