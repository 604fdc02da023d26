"""The client's run helpers: watching with reconnects, waiting, human input."""

from __future__ import annotations

import grpc
import pytest
from executor_double import RUN_ID, ExecutorDouble, state_event, step_event

from ia.executor.v1 import message_pb2
from ia_modules import AsyncClient, Client, IAError

SUCCEEDED = message_pb2.RUN_STATE_SUCCEEDED
RUNNING = message_pb2.RUN_STATE_RUNNING
WAITING = message_pb2.RUN_STATE_WAITING_FOR_INPUT


def five_events() -> list[message_pb2.RunEvent]:
    return [
        state_event(1, RUNNING),
        step_event(2, "fetch", message_pb2.STEP_STATE_RUNNING),
        step_event(3, "fetch", message_pb2.STEP_STATE_SUCCEEDED),
        step_event(4, "score", message_pb2.STEP_STATE_SUCCEEDED),
        state_event(5, SUCCEEDED),
    ]


def test_watch_run_resumes_after_a_broken_stream_from_the_last_sequence(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.breaks = [2, 1]
    with Client(executor.endpoint) as client:
        sequences = [event.sequence for event in client.watch_run(RUN_ID)]
    assert sequences == [1, 2, 3, 4, 5]
    assert executor.watch_requests == [0, 2, 3]


def test_watch_run_asks_for_batches_and_yields_their_events_one_by_one(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.batch_size = 2
    executor.breaks = [3]
    with Client(executor.endpoint) as client:
        sequences = [event.sequence for event in client.watch_run(RUN_ID)]
    assert sequences == [1, 2, 3, 4, 5]
    # The break came after a partial batch: the stream reopened after its last event.
    assert executor.watch_requests == [0, 3] and executor.watch_batched == [True, True]


def test_watch_run_starts_after_from_sequence(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    with Client(executor.endpoint) as client:
        assert [e.sequence for e in client.watch_run(RUN_ID, from_sequence=3)] == [4, 5]


def test_watch_run_gives_up_after_the_reconnect_budget(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.breaks = [1, 0, 0, 0]
    seen = []
    with Client(executor.endpoint) as client, pytest.raises(IAError) as raised:
        for event in client.watch_run(RUN_ID, reconnect_attempts=2):
            seen.append(event.sequence)
    assert seen == [1]
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE
    assert executor.watch_requests == [0, 1, 1]


def test_watch_run_does_not_retry_a_stream_that_never_delivered(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.breaks = [0]
    with Client(executor.endpoint) as client, pytest.raises(IAError):
        list(client.watch_run(RUN_ID))
    assert executor.watch_requests == [0]


def test_wait_run_returns_the_final_run_and_shows_every_event(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.run.state = SUCCEEDED
    seen: list[int] = []
    with Client(executor.endpoint) as client:
        run = client.wait_run(RUN_ID, on_event=lambda event: seen.append(event.sequence))
    assert run.state == SUCCEEDED
    assert seen == [1, 2, 3, 4, 5]


def waiting_history() -> list[message_pb2.RunEvent]:
    # The run waited once (answered), then waits again at sequence 5.
    return [
        state_event(1, RUNNING),
        state_event(2, WAITING),
        state_event(3, RUNNING),
        step_event(4, "review", message_pb2.STEP_STATE_SUCCEEDED),
        state_event(5, WAITING),
    ]


def open_task(task_id: str = "task-1") -> message_pb2.HumanTask:
    return message_pb2.HumanTask(
        task_id=task_id, run_id=RUN_ID, step_id="review", state=message_pb2.HUMAN_TASK_STATE_OPEN, prompt="ok?"
    )


def test_wait_run_stops_at_waiting_for_input_when_a_task_is_open(executor: ExecutorDouble) -> None:
    executor.events = waiting_history()[:2]
    executor.run.state = WAITING
    executor.tasks = [open_task()]
    seen: list[int] = []
    with Client(executor.endpoint) as client:
        run = client.wait_run(RUN_ID, on_event=lambda event: seen.append(event.sequence))
    assert run.state == WAITING
    assert seen == [1, 2]


def test_wait_run_passes_a_replayed_wait_that_was_already_answered(executor: ExecutorDouble) -> None:
    # History says WAITING at 2, but the run has moved on: only the wait at 5 counts.
    executor.events = [*waiting_history(), state_event(6, SUCCEEDED)]
    executor.run.state = SUCCEEDED
    with Client(executor.endpoint) as client:
        seen: list[int] = []
        run = client.wait_run(RUN_ID, on_event=lambda event: seen.append(event.sequence))
    assert run.state == SUCCEEDED
    assert seen == [1, 2, 3, 4, 5, 6]


def test_wait_run_ignores_waiting_without_an_open_task(executor: ExecutorDouble) -> None:
    # Just after an answer the run may still read WAITING_FOR_INPUT; no open task
    # means it is about to go on.
    executor.events = [*waiting_history()[:2], state_event(3, RUNNING), state_event(4, SUCCEEDED)]
    executor.run.state = WAITING
    with Client(executor.endpoint) as client:
        seen: list[int] = []
        client.wait_run(RUN_ID, on_event=lambda event: seen.append(event.sequence))
    assert seen == [1, 2, 3, 4]


def test_submit_human_input_sends_the_answer_as_a_struct(executor: ExecutorDouble) -> None:
    executor.tasks = [open_task()]
    with Client(executor.endpoint) as client:
        task = client.submit_human_input("task-1", {"approved": True, "notes": {"n": 2}}, submitter="ana")
        assert [t.task_id for t in client.list_human_tasks(run_id=RUN_ID)] == []
    assert task.state == message_pb2.HUMAN_TASK_STATE_SUBMITTED
    assert executor.submitted == [("task-1", {"approved": True, "notes": {"n": 2.0}})]


def test_get_run_of_an_unknown_run_raises_iaerror_with_the_reason(executor: ExecutorDouble) -> None:
    with Client(executor.endpoint) as client, pytest.raises(IAError) as raised:
        client.get_run("nope")
    error = raised.value
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert error.reason == "RUN_NOT_FOUND"
    assert error.metadata == {"run_id": "nope"}
    assert not error.unreachable
    assert str(error) == "NOT_FOUND: run 'nope' not found [RUN_NOT_FOUND]"


def test_start_run_by_name_sends_revision_inputs_and_request_id(executor: ExecutorDouble) -> None:
    with Client(executor.endpoint) as client:
        run = client.start_run("etl", revision=2, inputs={"topic": "ai"}, request_id="r-1")
    assert run.run_id == RUN_ID
    request = executor.started
    assert (request.pipeline_name, request.revision, request.request_id) == ("etl", 2, "r-1")
    assert dict(request.inputs) == {"topic": "ai"}


async def test_async_watch_run_resumes_after_a_broken_stream(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.breaks = [3]
    async with AsyncClient(executor.endpoint) as client:
        sequences = [event.sequence async for event in client.watch_run(RUN_ID)]
    assert sequences == [1, 2, 3, 4, 5]
    assert executor.watch_requests == [0, 3]


async def test_async_watch_run_yields_batched_events_one_by_one(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.batch_size = 3
    async with AsyncClient(executor.endpoint) as client:
        sequences = [event.sequence async for event in client.watch_run(RUN_ID)]
    assert sequences == [1, 2, 3, 4, 5] and executor.watch_batched == [True]


async def test_async_watch_run_gives_up_after_the_reconnect_budget(executor: ExecutorDouble) -> None:
    executor.events = five_events()
    executor.breaks = [1, 0]
    async with AsyncClient(executor.endpoint) as client:
        with pytest.raises(IAError) as raised:
            async for _ in client.watch_run(RUN_ID, reconnect_attempts=1):
                pass
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE


async def test_async_wait_run_stops_at_waiting_for_input(executor: ExecutorDouble) -> None:
    executor.events = waiting_history()
    executor.run.state = WAITING
    executor.tasks = [open_task()]
    async with AsyncClient(executor.endpoint) as client:
        run = await client.wait_run(RUN_ID)
        tasks = [t.task_id async for t in client.list_human_tasks(run_id=RUN_ID)]
        task = await client.submit_human_input("task-1", {"approved": True})
    assert run.state == WAITING
    assert tasks == ["task-1"]
    assert task.state == message_pb2.HUMAN_TASK_STATE_SUBMITTED


async def test_async_wait_run_passes_waiting_without_an_open_task(executor: ExecutorDouble) -> None:
    executor.events = [*waiting_history()[:2], state_event(3, SUCCEEDED)]
    executor.run.state = WAITING
    async with AsyncClient(executor.endpoint) as client:
        seen: list[int] = []
        await client.wait_run(RUN_ID, on_event=lambda event: seen.append(event.sequence))
    assert seen == [1, 2, 3]


async def test_async_errors_are_iaerrors(executor: ExecutorDouble) -> None:
    async with AsyncClient(executor.endpoint) as client:
        with pytest.raises(IAError) as raised:
            await client.get_run("nope")
        run = await client.start_run("etl", inputs={"n": 1})
        dry = await client.dry_run("etl", inputs={"n": 1}, mocks={"a": {"x": 1}})
    assert raised.value.reason == "RUN_NOT_FOUND"
    assert run.run_id == RUN_ID
    assert dry.state == SUCCEEDED
    assert dict(executor.dry_run_request.mocks) == {"a": {"x": 1.0}}
