"""How the executor's plugin runner maps failures, without a plugin host running."""

from __future__ import annotations

import functools

import grpc
import pytest
from google.protobuf import json_format
from ia.executor.v1 import request_response_pb2 as rr
from ia.executor.v1 import service_pb2_grpc
from ia.pipeline.v1 import pipeline_pb2
from ia_executor import server as executor_server
from ia_executor.plugins import PluginRunner, plugin_host_address, step_error
from ia_executor.work import NoPluginHost, StepError
from ia_modules.engine import EvaluateCondition, ExecuteStep
from ia_modules.errors import IAError
from ia_service_kit.server import ServiceConfig, start

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (IAError(Code.DEADLINE_EXCEEDED, "too slow"), "STEP_TIMEOUT"),
        (IAError(Code.UNAVAILABLE, "socket closed"), "PLUGIN_UNAVAILABLE"),
        (IAError(Code.RESOURCE_EXHAUSTED, "over memory", reason="OUT_OF_MEMORY"), "OUT_OF_MEMORY"),
        (IAError(Code.RESOURCE_EXHAUSTED, "busy", reason="TOO_MANY_CALLS"), "TOO_MANY_CALLS"),
        (IAError(Code.INVALID_ARGUMENT, "bad input", reason="INVALID_INPUT"), "INVALID_INPUT"),
        (IAError(Code.INVALID_ARGUMENT, "bad", reason="SOMETHING_ELSE"), "INVALID_INPUT"),
        (IAError(Code.UNKNOWN, "it broke", reason="PLUGIN_FAILED"), "PLUGIN_FAILED"),
        (IAError(Code.UNKNOWN, "it broke"), "STEP_ERROR"),
    ],
)
def test_plugin_failures_become_step_error_kinds(error: IAError, kind: str) -> None:
    assert step_error(error, "step 'x'").kind == kind


def test_the_message_names_the_call_and_the_fields() -> None:
    error = IAError(
        Code.INVALID_ARGUMENT, "invalid input", reason="INVALID_INPUT", field_violations=[("input.url", "required")]
    )

    assert step_error(error, "step 'fetch'").message == "step 'fetch': invalid input (input.url: required)"
    assert step_error(error, "").message == "invalid input (input.url: required)"


def test_the_plugin_host_address_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IA_PLUGIN_HOST_ADDRESS", raising=False)
    assert plugin_host_address() is None
    monkeypatch.setenv("IA_PLUGIN_HOST_ADDRESS", "localhost:50053")
    assert plugin_host_address() == "localhost:50053"


STEP = ExecuteStep("r1/fetch/0", "fetch", 0, 1, "http_request", "", "", {}, {}, None)
CONDITION = EvaluateCondition("r1/a/0/condition/0", "a", 0, "b", "threshold_condition", {}, {})


async def test_an_unreachable_plugin_host_makes_the_step_unavailable() -> None:
    runner = PluginRunner("127.0.0.1:9")
    try:
        with pytest.raises(StepError) as step:
            await runner.run(STEP)
        with pytest.raises(StepError) as condition:
            await runner.evaluate(CONDITION)
    finally:
        await runner.close()

    assert step.value.kind == "PLUGIN_UNAVAILABLE"
    assert step.value.message == "step 'fetch' (plugin 'http_request'): the plugin host at 127.0.0.1:9 is unreachable"
    assert condition.value.kind == "PLUGIN_UNAVAILABLE"
    assert condition.value.message == "the plugin host at 127.0.0.1:9 is unreachable"


async def test_without_a_plugin_host_steps_and_conditions_fail_clearly() -> None:
    with pytest.raises(StepError, match="cannot run plugin 'http_request' for step 'fetch'"):
        await NoPluginHost().run(STEP)
    with pytest.raises(StepError, match="IA_PLUGIN_HOST_ADDRESS.*condition plugin 'threshold_condition'") as failed:
        await NoPluginHost().evaluate(CONDITION)
    assert failed.value.kind == "PLUGIN_UNAVAILABLE"


class _StepsOnly:
    """An embedder's runner written before condition plugins: it has no ``evaluate``."""

    async def run(self, action: ExecuteStep) -> dict:
        return {"score": 9}


async def test_a_runner_that_cannot_evaluate_conditions_fails_the_run_with_condition_error(tmp_path) -> None:
    config = ServiceConfig(name=executor_server.NAME, default_port=0, port=0, data_dir=tmp_path, grace_period_s=0)
    wire = functools.partial(executor_server.wire, registry="127.0.0.1:9", runner=_StepsOnly())
    running = await start(config, wire)
    document = {
        "name": "old-runner",
        "steps": [{"id": "score", "plugin": "scorer"}, {"id": "next", "type": "pass"}],
        "flow": {"transitions": [{"from": "score", "to": "next", "condition": {"type": "plugin", "plugin": "gate"}}]},
    }
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            executor = service_pb2_grpc.ExecutorServiceStub(channel)
            request = rr.StartRunRequest(definition=json_format.ParseDict(document, pipeline_pb2.Pipeline()))
            run_id = (await executor.StartRun(request)).run.run_id
            async for _ in executor.WatchRun(rr.WatchRunRequest(run_id=run_id)):
                pass
            run = (await executor.GetRun(rr.GetRunRequest(run_id=run_id))).run
    finally:
        await running.stop(0)

    assert (run.error.kind, run.error.step_id) == ("CONDITION_ERROR", "score")
    assert "STEP_ERROR: AttributeError" in run.error.message
