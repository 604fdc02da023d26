"""Persistence of runs: what a run is, what happened in it, and what it waits for.

Tables:
- `runs`: one row per run, with the definition it runs (so a run never needs the
  registry again), its parameters, state, outputs and error, and the last event
  sequence number it used.
- `run_signals`: the journal of signals applied to the run's scheduler, in order.
  Replaying it rebuilds the scheduler after a restart (the engine is deterministic).
- `run_events`: every event of a run with its per-run sequence number (1, 2, ...,
  no gaps), in the proto3 JSON shape of `ia.executor.v1.RunEvent`'s `kind`.
- `step_runs`: one row per step iteration: state, attempts, times, input, output.
- `human_tasks`: requests for input, open until answered, timed out or cancelled.

`Commit` gathers everything one decision changes; `RunStore.commit` writes it in
one transaction, so a step's completion, its events and its successors' start are
stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from ia_service_kit.database import Database, Migration
from sqlalchemy.engine import Connection, RowMapping

__all__ = ["MIGRATIONS", "Commit", "RunRow", "RunStore", "StoredEvent", "TaskRow"]

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("pipeline_name", sa.String, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("parent_run_id", sa.String(64), nullable=True),
    sa.Column("request_id", sa.String, nullable=True, unique=True),
    sa.Column("create_time", sa.Float, nullable=False),
    sa.Column("start_time", sa.Float, nullable=True),
    sa.Column("end_time", sa.Float, nullable=True),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
    sa.Index("runs_by_time", "create_time", "run_id"),
    sa.Index("runs_by_pipeline", "pipeline_name", "create_time"),
    sa.Index("runs_by_state", "state"),
)

run_signals = sa.Table(
    "run_signals",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("signal", sa.JSON, nullable=False),
)

run_events = sa.Table(
    "run_events",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("event", sa.JSON, nullable=False),
)

step_runs = sa.Table(
    "step_runs",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("step_id", sa.String, primary_key=True),
    sa.Column("iteration", sa.Integer, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("start_time", sa.Float, nullable=True),
    sa.Column("end_time", sa.Float, nullable=True),
    sa.Column("input", sa.JSON, nullable=True),
    sa.Column("output", sa.JSON, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("idempotency_key", sa.String, nullable=False),
)

human_tasks = sa.Table(
    "human_tasks",
    metadata,
    sa.Column("task_id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_id", sa.String, nullable=False),
    sa.Column("key", sa.String, nullable=False, unique=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("ui_schema", sa.JSON, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("assignees", sa.JSON, nullable=False),
    sa.Column("deadline", sa.Float, nullable=True),
    sa.Column("response", sa.JSON, nullable=True),
    sa.Column("submitter", sa.String, nullable=True),
    sa.Column("create_time", sa.Float, nullable=False),
    sa.Column("pipeline_name", sa.String, nullable=False),
    sa.Index("human_tasks_by_state", "state", "create_time"),
    sa.Index("human_tasks_by_run", "run_id"),
)


def _create_tables(connection: Connection) -> None:
    metadata.create_all(connection)


MIGRATIONS: list[Migration] = [(1, _create_tables)]


@dataclass(frozen=True)
class RunRow:
    """A stored run (without its steps)."""

    run_id: str
    pipeline_name: str
    revision: int
    state: str
    definition: dict[str, Any]
    parameters: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    parent_run_id: str | None
    request_id: str | None
    create_time: float
    start_time: float | None
    end_time: float | None
    last_sequence: int


@dataclass(frozen=True)
class TaskRow:
    """A stored human-input task."""

    task_id: str
    run_id: str
    step_id: str
    key: str
    state: str
    prompt: str
    ui_schema: dict[str, Any]
    data: dict[str, Any]
    assignees: list[str]
    deadline: float | None
    response: dict[str, Any] | None
    submitter: str | None
    create_time: float
    pipeline_name: str


@dataclass(frozen=True)
class StoredEvent:
    """One event of a run: its sequence number, time and body."""

    run_id: str
    sequence: int
    time: float
    event: dict[str, Any]


@dataclass
class Commit:
    """Everything one decision changes in one run, written in one transaction."""

    run_id: str
    last_sequence: int
    signal: dict[str, Any] | None = None
    signal_position: int = 0
    events: list[StoredEvent] = field(default_factory=list)
    step_runs: list[dict[str, Any]] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    task_updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _run(row: RowMapping) -> RunRow:
    return RunRow(**{column: row[column] for column in RunRow.__dataclass_fields__})


def _task(row: RowMapping) -> TaskRow:
    return TaskRow(**{column: row[column] for column in TaskRow.__dataclass_fields__})


class RunStore:
    """Reads and writes runs; each write is one transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # ----- writes ---------------------------------------------------------------------

    def create_run(self, row: RunRow, first_event: StoredEvent) -> RunRow:
        """Stores a new run and its first event; returns the run already stored under
        the same request id instead, if there is one."""
        try:
            with self._database.write() as connection:
                if row.request_id:
                    existing = (
                        connection.execute(sa.select(runs).where(runs.c.request_id == row.request_id))
                        .mappings()
                        .first()
                    )
                    if existing is not None:
                        return _run(existing)
                connection.execute(runs.insert().values(**row.__dict__))
                connection.execute(run_events.insert().values(**first_event.__dict__))
                return row
        except sa.exc.IntegrityError:
            # Another call with the same request id won the race.
            existing = self.run_by_request(row.request_id or "")
            if existing is None:
                raise
            return existing

    def commit(self, commit: Commit) -> None:
        """Writes one decision: signal, events, step runs, run fields and tasks."""
        with self._database.write() as connection:
            if commit.signal is not None:
                connection.execute(
                    run_signals.insert().values(
                        run_id=commit.run_id, position=commit.signal_position, signal=commit.signal
                    )
                )
            if commit.events:
                connection.execute(run_events.insert(), [e.__dict__ for e in commit.events])
            for step in commit.step_runs:
                key = (
                    (step_runs.c.run_id == commit.run_id)
                    & (step_runs.c.step_id == step["step_id"])
                    & (step_runs.c.iteration == step["iteration"])
                )
                updated = connection.execute(
                    step_runs.update().where(key).values({k: v for k, v in step.items() if k != "position"})
                ).rowcount
                if not updated:
                    connection.execute(step_runs.insert().values(run_id=commit.run_id, **step))
            for task in commit.new_tasks:
                connection.execute(human_tasks.insert().values(**task))
            for key, values in commit.task_updates:
                connection.execute(human_tasks.update().where(human_tasks.c.key == key).values(**values))
            connection.execute(
                runs.update()
                .where(runs.c.run_id == commit.run_id)
                .values(last_sequence=commit.last_sequence, **commit.run)
            )

    # ----- reads ----------------------------------------------------------------------

    def run(self, run_id: str) -> RunRow | None:
        """The run, or None."""
        with self._database.read() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
            return _run(row) if row is not None else None

    def run_by_request(self, request_id: str) -> RunRow | None:
        """The run started with this request id, or None."""
        with self._database.read() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.request_id == request_id)).mappings().first()
            return _run(row) if row is not None else None

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The run's step runs, in the order they started."""
        with self._database.read() as connection:
            rows = connection.execute(
                sa.select(step_runs).where(step_runs.c.run_id == run_id).order_by(step_runs.c.position)
            ).mappings()
            return [dict(row) for row in rows]

    def signals(self, run_id: str) -> list[dict[str, Any]]:
        """The run's journal of signals, in the order they were applied."""
        with self._database.read() as connection:
            rows = connection.execute(
                sa.select(run_signals.c.signal).where(run_signals.c.run_id == run_id).order_by(run_signals.c.position)
            ).scalars()
            return list(rows)

    def events_after(self, run_id: str, sequence: int) -> list[StoredEvent]:
        """The run's events with a sequence number above ``sequence``, in order."""
        with self._database.read() as connection:
            rows = connection.execute(
                sa.select(run_events)
                .where((run_events.c.run_id == run_id) & (run_events.c.sequence > sequence))
                .order_by(run_events.c.sequence)
            ).mappings()
            return [StoredEvent(**dict(row)) for row in rows]

    def unfinished_runs(self, final_states: Sequence[str]) -> list[RunRow]:
        """Every run not in one of ``final_states``, oldest first."""
        with self._database.read() as connection:
            rows = connection.execute(
                sa.select(runs).where(runs.c.state.not_in(list(final_states))).order_by(runs.c.create_time)
            ).mappings()
            return [_run(row) for row in rows]

    def list_runs(
        self, *, size: int, after: tuple[float, str] | None, pipeline_name: str, states: Sequence[str]
    ) -> list[RunRow]:
        """Runs newest first, after the (create_time, run_id) key of the previous page."""
        query = sa.select(runs)
        if pipeline_name:
            query = query.where(runs.c.pipeline_name == pipeline_name)
        if states:
            query = query.where(runs.c.state.in_(list(states)))
        if after is not None:
            time, run_id = after
            query = query.where((runs.c.create_time < time) | ((runs.c.create_time == time) & (runs.c.run_id < run_id)))
        query = query.order_by(runs.c.create_time.desc(), runs.c.run_id.desc()).limit(size)
        with self._database.read() as connection:
            return [_run(row) for row in connection.execute(query).mappings()]

    def task(self, task_id: str) -> TaskRow | None:
        """The task, or None."""
        with self._database.read() as connection:
            row = connection.execute(sa.select(human_tasks).where(human_tasks.c.task_id == task_id)).mappings().first()
            return _task(row) if row is not None else None

    def task_by_key(self, key: str) -> TaskRow | None:
        """The task a step run opened, or None."""
        with self._database.read() as connection:
            row = connection.execute(sa.select(human_tasks).where(human_tasks.c.key == key)).mappings().first()
            return _task(row) if row is not None else None

    def list_tasks(
        self, *, size: int, after: tuple[float, str] | None, run_id: str, states: Sequence[str]
    ) -> list[TaskRow]:
        """Tasks oldest first, after the (create_time, task_id) key of the previous page."""
        query = sa.select(human_tasks).where(human_tasks.c.state.in_(list(states)))
        if run_id:
            query = query.where(human_tasks.c.run_id == run_id)
        if after is not None:
            time, task_id = after
            query = query.where(
                (human_tasks.c.create_time > time)
                | ((human_tasks.c.create_time == time) & (human_tasks.c.task_id > task_id))
            )
        query = query.order_by(human_tasks.c.create_time, human_tasks.c.task_id).limit(size)
        with self._database.read() as connection:
            return [_task(row) for row in connection.execute(query).mappings()]
