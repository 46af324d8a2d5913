"""Noise statistics (bootstrap intervals, seed spread, verdicts) and the learning benchmark's result schema."""

from __future__ import annotations

import pytest

from azr.eval import stats
from azr.eval.learning import SCHEMA, check_result, curve_change, curves, summarize


def test_bootstrap_interval_brackets_the_mean_and_repeats() -> None:
    values = [1.0] * 30 + [0.0] * 70
    lo, hi = stats.bootstrap_ci(values)
    assert lo < 30.0 < hi and 15.0 < lo and hi < 45.0
    assert stats.bootstrap_ci(values) == (lo, hi)  # seeded
    assert stats.bootstrap_ci([1.0] * 10) == (100.0, 100.0)  # no variation, no width
    with pytest.raises(ValueError):
        stats.bootstrap_ci([])


def test_paired_interval_is_zero_for_identical_evals_and_shifts_with_a_real_gain() -> None:
    a = [1.0, 0.0] * 50
    assert stats.paired_bootstrap_ci(a, a) == (0.0, 0.0)
    b = [1.0] * 100  # every miss fixed: +50 points
    lo, hi = stats.paired_bootstrap_ci(a, b)
    assert 35.0 < lo <= 50.0 <= hi < 65.0
    with pytest.raises(ValueError):
        stats.paired_bootstrap_ci(a, a[:-1])


def test_change_verdict_needs_the_interval_and_the_seed_spread() -> None:
    before = [0.0] * 100
    after = [1.0] * 10 + [0.0] * 90
    c = stats.change("cruxeval-o", before, after, seed_scores=[9.0, 12.0, 10.0])
    assert c.delta == pytest.approx(10.0) and c.seed_spread == pytest.approx(3.0) and c.exceeds_noise
    assert "exceeds the noise floor" in c.words() and "+10.0 points" in c.words()
    # the same change against a larger sampling spread is within the noise
    assert not stats.change("x", before, after, seed_scores=[0.0, 12.0, 5.0]).exceeds_noise
    # a change whose interval includes 0 is noise, whatever the spread
    small = stats.change("x", [1.0, 0.0] * 20, [1.0, 0.0] * 19 + [1.0, 1.0])
    assert small.ci95[0] <= 0.0 and not small.exceeds_noise and "within the noise floor" in small.words()


def test_diff_of_means_interval() -> None:
    lo, hi = stats.diff_of_means_ci([0.1, 0.2, 0.1, 0.2], [0.5, 0.6, 0.5, 0.6])
    assert 0.3 <= lo <= 0.4 <= hi <= 0.5
    assert stats.spread([3.0, 1.0, 2.0]) == 2.0 and stats.spread([]) == 0.0


def rows(n: int) -> list[dict]:
    return [{"step": s, "deduction/solve/solve_rate": s / n, "adv/degenerate_groups": 0.5, "timing/total": 1.0}
            for s in range(1, n + 1)]  # fmt: skip


def test_summary_follows_the_schema_and_judges_each_change() -> None:
    evals = {
        0: {"heldout-deduction": [0.0] * 20, "cruxeval-o": [1.0, 0.0] * 10},
        10: {"heldout-deduction": [1.0] * 20, "cruxeval-o": [1.0, 0.0] * 10},
    }
    noise = {1: {"heldout-deduction": 5.0}, 2: {"heldout-deduction": 0.0}, 3: {"heldout-deduction": 10.0}}
    result = summarize(evals, noise, rows(10), {"timings": {}, "config": {}})
    assert result["schema"] == SCHEMA and check_result(result) == []
    assert result["eval_steps"] == [0, 10] and result["evals"]["10"]["heldout-deduction"]["score"] == 100.0
    by = {c["benchmark"]: c for c in result["changes"]}
    assert by["heldout-deduction"]["exceeds_noise"] and by["heldout-deduction"]["seed_spread"] == 10.0
    assert not by["cruxeval-o"]["exceeds_noise"] and by["cruxeval-o"]["seed_spread"] is None
    assert len(result["summary"]) == 2 and result["noise"]["spread"] == {"heldout-deduction": 10.0}
    assert result["curves"]["deduction/solve/solve_rate"][0] == [1.0, 0.1]
    assert result["curve_changes"]["deduction/solve/solve_rate"]["delta"] == pytest.approx(0.5)
    assert not result["curve_changes"]["adv/degenerate_groups"]["exceeds_noise"]
    broken = dict(result, evals={"0": {"x": {"n": 3, "score": 50.0, "ci95": [60.0, 70.0]}}})
    assert check_result(broken) == ["evals[0][x] score lies outside its interval"]
    assert "missing or mistyped timings" in check_result({k: v for k, v in result.items() if k != "timings"})


def test_curves_skip_missing_keys_and_short_curves() -> None:
    assert set(curves(rows(3))) == {"deduction/solve/solve_rate", "adv/degenerate_groups"}
    assert curve_change([[1, 0.0], [2, 1.0]]) is None
