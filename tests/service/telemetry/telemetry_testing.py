"""OTLP requests built by hand, and a reader for refused calls, for the telemetry tests."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

NOW_NS = time.time_ns()


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)


def value(python: Any) -> AnyValue:
    if isinstance(python, bool):
        return AnyValue(bool_value=python)
    if isinstance(python, int):
        return AnyValue(int_value=python)
    if isinstance(python, float):
        return AnyValue(double_value=python)
    return AnyValue(string_value=str(python))


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=value(v)) for key, v in attributes.items()]


def span(
    name: str,
    trace_id: bytes,
    *,
    span_id: bytes | None = None,
    parent: bytes = b"",
    start_ns: int = NOW_NS,
    duration_ns: int = 1_000_000,
    error: bool = False,
    **attributes: Any,
) -> trace_pb2.Span:
    """An OTLP span; keyword arguments become attributes (`ia_kind` is written `ia.kind`)."""
    if "ia_kind" in attributes:
        attributes["ia.kind"] = attributes.pop("ia_kind")
    return trace_pb2.Span(
        trace_id=trace_id,
        span_id=span_id or new_span_id(),
        parent_span_id=parent,
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + duration_ns,
        attributes=key_values(attributes),
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR if error else trace_pb2.Status.STATUS_CODE_OK),
    )


def traces_request(*spans: trace_pb2.Span, service: str = "executor") -> ExportTraceServiceRequest:
    """One resource (`service.name`), one scope, these spans."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values({"service.name": service}))
    resource_spans.scope_spans.add().spans.extend(spans)
    return request


def gauge_request(
    name: str, points: list[tuple[int, float, dict[str, str]]], service: str = "plugin"
) -> ExportMetricsServiceRequest:
    """One gauge metric with (time_ns, value, attributes) data points."""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(key_values({"service.name": service}))
    metric = resource_metrics.scope_metrics.add().metrics.add(name=name)
    for time_ns, number, attributes in points:
        metric.gauge.data_points.add(time_unix_nano=time_ns, as_double=number, attributes=key_values(attributes))
    return request


def histogram_request(
    name: str, time_ns: int, count: int, total: float, low: float, high: float
) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name)
    metric.histogram.data_points.add(time_unix_nano=time_ns, count=count, sum=total, min=low, max=high)
    metric.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    return request


@dataclass
class Refusal:
    code: grpc.StatusCode
    reason: str
    fields: list[str]


async def refused(call: Any) -> Refusal:
    """Awaits a call that must fail; returns its code, ErrorInfo reason and violation fields."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    status = rpc_status.from_call(caught.value)
    assert status is not None, f"no status details on {caught.value.code()}: {caught.value.details()}"
    reason, fields = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return Refusal(caught.value.code(), reason, fields)
