"""Metric points: what the service stores for charts and sends to the exporters.

Points come from two places. The executor's run and step spans carry what the
pipeline metrics need (pipeline, step, status, duration), so each such span
becomes points of the same names Prometheus scrapes from the executor; and any
OTLP metrics sent to the receiver (by a plugin written with another SDK, say)
are kept as they come.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from ia_telemetry.spans import Limits, SpanRecord, attributes, clip

# What a point's numbers mean, for exporters that type their metrics.
DURATION = "duration"  # seconds
COUNT = "count"  # an increase
GAUGE = "gauge"  # a level, or a cumulative total

MAX_LABELS = 16


@dataclass(frozen=True)
class MetricPoint:
    """`count` values with this `sum`, `min` and `max`, at one time, for one label set."""

    name: str
    labels: dict[str, str]
    time_ns: int
    kind: str
    count: int
    sum: float
    min: float
    max: float

    @classmethod
    def single(cls, name: str, labels: dict[str, str], time_ns: int, kind: str, value: float) -> MetricPoint:
        """A point for one value."""
        return cls(name, labels, time_ns, kind, 1, value, value, value)

    @property
    def value(self) -> float:
        """The one number to send where only one fits: the total of a count, else the mean."""
        if self.kind == COUNT:
            return self.sum
        return self.sum / self.count if self.count else 0.0


def from_spans(spans: Iterable[SpanRecord]) -> list[MetricPoint]:
    """The pipeline metric points the executor's run and step spans stand for."""
    points = []
    for span in spans:
        kind = span.attributes.get("ia.kind")
        pipeline = str(span.attributes.get("pipeline", ""))
        status = str(span.attributes.get("status", ""))
        if kind == "step":
            step = str(span.attributes.get("step_id", ""))
            labels = {"pipeline": pipeline, "step": step, "status": status}
            points.append(
                MetricPoint.single("pipeline_step_duration_seconds", labels, span.end_ns, DURATION, span.duration_s)
            )
            if status == "failed":
                error_type = str(span.attributes.get("error_type", "") or "UNKNOWN")
                labels = {"pipeline": pipeline, "step": step, "error_type": error_type}
                points.append(MetricPoint.single("pipeline_step_errors_total", labels, span.end_ns, COUNT, 1))
        elif kind == "run":
            labels = {"pipeline": pipeline, "status": status}
            points.append(
                MetricPoint.single(
                    "pipeline_execution_duration_seconds", labels, span.end_ns, DURATION, span.duration_s
                )
            )
            labels = {"pipeline": pipeline, "state": status}
            points.append(MetricPoint.single("pipeline_runs_finished_total", labels, span.end_ns, COUNT, 1))
    return points


def from_otlp(request: ExportMetricsServiceRequest, limits: Limits) -> tuple[list[MetricPoint], int]:
    """The points of an OTLP metrics request, and how many data points were refused."""
    points: list[MetricPoint] = []
    rejected = 0
    for resource_metrics in request.resource_metrics:
        service = str(attributes(resource_metrics.resource.attributes, limits).get("service.name") or "")
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                name = clip(metric.name, limits.max_name_chars)
                if not name:
                    rejected += _data_point_count(metric)
                    continue
                for point in _points(metric, name, service, limits):
                    if point is None:
                        rejected += 1
                    else:
                        points.append(point)
    return points, rejected


def _labels(pairs: Any, service: str, limits: Limits) -> dict[str, str]:
    found = {key: value if isinstance(value, str) else str(value) for key, value in attributes(pairs, limits).items()}
    if service:
        found.setdefault("service", service)
    return dict(list(found.items())[:MAX_LABELS])


def _data_point_count(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def _points(metric: Any, name: str, service: str, limits: Limits) -> Iterable[MetricPoint | None]:
    kind = metric.WhichOneof("data")
    if kind in ("gauge", "sum"):
        data = getattr(metric, kind)
        delta_count = (
            kind == "sum"
            and data.is_monotonic
            and data.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        )
        for point in data.data_points:
            if not point.time_unix_nano or point.WhichOneof("value") is None:
                yield None
                continue
            value = float(point.as_double if point.WhichOneof("value") == "as_double" else point.as_int)
            labels = _labels(point.attributes, service, limits)
            yield MetricPoint.single(name, labels, point.time_unix_nano, COUNT if delta_count else GAUGE, value)
    elif kind in ("histogram", "exponential_histogram", "summary"):
        for point in getattr(metric, kind).data_points:
            if not point.time_unix_nano or point.count <= 0:
                yield None
                continue
            mean = point.sum / point.count
            low = point.min if kind != "summary" and point.HasField("min") else mean
            high = point.max if kind != "summary" and point.HasField("max") else mean
            labels = _labels(point.attributes, service, limits)
            yield MetricPoint(name, labels, point.time_unix_nano, DURATION, point.count, point.sum, low, high)
