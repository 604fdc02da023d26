"""Comparing two benchmark results metric by metric, and deciding whether it regressed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ia_modules.benchmark.result import HIGHER_IS_BETTER, LATENCY, THROUGHPUT, BenchmarkError, BenchmarkResult
from ia_modules.benchmark.statistics import DEFAULT_SEED, RatioEstimate, Verdict, ratio_of_medians, summarize

__all__ = ["Comparison", "MetricComparison", "RegressionError", "compare", "parse_threshold"]

# Run-level metrics decide a regression; a step's own figures explain it.
GATING_METRICS = (LATENCY, THROUGHPUT)


class RegressionError(AssertionError):
    """A significant regression past the threshold (raised by `assert_no_regression`)."""


@dataclass(frozen=True)
class MetricComparison:
    """One metric: both sides' median and p95, the ratio and its confidence interval."""

    metric: str
    baseline_median: float
    baseline_p95: float
    current_median: float
    current_p95: float
    estimate: RatioEstimate

    @property
    def higher_is_better(self) -> bool:
        return self.metric in HIGHER_IS_BETTER

    @property
    def verdict(self) -> Verdict:
        """Faster / slower / no significant change; for throughput a higher ratio is faster."""
        verdict = self.estimate.verdict()
        if self.higher_is_better and verdict is not Verdict.NO_CHANGE:
            return Verdict.FASTER if verdict is Verdict.SLOWER else Verdict.SLOWER
        return verdict

    @property
    def change(self) -> float:
        """How much worse (positive) or better (negative) the current median is, as a fraction."""
        ratio = self.estimate.ratio
        return (1.0 / ratio - 1.0 if ratio else float("inf")) if self.higher_is_better else ratio - 1.0

    def regressed(self, threshold: float) -> bool:
        """Significantly slower, and by more than `threshold` (0.10 = 10%)."""
        return self.verdict is Verdict.SLOWER and self.change > threshold

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "metric": self.metric,
            "baseline": {"median": self.baseline_median, "p95": self.baseline_p95},
            "current": {"median": self.current_median, "p95": self.current_p95},
            "ratio": self.estimate.ratio,
            "ci": [self.estimate.low, self.estimate.high],
            "confidence": self.estimate.confidence,
            "resamples": self.estimate.resamples,
            "verdict": str(self.verdict),
        }


@dataclass(frozen=True)
class Comparison:
    """A current result against its baseline."""

    baseline: BenchmarkResult
    current: BenchmarkResult
    metrics: list[MetricComparison]

    def regressions(self, threshold: float) -> list[MetricComparison]:
        """The run-level metrics that got significantly worse by more than `threshold`."""
        return [m for m in self.metrics if m.metric in GATING_METRICS and m.regressed(threshold)]

    def assert_no_regression(self, threshold: float = 0.10) -> Comparison:
        """Raises RegressionError naming each regressed metric; returns self otherwise."""
        found = self.regressions(threshold)
        if found:
            listed = "; ".join(
                f"{m.metric} {m.change:+.1%} (ratio {m.estimate.ratio:.3f}, "
                f"CI {m.estimate.low:.3f}-{m.estimate.high:.3f})"
                for m in found
            )
            raise RegressionError(f"{self.current.pipeline}: regressed past {threshold:.0%}: {listed}")
        return self

    def to_dict(self, threshold: float | None = None) -> dict[str, Any]:
        """The JSON form; with a threshold, also the regressions past it."""
        document: dict[str, Any] = {
            "pipeline": self.current.pipeline,
            "baseline": _identity(self.baseline),
            "current": _identity(self.current),
            "metrics": [m.to_dict() for m in self.metrics],
        }
        if threshold is not None:
            document["threshold"] = threshold
            document["regressions"] = [m.metric for m in self.regressions(threshold)]
        return document


def _identity(result: BenchmarkResult) -> dict[str, Any]:
    return {"name": result.name, "started_at": result.started_at, "runs": len(result.runs)}


def compare(baseline: BenchmarkResult, current: BenchmarkResult, *, seed: int = DEFAULT_SEED) -> Comparison:
    """Compares every metric both results have. Results of different pipelines are refused."""
    if baseline.pipeline != current.pipeline:
        raise BenchmarkError(
            f"cannot compare different pipelines: the baseline measured {baseline.pipeline!r}, "
            f"the current result {current.pipeline!r}"
        )
    base_metrics, current_metrics = baseline.metrics(), current.metrics()
    compared = []
    for metric, values in current_metrics.items():
        if metric not in base_metrics:
            continue
        base_summary, current_summary = summarize(base_metrics[metric]), summarize(values)
        compared.append(
            MetricComparison(
                metric=metric,
                baseline_median=base_summary.median,
                baseline_p95=base_summary.p95,
                current_median=current_summary.median,
                current_p95=current_summary.p95,
                estimate=ratio_of_medians(base_metrics[metric], values, seed=seed),
            )
        )
    return Comparison(baseline, current, compared)


def parse_threshold(text: str | float) -> float:
    """`10%`, `0.1` or `10` (percent when above 1) as a fraction."""
    if isinstance(text, float | int):
        value = float(text)
    else:
        raw = text.strip()
        try:
            value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
        except ValueError:
            raise BenchmarkError(
                f"--threshold {text!r}: expected a percentage such as 10% or a fraction such as 0.1"
            ) from None
    if value > 1 and not (isinstance(text, str) and text.strip().endswith("%")):
        value /= 100
    if value < 0:
        raise BenchmarkError(f"--threshold {text!r}: must not be negative")
    return value
