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
    StartChildRun,
    StepFailed,
    StepSucceeded,
    dry_run,
)
from ia_modules.limits import ENV, Limits
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
    TaskNotFound,
    TaskNotOpen,
)
from ia_executor.feed import EventFeed
from ia_executor.human_tasks import check_response
from ia_executor.run import ActiveRun
from ia_executor.run_quota import RunQuota
from ia_executor.store import RunRow, RunStore, RunView, StoredEvent, TaskRow
from ia_executor.work import NoPluginHost, StepRunner

__all__ = ["MAX_INPUT_BYTES", "Runs"]

log = get_logger(__name__)

MAX_INPUT_BYTES = 4 * 1024 * 1024
"""The largest run input accepted (serialized size). Bigger data belongs in storage
the steps read from, passed by reference."""


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
        limits: Limits | None = None,
    ) -> None:
        self._limits = limits or Limits.from_env()
        self._quota = RunQuota(self._limits.concurrent_runs)
        self._store = store
        self._definitions = definitions
        self._tokens = tokens
        self._runner = runner or NoPluginHost()
        self._clock = clock
        self.feed = EventFeed()
        self._active: dict[str, ActiveRun] = {}
        self._background: set[asyncio.Future[None]] = set()

    # ----- starting -----------------------------------------------------------------------

    async def _resolve(self, pipeline_name: str, definition: pipeline_pb2.Pipeline | None, revision: int) -> Definition:
        if definition is not None:
            return await self._definitions.inline(definition)
        if not pipeline_name:
            raise InvalidInput(
                "name a registered pipeline or give an inline definition",
                [("pipeline_name", "give `pipeline_name` or `definition`")],
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
        caller: str = "",
    ) -> RunView:
        """Start a run; a known ``request_id`` returns the run it started.

        ``caller`` is whose run it is, for IA_MAX_CONCURRENT_RUNS (see RunQuota).
        Raises InvalidInput, DefinitionRefused, PipelineNotFound, RegistryUnavailable
        or TooManyRuns.
        """
        self._check_size(inputs_size)
        if request_id:
            existing = await asyncio.to_thread(self._store.run_by_request, request_id)
            if existing is not None:
                return await self.get(existing.run_id)
        resolved = await self._resolve(pipeline_name, definition, revision)
        self._check_inputs(resolved.plan, inputs)
        # No await between this check and the hold in _create: concurrent starts
        # cannot overshoot the limit.
        self._quota.check(caller)
        return await self._create(resolved, inputs, request_id, parent_run_id=None, caller=caller)

    async def _create(
        self,
        resolved: Definition,
        inputs: dict[str, Any],
        request_id: str,
        parent_run_id: str | None,
        caller: str | None = None,
    ) -> RunView:
        """Store and start a run; the run already started with ``request_id`` instead, if any.

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
        )
        active = self._activate(row, resolved.plan)
        if caller is not None:
            # Held before it begins: a run may end within begin, and give its place back.
            self._quota.hold(row.run_id, caller)
        try:
            existing = await active.begin(resolved.document)
        except BaseException:
            # Not stored (a full disk, say): nothing of it may linger.
            self._quota.release(row.run_id)
            self._active.pop(row.run_id, None)
            active.stop()
            raise
        if existing is not None:
            self._quota.release(row.run_id)
            self._active.pop(row.run_id, None)
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
        existing = await asyncio.to_thread(self._store.run_by_request, action.key)
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
        await self._create(resolved, action.inputs, action.key, parent_run_id=parent.run_id)

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
        parent = self._active.get(parent_id)
        if parent is None:
            return
        if state is RunState.SUCCEEDED:
            await parent.signal(StepSucceeded(key, outputs or {}, self._clock()))
            return
        why = f": {error_message}" if error_message else ""
        message = f"child run {child_id} ended {state.value}{why}"
        await parent.signal(StepFailed(key, ErrorKind.CHILD_RUN_FAILED, message, self._clock()))

    async def cancel_child(self, key: str, reason: str) -> None:
        """Cancel the child run started for the work ``key``, if there is one."""
        row = await asyncio.to_thread(self._store.run_by_request, key)
        if row is not None and row.run_id in self._active:
            await self._active[row.run_id].signal(Cancel(f"parent run: {reason}", self._clock()))

    async def note(self, run_id: str, body: dict[str, Any]) -> None:
        """Record an event that is no signal (a plugin's log or progress) in a run of this process."""
        active = self._active.get(run_id)
        if active is not None:
            await active.note(body)

    # ----- reading ---------------------------------------------------------------------------

    async def get(self, run_id: str) -> RunView:
        """The run and its step runs as stored; raises RunNotFound."""
        active = self._active.get(run_id)
        if active is not None:
            return active.view()
        view = await asyncio.to_thread(self._store.view, run_id)
        if view is None:
            raise RunNotFound(run_id)
        return view

    async def list_runs(
        self, *, size: int, token: str, pipeline_name: str, states: list[str]
    ) -> tuple[list[RunRow], str]:
        """A page of runs, newest first, and the next page's token ("" on the last page)."""
        limit = page_size(size)
        query = {"pipeline_name": pipeline_name, "states": sorted(states)}
        after = self._tokens.decode(token, query=query)
        rows = await asyncio.to_thread(
            lambda: self._store.list_runs(
                size=limit + 1, after=tuple(after) if after else None, pipeline_name=pipeline_name, states=states
            )
        )
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = self._tokens.encode([rows[-1].create_time, rows[-1].run_id], query=query)
        return rows, next_token

    async def watch(self, run_id: str, from_sequence: int) -> AsyncIterator[StoredEvent]:
        """The run's events after ``from_sequence``, then live ones until the run ends."""
        queue = self.feed.subscribe(run_id)
        try:
            found = await asyncio.to_thread(self._store.events_after, run_id, from_sequence)
            if found is None:
                raise RunNotFound(run_id)
            state, last_sequence, history = found
            last = from_sequence
            for event in history:
                yield event
                last = event.sequence
                if records.is_final_event(event.event):
                    return
            if state in records.FINAL_RUN_STATES and (not history or last >= last_sequence):
                return
            while True:
                event = await queue.get()
                if event.sequence <= last:
                    continue
                yield event
                last = event.sequence
                if records.is_final_event(event.event):
                    return
        finally:
            self.feed.unsubscribe(run_id, queue)

    # ----- changing a run --------------------------------------------------------------------

    async def cancel(self, run_id: str, reason: str) -> RunView:
        """Cancel a run; raises RunNotFound or RunAlreadyEnded."""
        view = await self.get(run_id)
        active = self._active.get(run_id)
        if view.row.state in records.FINAL_RUN_STATES or active is None:
            raise RunAlreadyEnded(run_id, view.row.state)
        await active.signal(Cancel(reason or "cancelled on request", self._clock()))
        return await self.get(run_id)

    # ----- human tasks ------------------------------------------------------------------------

    async def list_tasks(self, *, size: int, token: str, run_id: str, states: list[str]) -> tuple[list[TaskRow], str]:
        """A page of tasks, oldest first (OPEN ones unless ``states`` says otherwise)."""
        limit = page_size(size)
        states = states or ["OPEN"]
        query = {"run_id": run_id, "states": sorted(states)}
        after = self._tokens.decode(token, query=query)
        rows = await asyncio.to_thread(
            lambda: self._store.list_tasks(
                size=limit + 1, after=tuple(after) if after else None, run_id=run_id, states=states
            )
        )
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = self._tokens.encode([rows[-1].create_time, rows[-1].task_id], query=query)
        return rows, next_token

    async def submit(self, task_id: str, data: dict[str, Any], submitter: str) -> TaskRow:
        """Answer a task and resume its run.

        Raises TaskNotFound, TaskNotOpen, or InvalidInput (the task stays open).
        """
        task = await asyncio.to_thread(self._store.task, task_id)
        if task is None:
            raise TaskNotFound(task_id)
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
        """Resume every run that had not ended when the executor last stopped."""
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
                # Whose run it was is not stored yet (no tenants): the shared caller's.
                self._quota.hold(row.run_id, "")
        for active in resumed:
            await active.resume()
        return len(resumed)

    async def stop(self) -> None:
        """Stop working on every run (they resume at the next start), finish the
        writes under way and close connections."""
        for active in list(self._active.values()):
            active.stop()
        for future in list(self._background):
            future.cancel()
        await self._store.close()
        await self._definitions.close()
