"""Human input tasks, and watching a run's events with reconnection."""

import asyncio

import grpc
from executor_testing import finished, linear, outputs, refused, start, state, step_event, steps, until
from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia_modules.engine.values import to_struct

UI_SCHEMA = {
    "type": "object",
    "required": ["approved"],
    "properties": {"approved": {"type": "boolean", "ui:widget": "radio"}, "note": {"type": "string"}},
}


def review(**spec):
    return {
        "id": "review",
        "type": "human_input",
        "human_input": {"prompt": "Publish this?", "ui_schema": UI_SCHEMA, "assignees": ["editors"], **spec},
        "inputs": {"draft": "{{ parameters.draft }}"},
    }


def approval_pipeline(**spec):
    return linear(
        review(**spec),
        {"id": "publish", "type": "pass", "inputs": {"approved": "{{ review.approved }}"}},
        outputs={"approved": "{{ publish.approved }}"},
    )


async def open_task(executor, run_id):
    await until(executor, run_id, lambda e: e.WhichOneof("kind") == "input_requested")
    tasks = (await executor.ListHumanTasks(rr.ListHumanTasksRequest(run_id=run_id))).tasks
    assert len(tasks) == 1
    return tasks[0]


async def test_human_input_submit_resumes_the_run_with_the_answer(executor):
    run_id = (await executor.StartRun(start(approval_pipeline(), {"draft": "text"}))).run.run_id
    task = await open_task(executor, run_id)
    waiting = (await executor.GetRun(rr.GetRunRequest(run_id=run_id))).run
    assert state(waiting) == "WAITING_FOR_INPUT" and steps(waiting) == [("review", 0, "WAITING", 1)]
    assert (task.prompt, list(task.assignees), task.step_id, task.pipeline_name) == (
        "Publish this?",
        ["editors"],
        "review",
        "test",
    )
    assert dict(task.data) == {"draft": "text"} and not task.HasField("deadline")
    assert message_pb2.HumanTaskState.Name(task.state) == "HUMAN_TASK_STATE_OPEN"
    response = await executor.SubmitHumanInput(
        rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"approved": True}), submitter="ann")
    )
    assert message_pb2.HumanTaskState.Name(response.task.state) == "HUMAN_TASK_STATE_SUBMITTED"
    assert response.task.submitter == "ann" and dict(response.task.response) == {"approved": True}
    run = await finished(executor, run_id)
    assert state(run) == "SUCCEEDED" and outputs(run) == {"approved": True}
    assert dict(run.steps[0].output) == {"approved": True}
    again = await refused(
        executor.SubmitHumanInput(rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"approved": False})))
    )
    assert (again.code, again.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TASK_NOT_OPEN")
    assert (await executor.ListHumanTasks(rr.ListHumanTasksRequest(run_id=run_id))).tasks == []
    submitted = await executor.ListHumanTasks(
        rr.ListHumanTasksRequest(run_id=run_id, states=[message_pb2.HUMAN_TASK_STATE_SUBMITTED])
    )
    assert [t.task_id for t in submitted.tasks] == [task.task_id]


async def test_invalid_submission_is_refused_and_the_task_stays_open(executor):
    run_id = (await executor.StartRun(start(approval_pipeline(), {"draft": "text"}))).run.run_id
    task = await open_task(executor, run_id)
    refusal = await refused(
        executor.SubmitHumanInput(rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"approved": "yes"})))
    )
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT")
    assert refusal.violations[0][0] == "data.approved" and "boolean" in refusal.violations[0][1]
    missing = await refused(executor.SubmitHumanInput(rr.SubmitHumanInputRequest(task_id=task.task_id)))
    assert "approved" in missing.violations[0][1]
    still = (await executor.ListHumanTasks(rr.ListHumanTasksRequest(run_id=run_id))).tasks
    assert [t.task_id for t in still] == [task.task_id]
    assert state((await executor.GetRun(rr.GetRunRequest(run_id=run_id))).run) == "WAITING_FOR_INPUT"
    unknown = await refused(executor.SubmitHumanInput(rr.SubmitHumanInputRequest(task_id="nope")))
    assert (unknown.code, unknown.reason) == (grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")


async def test_input_timeout_applies_on_timeout(executor):
    definition = approval_pipeline(timeout_s=0.05, on_timeout="default", default_response={"approved": False})
    run_id = (await executor.StartRun(start(definition, {"draft": "text"}))).run.run_id
    run = await finished(executor, run_id)
    assert state(run) == "SUCCEEDED" and outputs(run) == {"approved": False}
    closed = await executor.ListHumanTasks(
        rr.ListHumanTasksRequest(run_id=run_id, states=[message_pb2.HUMAN_TASK_STATE_TIMED_OUT])
    )
    assert len(closed.tasks) == 1 and closed.tasks[0].HasField("deadline")
    failing = approval_pipeline(timeout_s=0.05)
    run = await finished(executor, (await executor.StartRun(start(failing, {"draft": "x"}))).run.run_id)
    assert state(run) == "FAILED" and run.error.kind == "HUMAN_INPUT_TIMEOUT"


async def test_cancelling_a_waiting_run_cancels_its_task(executor):
    run_id = (await executor.StartRun(start(approval_pipeline(), {"draft": "text"}))).run.run_id
    task = await open_task(executor, run_id)
    await executor.CancelRun(rr.CancelRunRequest(run_id=run_id))
    refusal = await refused(
        executor.SubmitHumanInput(rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"approved": True})))
    )
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION and "CANCELLED" in refusal.message


async def test_list_human_tasks_pages(executor):
    for _ in range(3):
        await executor.StartRun(start(approval_pipeline(), {"draft": "d"}))
    seen, token = [], ""
    for _ in range(50):
        page = await executor.ListHumanTasks(rr.ListHumanTasksRequest(page_size=2, page_token=token))
        seen += [t.task_id for t in page.tasks]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 3


def kinds(events):
    return [e.WhichOneof("kind") for e in events]


async def test_watch_replays_a_finished_run_and_closes(executor):
    run_id = (
        await executor.StartRun(start(linear({"id": "a", "type": "pass"}, {"id": "b", "type": "pass"})))
    ).run.run_id
    events = [r.event async for r in executor.WatchRun(rr.WatchRunRequest(run_id=run_id))]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    states = [
        message_pb2.RunState.Name(e.run_state_changed.state)
        for e in events
        if e.WhichOneof("kind") == "run_state_changed"
    ]
    assert states == ["RUN_STATE_PENDING", "RUN_STATE_RUNNING", "RUN_STATE_SUCCEEDED"]
    assert kinds(events)[-2:] == ["outputs", "run_state_changed"]
    assert all(e.run_id == run_id and e.time.seconds for e in events)
    tail = [r.event async for r in executor.WatchRun(rr.WatchRunRequest(run_id=run_id, from_sequence=len(events) - 2))]
    assert [e.sequence for e in tail] == [len(events) - 1, len(events)]
    assert [r async for r in executor.WatchRun(rr.WatchRunRequest(run_id=run_id, from_sequence=len(events)))] == []


async def test_watch_reconnects_from_a_sequence_number_without_gaps_or_duplicates(executor):
    run_id = (await executor.StartRun(start(approval_pipeline(), {"draft": "text"}))).run.run_id
    first = []
    stream = executor.WatchRun(rr.WatchRunRequest(run_id=run_id))
    async for response in stream:
        first.append(response.event)
        if response.event.WhichOneof("kind") == "input_requested":
            break
    stream.cancel()
    task = first[-1].input_requested
    assert task.task_id and message_pb2.HumanTaskState.Name(task.state) == "HUMAN_TASK_STATE_OPEN"
    resumed = executor.WatchRun(rr.WatchRunRequest(run_id=run_id, from_sequence=first[-1].sequence))
    live = asyncio.ensure_future(_collect(resumed))
    await asyncio.sleep(0)
    await executor.SubmitHumanInput(
        rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"approved": True}))
    )
    rest = await live
    sequences = [e.sequence for e in first + rest]
    assert sequences == list(range(1, len(sequences) + 1))
    assert kinds(rest)[-1] == "run_state_changed" and "outputs" in kinds(rest)
    review_states = [
        message_pb2.StepState.Name(e.step_state_changed.state)
        for e in first + rest
        if e.WhichOneof("kind") == "step_state_changed" and e.step_state_changed.step_id == "review"
    ]
    assert review_states == ["STEP_STATE_WAITING", "STEP_STATE_SUCCEEDED"]


async def _collect(stream):
    return [r.event async for r in stream]


async def test_watch_streams_live_events_of_a_running_step(executor, runner):
    runner.script["slow"] = ["hang"]
    run_id = (await executor.StartRun(start(linear({"id": "slow", "plugin": "p"})))).run.run_id
    events = await until(executor, run_id, step_event("slow", "RUNNING"))
    assert events[-1].step_state_changed.attempt == 1
    await executor.CancelRun(rr.CancelRunRequest(run_id=run_id))
    run = await finished(executor, run_id)
    assert state(run) == "CANCELLED"
