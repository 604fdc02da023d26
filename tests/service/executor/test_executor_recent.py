"""A watch of a run that just ended here is answered from the history kept in memory
(recent.py): the same events as the store gives, and only to the run's tenant."""

from __future__ import annotations

import grpc
from executor_testing import finished, linear, start, state
from ia.executor.v1 import request_response_pb2 as rr
from ia.executor.v1 import service_pb2_grpc
from ia_executor.recent import RecentRuns
from ia_executor.store import StoredEvent


def ten_steps():
    return linear(*({"id": f"s{i}", "type": "pass", "config": {"values": {"n": i}}} for i in range(10)))


async def watched(executor, run_id: str, from_sequence: int = 0) -> list:
    request = rr.WatchRunRequest(run_id=run_id, batch=True, from_sequence=from_sequence)
    return [event async for response in executor.WatchRun(request) for event in response.events]


async def test_a_kept_history_is_what_the_store_holds_from_any_sequence(start_executor, tmp_path):
    first = await start_executor(data_dir=tmp_path / "shared")
    async with grpc.aio.insecure_channel(first.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run_id = (await executor.StartRun(start(ten_steps()))).run.run_id
        assert state(await finished(executor, run_id)) == "SUCCEEDED"
        from_memory = {after: await watched(executor, run_id, after) for after in (0, 7, 20)}
    # A second executor over the same database has no history in memory: it reads the store.
    second = await start_executor(data_dir=tmp_path / "shared")
    async with grpc.aio.insecure_channel(second.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        from_store = {after: await watched(executor, run_id, after) for after in (0, 7, 20)}
    assert len(from_memory[0]) > 20
    assert from_memory == from_store
    assert [event.sequence for event in from_memory[7]] == list(range(8, len(from_memory[0]) + 1))


def _history(run_id: str) -> list[StoredEvent]:
    return [StoredEvent(run_id, 1, 0.0, {"run_state_changed": {"state": "SUCCEEDED"}})]


def test_a_kept_history_is_only_for_its_tenant_and_the_oldest_goes_first():
    recent = RecentRuns(size=2)
    for run_id in ("a", "b", "c"):
        recent.add(run_id, "acme", _history(run_id))
    assert recent.events("a", "acme") is None  # dropped for the newer ones
    assert recent.events("b", "acme") == _history("b")
    assert recent.events("c", "other") is None  # another tenant: the store decides (not found)


def test_a_history_over_its_size_is_not_kept_and_the_total_size_is_bounded():
    big = [StoredEvent("big", 1, 0.0, {"step_state_changed": {"output": {"text": "x" * 2000}}})]
    recent = RecentRuns(size=10, total_bytes=5000, run_bytes=3000)
    recent.add("huge", "acme", big * 2)  # over the size of one run
    assert recent.events("huge", "acme") is None
    for run_id in ("a", "b", "c"):
        recent.add(run_id, "acme", big)
    # Three of about 2 KB do not fit in 5 KB: the oldest went.
    assert recent.events("a", "acme") is None
    assert recent.events("b", "acme") == big and recent.events("c", "acme") == big
