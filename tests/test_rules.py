"""The rule of `gtlib.claims` on literal cases: censoring, the band, the quorum, robustness, the
effect, the sign test and the threshold-sensitivity (a band of ×2 for times, ±0.02 for accuracies,
whatever ``gtlib/rounding_band.json`` says)."""
import json
import math

import numpy as np
import pytest

from gtlib import claims
from gtlib.claims import (CONTRADICTS, IN_BAND, MIXED, NOT_REPRODUCED, REPRODUCED, SUPPORTS, Claim,
                          Interval, Rule)



pytestmark = pytest.mark.usefixtures("fixed_band")  # tests/conftest.py: a band that never moves


FASTER = Rule("t_gen(ticket) / t_gen(dense)", "≤", 0.5, "time")


def claim(values, rule=FASTER, **others):
    points = {s: v if isinstance(v, Interval) else Interval.point(v) for s, v in enumerate(values)}
    return Claim("fig0.test", "Fig 0", "a claim", "the paper", rule, points,
                 others={k: {s: Interval.point(x) for s, x in enumerate(v)} for k, v in others.items()})


def test_a_censored_time_is_bounded_on_one_side_and_ratios_follow():
    never = claims.time(None, 30000)
    assert never == Interval(30000, math.inf) and str(never) == "> 30,000"
    assert claims.ratio(Interval.point(600), never) == Interval(0, 600 / 30000)  # censored dense: ratio below
    assert claims.ratio(never, Interval.point(15000)) == Interval(2, math.inf)  # censored ticket: ratio above
    assert claims.ratio(never, never) == Interval(0, math.inf)


def test_seeds_are_classed_by_their_interval_widened_by_the_band():
    assert FASTER.classify(Interval.point(0.2)) == SUPPORTS       # 0.2 × 2 = 0.4 ≤ 0.5
    assert FASTER.classify(Interval.point(0.3)) == IN_BAND        # 0.6 after the band
    assert FASTER.classify(Interval.point(1.1)) == CONTRADICTS    # 1.1 / 2 > 0.5
    assert FASTER.classify(Interval(0, 0.2)) == SUPPORTS          # a censored dense run, bounded below 0.2
    assert FASTER.classify(Interval(0.1, math.inf)) == IN_BAND    # a censored ticket cannot support
    assert FASTER.classify(Interval(2, math.inf)) == CONTRADICTS  # ... but can contradict
    final = Rule("final test accuracy", "≥", 0.95, "accuracy")  # 0.95 - 0.02 ... 0.95 + 0.02 is the band
    assert [final.classify(Interval.point(a)) for a in (1.0, 0.96, 0.9)] == [SUPPORTS, IN_BAND, CONTRADICTS]


def test_one_censored_seed_never_leaves_a_claim_without_verdict():
    c = claim([0.05, 0.04, 0.06, 0.05, Interval(0, 0.1)])  # seed 4's dense run never generalised
    assert c.verdict == REPRODUCED and c.robust and c.supporting == 5


def test_a_robust_reproduction_a_fragile_one_and_the_quorum():
    robust = claim([0.05, 0.04, 0.06, 0.05, 0.03])
    assert (robust.verdict, robust.robust, robust.in_band) == (REPRODUCED, True, [])
    one_in_band = claim([0.05, 0.04, 0.06, 0.05, 0.3])  # pushed to contradict: still 4 of 5
    assert (one_in_band.verdict, one_in_band.robust) == (REPRODUCED, True)
    fragile = claim([0.05, 0.04, 0.06, 0.3, 0.3])  # 3 support: pushed up reproduced, down mixed
    assert (fragile.verdict, fragile.robust, fragile.in_band) == (MIXED, False, [3, 4])
    assert "fragile: seeds 3, 4 in band" in claims.verdict_words(fragile)
    fragile_up = claim([0.05, 0.04, 0.06, 0.05, 1.2])
    assert (fragile_up.verdict, fragile_up.robust) == (REPRODUCED, True)  # one seed contradicts, four support


def test_a_mixed_set_and_a_robust_failure():
    mixed = claim([0.05, 0.04, 1.5, 2.0, 0.3])
    assert (mixed.verdict, mixed.robust) == (MIXED, True)  # 2 support, 2 contradict: mixed either way
    failure = claim([1.5, 2.0, 3.0, 1.2, 4.0])
    assert (failure.verdict, failure.robust, failure.supporting) == (NOT_REPRODUCED, True, 0)
    assert failure.margin < 0


def test_three_seeds_need_all_three_and_say_consistent():
    c = claim([0.05, 0.04, 0.06])
    assert c.verdict == REPRODUCED and claims.verdict_words(c).startswith("consistent in 3 of 3 seeds")
    assert claim([0.05, 0.04, 0.3]).verdict == MIXED


def test_the_effect_is_the_median_and_range_with_the_sign_test_where_all_agree():
    c = claim([0.05, 0.04, 0.06, 0.05, 0.03])
    median, lo, hi = c.effect
    assert (median, lo, hi) == (Interval.point(0.05), 0.03, 0.06)
    assert c.sign_p == pytest.approx(2 * 0.5 ** 5)
    assert claim([0.05, 0.04, 0.06, 0.05, 0.7]).sign_p is None
    censored = claim([0.05, Interval(0.1, math.inf), 0.06])
    assert censored.effect[0] == Interval(0.06, 0.06) and censored.effect[2] == math.inf
    assert np.isclose(c.margin, math.log(0.5 / 0.05) / math.log(2))  # in bands, positive: it holds


def test_a_time_claim_is_threshold_sensitive_where_another_threshold_changes_its_verdict():
    steady = claim([0.05] * 5, **{"90 %": [0.05] * 5, "99 %": [0.1] * 5})
    assert steady.threshold_sensitive is False
    sensitive = claim([0.05] * 5, **{"90 %": [0.05] * 5, "99 %": [1.5] * 5})
    assert sensitive.threshold_sensitive and sensitive.other_verdicts["99 %"] == NOT_REPRODUCED
    assert claim([0.05] * 5).threshold_sensitive is None


def test_verdicts_are_data_and_ci_asserts_exactly_the_robust_claims():
    found = claims.verdicts([claim([0.05, 0.04, 0.06, 0.3, 0.3]), claim([0.05] * 5)], "quick")
    assert {"id", "figure", "n_seeds", "classes", "verdict", "robust", "effect", "in_band"} <= set(found[0])
    assert found[0]["classes"] == {"0": SUPPORTS, "1": SUPPORTS, "2": SUPPORTS, "3": IN_BAND, "4": IN_BAND}
    assert found[1]["effect"] == {"median": [0.05, 0.05], "min": 0.05, "max": 0.05}
    fragile, robust = dict(found[0], id="a"), dict(found[1], id="b")
    assert set(claims.measure_expected([fragile, robust])) == {"b"}
    # a claim robust on one page and fragile on another is not asserted
    assert claims.measure_expected([robust, dict(fragile, id="b")]) == {}
    # robust, but one seed only 1.6 bands clear of the threshold: a quick rerun could move it
    near = claims.verdicts([claim([0.05, 0.05, 0.05, 0.05, 0.165])], "quick")[0]
    assert near["robust"] and not claims.clear_of_the_band(near) and claims.measure_expected([near]) == {}


def test_a_rule_with_an_unknown_comparison_or_kind_is_refused():
    with pytest.raises(ValueError, match="one of <, ≤, >, ≥"):
        Rule("x", "=", 1, "time")
    with pytest.raises(ValueError, match="one of time, trajectory, structure, magnitude, accuracy, correlation"):
        Rule("x", "<", 1, "speed")


def test_a_page_prints_its_verdicts_and_writes_them_where_it_is_told(monkeypatch, tmp_path, capsys):
    found = [claim([0.05] * 5), claim([0.05, 0.04, 0.06, 0.3, 0.3])]
    monkeypatch.delenv("GTLIB_VERDICTS", raising=False)
    claims.record(found, "quick")  # by hand: printed only
    assert capsys.readouterr().out == claims.verdict_text(claims.verdicts(found, "quick")) + "\n"
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv("GTLIB_VERDICTS", str(tmp_path / "page.verdicts.json"))
    claims.record(found, "paper")
    written = json.loads((tmp_path / "page.verdicts.json").read_text())
    assert written == json.loads(json.dumps(claims.verdicts(found, "paper")))
    assert capsys.readouterr().out.splitlines()[-1] == claims.summary(written)


def test_a_surprise_is_flagged_where_ci_expected_another_verdict(monkeypatch):
    monkeypatch.setattr(claims, "EXPECTED", {"fig0.test": {"expected": NOT_REPRODUCED}})
    found = claims.verdicts([claim([0.05] * 5)], "quick")
    assert claims.surprises(found) == ["fig0.test"]
    assert f"<- {claims.MISMATCH} NOT reproduced" in claims.verdict_text(found)


def test_the_expected_verdicts_are_data_and_follow_the_rule():
    """gtlib/expected_quick.json: each asserted claim has a verdict of the rule and was robust when
    recorded: every seed's class decided, at most a quorum's complement against (the ids
    themselves: tests/test_figures.py)."""
    assert claims.EXPECTED
    for name, entry in claims.EXPECTED.items():
        assert entry["expected"] in (REPRODUCED, NOT_REPRODUCED, MIXED), name
        counts = [list(entry["classes"].values()).count(c) for c in (SUPPORTS, CONTRADICTS, IN_BAND)]
        n = sum(counts)
        assert claims.verdict_of(counts[0], counts[1], n) == entry["expected"], name
        assert claims.verdict_of(counts[0] + counts[2], counts[1], n) == claims.verdict_of(
            counts[0], counts[1] + counts[2], n) == entry["expected"], name


def test_the_page_table_shows_every_cell_in_full():
    long = "x" * 120
    shown = Claim("fig1.long", "Fig 1", long, "paper <5 %", FASTER, {0: Interval.point(1.5)})
    html = claims.show([shown])._repr_html_()
    assert long in html and "NOT reproduced" in html and "gt-no" in html  # red, not green
    assert "paper &lt;5 %" in html  # text is escaped, not read as HTML
    assert "gt-yes" in claims.show([claim([0.05] * 5)])._repr_html_()
    assert "gt-mixed gt-fragile" in claims.show([claim([0.05, 0.04, 0.06, 0.3, 0.3])])._repr_html_()


def test_unchecked_claims_of_other_figures_are_not_listed():
    unchecked = {"Fig 4b: 0.3 is not quick enough": "a judgement", "a claim of every page": "why"}
    shown = claims.unchecked_table(unchecked, [Claim("fig3a.x", "Fig 3a", "c", "p", FASTER, {0: Interval.point(0.1)})])
    assert "a claim of every page" in shown.html and "0.3 is not quick" not in shown.html
    assert "0.3 is not quick" in claims.unchecked_table(unchecked).html
