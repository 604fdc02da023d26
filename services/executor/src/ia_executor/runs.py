"""Runs: starting, reading, watching, cancelling and resuming runs, and their human tasks.

This is the executor's domain entry point; `service.py` maps each RPC to one method.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.engine import (
    Cancel,
    DryRunResult,
    ErrorKind,
    Plan,
    RunState,
    Scheduler,
    Signal,
    StartChildRun,
    StepFailed,
    StepSucceeded,
    check_debugging,
    dry_run,
    signal_from_dict,
)
from ia_modules.limits import ENV, Limits
from ia_service_kit.identity import acting_for, current_identity, current_tenant
from ia_service_kit.logging import get_logger
from ia_service_kit.pagination import PageTokens, page_size

from ia_executor import records
from ia_executor.definitions import Definition, Definitions
from ia_executor.errors import (
    ExecutorError,
    InvalidInput,
    PipelineNotFound,
    RegistryUnavailable,
    RunAlreadyEnded,
    RunNotFound,
    RunNotPaused,
    TaskNotAssigned,
    TaskNotFound,
    TaskNotOpen,
)
from ia_executor.feed import EventFeed, drain
from ia_executor.human_tasks import check_response, may_answer
from ia_executor.inbox import RunInbox
from ia_executor.inspection import Inspection
from ia_executor.leases import Claim, RunOwnership
from ia_executor.recent import RecentRuns
from ia_executor.run import ActiveRun
from ia_executor.run_quota import RunQuota
from ia_executor.store import Lease, RunRow, RunStore, RunView, StoredEvent, TaskRow
from ia_executor.work import NoPluginHost, StepRunner

__all__ = ["MAX_INPUT_BYTES", "Runs"]

log = get_logger(__name__)

FORWARDED_WAIT_S = 10.0
"""How long a replica that forwarded an answer or a cancellation waits to see it applied."""

WATCH_POLL_S = 0.2
"""How often a watcher of a run another replica executes reads its new events."""

MAX_INPUT_BYTES = 4 * 1024 * 1024
"""The largest run input accepted (serialized size). Bigger data belongs in storage
the steps read from, passed by reference."""


def _fresh(events: list[StoredEvent], last: int) -> tuple[list[StoredEvent], int, bool]:
    """The events after sequence ``last``, up to the final one; the new last
    sequence; and whether the final event was among them."""
    fresh: list[StoredEvent] = []
    for event in events:
        if event.sequence <= last:
            continue
        fresh.append(event)
        last = event.sequence
        if records.is_final_event(event.event):
            return fresh, last, True
    return fresh, last, False


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class Runs:
    """Every run of this executor."""

    def __init__(
        self,
        store: RunStore,
        definitions: Definitions,
        tokens: PageTokens,
        *,
        runner: StepRunner | None = None,
        clock: Callable[[], float] = time.time,
        lease: Lease | None = None,
        limits: Limits | None = None,
    ) -> None:
        """``lease`` is given when replicas share the database: runs are then owned
        under leases (leases.py) instead of all being resumed at start."""
        self._limits = limits or Limits.from_env()
        self._quota = RunQuota(self._limits.concurrent_runs)
        self._store = store
        self._definitions = definitions
        self._tokens = tokens
        self._runner = runner or NoPluginHost()
        self._clock = clock
        self.feed = EventFeed()
        self._active: dict[str, ActiveRun] = {}
        self._recent = RecentRuns()
        self._background: set[asyncio.Future[None]] = set()
        self._ownership = (
            None
            if lease is None
            else RunOwnership(
                store,
                lease,
                records.FINAL_RUN_STATES,
                take_over=self._take_over,
                let_go=self._let_go,
                running=lambda: set(self._active),
            )
        )
        self._inbox = (
            None if lease is None else RunInbox(store, deliver=self._deliver, running=lambda: set(self._active))
        )

    # ----- starting -----------------------------------------------------------------------

    async def _resolve(self, pipeline_name: str, definition: pipeline_pb2.Pipeline | None, revision: int) -> Definition:
        if definition is not None:
            return await self._definitions.inline(definition)
        if not pipeline_name:
            raise InvalidInput(
                "name a registered pipeline or give an inline definition",
                [("pipeline_name", "give `pipeline_name` or `definition`")],
            )
        if revision < 0:
            raise InvalidInput(
                f"revision must be 0 (the latest) or positive, got {revision}",
                [("revision", "0 (the latest) or a positive revision")],
            )
        return await self._definitions.registered(pipeline_name, revision)

    @staticmethod
    def _check_size(size: int) -> None:
        if size > MAX_INPUT_BYTES:
            raise InvalidInput(
                f"inputs are {_megabytes(size)}; the limit is {_megabytes(MAX_INPUT_BYTES)}. "
                "Pass large data by reference (a URL or a path) instead.",
                [("inputs", f"{_megabytes(size)} is over the {_megabytes(MAX_INPUT_BYTES)} limit")],
                size_bytes=size,
                limit_bytes=MAX_INPUT_BYTES,
            )

    @staticmethod
    def _check_inputs(plan: Plan, inputs: dict[str, Any]) -> None:
        violations = plan.check_inputs(inputs)
        if violations:
            first = f"{violations[0][0]}: {violations[0][1]}"
            more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
            raise InvalidInput(f"the inputs do not match the pipeline's parameters: {first}{more}", violations)

    async def start_run(
        self,
        *,
        pipeline_name: str = "",
        definition: pipeline_pb2.Pipeline | None = None,
        revision: int = 0,
        inputs: dict[str, Any],
        inputs_size: int,
        request_id: str = "",
        breakpoints: tuple[tuple[str, str], ...] = (),
        mocks: dict[str, Any] | None = None,
    ) -> RunView:
        """Start a run of the caller's tenant; a known ``request_id`` returns the run it started.

        ``breakpoints`` ((step id, CEL condition or "") pairs) and ``mocks`` (step id
        -> output) make it a debugged run. The tenant's running root runs count
        against IA_MAX_CONCURRENT_RUNS (see RunQuota).
        Raises InvalidInput, DefinitionRefused, PipelineNotFound, RegistryUnavailable
        or TooManyRuns.
        """
        self._check_size(inputs_size)
        if request_id:
            existing = await asyncio.to_thread(self._store.run_by_request, request_id, current_tenant())
            if existing is not None:
                return await self.get(existing.run_id)
        resolved = await self._resolve(pipeline_name, definition, revision)
        self._check_inputs(resolved.plan, inputs)
        mocks = mocks or {}
        problems = check_debugging(resolved.plan, breakpoints, mocks)
        if problems:
            first = f"{problems[0][0]}: {problems[0][1]}"
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise InvalidInput(f"the breakpoints and mocks do not fit the pipeline: {first}{more}", problems)
        tenant = current_tenant()
        # No await between this check and the hold in _create: concurrent starts
        # cannot overshoot the limit.
        self._quota.check(tenant)
        return await self._create(
            resolved,
            inputs,
            request_id,
            parent_run_id=None,
            tenant=tenant,
            caller=tenant,
            breakpoints=breakpoints,
            mocks=mocks,
        )

    async def _create(
        self,
        resolved: Definition,
        inputs: dict[str, Any],
        request_id: str,
        parent_run_id: str | None,
        tenant: str,
        caller: str | None = None,
        breakpoints: tuple[tuple[str, str], ...] = (),
        mocks: dict[str, Any] | None = None,
    ) -> RunView:
        """Store and start a run of ``tenant``; the run already started with ``request_id`` instead, if any.

        A root run (``caller`` given) holds the place its caller took in the quota."""
        now = self._clock()
        row = RunRow(
            run_id=str(uuid.uuid4()),
            pipeline_name=resolved.name,
            revision=resolved.revision,
            state=RunState.PENDING.value,
            parameters=resolved.plan.parameters_for(inputs),
            outputs=None,
            error=None,
            parent_run_id=parent_run_id,
            request_id=request_id or None,
            create_time=now,
            start_time=None,
            end_time=None,
            last_sequence=0,
            tenant=tenant,
        )
        active = self._activate(row, resolved.plan)
        if self._ownership is not None:
            self._store.own(row.run_id, 1)
        if caller is not None:
            # Held before it begins: a run may end within begin, and give its place back.
            self._quota.hold(row.run_id, caller)
        try:
            existing = await active.begin(resolved.document, breakpoints, mocks)
        except BaseException:
            # Not stored (a full disk, say): nothing of it may linger.
            self._quota.release(row.run_id)
            self._active.pop(row.run_id, None)
            self._store.disown(row.run_id)
            active.stop()
            raise
        if existing is not None:
            self._quota.release(row.run_id)
            self._active.pop(row.run_id, None)
            self._store.disown(row.run_id)
            return await self.get(existing.run_id)
        log.info("run started", run_id=row.run_id, pipeline=row.pipeline_name, revision=row.revision)
        return active.view()

    def _activate(self, row: RunRow, plan: Plan) -> ActiveRun:
        active = ActiveRun(
            row,
            plan,
            store=self._store,
            feed=self.feed,
            runner=self._runner,
            children=self,
            clock=self._clock,
            on_end=self._ended,
            limits=self._limits,
        )
        self._active[row.run_id] = active
        return active

    async def _ended(self, active: ActiveRun) -> None:
        self._active.pop(active.run_id, None)
        if active.history is not None:
            self._recent.add(active.run_id, active.row.tenant, active.history)
        self._store.disown(active.run_id)
        self._quota.release(active.run_id)
        log.info("run ended", run_id=active.run_id, state=active.scheduler.state.value)
        parent_id = active.row.parent_run_id
        if parent_id and active.row.request_id:
            scheduler = active.scheduler
            message = scheduler.error.message if scheduler.error is not None else ""
            self._detach(
                self._report_child(
                    parent_id, active.row.request_id, active.run_id, scheduler.state, scheduler.outputs, message
                )
            )

    def _detach(self, work: Any) -> None:
        future = asyncio.ensure_future(work)
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    # ----- child runs (the `pipeline` step) --------------------------------------------------

    async def start_child(self, parent: ActiveRun, action: StartChildRun) -> None:
        """Start the child run of a `pipeline` step (once: its request id is the step's key)."""
        tenant = parent.row.tenant
        existing = await asyncio.to_thread(self._store.run_by_request, action.key, tenant)
        if existing is None and (depth := await self._depth(parent)) >= self._limits.nesting_depth:
            message = (
                f"step {action.step_id!r}: a run {depth} levels deep cannot start another child run; "
                f"the limit is {self._limits.nesting_depth} ({ENV['nesting_depth']}). "
                "Does a pipeline start itself?"
            )
            await parent.signal(StepFailed(action.key, "NESTING_TOO_DEEP", message, self._clock()))
            return
        if existing is not None:
            if existing.state in records.FINAL_RUN_STATES:
                message = (existing.error or {}).get("message", "")
                await self._report_child(
                    parent.run_id, action.key, existing.run_id, RunState(existing.state), existing.outputs, message
                )
            return
        try:
            with acting_for(tenant):
                resolved = await self._definitions.registered(action.pipeline_name, action.revision)
            self._check_inputs(resolved.plan, action.inputs)
        except ExecutorError as error:
            kind = {
                PipelineNotFound: "PIPELINE_NOT_FOUND",
                RegistryUnavailable: ErrorKind.UNAVAILABLE,
                InvalidInput: ErrorKind.INVALID_INPUT,
            }.get(type(error), "INVALID_DEFINITION")
            await parent.signal(
                StepFailed(action.key, kind, f"child pipeline {action.pipeline_name!r}: {error}", self._clock())
            )
            return
        await self._create(resolved, action.inputs, action.key, parent_run_id=parent.run_id, tenant=tenant)

    async def _depth(self, run: ActiveRun) -> int:
        """How many runs ``run`` is nested in (0 for a root run), counted up to the limit."""
        depth, parent_id = 0, run.row.parent_run_id
        while parent_id and depth <= self._limits.nesting_depth:
            depth += 1
            parent = self._active.get(parent_id)
            row = parent.row if parent is not None else await self._stored_row(parent_id)
            parent_id = row.parent_run_id if row is not None else None
        return depth

    async def _stored_row(self, run_id: str) -> RunRow | None:
        view = await asyncio.to_thread(self._store.view, run_id)
        return None if view is None else view.row

    async def _report_child(
        self, parent_id: str, key: str, child_id: str, state: RunState, outputs: Any, error_message: str
    ) -> None:
        signal: Signal
        if state is RunState.SUCCEEDED:
            signal = StepSucceeded(key, outputs or {}, self._clock())
        else:
            why = f": {error_message}" if error_message else ""
            message = f"child run {child_id} ended {state.value}{why}"
            signal = StepFailed(key, ErrorKind.CHILD_RUN_FAILED, message, self._clock())
        parent = self._active.get(parent_id)
        if parent is not None:
            await parent.signal(signal)
        elif self._inbox is not None and await self._unfinished(parent_id):
            # The parent is another replica's (or about to be taken over).
            await self._inbox.send(parent_id, "signal", signal.to_dict())

    async def _unfinished(self, run_id: str) -> bool:
        view = await asyncio.to_thread(self._store.view, run_id)
        return view is not None and view.row.state not in records.FINAL_RUN_STATES

    async def cancel_child(self, key: str, reason: str) -> None:
        """Cancel the child run started for the work ``key``, if there is one."""
        # Called from the parent run's own work, which acts for the parent's tenant.
        row = await asyncio.to_thread(self._store.run_by_request, key, current_tenant())
        if row is None:
            return
        if row.run_id in self._active:
            await self._active[row.run_id].signal(Cancel(f"parent run: {reason}", self._clock()))
        elif self._inbox is not None and row.state not in records.FINAL_RUN_STATES:
            await self._inbox.send(row.run_id, "cancel", {"reason": f"parent run: {reason}"})

    async def note(self, run_id: str, body: dict[str, Any]) -> None:
        """Record an event that is no signal (a plugin's log or progress) in a run of this process."""
        active = self._active.get(run_id)
        if active is not None:
            await active.note(body)

    # ----- reading ---------------------------------------------------------------------------

    async def get(self, run_id: str) -> RunView:
        """The run and its step runs as stored; raises RunNotFound, also for a run of
        another tenant (whether it exists is not the caller's business)."""
        active = self._active.get(run_id)
        if active is not None:
            if active.row.tenant != current_tenant():
                raise RunNotFound(run_id)
            return active.view()
        view = await asyncio.to_thread(self._store.view, run_id)
        if view is None or view.row.tenant != current_tenant():
            raise RunNotFound(run_id)
        return view

    async def list_runs(
        self, *, size: int, token: str, pipeline_name: str, states: list[str]
    ) -> tuple[list[RunRow], str]:
        """A page of runs, newest first, and the next page's token ("" on the last page)."""
        limit = page_size(size)
        query = {"pipeline_name": pipeline_name, "states": sorted(states)}
        after = self._tokens.decode(token, query=query)
        tenant = current_tenant()
        rows = await asyncio.to_thread(
            lambda: self._store.list_runs(
                size=limit + 1,
                after=tuple(after) if after else None,
                pipeline_name=pipeline_name,
                states=states,
                tenant=tenant,
            )
        )
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = self._tokens.encode([rows[-1].create_time, rows[-1].run_id], query=query)
        return rows, next_token

    async def watch(self, run_id: str, from_sequence: int) -> AsyncIterator[list[StoredEvent]]:
        """The run's events after ``from_sequence``, then live ones until the run ends.

        Yields them in groups, never empty, in sequence order: each group holds
        every event available when it was made (the stored history with what the
        feed queued meanwhile, then what arrived by each wake-up), so a watcher
        can send them together without waiting for more. The last group ends with
        the final event.
        """
        kept = self._recent.events(run_id, current_tenant())
        if kept is not None:
            fresh, _, _ = _fresh(kept, from_sequence)
            if fresh:
                yield fresh
            return
        queue = self.feed.subscribe(run_id)
        try:
            # The tenant check rides on the history read: another tenant's run is not found.
            found = await asyncio.to_thread(self._store.events_after, run_id, from_sequence, current_tenant())
            if found is None:
                raise RunNotFound(run_id)
            state, last_sequence, history = found
            fresh, last, ended = _fresh([*history, *drain(queue)], from_sequence)
            if fresh:
                yield fresh
            if ended or (state in records.FINAL_RUN_STATES and (not history or last >= last_sequence)):
                return
            while True:
                fresh, last, ended = _fresh(await self._next_events(queue, run_id, last), last)
                if fresh:
                    yield fresh
                if ended:
                    return
        finally:
            self.feed.unsubscribe(run_id, queue)

    async def _next_events(self, queue: asyncio.Queue[StoredEvent], run_id: str, last: int) -> list[StoredEvent]:
        """The run's next live events: the first one waited for, and those queued
        behind it. With replicas, when none is published here for a while, the
        ones stored after ``last`` (another replica may be executing the run);
        possibly none yet.

        Once the first is there, one turn of the event loop passes before the rest
        are taken: the work its decision started (a plugin call) goes out first, and
        events published in the same turn join the group."""
        if self._ownership is None:
            first = await queue.get()
            await asyncio.sleep(0)
            return [first, *drain(queue)]
        # A run executed here publishes its events; it is read from the store only
        # now and then, in case another replica took it over meanwhile.
        wait_s = self._ownership.beat_s if run_id in self._active else WATCH_POLL_S
        try:
            first = await asyncio.wait_for(queue.get(), wait_s)
            await asyncio.sleep(0)
            return [first, *drain(queue)]
        except TimeoutError:
            found = await asyncio.to_thread(self._store.events_after, run_id, last)
            return found[2] if found else []

    # ----- changing a run --------------------------------------------------------------------

    async def cancel(self, run_id: str, reason: str) -> RunView:
        """Cancel a run; raises RunNotFound or RunAlreadyEnded.

        When another replica executes the run, the cancellation goes to it
        (inbox.py) and the run is returned once it ended, or after FORWARDED_WAIT_S.
        """
        view = await self.get(run_id)
        active = self._active.get(run_id)
        reason = reason or "cancelled on request"
        if view.row.state not in records.FINAL_RUN_STATES and active is None and self._inbox is not None:
            # Another replica executes it: ask it, and wait (a while) to see it done.
            await self._inbox.send(run_id, "cancel", {"reason": reason})
            ended = await self._settled(
                lambda: self._store.view(run_id), lambda v: v is None or v.row.state in records.FINAL_RUN_STATES
            )
            return ended or view
        if view.row.state in records.FINAL_RUN_STATES or active is None:
            raise RunAlreadyEnded(run_id, view.row.state)
        await active.signal(Cancel(reason, self._clock()))
        return await self.get(run_id)

    # ----- debugging ----------------------------------------------------------------------------

    async def release(self, run_id: str, *, step: bool, step_id: str, inputs: dict[str, Any]) -> RunView:
        """Let a paused run go on: one step (``step``) or until its next breakpoint.

        Raises RunNotFound, RunNotPaused, or InvalidInput (``step_id`` is not paused).
        """
        view = await self.get(run_id)
        active = self._active.get(run_id)
        if active is None:
            raise RunNotPaused(run_id, view.row.state)
        await active.release(step=step, step_id=step_id, inputs=inputs)
        return await self.get(run_id)

    async def inspect(self, run_id: str) -> Inspection:
        """What the run's scheduler knows; an ended run's is rebuilt from its journal.

        Raises RunNotFound.
        """
        view = await self.get(run_id)  # another tenant's run is not found
        active = self._active.get(run_id)
        if active is not None:
            return Inspection.of(active.view(), active.scheduler)
        material = await asyncio.to_thread(self._store.replay_material, run_id)
        if material is None:
            raise RunNotFound(run_id)
        definition, journal = material
        row = view.row
        scheduler = Scheduler(
            self._definitions.plan(definition),
            run_id,
            row.parameters,
            run_info={"parent_run_id": row.parent_run_id or ""},
        )
        for data in journal:
            scheduler.apply(signal_from_dict(data))
        return Inspection.of(view, scheduler)

    @staticmethod
    async def _settled(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
        """What ``read`` returns once ``done`` holds, or after FORWARDED_WAIT_S."""
        deadline = time.monotonic() + FORWARDED_WAIT_S
        while True:
            found = await asyncio.to_thread(read)
            if done(found) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(WATCH_POLL_S / 2)

    async def _deliver(self, run_id: str, kind: str, body: dict[str, Any]) -> None:
        """Applies a request another replica stored for a run this one executes."""
        active = self._active.get(run_id)
        if active is None or active.ended:
            return
        if kind == "cancel":
            await active.signal(Cancel(body["reason"], self._clock()))
        elif kind == "submit":
            await active.submit(body["key"], body["data"], body["submitter"])
        elif kind == "signal":
            await active.signal(signal_from_dict(body))
        else:
            log.error("unknown run request", run_id=run_id, kind=kind)

    # ----- human tasks ------------------------------------------------------------------------

    async def list_tasks(self, *, size: int, token: str, run_id: str, states: list[str]) -> tuple[list[TaskRow], str]:
        """A page of tasks, oldest first (OPEN ones unless ``states`` says otherwise)."""
        limit = page_size(size)
        states = states or ["OPEN"]
        query = {"run_id": run_id, "states": sorted(states)}
        after = self._tokens.decode(token, query=query)
        tenant = current_tenant()
        rows = await asyncio.to_thread(
            lambda: self._store.list_tasks(
                size=limit + 1, after=tuple(after) if after else None, run_id=run_id, states=states, tenant=tenant
            )
        )
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = self._tokens.encode([rows[-1].create_time, rows[-1].task_id], query=query)
        return rows, next_token

    async def submit(self, task_id: str, data: dict[str, Any], submitter: str) -> TaskRow:
        """Answer a task and resume its run.

        The submitter recorded is the authenticated caller; ``submitter`` is taken
        as given only from a service (or in development mode). When another replica
        executes the run, the answer goes to it (inbox.py) and the task is returned
        once it closed, or still OPEN after FORWARDED_WAIT_S (the answer then waits
        for the run's executor). Raises TaskNotFound (also for another tenant's
        task), TaskNotAssigned, TaskNotOpen, or InvalidInput (the task stays open).
        """
        task = await asyncio.to_thread(self._store.task, task_id)
        if task is None:
            raise TaskNotFound(task_id)
        try:
            await self.get(task.run_id)
        except RunNotFound:
            raise TaskNotFound(task_id) from None
        identity = current_identity()
        if not may_answer(identity, task.assignees):
            raise TaskNotAssigned(task_id, task.assignees)
        if not identity.is_service:
            submitter = identity.subject
        if task.state != "OPEN":
            raise TaskNotOpen(task_id, task.state)
        violations = check_response(task.ui_schema, data)
        if violations:
            raise InvalidInput(
                f"the answer does not match the task's ui_schema: {violations[0][0]}: {violations[0][1]}",
                violations,
                task_id=task_id,
            )
        active = self._active.get(task.run_id)
        if active is None and self._inbox is not None:
            # Another replica executes the run: it applies the answer, unless the
            # task closes first (answered, timed out or cancelled).
            await self._inbox.send(task.run_id, "submit", {"key": task.key, "data": data, "submitter": submitter})
            current = await self._settled(lambda: self._store.task(task_id), lambda t: t is None or t.state != "OPEN")
            if current is None or current.state == "OPEN":
                return task
            if current.state != "SUBMITTED" or current.submitter != submitter or current.response != data:
                raise TaskNotOpen(task_id, current.state)
            return current
        if active is None or not await active.submit(task.key, data, submitter):
            current = await asyncio.to_thread(self._store.task, task_id)
            raise TaskNotOpen(task_id, current.state if current else "CANCELLED")
        updated = await asyncio.to_thread(self._store.task, task_id)
        assert updated is not None
        return updated

    # ----- dry runs -----------------------------------------------------------------------------

    async def dry_run(
        self,
        *,
        pipeline_name: str = "",
        definition: pipeline_pb2.Pipeline | None = None,
        revision: int = 0,
        inputs: dict[str, Any],
        inputs_size: int,
        mocks: dict[str, Any],
    ) -> DryRunResult:
        """Walk the pipeline with mocks (or echoes); nothing runs and nothing is stored."""
        self._check_size(inputs_size)
        resolved = await self._resolve(pipeline_name, definition, revision)
        self._check_inputs(resolved.plan, inputs)
        return dry_run(resolved.plan, resolved.plan.parameters_for(inputs), mocks)

    # ----- process lifecycle -----------------------------------------------------------------

    async def resume_all(self) -> int:
        """Resume every run that had not ended when the executor last stopped.

        With replicas: take over every run whose lease lapsed, then keep the heartbeat going.
        """
        if self._ownership is not None and self._inbox is not None:
            taken = await self._ownership.beat()
            self._ownership.start()
            self._inbox.start()
            return taken
        rows = await asyncio.to_thread(self._store.unfinished_runs, records.FINAL_RUN_STATES)
        resumed = []
        for row, definition in rows:
            try:
                plan = self._definitions.plan(definition)
            except ExecutorError as error:
                log.error("cannot resume run", run_id=row.run_id, error=str(error))
                continue
            resumed.append(self._activate(row, plan))
            if row.parent_run_id is None:
                self._quota.hold(row.run_id, row.tenant)
        for active in resumed:
            # No call started this work: it acts for the run's tenant from here on.
            with acting_for(active.row.tenant):
                await active.resume()
        return len(resumed)

    async def _take_over(self, claim: Claim) -> None:
        """Resume a run another replica owned (or this one, before a long pause) under its new epoch."""
        run_id = claim.row.run_id
        stale = self._active.pop(run_id, None)
        if stale is not None:
            stale.stop()
        try:
            plan = self._definitions.plan(claim.definition)
        except ExecutorError as error:
            log.error("cannot take over run", run_id=run_id, error=str(error))
            return
        self._store.own(run_id, claim.epoch)
        active = self._activate(claim.row, plan)
        if claim.row.parent_run_id is None:
            self._quota.hold(run_id, claim.row.tenant)
        owner = self._ownership.lease.owner if self._ownership else ""
        message = (
            f"run taken over by executor {owner} (lease epoch {claim.epoch}): "
            f"the lease of {claim.previous_owner or 'no executor'} lapsed or was handed back"
        )
        # No call started this work: it acts for the run's tenant from here on.
        with acting_for(claim.row.tenant):
            await active.note(records.step_log_body("", 0, "warning", message))
            await active.resume()
        log.warning("run taken over", run_id=run_id, epoch=claim.epoch, previous_owner=claim.previous_owner)

    async def _let_go(self, run_id: str) -> None:
        """Stop executing a run another replica took over (its store rows are theirs now)."""
        active = self._active.pop(run_id, None)
        if active is not None:
            active.stop()
        self._quota.release(run_id)
        self._store.disown(run_id)

    async def stop(self) -> None:
        """Stop working on every run (they resume at the next start), finish the
        writes under way and close connections."""
        if self._ownership is not None and self._inbox is not None:
            await self._ownership.stop()
            await self._inbox.stop()
        for active in list(self._active.values()):
            active.stop()
        for future in list(self._background):
            future.cancel()
        if self._ownership is not None:
            await self._ownership.release()
        await self._store.close()
        await self._definitions.close()
