"""WatchRun with `batch`: the same events in the same order, several to a message
when they were available together; older watchers still get one per message."""

from executor_testing import finished, linear, start, state
from ia.executor.v1 import request_response_pb2 as rr
from ia_executor.service import BATCH_BYTES
from ia_modules.engine.values import to_struct


def passing(step_id, **values):
    return {"id": step_id, "type": "pass", "config": {"values": values}}


def ten_steps():
    return linear(*(passing(f"s{i}", n=i) for i in range(10)))


async def responses(executor, run_id, **fields):
    return [response async for response in executor.WatchRun(rr.WatchRunRequest(run_id=run_id, **fields))]


def flat(batched):
    return [event for response in batched for event in response.events]


async def test_a_batched_watcher_gets_the_unbatched_events_in_order_and_the_history_in_one_message(executor):
    run_id = (await executor.StartRun(start(ten_steps()))).run.run_id
    assert state(await finished(executor, run_id)) == "SUCCEEDED"
    single = await responses(executor, run_id)
    batched = await responses(executor, run_id, batch=True)
    assert all(response.HasField("event") and not response.events for response in single)
    assert len(single) > 20
    # The run has ended: its whole history was available at once.
    assert len(batched) == 1 and not batched[0].HasField("event")
    assert flat(batched) == [response.event for response in single]


async def test_a_batched_watcher_from_a_sequence_gets_only_the_later_events(executor):
    run_id = (await executor.StartRun(start(ten_steps()))).run.run_id
    everything = [response.event for response in await responses(executor, run_id)]
    middle = everything[len(everything) // 2].sequence
    later = flat(await responses(executor, run_id, batch=True, from_sequence=middle))
    assert later == [event for event in everything if event.sequence > middle]
    assert await responses(executor, run_id, batch=True, from_sequence=everything[-1].sequence) == []


async def test_a_live_batched_watch_sees_every_event_once_up_to_the_final_one(executor):
    review = {
        "id": "review",
        "type": "human_input",
        "human_input": {"prompt": "Go on?", "ui_schema": {"type": "object"}},
    }
    run_id = (await executor.StartRun(start(linear(passing("a"), review, passing("b"))))).run.run_id
    stream = executor.WatchRun(rr.WatchRunRequest(run_id=run_id, batch=True))
    seen = []
    async for response in stream:
        assert response.events and not response.HasField("event")
        seen.extend(response.events)
        if any(event.WhichOneof("kind") == "input_requested" for event in response.events):
            break
    task = (await executor.ListHumanTasks(rr.ListHumanTasksRequest(run_id=run_id))).tasks[0]
    await executor.SubmitHumanInput(rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({})))
    async for response in stream:
        seen.extend(response.events)
    assert seen == [response.event for response in await responses(executor, run_id)]


async def test_a_history_bigger_than_a_message_is_split_in_order(executor):
    big = "x" * (BATCH_BYTES // 3)
    run_id = (await executor.StartRun(start(linear(*(passing(f"s{i}", blob=big) for i in range(4)))))).run.run_id
    single = [response.event for response in await responses(executor, run_id)]
    batched = await responses(executor, run_id, batch=True)
    assert 1 < len(batched) < len(single)
    assert all(response.ByteSize() <= BATCH_BYTES + 1024 for response in batched)
    assert flat(batched) == single
