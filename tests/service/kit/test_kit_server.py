"""The shared server: errors on the wire, health, reflection, binding and shutdown."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from ia_modules.definition import Finding, Severity
from ia_service_kit.config import ServiceConfig
from ia_service_kit.database import Database
from ia_service_kit.errors import abort, abort_invalid_argument, abort_invalid_definition
from ia_service_kit.logging import configure_logging
from ia_service_kit.server import RunningServer, Wiring, public_service_names, run, serve, start

PROBE = "test.v1.Probe"


async def fail_unexpectedly(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise KeyError("secret internals")


async def fail_with_abort(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await abort(context, grpc.StatusCode.NOT_FOUND, "THING_NOT_FOUND", "no thing named x", name="x", revision=3)


async def fail_with_bad_field(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await abort_invalid_argument(context, "page_size", "must not be negative")


async def fail_with_findings(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    count = int(request.decode() or "2")
    findings = [
        Finding(Severity.ERROR, f"steps[{i}].inputs.topic", f"unknown step `x{i}`", "UNKNOWN_STEP", "did you mean `fetch`?")
        for i in range(count)
    ]
    findings.append(Finding(Severity.WARNING, "flow", "a warning is not a violation", "SUSPICIOUS_UNIT"))
    await abort_invalid_definition(context, findings)


async def measure(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return str(len(request)).encode()


async def stream_then_fail(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b"one"
    raise RuntimeError("stream internals")


async def write_then_fail(request: bytes, context: grpc.aio.ServicerContext) -> None:
    await context.write(b"one")
    raise RuntimeError("writer internals")


async def sum_stream(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    return b"".join([r async for r in requests])


async def chat(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    async for request in requests:
        if request == b"boom":
            raise RuntimeError("chat internals")
        yield request


def add_probe(servicer: object, server: grpc.aio.Server) -> None:
    handlers = {
        "Unexpected": grpc.unary_unary_rpc_method_handler(fail_unexpectedly),
        "Abort": grpc.unary_unary_rpc_method_handler(fail_with_abort),
        "BadField": grpc.unary_unary_rpc_method_handler(fail_with_bad_field),
        "Findings": grpc.unary_unary_rpc_method_handler(fail_with_findings),
        "Measure": grpc.unary_unary_rpc_method_handler(measure),
        "StreamFail": grpc.unary_stream_rpc_method_handler(stream_then_fail),
        "WriteFail": grpc.unary_stream_rpc_method_handler(write_then_fail),
        "Sum": grpc.stream_unary_rpc_method_handler(sum_stream),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(PROBE, handlers),))


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging("probe", level="info", stream=buffer)
    yield buffer
    root.handlers[:] = before[0]
    root.setLevel(before[1])


@pytest.fixture
async def running(tmp_path: Path, log_output: io.StringIO) -> AsyncIterator[RunningServer]:
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path, grace_period_s=1)
    server = await start(config, lambda cfg: Wiring(servicers=[(add_probe, None)], database=Database.for_service(cfg)))
    yield server
    await server.stop()


@pytest.fixture
async def channel(running: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(running.address) as ch:
        yield ch


def unary(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(f"/{PROBE}/{method}")


def details(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, list[error_details_pb2.BadRequest.FieldViolation]]:
    status = rpc_status.from_call(error)
    assert status is not None
    info, violations = None, []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            assert info is None, "exactly one ErrorInfo"
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = list(bad.field_violations)
    assert info is not None
    return info, violations


async def test_an_unexpected_exception_is_internal_without_a_traceback(
    channel: grpc.aio.Channel, log_output: io.StringIO
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(channel, "Unexpected")(b"")
    error = caught.value
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "secret internals" not in error.details() and "Traceback" not in error.details()
    info, _ = details(error)
    assert (info.reason, info.domain) == ("INTERNAL", "ia-modules")
    assert "KeyError: 'secret internals'" in log_output.getvalue()


async def test_abort_sends_one_error_info_with_string_metadata(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(channel, "Abort")(b"")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no thing named x"
    info, violations = details(caught.value)
    assert info.reason == "THING_NOT_FOUND"
    assert dict(info.metadata) == {"name": "x", "revision": "3"}
    assert violations == []


async def test_abort_invalid_argument_names_the_field(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(channel, "BadField")(b"")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, violations = details(caught.value)
    assert info.reason == "INVALID_ARGUMENT"
    assert [(v.field, v.description) for v in violations] == [("page_size", "must not be negative")]


async def test_invalid_definition_lists_error_findings_as_field_violations(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(channel, "Findings")(b"2")
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "invalid pipeline definition: steps[0].inputs.topic: unknown step `x0` (and 1 more)"
    info, violations = details(error)
    assert info.reason == "INVALID_DEFINITION"
    assert info.metadata["error_count"] == "2"
    assert [(v.field, v.reason) for v in violations] == [
        ("steps[0].inputs.topic", "UNKNOWN_STEP"),
        ("steps[1].inputs.topic", "UNKNOWN_STEP"),
    ]
    assert violations[0].description == "unknown step `x0` (hint: did you mean `fetch`?)"


async def test_thousands_of_findings_still_arrive_as_a_readable_error(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(channel, "Findings")(b"5000")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "(and 4999 more)" in caught.value.details()
    info, violations = details(caught.value)
    assert info.metadata["error_count"] == "5000"
    assert 0 < len(violations) < 5000
    assert violations[0].field == "steps[0].inputs.topic"


async def test_streaming_handlers_are_guarded_too(channel: grpc.aio.Channel) -> None:
    for method in ("StreamFail", "WriteFail"):
        call = channel.unary_stream(f"/{PROBE}/{method}")(b"")
        received = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for message in call:
                received.append(message)
        assert received == [b"one"]
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert "internals" not in caught.value.details()


async def test_client_streaming_and_bidi_calls_pass_through_the_guard(channel: grpc.aio.Channel) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"a", b"b"):
            yield part

    assert await channel.stream_unary(f"/{PROBE}/Sum")(parts()) == b"ab"
    call = channel.stream_stream(f"/{PROBE}/Chat")()
    await call.write(b"hello")
    assert await call.read() == b"hello"
    await call.write(b"boom")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INTERNAL


async def test_an_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary("/test.v1.Nothing/Here")(b"")
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_messages_up_to_16_mb_are_accepted(channel: grpc.aio.Channel) -> None:
    payload = b"x" * (10 * 1024 * 1024)
    assert await unary(channel, "Measure")(payload) == str(len(payload)).encode()


async def test_messages_over_16_mb_are_refused_naming_the_limit(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(channel, "Measure")(b"x" * (17 * 1024 * 1024))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info, _ = details(caught.value)
    assert info.reason == "MESSAGE_TOO_LARGE"
    assert (info.metadata["limit"], info.metadata["max"]) == ("IA_MAX_MESSAGE_BYTES", str(16 * 1024 * 1024))


async def test_health_is_serving(channel: grpc.aio.Channel) -> None:
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_whole_public_api(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def requests() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    responses = [r async for r in stub.ServerReflectionInfo(requests())]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"ia.registry.v1.RegistryService", "ia.executor.v1.ExecutorService"} <= names
    assert {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
    assert set(public_service_names()) <= names


async def test_the_bound_port_is_logged(running: RunningServer, log_output: io.StringIO) -> None:
    assert f"listening on 127.0.0.1:{running.port}" in log_output.getvalue()
    assert running.port > 0


async def test_stop_reports_not_serving_to_watchers_then_closes(tmp_path: Path, log_output: io.StringIO) -> None:
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path, grace_period_s=0.5)
    started_hook, stopped_hook = asyncio.Event(), asyncio.Event()

    async def on_start() -> None:
        started_hook.set()

    async def on_stop() -> None:
        stopped_hook.set()

    server = await start(
        config, lambda cfg: Wiring(servicers=[(add_probe, None)], on_start=[on_start], on_stop=[on_stop])
    )
    assert started_hook.is_set() and not stopped_hook.is_set()
    async with grpc.aio.insecure_channel(server.address) as ch:
        watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(server.stop())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        await stopping
    await server.wait_for_termination()
    await server.stop()  # a second stop is harmless
    assert stopped_hook.is_set()
    assert "event=\"shutting down\"" in log_output.getvalue()
    assert "event=stopped" in log_output.getvalue()


async def test_a_port_in_use_is_a_clear_error(running: RunningServer, tmp_path: Path) -> None:
    config = ServiceConfig(name="probe", default_port=0, port=running.port, data_dir=tmp_path)
    with pytest.raises(OSError, match=f"cannot bind 127.0.0.1:{running.port}"):
        await start(config, lambda cfg: Wiring(servicers=[(add_probe, None)], database=Database.for_service(cfg)))


async def test_serve_runs_until_asked_to_stop(tmp_path: Path, log_output: io.StringIO) -> None:
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path, grace_period_s=0.5)
    stop = asyncio.Event()

    async def wire(cfg: ServiceConfig) -> Wiring:
        return Wiring(servicers=[(add_probe, None)])

    serving = asyncio.create_task(serve(config, wire, stop=stop))
    while "listening on" not in log_output.getvalue():
        await asyncio.sleep(0.01)
    stop.set()
    await serving
    assert "event=stopped" in log_output.getvalue()


def test_run_exits_non_zero_when_it_cannot_bind(
    tmp_path: Path, log_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ServiceConfig(name="probe", default_port=0, port=0, host="203.0.113.7", data_dir=tmp_path)
    assert run(config, lambda cfg: Wiring(servicers=[(add_probe, None)])) == 1
    assert "cannot bind 203.0.113.7:0" in capsys.readouterr().err


def test_run_exits_non_zero_when_the_service_cannot_be_wired(
    tmp_path: Path, log_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(cfg: ServiceConfig) -> Wiring:
        raise RuntimeError("database unreachable")

    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path)
    assert run(config, broken) == 1  # run() logs to stderr, like a real service
    logged = capsys.readouterr().err
    assert 'event="cannot start"' in logged and "RuntimeError: database unreachable" in logged
    assert logged.count("\n") == 1
