"""TelemetryService: maps each RPC to the domain and each refusal to a gRPC status.

The domain's work (SQLite/PostgreSQL) is blocking, so it runs in worker threads
and the event loop stays free for the OTLP receiver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn, TypeVar

import grpc
from google.protobuf import struct_pb2

from ia.telemetry.v1 import message_pb2, service_pb2_grpc
from ia.telemetry.v1 import request_response_pb2 as rr
from ia_service_kit.errors import abort, abort_invalid_argument
from ia_service_kit.request_fields import duration_ns, timestamp_ns
from ia_telemetry import errors
from ia_telemetry.benchmarks import Benchmarks
from ia_telemetry.metrics import Metrics
from ia_telemetry.spans import SpanRecord
from ia_telemetry.store import TraceRow
from ia_telemetry.traces import Traces

T = TypeVar("T")

_STATUS = {
    errors.TraceNotFound: grpc.StatusCode.NOT_FOUND,
    errors.BenchmarkNotFound: grpc.StatusCode.NOT_FOUND,
}
_REFUSALS = (errors.TelemetryError,)
# Times are stored as int64 nanoseconds since the epoch (1970 to 2262).
_LATEST_NS = 2**63 - 1


def _filter_ns(message: rr.ListTracesRequest | rr.QueryMetricsRequest, field: str) -> int:
    """A time filter in nanoseconds; 0 when unset. A time outside what storage holds is
    clamped to its ends (a proto Timestamp reaches years 1 to 9999), so it filters as meant;
    one that is no valid Timestamp is refused."""
    if not message.HasField(field):
        return 0
    return min(max(timestamp_ns(message, field), 1), _LATEST_NS)


async def _refuse(context: grpc.aio.ServicerContext, error: Exception) -> NoReturn:
    if isinstance(error, errors.InvalidField):
        await abort_invalid_argument(context, error.field, str(error))
    else:
        assert isinstance(error, errors.TelemetryError)
        await abort(context, _STATUS[type(error)], error.reason, str(error), **error.metadata)


def summary_message(row: TraceRow) -> message_pb2.TraceSummary:
    """The wire form of a stored trace summary."""
    summary = message_pb2.TraceSummary(
        trace_id=row.trace_id,
        root_name=row.root_name,
        root_service=row.root_service,
        pipeline=row.pipeline,
        run_id=row.run_id,
        status=row.status,
        span_count=row.span_count,
    )
    summary.start_time.FromNanoseconds(row.start_ns)
    summary.duration.FromNanoseconds(row.end_ns - row.start_ns)
    return summary


def _exact(value: object) -> object:
    # Struct numbers are doubles; larger integers (nanosecond times, say) stay exact as text.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def _struct(values: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update({key: _exact(value) for key, value in values.items()})
    return struct


def span_message(span: SpanRecord) -> message_pb2.Span:
    """The wire form of a stored span."""
    message = message_pb2.Span(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        service=span.service,
        kind=span.kind,
        status=span.status,
        status_message=span.status_message,
        attributes=_struct(span.attributes),
    )
    message.start_time.FromNanoseconds(span.start_ns)
    message.end_time.FromNanoseconds(span.end_ns)
    for event in span.events:
        added = message.events.add(name=event["name"], attributes=_struct(event["attributes"]))
        added.time.FromNanoseconds(event["time_ns"])
    return message


class TelemetryService(service_pb2_grpc.TelemetryServiceServicer):
    """The gRPC face of traces, metrics and benchmarks."""

    def __init__(self, traces: Traces, metrics: Metrics, benchmarks: Benchmarks) -> None:
        self._traces = traces
        self._metrics = metrics
        self._benchmarks = benchmarks

    async def _call(self, context: grpc.aio.ServicerContext, work: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.to_thread(work, *args)
        except _REFUSALS as error:
            await _refuse(context, error)

    async def ListTraces(
        self, request: rr.ListTracesRequest, context: grpc.aio.ServicerContext
    ) -> rr.ListTracesResponse:
        page = await self._call(
            context,
            lambda: self._traces.list(
                size=request.page_size,
                token=request.page_token,
                pipeline=request.pipeline,
                run_id=request.run_id,
                status=request.status,
                start_from_ns=_filter_ns(request, "start_time_from"),
                start_to_ns=_filter_ns(request, "start_time_to"),
            ),
        )
        return rr.ListTracesResponse(
            traces=[summary_message(row) for row in page.traces], next_page_token=page.next_page_token
        )

    async def GetTrace(self, request: rr.GetTraceRequest, context: grpc.aio.ServicerContext) -> rr.GetTraceResponse:
        row, spans = await self._call(context, self._traces.get, request.trace_id)
        trace = message_pb2.Trace(summary=summary_message(row), spans=[span_message(span) for span in spans])
        return rr.GetTraceResponse(trace=trace)

    async def QueryMetrics(
        self, request: rr.QueryMetricsRequest, context: grpc.aio.ServicerContext
    ) -> rr.QueryMetricsResponse:
        found = await self._call(
            context,
            lambda: self._metrics.query(
                request.name,
                labels=dict(request.labels),
                group_by=list(request.group_by),
                start_ns=_filter_ns(request, "start_time"),
                end_ns=_filter_ns(request, "end_time"),
                step_ns=duration_ns(request, "step"),
            ),
        )
        response = rr.QueryMetricsResponse()
        for series in found:
            message = response.series.add(name=request.name, labels=series.labels)
            for start in sorted(series.buckets):
                bucket = series.buckets[start]
                point = message.points.add(count=bucket.count, sum=bucket.sum, min=bucket.min, max=bucket.max)
                point.time.FromNanoseconds(start)
        return response

    async def RecordBenchmark(
        self, request: rr.RecordBenchmarkRequest, context: grpc.aio.ServicerContext
    ) -> rr.RecordBenchmarkResponse:
        stored = await self._call(context, self._benchmarks.record, request.benchmark, request.request_id)
        return rr.RecordBenchmarkResponse(benchmark=stored)

    async def ListBenchmarks(
        self, request: rr.ListBenchmarksRequest, context: grpc.aio.ServicerContext
    ) -> rr.ListBenchmarksResponse:
        page = await self._call(
            context,
            lambda: self._benchmarks.list(
                size=request.page_size, token=request.page_token, suite=request.suite, labels=dict(request.labels)
            ),
        )
        return rr.ListBenchmarksResponse(benchmarks=page.benchmarks, next_page_token=page.next_page_token)

    async def GetBenchmark(
        self, request: rr.GetBenchmarkRequest, context: grpc.aio.ServicerContext
    ) -> rr.GetBenchmarkResponse:
        found = await self._call(context, self._benchmarks.get, request.benchmark_id)
        return rr.GetBenchmarkResponse(benchmark=found)
