"""Run ownership on PostgreSQL: leases, takeover and fencing, with two stores (replicas)
over one database; then in-process replicas that share it."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from asyncio.subprocess import PIPE, STDOUT

import grpc
import psycopg
import pytest
import sqlalchemy as sa
from executor_testing import finished, linear, outputs, refused, start, state, step_event, until
from ia.executor.v1 import message_pb2, service_pb2_grpc
from ia.executor.v1 import request_response_pb2 as rr
from ia_executor import records
from ia_modules.engine.values import to_struct
from ia_executor.leases import RunOwnership, _claim, _renew, lease_from_env
from ia_executor.store import MIGRATIONS, Lease, LeaseLost, RunStore, runs
from ia_service_kit.database import Database
from test_executor_store import finish, new_run

FINAL = records.FINAL_RUN_STATES


@pytest.fixture
async def replicas(postgres_url: str):
    """Two stores over one PostgreSQL database, as two executor replicas hold them."""
    opened = []
    for owner in ("replica-a", "replica-b"):
        database = Database(postgres_url, service="executor", migrations=MIGRATIONS)
        opened.append((database, RunStore(database, Lease(owner, 30.0))))
    yield [store for _, store in opened]
    for database, store in opened:
        await store.close()
        database.close()


def lapse(store: RunStore, run_id: str) -> None:
    """What a long pause of the owner looks like to the others: its lease is in the past."""
    with store._database.write() as connection:
        connection.execute(runs.update().where(runs.c.run_id == run_id).values(lease_expires=0.0))


def stored(store: RunStore, run_id: str) -> tuple[str, str, int, int]:
    with store._database.read() as connection:
        row = connection.execute(
            sa.select(runs.c.state, runs.c.owner, runs.c.epoch, runs.c.last_sequence).where(runs.c.run_id == run_id)
        ).one()
    return tuple(row)


async def test_a_replica_that_lost_its_lease_cannot_commit_and_the_new_owner_can(replicas) -> None:
    a, b = replicas
    row, first = new_run("r1")
    await a.create_run(row, {"name": "test"}, first)
    a.own("r1", 1)
    assert stored(a, "r1") == ("RUNNING", "replica-a", 1, 1)

    lapse(a, "r1")
    claims = await b.in_writer(lambda c: _claim(c, b._lease, FINAL, 10))
    assert [(claim.row.run_id, claim.epoch, claim.previous_owner) for claim in claims] == [("r1", 2, "replica-a")]
    assert claims[0].definition == {"name": "test"} and claims[0].row.last_sequence == 1

    with pytest.raises(LeaseLost, match="we hold epoch 1, the store has 2"):
        await a.commit(finish("r1"))
    assert stored(a, "r1") == ("RUNNING", "replica-b", 2, 1)  # the stale write left nothing behind
    lost = await a.in_writer(lambda c: _renew(c, a._lease, FINAL, {"r1"}))
    assert lost == {"r1"}

    b.own("r1", 2)
    await b.commit(finish("r1"))
    assert stored(b, "r1") == ("SUCCEEDED", "replica-b", 2, 2)
    # An ended run is nobody's to claim.
    lapse(b, "r1")
    assert await a.in_writer(lambda c: _claim(c, a._lease, FINAL, 10)) == []


async def test_fencing_refuses_only_the_stale_run_of_a_shared_batch(replicas) -> None:
    a, b = replicas
    for run_id in ("kept", "taken"):
        row, first = new_run(run_id)
        await a.create_run(row, {}, first)
        a.own(run_id, 1)
    lapse(a, "taken")
    assert len(await b.in_writer(lambda c: _claim(c, b._lease, FINAL, 10))) == 1
    outcomes = await asyncio.gather(a.commit(finish("kept")), a.commit(finish("taken")), return_exceptions=True)
    assert outcomes[0] is None and isinstance(outcomes[1], LeaseLost)
    assert stored(a, "kept")[0] == "SUCCEEDED" and stored(a, "taken")[0] == "RUNNING"


async def test_renewal_keeps_runs_and_release_hands_them_back(replicas) -> None:
    a, b = replicas
    row, first = new_run("r1")
    await a.create_run(row, {}, first)
    taken: list[str] = []

    async def take_over(claim) -> None:
        taken.append(claim.row.run_id)

    async def let_go(run_id: str) -> None:
        raise AssertionError(f"{run_id} was not lost")

    ownership = RunOwnership(a, a._lease, FINAL, take_over=take_over, let_go=let_go, running=lambda: {"r1"})
    assert await ownership.beat() == 0  # renewed, not lost, nothing lapsed
    assert await b.in_writer(lambda c: _claim(c, b._lease, FINAL, 10)) == []
    await ownership.release()
    claims = await b.in_writer(lambda c: _claim(c, b._lease, FINAL, 10))
    assert [(claim.row.run_id, claim.epoch) for claim in claims] == [("r1", 2)]


@pytest.mark.parametrize("raw", ["abc", "0", "-3"])
def test_a_bad_lease_length_is_refused_with_the_variable_named(monkeypatch, raw: str) -> None:
    monkeypatch.setenv("IA_EXECUTOR_LEASE_S", raw)
    with pytest.raises(ValueError, match="IA_EXECUTOR_LEASE_S"):
        lease_from_env()


# ----- replicas: executors in this process sharing one PostgreSQL database ---------------------

_owners = itertools.count()


def short_lease() -> Lease:
    # Short, so a stopped replica's runs are taken over within a test.
    return Lease(f"test-replica-{next(_owners)}", 1.0)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """These tests are about PostgreSQL only."""
    return postgres_url


class GatedRunner:
    """A StepRunner whose steps finish (echoing their input) once the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def run(self, action):
        self.started.set()
        await self.gate.wait()
        return action.input


def kinds(events, step_id: str) -> list[str]:
    return [
        message_pb2.StepState.Name(e.step_state_changed.state).removeprefix("STEP_STATE_")
        for e in events
        if e.WhichOneof("kind") == "step_state_changed" and e.step_state_changed.step_id == step_id
    ]


async def test_a_watcher_on_one_replica_sees_a_run_executed_by_the_other(start_executor) -> None:
    runner_b = GatedRunner()
    a = await start_executor(runner=GatedRunner(), lease=short_lease())
    b = await start_executor(runner=runner_b, lease=short_lease())
    definition = linear({"id": "slow", "plugin": "p"}, {"id": "after", "type": "pass"}, outputs={"x": "{{ after.x }}"})
    async with grpc.aio.insecure_channel(a.address) as on_a, grpc.aio.insecure_channel(b.address) as on_b:
        executor_a = service_pb2_grpc.ExecutorServiceStub(on_a)
        executor_b = service_pb2_grpc.ExecutorServiceStub(on_b)
        run_id = (await executor_b.StartRun(start(definition, {"x": 1}))).run.run_id
        watch = executor_a.WatchRun(rr.WatchRunRequest(run_id=run_id))
        seen = []
        async for response in watch:
            seen.append(response.event)
            if step_event("slow", "RUNNING")(response.event):
                break
        runner_b.gate.set()  # B finishes the step while A's watcher waits for live events
        async for response in watch:
            seen.append(response.event)
        assert kinds(seen, "slow") == ["RUNNING", "SUCCEEDED"] and kinds(seen, "after") == ["RUNNING", "SUCCEEDED"]
        assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))
        on_b_events = [r.event async for r in executor_b.WatchRun(rr.WatchRunRequest(run_id=run_id))]
        assert on_b_events == seen
        run = (await executor_a.GetRun(rr.GetRunRequest(run_id=run_id))).run
        assert state(run) == "SUCCEEDED" and outputs(run) == {"x": 1}


async def test_a_human_input_timeout_fires_once_with_two_replicas_when_its_owner_stops(start_executor) -> None:
    a = await start_executor(runner=GatedRunner(), lease=short_lease())
    b = await start_executor(runner=GatedRunner(), lease=short_lease())
    definition = linear(
        {"id": "prep", "type": "pass", "config": {"values": {"draft": "d"}}},
        {
            "id": "review",
            "type": "human_input",
            "human_input": {
                "prompt": "ok?",
                "ui_schema": {"type": "object"},
                "timeout_s": 1.5,
                "on_timeout": "default",
                "default_response": {"ok": "by default"},
            },
        },
        {"id": "done", "type": "pass", "inputs": {"ok": "{{ review.ok }}"}},
        outputs={"ok": "{{ done.ok }}"},
    )
    async with grpc.aio.insecure_channel(a.address) as on_a, grpc.aio.insecure_channel(b.address) as on_b:
        executor_a = service_pb2_grpc.ExecutorServiceStub(on_a)
        executor_b = service_pb2_grpc.ExecutorServiceStub(on_b)
        run_id = (await executor_a.StartRun(start(definition))).run.run_id
        await until(executor_a, run_id, lambda e: e.WhichOneof("kind") == "input_requested")
        await a.stop(0)  # before the deadline: B takes the run over and owns its timer
        run = await finished(executor_b, run_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"ok": "by default"}
        events = [r.event async for r in executor_b.WatchRun(rr.WatchRunRequest(run_id=run_id))]
        timed_out = await executor_b.ListHumanTasks(
            rr.ListHumanTasksRequest(run_id=run_id, states=[message_pb2.HUMAN_TASK_STATE_TIMED_OUT])
        )
    assert len(timed_out.tasks) == 1
    assert kinds(events, "review").count("SUCCEEDED") == 1
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    takeovers = [e.step_log.message for e in events if "taken over" in e.step_log.message]
    assert len(takeovers) == 1 and "lease epoch 2" in takeovers[0]


async def test_answers_and_cancellations_sent_to_the_other_replica_reach_the_run(start_executor) -> None:
    a = await start_executor(runner=GatedRunner(), lease=short_lease())
    b = await start_executor(runner=GatedRunner(), lease=short_lease())
    review = {"id": "review", "type": "human_input", "human_input": {"prompt": "ok?", "ui_schema": {"type": "object"}}}
    done = {"id": "done", "type": "pass", "inputs": {"ok": "{{ review.ok }}"}}
    definition = linear(review, done, outputs={"ok": "{{ done.ok }}"})
    async with grpc.aio.insecure_channel(a.address) as on_a, grpc.aio.insecure_channel(b.address) as on_b:
        executor_a = service_pb2_grpc.ExecutorServiceStub(on_a)
        executor_b = service_pb2_grpc.ExecutorServiceStub(on_b)
        answered_id = (await executor_a.StartRun(start(definition))).run.run_id
        cancelled_id = (await executor_a.StartRun(start(definition))).run.run_id
        for run_id in (answered_id, cancelled_id):
            await until(executor_a, run_id, lambda e: e.WhichOneof("kind") == "input_requested")

        task = (await executor_b.ListHumanTasks(rr.ListHumanTasksRequest(run_id=answered_id))).tasks[0]
        response = await executor_b.SubmitHumanInput(
            rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"ok": True}), submitter="ann")
        )
        assert message_pb2.HumanTaskState.Name(response.task.state) == "HUMAN_TASK_STATE_SUBMITTED"
        assert response.task.submitter == "ann"
        run = await finished(executor_b, answered_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"ok": True}
        again = await refused(
            executor_b.SubmitHumanInput(rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"ok": 0})))
        )
        assert again.reason == "TASK_NOT_OPEN"

        request = rr.CancelRunRequest(run_id=cancelled_id, reason="no longer needed")
        cancelled = (await executor_b.CancelRun(request)).run
        assert state(cancelled) == "CANCELLED"
        assert state((await executor_a.GetRun(rr.GetRunRequest(run_id=cancelled_id))).run) == "CANCELLED"
        ended = await refused(executor_b.CancelRun(rr.CancelRunRequest(run_id=cancelled_id)))
        assert ended.reason == "RUN_ALREADY_ENDED"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("IA_DATABASE_URL", "nonsense", "is not a database URL"), ("IA_EXECUTOR_LEASE_S", "soon", "IA_EXECUTOR_LEASE_S")],
)
async def test_a_malformed_setting_stops_the_executor_with_one_clear_line(
    postgres_url: str, tmp_path, variable: str, value: str, message: str
) -> None:
    env = {**os.environ, "IA_DATA_DIR": str(tmp_path), "IA_DATABASE_URL": postgres_url, variable: value}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ia_executor.server", "--port", "0", env=env, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert message in output.decode() and "Traceback" not in output.decode()


async def test_a_child_run_taken_over_by_the_other_replica_reports_its_end_to_the_parent(
    start_executor, registry, registry_address, postgres_url: str
) -> None:
    from ia.registry.v1 import request_response_pb2 as registry_rr

    child = linear({"id": "pause", "type": "wait", "wait": {"seconds": 2.0}}, name="sleeper")
    await registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=child))
    call = {"id": "call", "type": "pipeline", "pipeline": {"name": "sleeper"}}
    parent = linear(call, {"id": "after", "type": "pass"})
    a = await start_executor(runner=GatedRunner(), lease=short_lease(), registry=registry_address)
    b = await start_executor(runner=GatedRunner(), lease=short_lease(), registry=registry_address)
    async with grpc.aio.insecure_channel(a.address) as on_a, grpc.aio.insecure_channel(b.address) as on_b:
        executor_a = service_pb2_grpc.ExecutorServiceStub(on_a)
        executor_b = service_pb2_grpc.ExecutorServiceStub(on_b)
        parent_id = (await executor_a.StartRun(start(parent))).run.run_id
        await until(executor_a, parent_id, step_event("call", "RUNNING"))
        while not (children := (await executor_a.ListRuns(rr.ListRunsRequest(pipeline_name="sleeper"))).runs):
            await asyncio.sleep(0.05)
        child_id = children[0].run_id
        # The child's lease lapses (its owner paused, say): B takes the child, A keeps the parent.
        with psycopg.connect(postgres_url) as connection:
            # Renamed too, or A's heartbeat would renew it first.
            connection.execute("UPDATE runs SET owner = 'paused', lease_expires = 0 WHERE run_id = %s", (child_id,))
        events = await until(executor_b, child_id, lambda e: "taken over" in e.step_log.message)
        assert "lease epoch 2" in events[-1].step_log.message
        run = await finished(executor_b, parent_id)
        assert state(run) == "SUCCEEDED"
        with psycopg.connect(postgres_url) as connection:
            rows = connection.execute("SELECT run_id, epoch FROM runs ORDER BY epoch").fetchall()
            left = connection.execute("SELECT count(*) FROM run_requests").fetchone()[0]
        assert rows == [(parent_id, 1), (child_id, 2)] and left == 0
