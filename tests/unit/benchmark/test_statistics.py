"""Statistics on synthetic samples whose answers are known."""

from __future__ import annotations

import random

import pytest

from ia_modules.benchmark import BenchmarkError, Verdict, parse_threshold, percentile, ratio_of_medians, summarize


def _normal(mean: float, spread: float, count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, spread) for _ in range(count)]


def test_percentile_interpolates_between_ranks() -> None:
    samples = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(samples, 0.0) == 1.0
    assert percentile(samples, 0.5) == 3.0
    assert percentile(samples, 1.0) == 5.0
    assert percentile(samples, 0.95) == pytest.approx(4.8)


def test_summary_of_known_samples() -> None:
    summary = summarize([3.0, 1.0, 2.0, 10.0])
    assert (summary.count, summary.median, summary.mean, summary.minimum, summary.maximum) == (4, 2.5, 4.0, 1.0, 10.0)
    assert summarize([7.0]).stdev == 0.0
    with pytest.raises(ValueError):
        summarize([])


def test_identical_samples_are_no_change() -> None:
    samples = _normal(10.0, 0.5, 40, seed=1)
    estimate = ratio_of_medians(samples, list(samples))
    assert estimate.ratio == 1.0
    assert estimate.low <= 1.0 <= estimate.high
    assert estimate.verdict() is Verdict.NO_CHANGE


def test_draws_from_one_distribution_are_rarely_called_a_change() -> None:
    # A 95% interval misses now and then by design; it must not do so often.
    pairs = [(_normal(10.0, 0.5, 40, seed=2 * i + 100), _normal(10.0, 0.5, 40, seed=2 * i + 101)) for i in range(60)]
    flagged = sum(ratio_of_medians(a, b, resamples=400).verdict() is not Verdict.NO_CHANGE for a, b in pairs)
    assert flagged <= 6


def test_a_doubling_is_detected_as_slower() -> None:
    baseline = _normal(10.0, 0.5, 30, seed=3)
    estimate = ratio_of_medians(baseline, [v * 2 for v in baseline])
    assert estimate.ratio == pytest.approx(2.0)
    assert estimate.low > 1.5
    assert estimate.verdict() is Verdict.SLOWER


def test_halving_is_detected_as_faster() -> None:
    baseline = _normal(10.0, 0.5, 30, seed=4)
    assert ratio_of_medians(baseline, [v / 2 for v in baseline]).verdict() is Verdict.FASTER


def test_one_heavy_outlier_alone_is_no_change() -> None:
    baseline = _normal(10.0, 0.5, 30, seed=5)
    current = _normal(10.0, 0.5, 29, seed=6) + [1000.0]
    assert ratio_of_medians(baseline, current).verdict() is Verdict.NO_CHANGE


def test_the_interval_is_the_same_with_the_same_seed() -> None:
    baseline, current = _normal(10.0, 1.0, 20, seed=7), _normal(11.0, 1.0, 20, seed=8)
    first = ratio_of_medians(baseline, current, seed=42)
    assert ratio_of_medians(baseline, current, seed=42) == first
    assert first.resamples == 2000


def test_zero_medians_compare_as_equal() -> None:
    assert ratio_of_medians([0.0, 0.0], [0.0, 0.0]).verdict() is Verdict.NO_CHANGE


@pytest.mark.parametrize(("text", "expected"), [("10%", 0.10), ("0.25", 0.25), ("15", 0.15), ("0%", 0.0)])
def test_thresholds_parse_as_fractions(text: str, expected: float) -> None:
    assert parse_threshold(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["ten", "-5%"])
def test_bad_thresholds_are_refused(text: str) -> None:
    with pytest.raises(BenchmarkError, match="--threshold"):
        parse_threshold(text)
