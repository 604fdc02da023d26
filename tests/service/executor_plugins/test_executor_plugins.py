"""Plugin steps, Python step classes and condition plugins, run for real by the plugin host."""

from __future__ import annotations

from typing import Any

import pytest
from executor_plugins_testing import needs_sandbox
from google.protobuf import json_format
from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia.pipeline.v1 import pipeline_pb2
from ia_modules.engine.values import from_struct, to_struct
from prometheus_client import REGISTRY

pytestmark = [needs_sandbox, pytest.mark.xdist_group("plugins"), pytest.mark.asyncio(loop_scope="module")]


def definition(steps: list[dict[str, Any]], transitions: list[dict[str, Any]] | None = None) -> pipeline_pb2.Pipeline:
    if transitions is None:
        transitions = [{"from": a["id"], "to": b["id"]} for a, b in zip(steps, steps[1:], strict=False)]
    document = {"name": "plugins", "steps": steps, "flow": {"transitions": transitions}}
    return json_format.ParseDict(document, pipeline_pb2.Pipeline())


async def run(executor, steps, inputs=None, transitions=None) -> tuple[message_pb2.Run, list[message_pb2.RunEvent]]:
    """Starts a run, follows WatchRun to its end; the run and every event."""
    request = rr.StartRunRequest(definition=definition(steps, transitions), inputs=to_struct(inputs or {}))
    run_id = (await executor.StartRun(request)).run.run_id
    events = [response.event async for response in executor.WatchRun(rr.WatchRunRequest(run_id=run_id))]
    return (await executor.GetRun(rr.GetRunRequest(run_id=run_id))).run, events


def sample(name: str, **labels: str) -> float:
    """A metric of this process (the executor and the plugin host share it here)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def state(run: message_pb2.Run) -> str:
    return message_pb2.RunState.Name(run.state).removeprefix("RUN_STATE_")


def step_states(run: message_pb2.Run) -> dict[str, tuple[str, int]]:
    return {
        s.step_id: (message_pb2.StepState.Name(s.state).removeprefix("STEP_STATE_"), s.attempts) for s in run.steps
    }


def output(run: message_pb2.Run, step_id: str) -> dict[str, Any]:
    (step,) = [s for s in run.steps if s.step_id == step_id]
    return from_struct(step.output)


async def test_a_plugin_step_runs_to_success_with_the_plugins_output(executor) -> None:
    finished, _ = await run(executor, [{"id": "shout", "plugin": "t_shout"}], {"text": "hello"})

    assert state(finished) == "SUCCEEDED"
    assert output(finished, "shout") == {"text": "HELLO", "attempt": 1}
    assert from_struct(finished.outputs) == {"text": "HELLO", "attempt": 1}


async def test_the_plugins_logs_and_progress_appear_in_watch_run_before_the_step_ends(executor) -> None:
    _, events = await run(executor, [{"id": "shout", "plugin": "t_shout"}], {"text": "hey"})

    kinds = [event.WhichOneof("kind") for event in events]
    logs = [(e.step_log.step_id, e.step_log.level, e.step_log.message) for e in events if e.HasField("step_log")]
    assert logs == [("shout", "info", "shouting 3 characters"), ("shout", "warning", "done")]
    (progress,) = [e.step_progress for e in events if e.HasField("step_progress")]
    assert (progress.step_id, progress.fraction, progress.message) == ("shout", 0.5, "half way")
    succeeded = next(
        i for i, e in enumerate(events) if e.step_state_changed.state == message_pb2.STEP_STATE_SUCCEEDED
    )
    assert max(i for i, kind in enumerate(kinds) if kind in ("step_log", "step_progress")) < succeeded
    assert [e.sequence for e in events] == sorted({e.sequence for e in events})


async def test_a_step_class_written_for_the_original_step_api_runs_unchanged(executor) -> None:
    step = {"id": "invoice", "module": "billing.invoices", "step_class": "TotalInvoice", "config": {"tax_rate": 0.5}}
    finished, events = await run(executor, [step], {"items": [{"amount": 10}, {"amount": 30}]})

    assert state(finished) == "SUCCEEDED"
    assert output(finished, "invoice") == {"total": 60.0, "step": "invoice"}
    assert "totalled 2 items" in [e.step_log.message for e in events if e.HasField("step_log")]


@pytest.mark.parametrize(("score", "branch"), [(7, "high"), (3, "low")])
async def test_a_condition_plugin_routes_an_if_else(executor, score: int, branch: str) -> None:
    threshold = {
        "type": "plugin",
        "plugin": "threshold_condition",
        "config": {"field": "value", "operator": ">=", "value": 5},
    }
    steps = [
        {"id": "score", "plugin": "t_scale", "config": {"factor": 1}},
        {"id": "high", "type": "pass", "config": {"values": {"branch": "high"}}},
        {"id": "low", "type": "pass", "config": {"values": {"branch": "low"}}},
        {"id": "join", "type": "pass"},
    ]
    transitions = [
        {"from": "score", "to": "high", "condition": threshold},
        {"from": "score", "to": "low", "condition": {"type": "cel", "expr": "result.value < 5"}},
        {"from": "high", "to": "join"},
        {"from": "low", "to": "join"},
    ]
    finished, _ = await run(executor, steps, {"value": score}, transitions)

    assert state(finished) == "SUCCEEDED"
    assert from_struct(finished.outputs)["branch"] == branch
    skipped = "low" if branch == "high" else "high"
    assert step_states(finished)[skipped] == ("SKIPPED", 0)
    assert step_states(finished)["join"] == ("SUCCEEDED", 1)


async def test_a_condition_plugin_given_a_bad_config_fails_the_run_with_condition_error(executor) -> None:
    condition = {"type": "plugin", "plugin": "threshold_condition", "config": {"operator": ">="}}
    steps = [{"id": "a", "type": "pass"}, {"id": "b", "type": "pass"}]
    finished, _ = await run(executor, steps, {}, [{"from": "a", "to": "b", "condition": condition}])

    assert state(finished) == "FAILED"
    assert (finished.error.kind, finished.error.step_id) == ("CONDITION_ERROR", "a")
    assert "threshold_condition" in finished.error.message and "INVALID_CONFIG" in finished.error.message


async def test_each_plugin_call_is_timed_by_plugin_method_and_status(executor) -> None:
    calls = "plugin_call_duration_seconds_count"
    shouted = {"plugin": "t_shout", "method": "ExecuteStep", "status": "OK"}
    refused = {"plugin": "t_scale", "method": "ExecuteStep", "status": "INVALID_ARGUMENT"}
    before = sample(calls, **shouted), sample(calls, **refused)

    await run(executor, [{"id": "shout", "plugin": "t_shout"}], {"text": "hi"})
    await run(executor, [{"id": "scale", "plugin": "t_scale", "config": {"factor": "ten"}}], {"value": 1})

    assert (sample(calls, **shouted) - before[0], sample(calls, **refused) - before[1]) == (1, 1)


async def test_a_plugin_that_crashes_mid_call_is_retried_on_its_restarted_process(executor) -> None:
    restarts = sample("plugin_restarts_total", plugin="testkit", reason="exited")
    step = {"id": "fragile", "plugin": "t_crash_once", "retry": {"max_attempts": 2, "initial_delay_s": 0.1}}
    finished, events = await run(executor, [step])

    assert sample("plugin_restarts_total", plugin="testkit", reason="exited") - restarts == 1
    assert sample("plugin_processes_running", plugin="testkit") == 1
    assert state(finished) == "SUCCEEDED"
    assert step_states(finished)["fragile"] == ("SUCCEEDED", 2)
    assert output(finished, "fragile") == {"survived": True, "attempt": 2}
    retrying = [e.step_state_changed for e in events if e.step_state_changed.state == message_pb2.STEP_STATE_RETRYING]
    assert [r.error.kind for r in retrying] == ["PLUGIN_UNAVAILABLE"]


async def test_a_plugin_past_the_steps_deadline_fails_with_step_timeout(executor) -> None:
    finished, _ = await run(executor, [{"id": "slow", "plugin": "t_sleep", "timeout_s": 0.5}])

    assert state(finished) == "FAILED"
    assert (finished.error.kind, finished.error.step_id) == ("STEP_TIMEOUT", "slow")


async def test_a_bad_plugin_config_fails_the_step_with_invalid_config_naming_the_field(executor) -> None:
    finished, _ = await run(executor, [{"id": "scale", "plugin": "t_scale", "config": {"factor": "ten"}}], {"value": 1})

    assert state(finished) == "FAILED"
    assert (finished.error.kind, finished.error.step_id) == ("INVALID_CONFIG", "scale")
    assert "config.factor" in finished.error.message and "t_scale" in finished.error.message


async def test_an_unknown_plugin_fails_the_step_clearly(executor) -> None:
    finished, _ = await run(executor, [{"id": "ghost", "plugin": "no_such_plugin"}])

    assert state(finished) == "FAILED"
    assert (finished.error.kind, finished.error.step_id) == ("PLUGIN_NOT_FOUND", "ghost")
    assert "no_such_plugin" in finished.error.message
    # Only plugins the host resolved become label values: a definition cannot grow the metric.
    families = [family for family in REGISTRY.collect() if family.name == "plugin_call_duration_seconds"]
    timed = {sample.labels["plugin"] for family in families for sample in family.samples}
    assert "no_such_plugin" not in timed


async def test_an_unknown_step_class_fails_the_step_with_invalid_config(executor) -> None:
    step = {"id": "gone", "module": "billing.nothing", "step_class": "Missing"}
    finished, _ = await run(executor, [step])

    assert state(finished) == "FAILED"
    assert finished.error.kind == "INVALID_CONFIG"
    assert "billing.nothing" in finished.error.message
