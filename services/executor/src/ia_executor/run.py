"""One run in progress: its scheduler, the work it has in flight, and its checkpoints.

Every signal goes through ``ActiveRun.signal`` under the run's lock: the scheduler
decides, the decision (signal, events, step runs, tasks, run fields) is committed
in one transaction, watchers are told, and only then is the decision's work
started. After a crash the journal of signals is replayed into a new scheduler,
and the work that was in flight is started again with the same idempotency keys.

The run keeps what it last committed (its row and step runs), so reading a run in
progress needs no database round trip.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from ia_modules.engine import (
    Action,
    CancelWork,
    ConditionEvaluated,
    Decision,
    ErrorKind,
    EvaluateCondition,
    ExecuteStep,
    InputRequested,
    Plan,
    Resume,
    RunStateChanged,
    Scheduler,
    Signal,
    Start,
    StartChildRun,
    StartTimer,
    StepFailed,
    StepRecord,
    StepStateChanged,
    StepSucceeded,
    TaskClosed,
    Tick,
    signal_from_dict,
)
from ia_modules.limits import DEFAULTS, Limits
from ia_service_kit.logging import get_logger

from ia_executor import records
from ia_executor.errors import InvalidInput, RunNotPaused
from ia_executor.feed import EventFeed
from ia_executor.recent import KEPT_EVENTS
from ia_executor.run_limits import EventBudget, oversized, step_io_error
from ia_executor.store import RUN_FIELDS, Commit, RunRow, RunStore, RunView, StoredEvent
from ia_executor.telemetry import run_telemetry
from ia_executor.work import StepError, StepRunner

__all__ = ["ActiveRun", "ChildRuns"]

log = get_logger(__name__)

Clock = Callable[[], float]


class ChildRuns(Protocol):
    """What a run needs from the other runs: starting and cancelling its children."""

    async def start_child(self, parent: ActiveRun, action: StartChildRun) -> None: ...

    async def cancel_child(self, key: str, reason: str) -> None: ...


class ActiveRun:
    """A run this process is executing."""

    def __init__(
        self,
        row: RunRow,
        plan: Plan,
        *,
        store: RunStore,
        feed: EventFeed,
        runner: StepRunner,
        children: ChildRuns,
        clock: Clock,
        on_end: Callable[[ActiveRun], Awaitable[None]],
        limits: Limits = DEFAULTS,
    ) -> None:
        self.row = row  # the run as last committed
        self.run_id = row.run_id
        self.telemetry = run_telemetry(row.run_id, plan)
        self.scheduler = Scheduler(
            plan,
            row.run_id,
            row.parameters,
            run_info={"parent_run_id": row.parent_run_id or ""},
            record_transitions=self.telemetry.wants_transitions,
        )
        self._store = store
        self._feed = feed
        self._runner = runner
        self._children = children
        self._clock = clock
        self._on_end = on_end
        self._lock = asyncio.Lock()
        self._sequence = row.last_sequence
        self._signals = 0
        self._indexed = 0
        self._records: dict[tuple[str, int], StepRecord] = {}
        # The stored step_runs rows by (step id, iteration), in the order they started.
        self._steps: dict[tuple[str, int], dict[str, Any]] = {}
        self._work: dict[str, asyncio.Task[None]] = {}
        self._detached: set[asyncio.Future[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False
        self._limits = limits
        self._events = EventBudget(limits, kept=row.last_sequence)
        # Every event of the run, while this process committed them all and none was
        # folded (see recent.py); None otherwise (a resumed run, say).
        self._history: list[StoredEvent] | None = [] if row.last_sequence == 0 else None

    @property
    def ended(self) -> bool:
        """True once the run is in a final state."""
        return self.scheduler.state.is_final

    @property
    def history(self) -> list[StoredEvent] | None:
        """Every event of the run in order, when this process holds them all; else None."""
        return self._history

    def view(self) -> RunView:
        """The run and its step runs as last committed (what the store holds)."""
        return RunView(self.row, list(self._steps.values()))

    # ----- entry points -------------------------------------------------------------------

    async def begin(
        self,
        definition: dict[str, Any],
        breakpoints: tuple[tuple[str, str], ...] = (),
        mocks: dict[str, Any] | None = None,
    ) -> RunRow | None:
        """Stores this new run (its PENDING row) together with its start, then starts its work.

        ``breakpoints`` and ``mocks`` make it a debugged run (see ``Start``).
        Returns None; or, when its request id is taken, the run stored under it:
        then nothing is stored and this run must be dropped.
        """
        async with self._lock:
            signal = Start(self._clock(), breakpoints, mocks or {})
            decision = self.scheduler.apply(signal)
            commit = Commit(self.run_id)
            self._add_event(commit, records.run_state_body(self.row.state), self.row.create_time)
            self._record(commit, signal, decision)
            stored = await self._store.create_run(self.row, definition, commit)
            if stored.run_id != self.run_id:
                return stored
            await self._committed(commit, decision)
            return None

    async def resume(self) -> None:
        """Rebuild the run from its journal, then restart the work that was in flight."""
        journal, steps = await asyncio.to_thread(self._store.journal, self.run_id)
        self._events.kept = await asyncio.to_thread(self._store.event_count, self.run_id)
        self._steps = {(step["step_id"], step["iteration"]): step for step in steps}
        async with self._lock:
            for data in journal:
                self.scheduler.apply(signal_from_dict(data))
            self._signals = len(journal)
            self._index_records()
            if not journal:
                # Stored by an executor that wrote a run before its first decision,
                # and stopped in between: the run has not started yet.
                await self._apply(Start(self._clock()))
                return
            inflight = self.scheduler.inflight()
            now = self._clock()
            self.telemetry.resumed(self.scheduler, now)
            commit = Commit(self.run_id)
            for action in inflight:
                step_id, iteration = action.step_id, action.iteration
                message = f"resumed after a restart; running work {action.key} again (same idempotency key)"
                self._add_event(commit, records.step_log_body(step_id, iteration, "info", message), now)
            if commit.events:
                commit.run = self._run_fields()
                await self._store.commit(commit)
                self._remember(commit)
                await self._keep_events_bounded()
                self._feed.publish(self.run_id, commit.events)
            for action in inflight:
                self._dispatch(action)
            self._schedule_timer()
        log.info("run resumed", run_id=self.run_id, signals=len(journal), inflight=len(inflight))

    async def signal(self, signal: Signal) -> Decision:
        """Apply a signal, record what it decided, then start the decided work."""
        async with self._lock:
            return await self._apply(signal)

    async def submit(self, key: str, data: dict[str, Any], submitter: str) -> bool:
        """Answer the task ``key``; False if the run no longer waits for it."""
        async with self._lock:
            if key not in {k for k, _ in self.scheduler.open_tasks()}:
                return False
            update = {"state": "SUBMITTED", "response": data, "submitter": submitter}
            note = None
            if submitter:
                # Who answered is part of the run's history, next to what the step then did.
                record = next(r for r in self.scheduler.step_runs if r.idempotency_key == key)
                message = f"input submitted by {submitter}"
                note = records.step_log_body(record.step_id, record.iteration, "info", message)
            await self._apply(StepSucceeded(key, data, self._clock()), task_update=(key, update), note=note)
            return True

    async def release(self, *, step: bool, step_id: str, inputs: dict[str, Any]) -> None:
        """Let the paused run go on (see ``Resume``); journaled like every signal.

        Raises RunNotPaused when it holds no step, InvalidInput when ``step_id``
        is not one it holds.
        """
        async with self._lock:
            paused = [p.step_id for p in self.scheduler.paused()]
            if not paused:
                raise RunNotPaused(self.run_id, self.scheduler.state.value)
            if step_id and step_id not in paused:
                raise InvalidInput(
                    f"step {step_id!r} is not paused; paused: {', '.join(paused)}",
                    [("step_id", f"{step_id!r} is not paused; give one of: {', '.join(paused)}")],
                )
            await self._apply(Resume(self._clock(), step, step_id, inputs))

    async def note(self, body: dict[str, Any]) -> None:
        """Record and stream an event that is no signal (a plugin's log line or progress)."""
        async with self._lock:
            if self._stopped or self.ended:
                return
            commit = Commit(self.run_id)
            self._add_event(commit, body, self._clock())
            commit.run = self._run_fields()
            await self._store.commit(commit)
            self._remember(commit)
            await self._keep_events_bounded()
            self._feed.publish(self.run_id, commit.events)

    def stop(self) -> None:
        """Stop this process's work on the run without changing it (shutdown)."""
        self._stopped = True
        self.telemetry.stopped()
        if self._timer is not None:
            self._timer.cancel()
        current = asyncio.current_task()
        for task in self._work.values():
            if task is not current:
                task.cancel()
        self._work.clear()

    # ----- one decision -----------------------------------------------------------------------

    async def _apply(
        self,
        signal: Signal,
        task_update: tuple[str, dict[str, Any]] | None = None,
        note: dict[str, Any] | None = None,
    ) -> Decision:
        if self._stopped:
            return Decision()
        decision = self.scheduler.apply(signal)
        if isinstance(signal, Tick) and not decision.events and not decision.actions:
            self._schedule_timer()
            return decision
        commit = Commit(self.run_id)
        if note is not None:
            # Before the decision's events: a run that ends here ends on its last event.
            self._add_event(commit, note, self._clock())
        self._record(commit, signal, decision)
        if task_update is not None:
            commit.task_updates.append(task_update)
        await self._store.commit(commit)
        await self._committed(commit, decision)
        return decision

    async def _committed(self, commit: Commit, decision: Decision) -> None:
        """What follows a decision once it is stored: its work, watchers, the end."""
        self.telemetry.observe(decision, self.scheduler)
        self._remember(commit)
        # The work first: its tasks start before the watchers hear of the events
        # (see Runs.watch), so a plugin call goes out before their writes.
        for action in decision.actions:
            self._dispatch(action)
        await self._keep_events_bounded()
        self._feed.publish(self.run_id, commit.events)
        self._schedule_timer()
        if self.ended:
            self.stop()
            await self._on_end(self)

    def _remember(self, commit: Commit) -> None:
        self.row = replace(self.row, **commit.run)
        for step in (*commit.new_steps, *commit.changed_steps):
            self._steps[(step["step_id"], step["iteration"])] = step
        self._events.added(len(commit.events))
        if self._history is not None:
            self._history.extend(commit.events)
            if len(self._history) > KEPT_EVENTS:
                self._history = None

    async def _keep_events_bounded(self) -> None:
        """Folds the oldest events into a summary once the run keeps too many
        (IA_MAX_EVENTS_PER_RUN); before watchers hear of the newest, so whoever saw
        the run end reads it folded."""
        through = self._events.fold_through(self._sequence)
        if through is None:
            return
        self._history = None
        try:
            await self._store.fold_events(self.run_id, through, self._events.summary(through))
        except Exception as error:  # the events stay; the next fold takes them too
            log.error("events not folded", run_id=self.run_id, through=through, error=repr(error))

    def _detach(self, work: Awaitable[None]) -> None:
        """Work not tracked as the run's: it must outlive the run ending."""
        future = asyncio.ensure_future(work)
        self._detached.add(future)
        future.add_done_callback(self._detached.discard)

    def _run_fields(self) -> dict[str, Any]:
        fields = {name: getattr(self.row, name) for name in RUN_FIELDS}
        fields["last_sequence"] = self._sequence
        return fields

    def _index_records(self) -> None:
        step_runs = self.scheduler.step_runs
        for record in step_runs[self._indexed :]:
            self._records[(record.step_id, record.iteration)] = record
        self._indexed = len(step_runs)

    def _add_event(self, commit: Commit, body: dict[str, Any], time: float) -> int:
        self._sequence += 1
        commit.events.append(StoredEvent(self.run_id, self._sequence, time, body))
        return self._sequence

    def _record(self, commit: Commit, signal: Signal, decision: Decision) -> None:
        """Adds the signal and what it decided to ``commit``."""
        commit.signal = signal.to_dict()
        commit.signal_position = self._signals
        self._signals += 1
        self._index_records()
        # (step id, iteration) -> the sequence number of its first event here
        touched: dict[tuple[str, int], int] = {}
        run_fields = self._run_fields()
        for event in decision.events:
            task = None
            if isinstance(event, InputRequested):
                task = records.task_dict(
                    event, task_id=str(uuid.uuid4()), run_id=self.run_id, pipeline_name=self.row.pipeline_name
                )
                commit.new_tasks.append(task)
            elif isinstance(event, TaskClosed):
                commit.task_updates.append((event.key, {"state": event.state, "response": event.response}))
            elif isinstance(event, RunStateChanged):
                run_fields["state"] = event.state.value
                if event.state.value == "RUNNING" and run_fields["start_time"] is None:
                    run_fields["start_time"] = event.time
                if event.state.is_final:
                    run_fields["end_time"] = event.time
                    run_fields["error"] = records.error_dict(event.error)
                    run_fields["outputs"] = self.scheduler.outputs
            body = records.event_body(event, task)
            if body is None:
                continue
            sequence = self._add_event(commit, body, event.time)
            if isinstance(event, StepStateChanged):
                touched.setdefault((event.step_id, event.iteration), sequence)
        for key, first_sequence in touched.items():
            row = records.step_row(self._records[key])
            stored = self._steps.get(key)
            if stored is None:
                row["position"] = first_sequence
                commit.new_steps.append(row)
            else:
                row["position"] = stored["position"]
                commit.changed_steps.append(row)
        run_fields["last_sequence"] = self._sequence
        commit.run = run_fields

    # ----- work ---------------------------------------------------------------------------------

    def _dispatch(self, action: Action) -> None:
        if isinstance(action, CancelWork):
            task = self._work.pop(action.key, None)
            if task is not None:
                task.cancel()
            self._detach(self._children.cancel_child(action.key, action.reason))
        elif isinstance(action, ExecuteStep):
            # Work started under the attempt's span (a plugin call) is its child.
            with self.telemetry.attempt(action.step_id, action.iteration, action.attempt):
                self._spawn(action.key, self._execute(action))
        elif isinstance(action, EvaluateCondition):
            self._spawn(action.key, self._ask(action))
        elif isinstance(action, StartTimer):
            self._spawn(action.key, self._wait(action))
        elif isinstance(action, StartChildRun):
            with self.telemetry.attempt(action.step_id, action.iteration, action.attempt):
                self._spawn(action.key, self._children.start_child(self, action))

    def _spawn(self, key: str, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._work[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._work.get(key) is done:
                del self._work[key]
            if not done.cancelled() and done.exception() is not None:
                log.error("run work failed", run_id=self.run_id, key=key, error=repr(done.exception()))

        task.add_done_callback(forget)

    async def _execute(self, action: ExecuteStep) -> None:
        timeout = None if action.deadline is None else max(action.deadline - self._clock(), 0.0)
        input_limit = self._limits.step_input_bytes
        size = oversized(action.input, input_limit)
        if size is not None:
            kind, message = step_io_error(action.step_id, "input", size, input_limit)
            await self.signal(StepFailed(action.key, kind, message, self._clock()))
            return
        try:
            output = await asyncio.wait_for(self._runner.run(action), timeout)
        except TimeoutError:
            limit = self.scheduler.plan.steps[action.step_id].timeout_s
            signal: Signal = StepFailed(
                action.key,
                ErrorKind.STEP_TIMEOUT,
                f"step {action.step_id!r} did not finish within {limit:g}s",
                self._clock(),
            )
        except StepError as error:
            signal = StepFailed(action.key, error.kind, error.message, self._clock())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a runner bug must fail the step, not the executor
            signal = StepFailed(action.key, ErrorKind.STEP_ERROR, f"{type(error).__name__}: {error}", self._clock())
        else:
            output = output if isinstance(output, dict) else {"value": output}
            output_limit = self._limits.step_output_bytes
            size = oversized(output, output_limit)
            if size is None:
                signal = StepSucceeded(action.key, output, self._clock())
            else:
                kind, message = step_io_error(action.step_id, "output", size, output_limit)
                signal = StepFailed(action.key, kind, message, self._clock())
        await self.signal(signal)

    async def _ask(self, action: EvaluateCondition) -> None:
        """Ask the runner for a condition plugin's verdict; a failure fails the run."""
        try:
            verdict = await self._runner.evaluate(action)
        except StepError as error:
            signal: Signal = StepFailed(action.key, error.kind, error.message, self._clock())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a runner bug must fail the run, not the executor
            signal = StepFailed(action.key, ErrorKind.STEP_ERROR, f"{type(error).__name__}: {error}", self._clock())
        else:
            signal = ConditionEvaluated(action.key, verdict.fired, verdict.reason, self._clock())
        await self.signal(signal)

    async def _wait(self, action: StartTimer) -> None:
        await asyncio.sleep(max(action.until - self._clock(), 0.0))
        await self.signal(StepSucceeded(action.key, {}, max(self._clock(), action.until)))

    def _schedule_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        wakeup = self.scheduler.next_wakeup
        if wakeup is None or self._stopped:
            return
        delay = max(wakeup - self._clock(), 0.0)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(
            delay, lambda: self._spawn("#tick", self.signal(Tick(max(self._clock(), wakeup))))
        )
