"""Plugin results are untrusted input: an answer that is too big, too deep, not
finite, not an object or not the contract's message fails the step with a clear
error, and the executor goes on running the next run."""

from __future__ import annotations

import pytest
from executor_plugins_testing import needs_sandbox
from google.protobuf import json_format
from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia.pipeline.v1 import pipeline_pb2

pytestmark = [needs_sandbox, pytest.mark.xdist_group("plugins"), pytest.mark.asyncio(loop_scope="module")]


async def _run(executor, plugin: str, inputs: dict | None = None) -> message_pb2.Run:
    document = {"name": "untrusted", "steps": [{"id": "call", "plugin": plugin, "inputs": inputs or {}}]}
    definition = json_format.ParseDict(document, pipeline_pb2.Pipeline())
    run_id = (await executor.StartRun(rr.StartRunRequest(definition=definition))).run.run_id
    async for _ in executor.WatchRun(rr.WatchRunRequest(run_id=run_id)):
        pass
    return (await executor.GetRun(rr.GetRunRequest(run_id=run_id))).run


@pytest.mark.parametrize(
    ("plugin", "kind", "words"),
    # What each answer is, and the error kind and words it fails the step with.
    [
        ("u_big", "STEP_OUTPUT_TOO_LARGE", "IA_MAX_STEP_OUTPUT_BYTES"),
        ("u_huge", "STEP_ERROR", "larger than max"),
        ("u_deep", "STEP_ERROR", "u_deep"),
        ("u_not_finite", "MALFORMED_PLUGIN_REPLY", "an output that is not JSON"),
        ("u_list", "PLUGIN_FAILED", "must return a dict, not list"),
        ("u_text", "PLUGIN_FAILED", "must return a dict, not str"),
        ("u_wire_garbage", "MALFORMED_PLUGIN_REPLY", "not an ExecuteStepResponse"),
    ],
)
async def test_a_bad_plugin_answer_fails_the_step_and_the_executor_goes_on(executor, plugin, kind, words) -> None:
    run = await _run(executor, plugin)
    assert message_pb2.RunState.Name(run.state) == "RUN_STATE_FAILED", run
    (step,) = run.steps
    assert message_pb2.StepState.Name(step.state) == "STEP_STATE_FAILED"
    assert run.error.kind == kind
    assert words in run.error.message, run.error
    after = await _run(executor, "t_shout", {"text": "still here"})
    assert message_pb2.RunState.Name(after.state) == "RUN_STATE_SUCCEEDED"
