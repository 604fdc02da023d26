"""The run store's group commit: decisions of several runs share a transaction, yet
each is stored, or refused, on its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from ia_executor.store import MIGRATIONS, Commit, RunRow, RunStore, StoredEvent
from ia_service_kit.database import Database
from ia_service_kit.identity import DEFAULT_TENANT


@pytest.fixture
async def store(tmp_path: Path, database_url: str | None):
    url = database_url or f"sqlite:///{tmp_path / 'executor.db'}"
    database = Database(url, service="executor", migrations=MIGRATIONS)
    store = RunStore(database)
    yield store
    await store.close()
    database.close()


def new_run(run_id: str, request_id: str | None = None) -> tuple[RunRow, Commit]:
    """A PENDING run and its first decision: one event, one step run, RUNNING."""
    row = RunRow(run_id, "test", 0, "PENDING", {"n": 1}, None, None, None, request_id, 1.0, None, None, 0)
    first = Commit(run_id, signal={"start": {"time": 1.0}}, signal_position=0)
    first.events.append(StoredEvent(run_id, 1, 1.0, {"run_state_changed": {"state": "RUN_STATE_RUNNING"}}))
    first.new_steps.append(step("a", "RUNNING", position=1))
    first.run = {
        "state": "RUNNING",
        "start_time": 1.0,
        "end_time": None,
        "outputs": None,
        "error": None,
        "last_sequence": 1,
    }
    return row, first


def step(step_id: str, state: str, position: int) -> dict:
    return {
        "step_id": step_id,
        "iteration": 0,
        "position": position,
        "state": state,
        "attempts": 1,
        "start_time": 1.0,
        "end_time": None,
        "input": {"n": 1},
        "output": None,
        "error": None,
        "idempotency_key": f"{step_id}/0",
    }


def finish(run_id: str) -> Commit:
    """The decision that ends a run started by new_run."""
    commit = Commit(run_id, signal={"done": {}}, signal_position=1)
    commit.events.append(StoredEvent(run_id, 2, 2.0, {"run_state_changed": {"state": "RUN_STATE_SUCCEEDED"}}))
    commit.changed_steps.append(dict(step("a", "SUCCEEDED", position=1), output={"m": 2}, end_time=2.0))
    commit.run = {
        "state": "SUCCEEDED",
        "start_time": 1.0,
        "end_time": 2.0,
        "outputs": {"m": 2},
        "error": None,
        "last_sequence": 2,
    }
    return commit


async def test_decisions_written_together_are_each_stored(store: RunStore) -> None:
    rows = [new_run(f"run-{i}") for i in range(3)]
    await asyncio.gather(*(store.create_run(row, {"name": "test"}, first) for row, first in rows))
    await asyncio.gather(store.commit(finish("run-0")), store.commit(finish("run-1")))

    for run_id, state in (("run-0", "SUCCEEDED"), ("run-1", "SUCCEEDED"), ("run-2", "RUNNING")):
        view = await asyncio.to_thread(store.view, run_id)
        assert view is not None and view.row.state == state
        assert [(s["step_id"], s["state"]) for s in view.steps] == [("a", state)]
        _, last, events = await asyncio.to_thread(store.events_after, run_id, 0)
        assert [e.sequence for e in events] == list(range(1, last + 1))
    finished = await asyncio.to_thread(store.view, "run-0")
    assert finished.row.outputs == {"m": 2} and finished.steps[0]["output"] == {"m": 2}
    signals, _ = await asyncio.to_thread(store.journal, "run-0")
    assert signals == [{"start": {"time": 1.0}}, {"done": {}}]


async def test_a_refused_decision_fails_alone(store: RunStore) -> None:
    row, first = new_run("run-0")
    await store.create_run(row, {"name": "test"}, first)
    # Sequence 1 is already taken: this decision breaks the events' primary key.
    clash = Commit("run-0", events=[StoredEvent("run-0", 1, 2.0, {"run_state_changed": {}})], run=dict(first.run))
    other_row, other_first = new_run("run-1")

    results = await asyncio.gather(
        store.commit(clash), store.create_run(other_row, {"name": "test"}, other_first), return_exceptions=True
    )

    assert isinstance(results[0], sa.exc.IntegrityError)
    assert (results[1].run_id, results[1].state) == ("run-1", "RUNNING")
    assert (await asyncio.to_thread(store.view, "run-1")).row.state == "RUNNING"
    _, _, events = await asyncio.to_thread(store.events_after, "run-0", 0)
    assert [e.event for e in events] == [{"run_state_changed": {"state": "RUN_STATE_RUNNING"}}]


async def test_a_request_id_creates_one_run(store: RunStore) -> None:
    first_row, first = new_run("run-0", request_id="req")
    second_row, second = new_run("run-1", request_id="req")
    stored = await asyncio.gather(store.create_run(first_row, {}, first), store.create_run(second_row, {}, second))
    assert [(run.run_id, run.state) for run in stored] == [("run-0", "RUNNING"), ("run-0", "RUNNING")]

    third_row, third = new_run("run-2", request_id="req")
    assert await store.create_run(third_row, {}, third) == stored[0]
    assert await asyncio.to_thread(store.view, "run-1") is None
    assert await asyncio.to_thread(store.view, "run-2") is None


async def test_a_cancelled_caller_still_gets_its_decision_stored(store: RunStore) -> None:
    row, first = new_run("run-0")
    writing = asyncio.ensure_future(store.create_run(row, {}, first))
    await asyncio.sleep(0)  # queued
    writing.cancel()
    await store.close()
    assert (await asyncio.to_thread(store.view, "run-0")).row.state == "RUNNING"


async def test_a_write_after_close_fails_instead_of_waiting(store: RunStore) -> None:
    await store.close()
    row, first = new_run("run-0")
    with pytest.raises(RuntimeError):
        await store.create_run(row, {}, first)


async def test_events_after_finds_a_run_only_for_its_tenant(store: RunStore) -> None:
    row, first = new_run("run-0")
    await store.create_run(row, {"name": "test"}, first)

    found = await asyncio.to_thread(store.events_after, "run-0", 0, DEFAULT_TENANT)
    assert found is not None and [e.sequence for e in found[2]] == [1]
    assert await asyncio.to_thread(store.events_after, "run-0", 0, "other-tenant") is None
    # Without a tenant (a replica's own follow-up reads) any run is found.
    assert await asyncio.to_thread(store.events_after, "run-0", 0) is not None
