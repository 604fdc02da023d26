"""Every limit of `ia_modules.limits` the executor enforces: each refusal or failure
names its limit and the environment variable that sets it."""

from __future__ import annotations

import grpc
import pytest
from executor_testing import finished, linear, refused, start, state
from google.protobuf import json_format
from ia.executor.v1 import message_pb2, service_pb2_grpc
from ia.executor.v1 import request_response_pb2 as rr
from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import request_response_pb2 as registry_rr
from ia_modules.definition import MAX_DOCUMENT_BYTES, MAX_STEPS
from ia_modules.limits import DEFAULTS, Limits, limit_from_env

HANG = {"id": "work", "plugin": "sleepy"}


async def _executor(start_executor, monkeypatch, runner, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    server = await start_executor(runner=runner)
    return server


def test_limits_come_from_the_environment_and_a_bad_value_keeps_the_default(capsys):
    assert Limits.from_env({}) == DEFAULTS
    limits = Limits.from_env({"IA_MAX_CONCURRENT_RUNS": "3", "IA_MAX_STEPS": "10"})
    assert (limits.concurrent_runs, limits.steps, limits.events_per_run) == (3, 10, DEFAULTS.events_per_run)
    assert limit_from_env("IA_MAX_STEPS", 7, {"IA_MAX_STEPS": "-1"}) == 7
    assert limit_from_env("IA_MAX_STEPS", 7, {"IA_MAX_STEPS": "lots"}) == 7
    assert "ignoring IA_MAX_STEPS='lots'" in capsys.readouterr().err


async def test_concurrent_runs_over_the_limit_are_resource_exhausted_until_one_ends(
    start_executor, monkeypatch, runner
):
    runner.script["work"] = ["hang", "hang", "hang"]
    server = await _executor(start_executor, monkeypatch, runner, IA_MAX_CONCURRENT_RUNS="2")
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        first = (await executor.StartRun(start(linear(HANG)))).run.run_id
        await executor.StartRun(start(linear(HANG)))
        refusal = await refused(executor.StartRun(start(linear(HANG))))
        assert refusal.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refusal.reason == "CONCURRENT_RUNS_LIMIT"
        assert refusal.metadata["limit"] == "IA_MAX_CONCURRENT_RUNS" and refusal.metadata["max"] == "2"
        assert "IA_MAX_CONCURRENT_RUNS" in refusal.message
        # A refused request id does not take a place either; an ended run gives its place back.
        await executor.CancelRun(rr.CancelRunRequest(run_id=first))
        third = await executor.StartRun(start(linear(HANG), request_id="third"))
        again = await executor.StartRun(start(linear(HANG), request_id="third"))
        assert again.run.run_id == third.run.run_id


async def test_a_step_input_over_the_limit_fails_the_step_not_the_run_start(start_executor, monkeypatch, runner):
    server = await _executor(start_executor, monkeypatch, runner, IA_MAX_STEP_INPUT_BYTES="100")
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        definition = linear({"id": "work", "plugin": "echo", "inputs": {"text": "{{ parameters.text }}"}})
        small = await finished(executor, (await executor.StartRun(start(definition, {"text": "hi"}))).run.run_id)
        assert state(small) == "SUCCEEDED"
        big = await finished(executor, (await executor.StartRun(start(definition, {"text": "x" * 200}))).run.run_id)
        assert state(big) == "FAILED" and big.error.kind == "STEP_INPUT_TOO_LARGE"
        assert "IA_MAX_STEP_INPUT_BYTES" in big.error.message and "'work'" in big.error.message
        assert len(runner.calls) == 1


async def test_a_step_output_over_the_limit_fails_the_step(start_executor, monkeypatch, runner):
    runner.script["work"] = [{"blob": "x" * 500}]
    server = await _executor(start_executor, monkeypatch, runner, IA_MAX_STEP_OUTPUT_BYTES="100")
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run = await finished(executor, (await executor.StartRun(start(linear({"id": "work", "plugin": "p"})))).run.run_id)
        assert state(run) == "FAILED" and run.error.kind == "STEP_OUTPUT_TOO_LARGE"
        assert "IA_MAX_STEP_OUTPUT_BYTES" in run.error.message
        (step,) = run.steps
        assert message_pb2.StepState.Name(step.state) == "STEP_STATE_FAILED"


async def test_old_events_are_folded_into_a_summary_that_says_how_many(start_executor, monkeypatch, runner):
    server = await _executor(start_executor, monkeypatch, runner, IA_MAX_EVENTS_PER_RUN="10")
    steps = [{"id": f"s{i}", "type": "pass", "inputs": {"i": i}} for i in range(15)]
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run = await finished(executor, (await executor.StartRun(start(linear(*steps)))).run.run_id)
        assert state(run) == "SUCCEEDED" and len(run.steps) == 15
        kept = [r.event async for r in executor.WatchRun(rr.WatchRunRequest(run_id=run.run_id))]
        assert len(kept) <= 10
        summary = kept[0]
        assert summary.WhichOneof("kind") == "step_log" and summary.step_log.level == "warning"
        assert f"events 1-{summary.sequence} of this run were folded" in summary.step_log.message
        assert "IA_MAX_EVENTS_PER_RUN" in summary.step_log.message
        # Nothing after the summary is missing, and the run's end is there.
        assert [e.sequence for e in kept] == list(range(summary.sequence, summary.sequence + len(kept)))
        assert kept[-1].WhichOneof("kind") in ("run_state_changed", "outputs")


async def test_a_pipeline_that_starts_itself_stops_at_the_nesting_limit(
    start_executor, monkeypatch, registry, registry_address
):
    monkeypatch.setenv("IA_MAX_NESTING_DEPTH", "3")
    itself = linear({"id": "again", "type": "pipeline", "pipeline": {"name": "itself"}}, name="itself")
    await registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=itself))
    server = await start_executor(registry=registry_address)
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run = await finished(executor, (await executor.StartRun(rr.StartRunRequest(pipeline_name="itself"))).run.run_id)
        assert state(run) == "FAILED" and run.error.kind == "CHILD_RUN_FAILED"
        nested = (await executor.ListRuns(rr.ListRunsRequest(pipeline_name="itself"))).runs
        assert len(nested) == 4  # the root and three levels of children
        deepest = next(r for r in nested if r.run_id not in {n.parent_run_id for n in nested})
        assert deepest.error.kind == "NESTING_TOO_DEEP" and "IA_MAX_NESTING_DEPTH" in deepest.error.message


async def test_inline_definitions_over_the_step_and_size_limits_are_invalid(executor):
    many = json_format.ParseDict(
        {"name": "many", "steps": [{"id": f"s{i}", "type": "pass"} for i in range(MAX_STEPS + 1)]},
        pipeline_pb2.Pipeline(),
    )
    refusal = await refused(executor.StartRun(start(many)))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and refusal.reason == "INVALID_DEFINITION"
    assert refusal.violations[0][0] == "steps" and "IA_MAX_STEPS" in refusal.violations[0][1]
    big = linear({"id": "a", "type": "pass"}, description="x" * MAX_DOCUMENT_BYTES)
    refusal = await refused(executor.StartRun(start(big)))
    assert refusal.reason == "INVALID_DEFINITION" and "IA_MAX_DEFINITION_BYTES" in refusal.violations[0][1]


async def test_a_message_over_the_limit_is_resource_exhausted_and_the_server_goes_on(
    start_executor, monkeypatch, runner
):
    server = await _executor(start_executor, monkeypatch, runner, IA_MAX_MESSAGE_BYTES="2000")
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        refusal = await refused(executor.StartRun(start(linear({"id": "a", "type": "pass"}), {"text": "x" * 5000})))
        assert (refusal.code, refusal.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "MESSAGE_TOO_LARGE")
        assert (refusal.metadata["limit"], refusal.metadata["max"]) == ("IA_MAX_MESSAGE_BYTES", "2000")
        assert refusal.metadata["method"] == "/ia.executor.v1.ExecutorService/StartRun"
        # Far beyond the limit, grpc itself refuses before any bytes reach the service.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await executor.StartRun(start(linear({"id": "a", "type": "pass"}), {"text": "x" * 2_000_000}))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        run = await finished(executor, (await executor.StartRun(start(linear({"id": "a", "type": "pass"})))).run.run_id)
        assert state(run) == "SUCCEEDED"
