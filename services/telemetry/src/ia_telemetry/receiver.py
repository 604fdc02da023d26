"""The OTLP/gRPC receiver: TraceService/Export and MetricsService/Export.

A request is taken in whole or in part: spans and data points that break the
rules are refused and reported in the OTLP `partial_success` answer, never as
a failed call, so a sender does not retry what will be refused again. Storing
runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from prometheus_client import Counter

from ia_telemetry.exporters import Exporters
from ia_telemetry.metrics import Metrics
from ia_telemetry.traces import Traces

RECEIVED = Counter("ia_telemetry_received", "Spans and metric data points received over OTLP and kept.", ["signal"])
REFUSED = Counter("ia_telemetry_refused", "Spans and metric data points refused as malformed.", ["signal"])


class TraceReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """OTLP traces in."""

    def __init__(self, traces: Traces, exporters: Exporters) -> None:
        self._traces = traces
        self._exporters = exporters

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        decoded = await asyncio.to_thread(self._traces.ingest, request)
        RECEIVED.labels("traces").inc(len(decoded.spans))
        self._exporters.offer_request(request)
        response = trace_service_pb2.ExportTraceServiceResponse()
        if decoded.rejected:
            REFUSED.labels("traces").inc(decoded.rejected)
            response.partial_success.rejected_spans = decoded.rejected
            response.partial_success.error_message = "; ".join(decoded.problems)
        return response


class MetricsReceiver(metrics_service_pb2_grpc.MetricsServiceServicer):
    """OTLP metrics in."""

    def __init__(self, metrics: Metrics, exporters: Exporters) -> None:
        self._metrics = metrics
        self._exporters = exporters

    async def Export(
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: grpc.aio.ServicerContext
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        kept, rejected = await asyncio.to_thread(self._metrics.ingest, request)
        RECEIVED.labels("metrics").inc(kept)
        self._exporters.offer_request(request)
        response = metrics_service_pb2.ExportMetricsServiceResponse()
        if rejected:
            REFUSED.labels("metrics").inc(rejected)
            response.partial_success.rejected_data_points = rejected
            response.partial_success.error_message = "data points need a metric name, a time and a value"
        return response
