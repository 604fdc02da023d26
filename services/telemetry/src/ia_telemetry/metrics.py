"""Metrics: taking in OTLP metrics, and the time series QueryMetrics answers for charts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from ia_service_kit.logging import get_logger
from ia_telemetry.errors import InvalidField
from ia_telemetry.points import MetricPoint, from_otlp
from ia_telemetry.spans import Limits
from ia_telemetry.store import TelemetryStore

log = get_logger(__name__)

DEFAULT_STEP_NS = 60 * 10**9
DEFAULT_RANGE_NS = 3600 * 10**9
MAX_BUCKETS = 10_000


@dataclass
class Bucket:
    """The values of one series that fell in one step."""

    time_ns: int
    count: int = 0
    sum: float = 0.0
    min: float = float("inf")
    max: float = float("-inf")

    def add(self, point: MetricPoint) -> None:
        self.count += point.count
        self.sum += point.sum
        self.min = min(self.min, point.min)
        self.max = max(self.max, point.max)


@dataclass
class Series:
    """One label set's buckets, by time."""

    labels: dict[str, str]
    buckets: dict[int, Bucket] = field(default_factory=dict)


class Metrics:
    """The metric side of the service."""

    def __init__(
        self,
        store: TelemetryStore,
        *,
        limits: Limits = Limits(),
        on_points: Callable[[Sequence[MetricPoint]], None] = lambda points: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._limits = limits
        self._on_points = on_points
        self._clock = clock

    def ingest(self, request: ExportMetricsServiceRequest) -> tuple[int, int]:
        """Stores the acceptable data points of an OTLP request; returns (kept, refused)."""
        points, rejected = from_otlp(request, self._limits)
        if points:
            self._store.add([], points)
            self._on_points(points)
        if rejected:
            log.warning("metric data points refused", count=rejected)
        return len(points), rejected

    def query(
        self,
        name: str,
        *,
        labels: Mapping[str, str],
        group_by: Sequence[str],
        start_ns: int,
        end_ns: int,
        step_ns: int,
    ) -> list[Series]:
        """The series of `name` between the times, in buckets of `step_ns`, ordered by labels.

        0 for a time or the step takes the default (the last hour, 60 s). Raises
        InvalidField for an empty name, a reversed range or too many buckets.
        """
        if not name:
            raise InvalidField("name", "give the metric name, for example `pipeline_step_duration_seconds`")
        if step_ns < 0:
            raise InvalidField("step", "the step must not be negative")
        end_ns = end_ns or int(self._clock() * 1e9)
        start_ns = start_ns or end_ns - DEFAULT_RANGE_NS
        step_ns = step_ns or DEFAULT_STEP_NS
        if start_ns >= end_ns:
            raise InvalidField("start_time", "start_time must be before end_time")
        if (end_ns - start_ns) // step_ns > MAX_BUCKETS:
            raise InvalidField("step", f"the range holds more than {MAX_BUCKETS} steps; use a larger step")
        series: dict[str, Series] = {}
        for point in self._store.points(name, start_ns, end_ns):
            if any(point.labels.get(key) != value for key, value in labels.items()):
                continue
            kept = {k: v for k, v in point.labels.items() if k in group_by} if group_by else point.labels
            key = json.dumps(kept, sort_keys=True)
            one = series.setdefault(key, Series(kept))
            # Buckets line up with multiples of the step, so charts of different ranges agree.
            start = point.time_ns // step_ns * step_ns
            one.buckets.setdefault(start, Bucket(start)).add(point)
        return [series[key] for key in sorted(series)]
