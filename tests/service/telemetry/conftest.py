"""An in-process telemetry service on port 0 with its own data folder and chosen exporters."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from ia.telemetry.v1 import service_pb2_grpc
from ia_service_kit.server import RunningServer, ServiceConfig, start
from ia_telemetry import server as telemetry_server
from ia_telemetry.exporters import ExportSettings

StartTelemetry = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start_telemetry(tmp_path: Path, database_url: str | None) -> AsyncIterator[StartTelemetry]:
    """Starts telemetry services on port 0 over the test's backend (keyword arguments go
    to `wire`); all stop at the end."""
    started: list[RunningServer] = []

    async def _start(name: str = "telemetry", **options: Any) -> RunningServer:
        options.setdefault("exports", ExportSettings())
        config = ServiceConfig(
            name=telemetry_server.NAME,
            default_port=0,
            port=0,
            data_dir=tmp_path / name,
            database_url=database_url,
            grace_period_s=0,
        )
        running = await start(config, functools.partial(telemetry_server.wire, **options))
        started.append(running)
        return running

    yield _start
    for running in reversed(started):
        await running.stop(0)


@pytest.fixture
async def telemetry_server_(start_telemetry: StartTelemetry) -> RunningServer:
    return await start_telemetry()


@pytest.fixture
async def channel(telemetry_server_: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(telemetry_server_.address) as ch:
        yield ch


@pytest.fixture
def telemetry(channel: grpc.aio.Channel) -> service_pb2_grpc.TelemetryServiceStub:
    return service_pb2_grpc.TelemetryServiceStub(channel)


@pytest.fixture
def otlp_traces(channel: grpc.aio.Channel) -> trace_service_pb2_grpc.TraceServiceStub:
    return trace_service_pb2_grpc.TraceServiceStub(channel)


@pytest.fixture
def otlp_metrics(channel: grpc.aio.Channel) -> metrics_service_pb2_grpc.MetricsServiceStub:
    return metrics_service_pb2_grpc.MetricsServiceStub(channel)


class Stubs:
    """The three services one telemetry process serves, over one channel."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.telemetry = service_pb2_grpc.TelemetryServiceStub(channel)
        self.traces = trace_service_pb2_grpc.TraceServiceStub(channel)
        self.metrics = metrics_service_pb2_grpc.MetricsServiceStub(channel)


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[RunningServer], Stubs]]:
    """Stubs for any started telemetry service; the channels close at the end."""
    channels: list[grpc.aio.Channel] = []

    def _connect(server: RunningServer) -> Stubs:
        channels.append(grpc.aio.insecure_channel(server.address))
        return Stubs(channels[-1])

    yield _connect
    for opened in channels:
        await opened.close()
