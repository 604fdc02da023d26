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
- `run_requests`: answers and cancellations waiting for the replica that owns the run.

On PostgreSQL several executors share the tables, and each unfinished run is
owned by one of them under a lease (`runs.owner`, `lease_expires`, `epoch`; see
`leases.py`). The store fences every decision: it is written only if the run's
epoch is still the one this executor took it with, checked under a row lock in
the decision's own transaction, so an executor that lost a run cannot change it.

`Commit` gathers everything one decision changes; `RunStore.commit` writes it in
one transaction, so a step's completion, its events and its successors' start are
stored together or not at all. A new run is stored with its first decision
(`RunStore.create_run`), so no run is ever stored without its start.

Writes are queued and written by the store's own thread. When several runs'
decisions are waiting, they share one transaction and one multi-row statement per
table (group commit): under load, the cost of a transaction and of a statement is
spread over many runs. A decision that fails the shared transaction is written
again on its own, so only its caller sees the failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from ia_service_kit.database import Database, Migration, RowsStatement
from ia_service_kit.identity import DEFAULT_TENANT
from sqlalchemy.engine import Connection, RowMapping

__all__ = [
    "MIGRATIONS",
    "RUN_FIELDS",
    "Commit",
    "LEASE_COLUMNS",
    "Lease",
    "LeaseLost",
    "RunRow",
    "RunStore",
    "RunView",
    "StoredEvent",
    "TaskRow",
    "run_requests",
]

T = TypeVar("T")

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
    sa.Column("request_id", sa.String, nullable=True),
    sa.Column("create_time", sa.Float, nullable=False),
    sa.Column("start_time", sa.Float, nullable=True),
    sa.Column("end_time", sa.Float, nullable=True),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
    # Who the run belongs to: a run of another tenant is not found. Request ids are
    # unique within a tenant, so one tenant's id never finds another's run.
    sa.Column("tenant", sa.String(63), nullable=False, default=DEFAULT_TENANT),
    sa.UniqueConstraint("tenant", "request_id", name="runs_by_tenant_request"),
    sa.Index("runs_by_tenant_time", "tenant", "create_time", "run_id"),
    # Ownership among executor replicas (PostgreSQL): who runs it, until when, and
    # how many times it changed hands (the fencing token).
    sa.Column("owner", sa.String(128), nullable=True),
    sa.Column("lease_expires", sa.Float, nullable=True),
    sa.Column("epoch", sa.BigInteger, nullable=False, server_default="0"),
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


run_requests = sa.Table(
    "run_requests",
    metadata,
    # Answers and cancellations for a run, sent by a replica that does not own it
    # and applied by the one that does (inbox.py).
    sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("create_time", sa.Float, nullable=False),
    sa.Index("run_requests_by_run", "run_id", "request_id"),
)


def _create_tables(connection: Connection) -> None:
    metadata.create_all(connection)


MIGRATIONS: list[Migration] = [(1, _create_tables)]


# Statements are built once and executed with parameters (lists of them for many
# rows): building a statement per call costs more than the database work itself.
LEASE_COLUMNS = ("owner", "lease_expires", "epoch")
"""The columns of `runs` that say who owns a run (leases.py), not what the run is."""
_RUN_COLUMNS = [column for column in runs.c if column.name != "definition" and column.name not in LEASE_COLUMNS]
_select_run = sa.select(*_RUN_COLUMNS).where(runs.c.run_id == sa.bindparam("run_id"))
_select_run_by_request = sa.select(*_RUN_COLUMNS).where(
    (runs.c.request_id == sa.bindparam("request_id")) & (runs.c.tenant == sa.bindparam("tenant"))
)
_select_steps = sa.select(step_runs).where(step_runs.c.run_id == sa.bindparam("run_id")).order_by(step_runs.c.position)
_select_signals = (
    sa.select(run_signals.c.signal)
    .where(run_signals.c.run_id == sa.bindparam("run_id"))
    .order_by(run_signals.c.position)
)
# A run's state with its events after a sequence number, in one statement: one row
# per event, or one row with no event (NULLs) when there are none.
_select_events_after = (
    sa.select(
        runs.c.state, runs.c.last_sequence, runs.c.tenant, run_events.c.sequence, run_events.c.time, run_events.c.event
    )
    .select_from(
        runs.outerjoin(
            run_events,
            (run_events.c.run_id == runs.c.run_id) & (run_events.c.sequence > sa.bindparam("after")),
        )
    )
    .where(runs.c.run_id == sa.bindparam("run_id"))
    .order_by(run_events.c.sequence)
)
_select_task = sa.select(human_tasks).where(human_tasks.c.task_id == sa.bindparam("task_id"))

_insert_run = runs.insert()
_insert_signal = run_signals.insert()
_insert_event = run_events.insert()
_insert_step = step_runs.insert()
_insert_task = human_tasks.insert()

# Where-clause parameters carry a `where_` prefix: plain column names are reserved
# for the SET clause.
_STEP_FIELDS = ("state", "attempts", "start_time", "end_time", "input", "output", "error", "idempotency_key")
_update_step = (
    step_runs.update()
    .where(
        (step_runs.c.run_id == sa.bindparam("where_run_id"))
        & (step_runs.c.step_id == sa.bindparam("where_step_id"))
        & (step_runs.c.iteration == sa.bindparam("where_iteration"))
    )
    .values({name: sa.bindparam(name) for name in _STEP_FIELDS})
)
RUN_FIELDS = ("state", "start_time", "end_time", "outputs", "error", "last_sequence")
"""The fields of a run that its decisions change; every Commit carries all of them."""
_update_run = (
    runs.update()
    .where(runs.c.run_id == sa.bindparam("where_run_id"))
    .values({name: sa.bindparam(name) for name in RUN_FIELDS})
)
# Task updates change different fields (an answer has a submitter, a timeout has
# not), so their SET clause follows the parameters given.
_update_task = human_tasks.update().where(human_tasks.c.key == sa.bindparam("where_key"))


@dataclass(frozen=True)
class RunRow:
    """A stored run (without its definition and steps)."""

    run_id: str
    pipeline_name: str
    revision: int
    state: str
    parameters: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    parent_run_id: str | None
    request_id: str | None
    create_time: float
    start_time: float | None
    end_time: float | None
    last_sequence: int
    tenant: str = DEFAULT_TENANT


@dataclass(frozen=True)
class RunView:
    """A run with its step runs (stored step_runs rows, in the order they started)."""

    row: RunRow
    steps: list[dict[str, Any]]


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
    """Everything one decision changes in one run, written in one transaction.

    ``new_steps`` are step runs not stored before, ``changed_steps`` stored ones
    (step_runs rows without run_id; a changed one keeps its stored position).
    ``run`` holds every field of RUN_FIELDS.
    """

    run_id: str
    signal: dict[str, Any] | None = None
    signal_position: int = 0
    events: list[StoredEvent] = field(default_factory=list)
    new_steps: list[dict[str, Any]] = field(default_factory=list)
    changed_steps: list[dict[str, Any]] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    task_updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class LeaseLost(Exception):
    """A decision refused: another executor took the run over (its epoch moved on)."""

    def __init__(self, run_id: str, epoch: int, current: int | None) -> None:
        super().__init__(f"run {run_id} is no longer ours: we hold epoch {epoch}, the store has {current}")
        self.run_id = run_id


@dataclass(frozen=True)
class Lease:
    """This executor's claim on the runs it starts: its owner id and lease length."""

    owner: str
    lease_s: float


def _run(row: RowMapping) -> RunRow:
    return RunRow(**row)


def _task(row: RowMapping) -> TaskRow:
    return TaskRow(**row)


def _run_with_request(connection: Connection, row: RunRow, created: dict[tuple[str, str], RunRow]) -> RunRow | None:
    """The run stored, or being stored in this batch (``created``), under ``row``'s tenant and request id."""
    if not row.request_id:
        return None
    if (row.tenant, row.request_id) in created:
        return created[(row.tenant, row.request_id)]
    found = connection.execute(_select_run_by_request, {"request_id": row.request_id, "tenant": row.tenant}).first()
    return None if found is None else _run(found._mapping)


@dataclass
class _Write:
    """A queued write: a decision, with the new run it starts (row, definition) if any."""

    commit: Commit
    new_run: tuple[RunRow, dict[str, Any]] | None
    done: asyncio.Future[RunRow | None]


# What a batch of writes gathers for each multi-row statement, in the order they run
# (runs before the rows that refer to them).
_BATCH_STATEMENTS = (
    ("new_runs", RowsStatement(_insert_run)),
    ("signals", RowsStatement(_insert_signal)),
    ("events", RowsStatement(_insert_event)),
    ("new_steps", RowsStatement(_insert_step)),
    ("changed_steps", RowsStatement(_update_step)),
    ("new_tasks", RowsStatement(_insert_task)),
    ("run_updates", RowsStatement(_update_run)),
)


class RunStore:
    """Reads and writes runs.

    Reads are blocking calls (callers run them in a worker thread); each is one
    transaction. Writes are coroutines: see the module docstring.
    """

    def __init__(self, database: Database, lease: Lease | None = None) -> None:
        self._database = database
        self._lease = lease
        # run id -> the epoch this executor owns it under; decisions of these runs are fenced.
        self._epochs: dict[str, int] = {}
        self._queue: list[_Write] = []
        self._flushing: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-store")

    # ----- writes ---------------------------------------------------------------------

    async def create_run(self, row: RunRow, definition: dict[str, Any], first: Commit) -> RunRow:
        """Stores a new run with its first decision (``row`` as it was before it).

        Returns the run as stored: this one, or the one already stored under the
        same request id, in which case nothing is written.
        """
        return cast(RunRow, await self._write(first, (row, definition)))

    async def commit(self, commit: Commit) -> None:
        """Writes one decision: signal, events, step runs, run fields and tasks."""
        await self._write(commit, None)

    def own(self, run_id: str, epoch: int) -> None:
        """From now on, write the run's decisions only while its epoch is ``epoch``."""
        self._epochs[run_id] = epoch

    def disown(self, run_id: str) -> None:
        """Stop fencing the run (it ended, or another executor has it)."""
        self._epochs.pop(run_id, None)

    async def in_writer(self, work: Callable[[Connection], T]) -> T:
        """Runs ``work`` in a write transaction on the writer thread, between batches.

        Lease statements go through here: they lock the same rows as the batches,
        and one thread taking the locks one transaction at a time cannot deadlock itself.
        """

        def run() -> T:
            with self._database.write() as connection:
                return work(connection)

        return await asyncio.get_running_loop().run_in_executor(self._writer, run)

    async def close(self) -> None:
        """Waits for the queued writes, then stops the writer thread."""
        if self._flushing is not None:
            await self._flushing
        self._writer.shutdown()

    async def _write(self, commit: Commit, new_run: tuple[RunRow, dict[str, Any]] | None) -> RunRow | None:
        loop = asyncio.get_running_loop()
        write = _Write(commit, new_run, loop.create_future())
        self._queue.append(write)
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush())
        return await write.done

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    outcomes = await loop.run_in_executor(self._writer, self._write_batch, batch)
                except Exception as error:  # the store is closed: fail the writes, do not strand their callers
                    outcomes = [error] * len(batch)
                for write, outcome in zip(batch, outcomes, strict=True):
                    if write.done.done():  # its caller was cancelled
                        continue
                    if isinstance(outcome, Exception):
                        write.done.set_exception(outcome)
                    else:
                        write.done.set_result(outcome)
        finally:
            self._flushing = None

    def _write_batch(self, batch: list[_Write]) -> list[RunRow | None | Exception]:
        """Writes a batch in one transaction: for each write, the stored run (a new
        run's), None (a decision), or the exception that refused it."""
        try:
            with self._database.write() as connection:
                return self._write_together(connection, batch)
        except Exception as error:
            if len(batch) > 1:
                return [outcome for write in batch for outcome in self._write_batch([write])]
            return [self._refused(batch[0], error)]

    def _refused(self, write: _Write, error: Exception) -> RunRow | Exception:
        if write.new_run is not None and isinstance(error, sa.exc.IntegrityError):
            # Another process stored a run with the same request id first.
            new_row = write.new_run[0]
            existing = self.run_by_request(new_row.request_id or "", new_row.tenant)
            if existing is not None:
                return existing
        return error

    def _fence(self, connection: Connection, batch: list[_Write]) -> dict[str, LeaseLost]:
        """The runs of ``batch`` whose epoch moved on, each with its refusal.

        The rows stay locked until the batch commits, so no takeover can slip in
        between this check and the writes.
        """
        fenced = {
            write.commit.run_id: self._epochs[write.commit.run_id]
            for write in batch
            if write.new_run is None and write.commit.run_id in self._epochs
        }
        if not fenced:
            return {}
        query = (
            sa.select(runs.c.run_id, runs.c.epoch)
            .where(runs.c.run_id.in_(sorted(fenced)))
            .order_by(runs.c.run_id)
            .with_for_update()
        )
        current = {run_id: epoch for run_id, epoch in connection.execute(query)}
        return {
            run_id: LeaseLost(run_id, epoch, current.get(run_id))
            for run_id, epoch in fenced.items()
            if current.get(run_id) != epoch
        }

    def _write_together(self, connection: Connection, batch: list[_Write]) -> list[RunRow | None | Exception]:
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in _BATCH_STATEMENTS}
        task_updates: list[dict[str, Any]] = []
        outcomes: list[RunRow | None | Exception] = []
        created: dict[tuple[str, str], RunRow] = {}  # (tenant, request id) -> the new run of this batch
        refused = self._fence(connection, batch)
        for write in batch:
            commit = write.commit
            if commit.run_id in refused and write.new_run is None:
                outcomes.append(refused[commit.run_id])
                continue
            if write.new_run is None:
                rows["run_updates"].append({"where_run_id": commit.run_id, **commit.run})
                outcomes.append(None)
            else:
                row, definition = write.new_run
                existing = _run_with_request(connection, row, created)
                if existing is not None:
                    outcomes.append(existing)
                    continue
                stored = RunRow(**(row.__dict__ | commit.run))
                if row.request_id:
                    created[(row.tenant, row.request_id)] = stored
                rows["new_runs"].append(stored.__dict__ | {"definition": definition} | self._first_lease())
                outcomes.append(stored)
            run_id = commit.run_id
            if commit.signal is not None:
                rows["signals"].append({"run_id": run_id, "position": commit.signal_position, "signal": commit.signal})
            rows["events"].extend(event.__dict__ for event in commit.events)
            rows["new_steps"].extend({"run_id": run_id, **step} for step in commit.new_steps)
            rows["changed_steps"].extend(
                {"where_run_id": run_id, "where_step_id": step["step_id"], "where_iteration": step["iteration"]}
                | {name: step[name] for name in _STEP_FIELDS}
                for step in commit.changed_steps
            )
            rows["new_tasks"].extend(commit.new_tasks)
            task_updates.extend({"where_key": key, **values} for key, values in commit.task_updates)
        for name, statement in _BATCH_STATEMENTS:
            if rows[name]:
                statement.execute(connection, rows[name])
        for values in task_updates:
            connection.execute(_update_task, values)
        return outcomes

    def _first_lease(self) -> dict[str, Any]:
        """The lease columns of a run this executor creates: its own, from epoch 1."""
        if self._lease is None:
            return {"owner": None, "lease_expires": None, "epoch": 0}
        return {"owner": self._lease.owner, "lease_expires": time.time() + self._lease.lease_s, "epoch": 1}

    async def fold_events(self, run_id: str, through: int, summary: dict[str, Any]) -> None:
        """Replaces the run's events up to sequence ``through`` with one event, ``summary``,
        at that sequence (IA_MAX_EVENTS_PER_RUN). Runs on the writer thread, so it never
        overlaps a batch of commits."""

        def fold() -> None:
            with self._database.write() as connection:
                where = (run_events.c.run_id == run_id) & (run_events.c.sequence < through)
                connection.execute(run_events.delete().where(where))
                connection.execute(
                    run_events.update()
                    .where((run_events.c.run_id == run_id) & (run_events.c.sequence == through))
                    .values(event=summary)
                )

        await asyncio.get_running_loop().run_in_executor(self._writer, fold)

    def event_count(self, run_id: str) -> int:
        """How many events of the run are kept."""
        query = sa.select(sa.func.count()).select_from(run_events).where(run_events.c.run_id == run_id)
        with self._database.read() as connection:
            return int(connection.execute(query).scalar_one())

    # ----- reads ----------------------------------------------------------------------

    def view(self, run_id: str) -> RunView | None:
        """The run and its step runs, or None."""
        with self._database.read() as connection:
            row = connection.execute(_select_run, {"run_id": run_id}).first()
            if row is None:
                return None
            steps = connection.execute(_select_steps, {"run_id": run_id}).mappings()
            return RunView(_run(row._mapping), [dict(step) for step in steps])

    def read_rows(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        """The rows of one query, read in its own transaction."""
        with self._database.read() as connection:
            return list(connection.execute(query))

    def run_by_request(self, request_id: str, tenant: str = DEFAULT_TENANT) -> RunRow | None:
        """The run of ``tenant`` started with this request id, or None."""
        with self._database.read() as connection:
            row = connection.execute(_select_run_by_request, {"request_id": request_id, "tenant": tenant}).first()
            return _run(row._mapping) if row is not None else None

    def journal(self, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The run's signals in the order they were applied, and its step runs in
        the order they started (what resuming the run needs)."""
        with self._database.read() as connection:
            signals = list(connection.execute(_select_signals, {"run_id": run_id}).scalars())
            steps = [dict(step) for step in connection.execute(_select_steps, {"run_id": run_id}).mappings()]
            return signals, steps

    def replay_material(self, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The run's definition and its journal of signals (to rebuild its scheduler), or None."""
        with self._database.read() as connection:
            definition = connection.execute(
                sa.select(runs.c.definition).where(runs.c.run_id == run_id)
            ).scalar_one_or_none()
            if definition is None:
                return None
            return definition, list(connection.execute(_select_signals, {"run_id": run_id}).scalars())

    def events_after(
        self, run_id: str, sequence: int, tenant: str | None = None
    ) -> tuple[str, int, list[StoredEvent]] | None:
        """The run's state, its last sequence number and its events with a sequence
        number above ``sequence`` (in order), read in one statement; None if there
        is no run, or when ``tenant`` is given, if the run belongs to another tenant."""
        with self._database.read() as connection:
            rows = connection.execute(_select_events_after, {"run_id": run_id, "after": sequence}).all()
        if not rows or (tenant is not None and rows[0].tenant != tenant):
            return None
        events = [StoredEvent(run_id, row.sequence, row.time, row.event) for row in rows if row.sequence is not None]
        return rows[0].state, rows[0].last_sequence, events

    def unfinished_runs(self, final_states: Sequence[str]) -> list[tuple[RunRow, dict[str, Any]]]:
        """Every run not in one of ``final_states`` with its definition, oldest first."""
        query = (
            sa.select(runs.c.definition, *_RUN_COLUMNS)
            .where(runs.c.state.not_in(list(final_states)))
            .order_by(runs.c.create_time)
        )
        with self._database.read() as connection:
            found = []
            for row in connection.execute(query).mappings():
                fields = dict(row)
                definition = fields.pop("definition")
                found.append((RunRow(**fields), definition))
            return found

    def list_runs(
        self,
        *,
        size: int,
        after: tuple[float, str] | None,
        pipeline_name: str,
        states: Sequence[str],
        tenant: str = DEFAULT_TENANT,
    ) -> list[RunRow]:
        """Runs of ``tenant`` newest first, after the (create_time, run_id) key of the previous page."""
        query = sa.select(*_RUN_COLUMNS).where(runs.c.tenant == tenant)
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
            row = connection.execute(_select_task, {"task_id": task_id}).first()
            return _task(row._mapping) if row is not None else None

    def list_tasks(
        self,
        *,
        size: int,
        after: tuple[float, str] | None,
        run_id: str,
        states: Sequence[str],
        tenant: str = DEFAULT_TENANT,
    ) -> list[TaskRow]:
        """Tasks of ``tenant``'s runs oldest first, after the (create_time, task_id) key of the previous page."""
        of_tenant = sa.select(runs.c.run_id).where(runs.c.tenant == tenant)
        query = sa.select(human_tasks).where(
            human_tasks.c.state.in_(list(states)) & human_tasks.c.run_id.in_(of_tenant)
        )
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
