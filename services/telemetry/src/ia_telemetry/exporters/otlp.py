"""Forwarding OTLP upstream: every request the receiver accepts goes on, as received,
to another OTLP/gRPC collector (an OpenTelemetry Collector, a vendor's endpoint)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class OtlpForwarder:
    """Sends OTLP export requests to `target` (`host:port`, or `https://host:port` for TLS)."""

    name = "otlp"

    def __init__(self, target: str, *, timeout_s: float = 10.0) -> None:
        if target.startswith("https://"):
            self._channel = grpc.secure_channel(target.removeprefix("https://"), grpc.ssl_channel_credentials())
        else:
            self._channel = grpc.insecure_channel(target.removeprefix("http://"))
        self._traces = trace_service_pb2_grpc.TraceServiceStub(self._channel)
        self._metrics = metrics_service_pb2_grpc.MetricsServiceStub(self._channel)
        self._timeout_s = timeout_s

    def send(self, requests: Sequence[Message]) -> None:
        for request in requests:
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                self._traces.Export(request, timeout=self._timeout_s)
            elif isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
                self._metrics.Export(request, timeout=self._timeout_s)

    def close(self) -> None:
        self._channel.close()
