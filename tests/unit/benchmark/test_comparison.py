"""Comparing results and gating on regressions."""

from __future__ import annotations

import pytest
from conftest import normal, synthetic

from ia_modules.benchmark import BenchmarkError, RegressionError, Verdict, compare


def test_same_distribution_is_no_change_on_every_metric() -> None:
    comparison = compare(synthetic(normal(0.1, 0.005, 30, 1)), synthetic(normal(0.1, 0.005, 30, 2)))
    assert {m.metric for m in comparison.metrics} == {"latency_s", "step:work"}
    assert all(m.verdict is Verdict.NO_CHANGE for m in comparison.metrics)
    assert comparison.assert_no_regression(0.10) is comparison


def test_twice_as_slow_is_a_regression() -> None:
    baseline = normal(0.1, 0.005, 30, 3)
    comparison = compare(synthetic(baseline), synthetic([v * 2 for v in baseline]))
    latency = comparison.metrics[0]
    assert latency.verdict is Verdict.SLOWER
    assert latency.change == pytest.approx(1.0)
    assert [m.metric for m in comparison.regressions(0.10)] == ["latency_s"]
    with pytest.raises(RegressionError, match=r"latency_s \+100\.0%"):
        comparison.assert_no_regression(0.10)


def test_a_slowdown_within_the_threshold_passes() -> None:
    baseline = normal(0.1, 0.001, 30, 4)
    comparison = compare(synthetic(baseline), synthetic([v * 1.05 for v in baseline]))
    assert comparison.metrics[0].verdict is Verdict.SLOWER
    assert comparison.regressions(0.10) == []


def test_a_single_outlier_is_not_a_regression() -> None:
    current = normal(0.1, 0.005, 29, 6) + [10.0]
    assert compare(synthetic(normal(0.1, 0.005, 30, 5)), synthetic(current)).regressions(0.10) == []


def test_throughput_falling_is_slower() -> None:
    baseline = normal(0.1, 0.002, 20, 7)
    comparison = compare(synthetic(baseline, items=10), synthetic([v * 2 for v in baseline], items=10))
    throughput = next(m for m in comparison.metrics if m.metric == "throughput_items_s")
    assert throughput.verdict is Verdict.SLOWER
    assert throughput.change == pytest.approx(1.0)


def test_different_pipelines_are_refused() -> None:
    with pytest.raises(BenchmarkError, match="cannot compare different pipelines: the baseline measured 'a'"):
        compare(synthetic([0.1], pipeline="a"), synthetic([0.1], pipeline="b"))


def test_the_json_form_names_ratio_interval_and_verdict() -> None:
    document = compare(synthetic([0.1, 0.1, 0.1]), synthetic([0.1, 0.1, 0.1])).to_dict(0.1)
    latency = document["metrics"][0]
    assert (latency["ratio"], latency["ci"], latency["verdict"]) == (1.0, [1.0, 1.0], "no significant change")
    assert document["regressions"] == []
