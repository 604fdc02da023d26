"""Every method of every service, called with random bytes and with requests full
of awkward values: each call gets a status (never an unexpected-exception INTERNAL
or UNKNOWN from a handler), and the service stays up and answers the next valid
request."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_fuzzing import awkward_requests, methods, random_bodies, raw_call
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ia.executor.v1 import request_response_pb2 as executor_rr
from ia.executor.v1 import service_pb2_grpc as executor_grpc
from ia.plugin.v1 import request_response_pb2 as plugin_rr
from ia.plugin.v1 import service_pb2_grpc as plugin_grpc
from ia.pluginhost.v1 import request_response_pb2 as host_rr
from ia.pluginhost.v1 import service_pb2_grpc as host_grpc
from ia.registry.v1 import request_response_pb2 as registry_rr
from ia.registry.v1 import service_pb2_grpc as registry_grpc
from ia.telemetry.v1 import request_response_pb2 as telemetry_rr
from ia.telemetry.v1 import service_pb2_grpc as telemetry_grpc
from ia_executor import server as executor_server
from ia_modules.plugin import step_plugin
from ia_modules.plugin.harness import socket_folder
from ia_modules.plugin.server import start_plugin_server
from ia_plugins.server import NAME as HOST_NAME
from ia_plugins.server import build_host, wiring_for
from ia_plugins.settings import HostSettings, socket_root
from ia_registry import server as registry_server
from ia_service_kit.server import RunningServer, ServiceConfig, start
from ia_telemetry import server as telemetry_server
from ia_telemetry.exporters import ExportSettings
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: F401 (descriptors)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: F401 (descriptors)

pytestmark = pytest.mark.timeout(300)

CALLS_PER_METHOD = 8
_HANDLER_BUG = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


@step_plugin
def echo(config: dict, data: dict, ctx: object) -> dict:
    return data


async def _call(channel: grpc.aio.Channel, method: Any, body: bytes) -> tuple[grpc.StatusCode, str]:
    call = raw_call(channel, method)
    request = iter([body]) if method.client_streaming else body
    try:
        if method.server_streaming:
            async for _ in call(request, timeout=5):
                pass
        else:
            await call(request, timeout=5)
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


async def _fuzz(
    address: str, service: str, valid: Callable[[grpc.aio.Channel], Awaitable[Any]], *, kit: bool = True
) -> None:
    """``kit``: the server is the service kit's, which answers bytes that do not parse
    with INVALID_ARGUMENT (a plugin process answers them with grpc's own UNKNOWN)."""
    bugs: list[str] = []
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for index, method in enumerate(methods(service)):
            seed = hash((service, method.name)) % 10_000 + index
            for body in random_bodies(method, seed, CALLS_PER_METHOD):
                code, details = await _call(channel, method, body)
                undecodable = not kit and "Error parsing message" in details
                if code in _HANDLER_BUG and not undecodable:
                    bugs.append(f"{method.name} bytes {body[:20]!r}: {code.name} {details}")
            for request in awkward_requests(method, seed, CALLS_PER_METHOD):
                code, details = await _call(channel, method, request.SerializeToString())
                if code in _HANDLER_BUG or code == grpc.StatusCode.DEADLINE_EXCEEDED and not method.server_streaming:
                    bugs.append(f"{method.name} {str(request)[:200]!r}: {code.name} {details}")
            answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        await valid(channel)
    assert not bugs, "\n".join(bugs)


@pytest.fixture
async def servers() -> AsyncIterator[list[RunningServer]]:
    started: list[RunningServer] = []
    yield started
    for running in reversed(started):
        await running.stop(0)


async def _start(servers: list[RunningServer], name: str, data_dir: Path, wire: Any) -> RunningServer:
    config = ServiceConfig(name=name, default_port=0, port=0, data_dir=data_dir, grace_period_s=0)
    running = await start(config, wire)
    servers.append(running)
    return running


async def test_registry_survives_malformed_calls(servers, tmp_path):
    running = await _start(servers, registry_server.NAME, tmp_path, registry_server.wire)

    async def valid(channel):
        await registry_grpc.RegistryServiceStub(channel).ListPipelines(registry_rr.ListPipelinesRequest())

    await _fuzz(running.address, "ia.registry.v1.RegistryService", valid)


async def test_executor_survives_malformed_calls(servers, tmp_path):
    registry = await _start(servers, registry_server.NAME, tmp_path / "registry", registry_server.wire)
    wire = functools.partial(executor_server.wire, registry=registry.address)
    running = await _start(servers, executor_server.NAME, tmp_path / "executor", wire)

    async def valid(channel):
        await executor_grpc.ExecutorServiceStub(channel).ListRuns(executor_rr.ListRunsRequest())

    await _fuzz(running.address, "ia.executor.v1.ExecutorService", valid)


async def test_plugin_host_survives_malformed_calls(servers, tmp_path):
    settings = HostSettings(
        plugins_dir=tmp_path / "plugins", socket_root=socket_root(tmp_path / "sockets"), builtins=False,
        entry_points=False,
    )
    host = build_host(settings)
    running = await _start(servers, HOST_NAME, tmp_path, lambda _config: wiring_for(host))

    async def valid(channel):
        await host_grpc.PluginHostServiceStub(channel).ListPlugins(host_rr.ListPluginsRequest())

    await _fuzz(running.address, "ia.pluginhost.v1.PluginHostService", valid)


@pytest.mark.parametrize(
    "service",
    [
        "ia.telemetry.v1.TelemetryService",
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
    ],
)
async def test_telemetry_survives_malformed_calls(servers, tmp_path, service):
    wire = functools.partial(telemetry_server.wire, exports=ExportSettings())
    running = await _start(servers, telemetry_server.NAME, tmp_path, wire)

    async def valid(channel):
        await telemetry_grpc.TelemetryServiceStub(channel).ListTraces(telemetry_rr.ListTracesRequest())

    await _fuzz(running.address, service, valid)


async def test_a_plugin_process_survives_malformed_calls():
    with socket_folder() as sockets:
        plugin = await start_plugin_server([echo], str(sockets / "echo.sock"))
        try:

            async def valid(channel):
                stub = plugin_grpc.PluginServiceStub(channel)
                await stub.Describe(plugin_rr.DescribeRequest())

            await _fuzz(f"unix://{sockets / 'echo.sock'}", "ia.plugin.v1.PluginService", valid, kit=False)
        finally:
            await plugin.stop(0)


async def test_bytes_that_do_not_parse_are_invalid_argument_naming_the_method(servers, tmp_path):
    running = await _start(servers, registry_server.NAME, tmp_path, registry_server.wire)
    async with grpc.aio.insecure_channel(running.address) as channel:
        call = channel.unary_unary("/ia.registry.v1.RegistryService/CreatePipeline")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(b"\xff" * 16, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "CreatePipeline" in (caught.value.details() or "")


async def test_out_of_range_times_and_unknown_enum_numbers_are_invalid_argument_naming_the_field(servers, tmp_path):
    wire = functools.partial(telemetry_server.wire, exports=ExportSettings())
    telemetry = await _start(servers, telemetry_server.NAME, tmp_path / "telemetry", wire)
    executor = await _start(servers, executor_server.NAME, tmp_path / "executor", executor_server.wire)
    async with grpc.aio.insecure_channel(telemetry.address) as channel:
        request = telemetry_rr.ListTracesRequest()
        request.start_time_from.seconds = 2**62
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await telemetry_grpc.TelemetryServiceStub(channel).ListTraces(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "start_time_from" in (caught.value.details() or "")
    async with grpc.aio.insecure_channel(executor.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await executor_grpc.ExecutorServiceStub(channel).ListRuns(executor_rr.ListRunsRequest(states=[999]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "states" in (caught.value.details() or "") and "999" in (caught.value.details() or "")
