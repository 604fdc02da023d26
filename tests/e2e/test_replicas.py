"""A stack on PostgreSQL with two executor replicas behind Envoy: one is killed with
SIGKILL while 50 runs are in flight, and the other finishes them.

The stack's processes are real (`stack.up(..., executor_replicas=2)`), PostgreSQL
is the test worker's throwaway cluster, and each run's steps have a side effect: a
POST to a ledger server that records the step's Idempotency-Key, as an API that
charges a card would. The ledger keeps each key's effect once; a repeat of a key
(a step in flight on the killed replica, run again by the other) is counted.

A core slice of the end-to-end suite also runs against this stack (below): the same
tests as on the SQLite stack, through the same Envoy front door.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import test_runs
import test_sdk
from e2e_http import send_json

from ia.executor.v1 import message_pb2 as executor_messages
from ia_modules import stack
from ia_modules.client import AsyncClient, Client

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("replicas")]

RUNS = 50
LEASE_S = "2"  # short, so the killed replica's runs are taken over within the test


class _Ledger(http.server.BaseHTTPRequestHandler):
    """Records each POST's Idempotency-Key, answering after `delay_s` (a slow API)."""

    keys: list[str]
    lock: threading.Lock
    delay_s: float

    def do_POST(self) -> None:
        key = self.headers.get("Idempotency-Key", "")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.keys.append(key)
        time.sleep(self.delay_s)
        send_json(self, {"recorded": key})

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the ledger, not the log."""


@pytest.fixture
def ledger() -> Iterator[tuple[str, list[str]]]:
    keys: list[str] = []
    handler = type("Ledger", (_Ledger,), {"keys": keys, "lock": threading.Lock(), "delay_s": 0.5})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/charge", keys
    server.shutdown()
    server.server_close()


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Variables the stack's processes inherit while they are started."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def replicas_database(postgres_cluster) -> Iterator[str]:
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(scope="module")
def replicas_stack(tmp_path_factory: pytest.TempPathFactory, replicas_database: str) -> Iterator[stack.StackStatus]:
    data_dir = tmp_path_factory.mktemp("replicas")
    ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
    with environment(IA_DATABASE_URL=replicas_database, IA_EXECUTOR_LEASE_S=LEASE_S):
        # Generous: a loaded machine starts six Python processes slowly.
        status = stack.up(data_dir, ports=ports, executor_replicas=2, timeout_s=180)
    yield status
    stack.down(data_dir)


@pytest.fixture(scope="module")
def endpoint(replicas_stack: stack.StackStatus) -> str:
    """Envoy's front door of this stack (replaces the SQLite stack's for this module)."""
    return f"127.0.0.1:{replicas_stack.services[stack.ENVOY].port}"


@pytest.fixture(scope="module")
def base_url(endpoint: str) -> str:
    return f"http://{endpoint}"


@pytest.fixture(scope="module")
def client(endpoint: str) -> Iterator[Client]:
    with Client(endpoint) as client:
        yield client


# The core slice: tests of the SQLite stack, run again through this stack's Envoy.
# Wrapped rather than imported, so that they run in this module's xdist group.


def test_core_start_run_over_rest(base_url: str, client: Client, example, pipeline_name: str) -> None:
    test_runs.test_start_run_over_rest(base_url, client, example, pipeline_name)


def test_core_an_approval_answered_on_any_replica(base_url: str, client: Client, example, pipeline_name: str) -> None:
    test_runs.test_an_approval_waits_for_a_person_then_takes_the_approved_branch(
        base_url, client, example, pipeline_name
    )


def test_core_create_update_and_read_back_versions(client: Client, example, pipeline_name: str) -> None:
    test_sdk.test_create_update_and_read_back_versions(client, example, pipeline_name)


def test_core_errors_arrive_as_one_error_type_with_the_reason(client: Client) -> None:
    test_sdk.test_errors_arrive_as_one_error_type_with_the_reason(client)


def test_core_validate_reports_findings_without_storing(client: Client, example, pipeline_name: str) -> None:
    test_sdk.test_validate_reports_findings_without_storing(client, example, pipeline_name)


def charging_pipeline(name: str, ledger_url: str) -> dict[str, Any]:
    """charge (a slow POST), a pause, then a receipt (another POST): two side effects per run."""
    post = {
        "plugin": "http_request",
        "config": {"url": ledger_url, "method": "POST", "json": {}},
        # The plugin host turns calls away beyond 16 at once; those never reached the ledger.
        "retry": {
            "max_attempts": 40,
            "initial_delay_s": 0.2,
            "backoff_multiplier": 1.5,
            "max_delay_s": 1,
            "jitter": 0.5,
        },
    }
    return {
        "name": name,
        "steps": [
            {"id": "charge", **post},
            {"id": "pause", "type": "wait", "wait": {"seconds": 1}},
            {"id": "receipt", **post},
        ],
        "flow": {"transitions": [{"from": "charge", "to": "pause"}, {"from": "pause", "to": "receipt"}]},
    }


def owners(database_url: str) -> dict[str, str]:
    """run id -> the owner id of each unfinished run, read from PostgreSQL."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT run_id, owner FROM runs WHERE end_time IS NULL").fetchall()
    return dict(rows)


def step_states(events: list[executor_messages.RunEvent]) -> Counter[tuple[str, str]]:
    return Counter(
        (e.step_state_changed.step_id, executor_messages.StepState.Name(e.step_state_changed.state))
        for e in events
        if e.WhichOneof("kind") == "step_state_changed"
    )


def test_the_stack_runs_two_healthy_executor_replicas(replicas_stack: stack.StackStatus) -> None:
    status = stack.status(replicas_stack.data_dir)
    assert {"executor", "executor-2"} <= set(status.services)
    config = (Path(replicas_stack.data_dir) / "envoy.yaml").read_text()
    assert str(status.services["executor-2"].port) in config


async def test_a_watcher_through_envoy_follows_a_run_on_either_replica(
    replicas_stack: stack.StackStatus, endpoint: str, pipeline_name: str
) -> None:
    definition = {
        "name": pipeline_name,
        "steps": [{"id": "pause", "type": "wait", "wait": {"seconds": 0.5}}, {"id": "done", "type": "pass"}],
        "flow": {"transitions": [{"from": "pause", "to": "done"}]},
    }
    async with AsyncClient(endpoint, timeout=30) as client:
        # Round robin: consecutive calls go to different replicas, so some watchers
        # are on the replica that does not execute the run they watch.
        for _ in range(4):
            run = await client.start_run(definition)
            events = [event async for event in client.watch_run(run.run_id)]
            assert executor_messages.RunState.Name(events[-1].run_state_changed.state) == "RUN_STATE_SUCCEEDED"
            assert step_states(events)[("done", "STEP_STATE_SUCCEEDED")] == 1


async def test_killing_a_replica_mid_flight_loses_no_run_and_repeats_no_effect(
    replicas_stack: stack.StackStatus, replicas_database: str, endpoint: str, ledger, pipeline_name: str
) -> None:
    ledger_url, keys = ledger
    victim = replicas_stack.services["executor-2"]
    async with AsyncClient(endpoint, timeout=30) as client:
        await client.create_pipeline(charging_pipeline(pipeline_name, ledger_url))
        started = await asyncio.gather(*(client.start_run(pipeline_name) for _ in range(RUNS)))
        run_ids = [run.run_id for run in started]
        assert len(set(run_ids)) == RUNS

        # Mid-flight: every run has started, some are still charging or pausing.
        while len(set(keys)) < RUNS // 2:
            await asyncio.sleep(0.05)
        owned = owners(replicas_database)
        victims_runs = {run_id for run_id, owner in owned.items() if f"/{victim.pid}/" in (owner or "")}
        os.kill(victim.pid, signal.SIGKILL)
        assert victims_runs, f"the killed replica (pid {victim.pid}) owned no unfinished run: {set(owned.values())}"

        deadline = time.monotonic() + 90
        runs = {}
        while len(runs) < RUNS:
            assert time.monotonic() < deadline, f"{RUNS - len(runs)} runs did not finish"
            for run_id in set(run_ids) - set(runs):
                run = await client.get_run(run_id)
                if run.state not in (executor_messages.RUN_STATE_PENDING, executor_messages.RUN_STATE_RUNNING):
                    runs[run_id] = run
            await asyncio.sleep(0.2)
        failed = [run.error.message for run in runs.values() if run.state != executor_messages.RUN_STATE_SUCCEEDED]
        assert failed == []

        listed = [run async for run in client.list_runs(pipeline=pipeline_name)]
        assert sorted(run.run_id for run in listed) == sorted(run_ids)  # none started twice

        taken_over = set()
        for run_id in run_ids:
            events = [event async for event in client.watch_run(run_id)]
            assert [e.sequence for e in events] == list(range(1, len(events) + 1))
            ends = [e for e in events if e.WhichOneof("kind") == "run_state_changed" and e.run_state_changed.state]
            last_state = executor_messages.RunState.Name(ends[-1].run_state_changed.state)
            assert last_state == "RUN_STATE_SUCCEEDED"
            succeeded = {step for (step, state), n in step_states(events).items() if state == "STEP_STATE_SUCCEEDED"}
            assert succeeded == {"charge", "pause", "receipt"}
            assert all(n == 1 for (_, state), n in step_states(events).items() if state == "STEP_STATE_SUCCEEDED")
            if any("taken over" in e.step_log.message for e in events):
                taken_over.add(run_id)
    assert taken_over == victims_runs

    # Each completed step's effect is in the ledger, under its own key, and nothing else is.
    expected = {f"{run_id}/{step}/0" for run_id in run_ids for step in ("charge", "receipt")}
    assert set(keys) == expected
    repeated = {key for key, n in Counter(keys).items() if n > 1}
    # A repeat is a step that was in flight on the killed replica, run again with its key.
    assert {key.split("/")[0] for key in repeated} <= victims_runs
