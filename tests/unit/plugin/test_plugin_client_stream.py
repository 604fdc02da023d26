"""How PluginClient reads an ExecuteStep stream from a plugin that is not ours.

The SDK's servicer always ends a stream with its result and an OK status; a plugin
in another language may not, so these tests script the stream by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import grpc.aio
import pytest

from ia.plugin.v1 import message_pb2, service_pb2_grpc
from ia.plugin.v1 import request_response_pb2 as rr
from ia_modules.client import to_struct
from ia_modules.errors import IAError
from ia_modules.plugin.client import PluginClient
from ia_modules.plugin.harness import socket_folder
from ia_modules.status import abort

Script = Callable[[grpc.aio.ServicerContext], Awaitable[None]]


class _ScriptedStep(service_pb2_grpc.PluginServiceServicer):
    def __init__(self, script: Script) -> None:
        self._script = script

    async def ExecuteStep(self, request: rr.ExecuteStepRequest, context: grpc.aio.ServicerContext) -> None:
        await self._script(context)


async def _log(context: grpc.aio.ServicerContext, text: str) -> None:
    await context.write(rr.ExecuteStepResponse(log=message_pb2.LogRecord(message=text)))


async def _result(context: grpc.aio.ServicerContext, **output: object) -> None:
    await context.write(rr.ExecuteStepResponse(result=message_pb2.StepResult(output=to_struct(output))))


@pytest.fixture
async def serve_step() -> AsyncIterator[Callable[[Script], Awaitable[PluginClient]]]:
    servers: list[grpc.aio.Server] = []
    clients: list[PluginClient] = []
    with socket_folder() as folder:

        async def serve(script: Script) -> PluginClient:
            server = grpc.aio.server()
            service_pb2_grpc.add_PluginServiceServicer_to_server(_ScriptedStep(script), server)
            target = f"unix://{folder}/step{len(servers)}.sock"
            server.add_insecure_port(target)
            await server.start()
            servers.append(server)
            clients.append(PluginClient(target, timeout_s=10))
            return clients[-1]

        try:
            yield serve
        finally:
            for client in clients:
                await client.close()
            for server in servers:
                await server.stop(0)


async def test_logs_arrive_in_order_before_the_result(serve_step) -> None:
    async def script(context: grpc.aio.ServicerContext) -> None:
        for text in ("one", "two", "three"):
            await _log(context, text)
        await _result(context, done=True)

    seen: list[str] = []
    client = await serve_step(script)
    outcome = await client.execute_step("any", on_message=lambda m: seen.append(m.WhichOneof("message")))

    assert [log.message for log in outcome.logs] == ["one", "two", "three"]
    assert seen == ["log", "log", "log", "result"]
    assert outcome.output == {"done": True}


async def test_an_error_status_after_the_result_fails_the_call_with_its_details(serve_step) -> None:
    async def script(context: grpc.aio.ServicerContext) -> None:
        await _result(context, done=True)
        await abort(context, grpc.StatusCode.UNAVAILABLE, "UPSTREAM_DOWN", "gave up after the result", plugin="any")

    client = await serve_step(script)
    with pytest.raises(IAError) as failed:
        await client.execute_step("any")

    assert failed.value.code is grpc.StatusCode.UNAVAILABLE
    assert failed.value.reason == "UPSTREAM_DOWN"
    assert failed.value.metadata["plugin"] == "any"
    assert "gave up after the result" in failed.value.message


async def test_a_stream_that_ends_without_a_result_is_refused(serve_step) -> None:
    async def script(context: grpc.aio.ServicerContext) -> None:
        await _log(context, "forgot the result")

    client = await serve_step(script)
    with pytest.raises(IAError) as failed:
        await client.execute_step("any")

    assert failed.value.code is grpc.StatusCode.INTERNAL
    assert failed.value.reason == "NO_RESULT"


async def test_an_error_status_before_any_result_keeps_its_code(serve_step) -> None:
    async def script(context: grpc.aio.ServicerContext) -> None:
        await _log(context, "starting")
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", "no url")

    client = await serve_step(script)
    with pytest.raises(IAError) as failed:
        await client.execute_step("any")

    assert failed.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.reason == "INVALID_INPUT"
