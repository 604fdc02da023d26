"""The debugger: breakpoints, StepRun, ResumeRun with edited inputs, InspectRun and mocks."""

import grpc
import pytest
from executor_testing import finished, linear, outputs, pipeline, refused, start, state, steps
from ia.executor.v1 import message_pb2, service_pb2_grpc
from ia.executor.v1 import request_response_pb2 as rr
from ia_modules.client import AsyncClient
from ia_modules.engine.values import from_struct, to_struct
from ia_modules.errors import IAError
from test_executor_recovery import ExecutorProcess, processes  # noqa: F401 (a fixture)

PAUSED = message_pb2.RUN_STATE_PAUSED


def chain():
    return linear(
        {"id": "a", "plugin": "work", "inputs": {"n": "{{ parameters.n }}"}},
        {"id": "b", "plugin": "work", "inputs": {"n": "{{ a.n }}", "label": "b"}},
        {"id": "c", "plugin": "work", "inputs": {"n": "{{ b.n }}"}},
        parameters={"n": {"type": "integer", "default": 1}},
        outputs={"n": "{{ c.n }}"},
    )


def breakpoints(*step_ids, condition=""):
    return [message_pb2.Breakpoint(step_id=step_id, condition=condition) for step_id in step_ids]


async def pauses(executor, run_id, count):
    """Watches the run until it has paused ``count`` times; returns all events so far."""
    seen, paused = [], 0
    async for response in executor.WatchRun(rr.WatchRunRequest(run_id=run_id)):
        seen.append(response.event)
        change = response.event.run_state_changed
        if response.event.WhichOneof("kind") == "run_state_changed" and change.state == PAUSED:
            paused += 1
            if paused == count:
                return seen
    raise AssertionError(f"the run ended after {paused} pauses")


def ran(runner):
    return [key.split("/")[1] for key, _attempt in runner.calls]


async def test_a_breakpoint_pauses_before_the_step_with_its_inputs_resolved(executor, runner):
    run = (await executor.StartRun(start(chain(), {"n": 5}, breakpoints=breakpoints("b")))).run
    await pauses(executor, run.run_id, 1)
    run = (await executor.GetRun(rr.GetRunRequest(run_id=run.run_id))).run
    assert state(run) == "PAUSED" and ran(runner) == ["a"]
    assert steps(run) == [("a", 0, "SUCCEEDED", 1), ("b", 0, "PENDING", 0)]
    assert from_struct(run.steps[1].input) == {"n": 5, "label": "b"}

    resumed = (await executor.ResumeRun(rr.ResumeRunRequest(run_id=run.run_id))).run
    assert state(resumed) != "PAUSED"
    run = await finished(executor, run.run_id)
    assert state(run) == "SUCCEEDED" and outputs(run) == {"n": 5} and ran(runner) == ["a", "b", "c"]


async def test_step_run_advances_exactly_one_step_and_edits_are_recorded(executor, runner):
    run_id = (await executor.StartRun(start(chain(), breakpoints=breakpoints("a")))).run.run_id
    await pauses(executor, run_id, 1)
    assert ran(runner) == []

    await executor.StepRun(rr.StepRunRequest(run_id=run_id, inputs=to_struct({"n": 7})))
    events = await pauses(executor, run_id, 2)
    assert ran(runner) == ["a"]
    inspection = await executor.InspectRun(rr.InspectRunRequest(run_id=run_id))
    assert [(p.step_id, p.reason) for p in inspection.paused] == [("b", "stepping")]
    assert from_struct(inspection.paused[0].input) == {"n": 7, "label": "b"}
    assert from_struct(inspection.outputs) == {"a": {"n": 7}}
    (edited,) = [e.step_input_edited for e in events if e.WhichOneof("kind") == "step_input_edited"]
    assert (edited.step_id, list(edited.fields), from_struct(edited.input)) == ("a", ["n"], {"n": 7})

    await executor.StepRun(rr.StepRunRequest(run_id=run_id))
    await pauses(executor, run_id, 3)
    assert ran(runner) == ["a", "b"]
    await executor.ResumeRun(rr.ResumeRunRequest(run_id=run_id))
    run = await finished(executor, run_id)
    assert state(run) == "SUCCEEDED" and outputs(run) == {"n": 7}


async def test_inspect_run_shows_why_a_branch_was_not_taken(executor, runner):
    runner.script["score"] = [{"score": 0.4}]
    branches = pipeline(
        [{"id": "score", "plugin": "work"}, {"id": "high", "plugin": "work"}, {"id": "low", "plugin": "work"}],
        [
            ("score", "high", {"type": "cel", "expr": "result.score > 0.8"}),
            ("score", "low", {"type": "cel", "expr": "result.score <= 0.8"}),
        ],
    )
    run_id = (await executor.StartRun(start(branches, breakpoints=breakpoints("low")))).run.run_id
    await pauses(executor, run_id, 1)
    inspection = await executor.InspectRun(rr.InspectRunRequest(run_id=run_id))
    verdicts = {getattr(c, "to"): c for c in inspection.conditions}
    high = verdicts["high"]
    assert (getattr(high, "from"), high.condition, high.fired) == ("score", "result.score > 0.8", False)
    assert high.reason == "result.score > 0.8 was false" and from_struct(high.values) == {"result": {"score": 0.4}}
    assert verdicts["low"].fired
    assert [p.step_id for p in inspection.paused] == ["low"]
    assert [s.step_id for s in inspection.run.steps if s.state == message_pb2.STEP_STATE_SKIPPED] == ["high"]

    await executor.ResumeRun(rr.ResumeRunRequest(run_id=run_id))
    await finished(executor, run_id)
    ended = await executor.InspectRun(rr.InspectRunRequest(run_id=run_id))
    assert list(ended.conditions) == list(inspection.conditions) and not ended.paused


async def test_mocks_stop_a_step_from_running(executor, runner):
    mocks = to_struct({"b": {"n": 99}})
    run = await finished(executor, (await executor.StartRun(start(chain(), mocks=mocks))).run.run_id)
    assert state(run) == "SUCCEEDED" and outputs(run) == {"n": 99}
    assert ran(runner) == ["a", "c"]
    assert steps(run)[1] == ("b", 0, "SUCCEEDED", 1)


async def test_breakpoints_and_mocks_on_unknown_steps_are_refused_by_name(executor, runner):
    request = start(chain(), breakpoints=breakpoints("a", "ghost"), mocks=to_struct({"phantom": {}}))
    refusal = await refused(executor.StartRun(request))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in refusal.violations] == ["breakpoints[1].step_id", "mocks.phantom"]
    assert "no step 'ghost'" in refusal.message and "its steps: a, b, c" in refusal.violations[0][1]
    refusal = await refused(executor.StartRun(start(chain(), breakpoints=breakpoints("a", condition="input.n >"))))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.violations[0][0] == "breakpoints[0].condition"
    assert runner.calls == []


async def test_resume_and_step_of_a_run_that_is_not_paused(executor, runner):
    run_id = (await executor.StartRun(start(chain()))).run.run_id
    await finished(executor, run_id)
    calls = (executor.ResumeRun(rr.ResumeRunRequest(run_id=run_id)), executor.StepRun(rr.StepRunRequest(run_id=run_id)))
    for call in calls:
        refusal = await refused(call)
        assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION and refusal.reason == "RUN_NOT_PAUSED"
        assert refusal.metadata["state"] == "SUCCEEDED"
    refusal = await refused(executor.ResumeRun(rr.ResumeRunRequest(run_id="nope")))
    assert refusal.code == grpc.StatusCode.NOT_FOUND
    refusal = await refused(executor.InspectRun(rr.InspectRunRequest(run_id="nope")))
    assert refusal.code == grpc.StatusCode.NOT_FOUND

    run_id = (await executor.StartRun(start(chain(), breakpoints=breakpoints("a")))).run.run_id
    await pauses(executor, run_id, 1)
    refusal = await refused(executor.StepRun(rr.StepRunRequest(run_id=run_id, step_id="c")))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and refusal.violations[0][0] == "step_id"
    assert "paused: a" in refusal.message


async def test_a_pause_survives_an_executor_restart(tmp_path, processes):
    passes = linear(
        {"id": "a", "type": "pass", "config": {"values": {"n": 1}}},
        {"id": "b", "type": "pass", "inputs": {"n": "{{ a.n }}"}},
        {"id": "c", "type": "pass", "inputs": {"n": "{{ b.n }}"}},
        outputs={"n": "{{ c.n }}"},
    )
    first = ExecutorProcess(tmp_path / "data")
    processes.append(first)
    async with grpc.aio.insecure_channel(await first.start()) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run_id = (await executor.StartRun(start(passes, breakpoints=breakpoints("b", "c")))).run.run_id
        await pauses(executor, run_id, 1)
        await executor.StepRun(rr.StepRunRequest(run_id=run_id, inputs=to_struct({"n": 2})))
        await pauses(executor, run_id, 2)
    await first.kill()

    second = ExecutorProcess(tmp_path / "data")
    processes.append(second)
    async with grpc.aio.insecure_channel(await second.start()) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        inspection = await executor.InspectRun(rr.InspectRunRequest(run_id=run_id))
        assert state(inspection.run) == "PAUSED"
        assert [(p.step_id, from_struct(p.input)) for p in inspection.paused] == [("c", {"n": 2})]
        await executor.ResumeRun(rr.ResumeRunRequest(run_id=run_id))
        run = await finished(executor, run_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"n": 2}
    await second.kill()


async def test_the_async_client_debugs_a_run(executor_server_, runner):
    async with AsyncClient(executor_server_.address) as client:
        run = await client.start_run(
            chain(), inputs={"n": 20}, breakpoints=[("c", "input.n > 10")], mocks={"a": {"n": 30}}
        )
        run = await client.wait_run(run.run_id)
        assert run.state == PAUSED and ran(runner) == ["b"]
        inspection = await client.inspect_run(run.run_id)
        assert [p.step_id for p in inspection.paused] == ["c"]
        run = await client.step_run(run.run_id, inputs={"n": 5})
        run = await client.wait_run(run.run_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"n": 5}
        with pytest.raises(IAError) as refusal:
            await client.resume_run(run.run_id)
        assert refusal.value.code == grpc.StatusCode.FAILED_PRECONDITION and refusal.value.reason == "RUN_NOT_PAUSED"
