"""Summaries of timing samples and the question "did it change?", answered by bootstrap.

Timings are skewed and carry outliers, so samples are compared by their medians,
and whether a difference is real is decided by a bootstrap confidence interval
of the ratio of medians: a ratio whose interval includes 1.0 is no change.
"""

from __future__ import annotations

import enum
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Summary", "Verdict", "RatioEstimate", "percentile", "summarize", "ratio_of_medians"]

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 7


class Verdict(enum.StrEnum):
    """What the current samples say against the baseline, for a lower-is-better metric."""

    FASTER = "faster"
    SLOWER = "slower"
    NO_CHANGE = "no significant change"


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1) of `samples`, linearly interpolated."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    """The usual figures of one metric's samples."""

    count: int
    median: float
    mean: float
    p95: float
    minimum: float
    maximum: float
    stdev: float

    def to_dict(self) -> dict[str, float]:
        """The JSON form."""
        return {
            "count": self.count,
            "median": self.median,
            "mean": self.mean,
            "p95": self.p95,
            "min": self.minimum,
            "max": self.maximum,
            "stdev": self.stdev,
        }


def summarize(samples: Sequence[float]) -> Summary:
    """Median, mean, p95, extremes and spread of `samples` (at least one)."""
    if not samples:
        raise ValueError("no samples")
    return Summary(
        count=len(samples),
        median=statistics.median(samples),
        mean=statistics.fmean(samples),
        p95=percentile(samples, 0.95),
        minimum=min(samples),
        maximum=max(samples),
        stdev=statistics.stdev(samples) if len(samples) > 1 else 0.0,
    )


@dataclass(frozen=True)
class RatioEstimate:
    """current median / baseline median, with its bootstrap confidence interval."""

    ratio: float
    low: float
    high: float
    confidence: float
    resamples: int

    def verdict(self) -> Verdict:
        """Slower when the whole interval lies above 1.0, faster when below, else no change."""
        if self.low > 1.0:
            return Verdict.SLOWER
        if self.high < 1.0:
            return Verdict.FASTER
        return Verdict.NO_CHANGE


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return 1.0 if numerator == 0 else math.inf
    return numerator / denominator


def ratio_of_medians(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> RatioEstimate:
    """The ratio of medians (current / baseline) and its percentile bootstrap interval.

    Each resample draws both groups again with replacement; the seed makes the
    interval the same on every call with the same samples.
    """
    if not baseline or not current:
        raise ValueError("both sides need samples")
    rng = random.Random(seed)
    ratios = sorted(
        _ratio(
            statistics.median(rng.choices(current, k=len(current))),
            statistics.median(rng.choices(baseline, k=len(baseline))),
        )
        for _ in range(resamples)
    )
    tail = (1.0 - confidence) / 2
    return RatioEstimate(
        ratio=_ratio(statistics.median(current), statistics.median(baseline)),
        low=percentile(ratios, tail),
        high=percentile(ratios, 1.0 - tail),
        confidence=confidence,
        resamples=resamples,
    )
