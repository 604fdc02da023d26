"""What a run tells telemetry: spans for the run, each step attempt and each condition,
and the pipeline metrics of the kit's catalog.

It reads the scheduler's decisions after they are committed and never changes
them. The engine stays pure: it does not know telemetry exists. Conditions are
recovered from what a decision shows: when a step succeeds, its outgoing
transitions with a condition were evaluated; the ones the scheduler lists as
not taken (`record_transitions`) did not fire, the others did. (A condition
plugin answers later, through a call of its own, and gets no derived span.)

Spans:
- `run <pipeline>`: child of the StartRun call (so of the client's trace), from
  the run's start to its final state; a run resumed after a restart starts a new
  trace marked `resumed`.
- `step <id>`: one per attempt, child of the run span; a failed attempt carries
  the error (status ERROR and an `exception` event). The step's own work (a
  plugin call, a child run) runs with this span as its parent.
- `condition <source> -> <target>`: zero-length, child of the step span, with
  the expression, whether it fired and why not.

Attributes: run_id, pipeline, step_id, attempt, iteration, status (lowercase
state) and `ia.kind` (run, step, condition); the telemetry service derives its
pipeline metric points from these.

A decision that only moves steps (one step ended, the next started: most of
them) is recorded `SETTLE_DELAY_S` later, when the run settles: by then the next
step's call is on its way, so the executor records spans, step histograms,
error counts, condition spans and the parallel-steps gauge while the plugin
works instead of before the call leaves (and a step that ends as the next
starts moves the gauge by nothing). The work such a decision starts runs under
its attempt's span before that span exists: `attempt` gives the span its id
first. Any other decision (the run's state, a human task) settles the run and is
recorded at once. Times are the events' own, so nothing recorded changes.

A run whose trace the sampler drops (OTEL_TRACES_SAMPLER) records its metrics
only, each decision at once: no span is made for its steps or conditions, and
its work runs under the run's unsampled span, whose decision every standard
sampler follows for the children.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, Status, StatusCode

from ia_modules.engine import (
    Decision,
    Event,
    InputRequested,
    Plan,
    RunStateChanged,
    Scheduler,
    StepStateChanged,
    TaskClosed,
)
from ia_modules.engine.states import ErrorKind, ExecutionError, RunState, StepState
from ia_service_kit.identity import DEFAULT_TENANT, current_tenant
from ia_service_kit.spans import new_span_id, start_span
from ia_service_kit.telemetry import (
    PIPELINE_EXECUTION_DURATION,
    PIPELINE_HUMAN_TASKS_WAITING,
    PIPELINE_PARALLEL_STEPS,
    PIPELINE_RUNS_ACTIVE,
    PIPELINE_RUNS_FINISHED,
    PIPELINE_RUNS_STARTED,
    PIPELINE_STEP_DURATION,
    PIPELINE_STEP_ERRORS,
    telemetry_enabled,
)

__all__ = ["RunTelemetry", "run_telemetry"]

# Spans made with the kit's lean spans: a run records one per step attempt (see ia_service_kit.spans).
_SCOPE = InstrumentationScope("ia_executor")
_CONDITION_ERRORS = frozenset({ErrorKind.CEL_ERROR, ErrorKind.CONDITION_ERROR})
# A step attempt is under way in these states; any other state ends it.
_UNDER_WAY = frozenset({StepState.RUNNING, StepState.WAITING})

SETTLE_DELAY_S = 0.0005
"""How long ended attempts wait to be recorded: longer than it takes the next step's call to go out."""


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _record_error(span: Span, error: ExecutionError) -> None:
    span.set_status(Status(StatusCode.ERROR, f"{error.kind}: {error.message}"))
    span.add_event("exception", {"exception.type": error.kind, "exception.message": error.message})
    span.set_attribute("error_type", error.kind)


class _Current:
    """Makes the span of `context` current within a `with` block. Unlike `trace.use_span` it
    records nothing: the block only starts the attempt's work, whose errors the run records."""

    __slots__ = ("_context", "_token")

    def __init__(self, context: Any) -> None:
        self._context = context
        self._token: Any = None

    def __enter__(self) -> None:
        self._token = otel_context.attach(self._context)

    def __exit__(self, *exc_info: object) -> None:
        otel_context.detach(self._token)


_NO_SPAN = contextlib.nullcontext()

# pipeline_step_duration_seconds children by their labels, looked up once a process (labels()
# costs a lock and a dict); as many as the metric has series.
_STEP_DURATIONS: dict[tuple[str, str, str], Any] = {}


class _Attempt:
    __slots__ = ("number", "span", "start")

    def __init__(self, number: int, span: Span, start: float) -> None:
        self.number = number
        self.span = span
        self.start = start


# A committed decision's events, and the transitions it did not take (and why).
_Committed = tuple[Sequence[Event], dict[tuple[str, str], str]]
_NONE_MISSED: dict[tuple[str, str], str] = {}


class RunTelemetry:
    """The spans and metrics of one run, fed with each committed decision."""

    #: The scheduler must list the transitions that did not fire (see the module docstring).
    wants_transitions = True

    def __init__(self, run_id: str, plan: Plan) -> None:
        self.run_id = run_id
        self.pipeline = plan.name
        self._plan = plan
        self._run_span: Span | None = None
        self._run_context: Any = None  # the context with the run span current: the steps' parent
        self._run_start = 0.0
        # Whether the sampler keeps the run's trace; until its span starts, as if it did.
        self._traced = True
        # The gauge's child for this run's pipeline, looked up once (labels() costs a lock and a dict).
        self._parallel = PIPELINE_PARALLEL_STEPS.labels(self.pipeline)
        self._attempts: dict[tuple[str, int], _Attempt] = {}
        # Span ids given to attempts (step id, iteration, attempt) whose work started before they were recorded.
        self._span_ids: dict[tuple[str, int, int], int] = {}
        self._tasks: dict[str, tuple[str, int]] = {}
        # The state this run counts under in pipeline_runs_active ("" for none).
        self._state = ""
        # Decisions not recorded yet, and how many more steps run than pipeline_parallel_steps_concurrent
        # says, for `settle` (see the module docstring).
        self._unsettled: list[_Committed] = []
        self._running_change = 0
        self._settling: asyncio.TimerHandle | None = None

    # ----- the hooks ActiveRun calls ---------------------------------------------------------

    def observe(self, decision: Decision, scheduler: Scheduler) -> None:
        """Record what a committed decision did: soon, or at once (see the module docstring)."""
        not_taken = scheduler.not_taken
        if not_taken:
            # Only condition spans read them.
            missed = {(n.source, n.target): n.reason for n in not_taken} if self._traced else _NONE_MISSED
            # Only this decision's entries matter; keep the list from growing with the run.
            not_taken.clear()
        else:
            missed = _NONE_MISSED
        events = decision.events
        self._unsettled.append((events, missed))
        if not self._traced:
            # Metrics only: cheaper to record now than to wake up for later.
            self.settle()
            return
        for event in events:
            if type(event) is not StepStateChanged:
                self.settle()
                return
        if self._settling is None:
            self._settling = asyncio.get_running_loop().call_later(SETTLE_DELAY_S, self.settle)

    def settle(self) -> None:
        """Records the decisions not recorded yet, in order, and moves the parallel-steps gauge."""
        if self._settling is not None:
            self._settling.cancel()
            self._settling = None
        unsettled, self._unsettled = self._unsettled, []
        for events, missed in unsettled:
            self._record(events, missed)
        if self._running_change:
            # A step that ends as the next starts moves it by nothing: one change, or none.
            self._parallel.inc(self._running_change)
            self._running_change = 0

    def resumed(self, scheduler: Scheduler, now: float) -> None:
        """After a restart: a new run span, and open attempts for the steps still under way."""
        if scheduler.not_taken:
            scheduler.not_taken.clear()
        self._move_to(scheduler.state.value)
        self._open_run(now, _ns(now), resumed=True)
        for index, record in enumerate(r for r in scheduler.step_runs if r.state in _UNDER_WAY):
            self._open_attempt(record.step_id, record.iteration, record.attempts, now, _ns(now) + 1 + index)
            self._parallel.inc()
        for key, step_id in scheduler.open_tasks():
            iteration = next((r.iteration for r in reversed(scheduler.step_runs) if r.step_id == step_id), 0)
            self._tasks[key] = (step_id, iteration)
            PIPELINE_HUMAN_TASKS_WAITING.labels(self.pipeline).inc()

    def attempt(self, step_id: str, iteration: int, number: int) -> contextlib.AbstractContextManager[None]:
        """Makes the span of the step's attempt current, so the work started under it is its child.

        `number` is the action's attempt: a map step's items count their own, and
        run under the step's attempt. The span may not be recorded yet (its decision
        has not settled): then its context is, with the id the span will have.
        """
        if not self._traced:
            # Unsampled, or tracing is not configured: the work passes the run's decision on.
            return _NO_SPAN if self._run_context is None else _Current(self._run_context)
        key = (step_id, iteration, number)
        span_id = self._span_ids.get(key)
        if span_id is None:
            opened = self._attempts.get((step_id, iteration))
            if (opened is not None and opened.number == number) or not self._starts_unsettled(key):
                # This attempt's span, recorded already. A map item's retry runs under its
                # step's attempt; an item step with an id of its own, under none.
                return _NO_SPAN if opened is None else _Current(trace.set_span_in_context(opened.span))
            span_id = self._span_ids[key] = new_span_id()
        run = (self._run_span or trace.INVALID_SPAN).get_span_context()
        # A child of the run span: every standard sampler decides it as it decided the run span.
        child = NonRecordingSpan(SpanContext(run.trace_id, span_id, False, run.trace_flags, run.trace_state))
        return _Current(trace.set_span_in_context(child))

    def stopped(self) -> None:
        """The process stops driving the run (shutdown): its gauges go down, its spans end."""
        self.settle()
        self._span_ids.clear()
        for key in list(self._tasks):
            self._task_closed(key)
        for attempt in self._attempts.values():
            attempt.span.end()
            self._parallel.dec()
        self._attempts.clear()
        if self._run_span is not None:
            self._run_span.end()
            self._run_span = self._run_context = None
        self._move_to("")

    # ----- decisions -------------------------------------------------------------------------------

    def _starts_unsettled(self, key: tuple[str, int, int]) -> bool:
        """Whether a decision not recorded yet starts attempt `key` (step id, iteration, attempt)."""
        for events, _ in self._unsettled:
            for event in events:
                if (
                    type(event) is StepStateChanged
                    and event.state is StepState.RUNNING
                    and (event.step_id, event.iteration, event.attempt) == key
                ):
                    return True
        return False

    def _record(self, events: Sequence[Event], missed: dict[tuple[str, str], str]) -> None:
        for index, event in enumerate(events):
            # Events of one decision share a time; a nanosecond apiece keeps their order.
            at_ns = _ns(event.time) + index
            if isinstance(event, StepStateChanged):
                self._step_changed(event, at_ns, missed, events)
            elif isinstance(event, RunStateChanged):
                self._run_changed(event, at_ns)
            elif isinstance(event, InputRequested):
                self._tasks[event.key] = (event.step_id, event.iteration)
                PIPELINE_HUMAN_TASKS_WAITING.labels(self.pipeline).inc()
            elif isinstance(event, TaskClosed):
                self._task_closed(event.key)

    # ----- runs ----------------------------------------------------------------------------------

    def _move_to(self, state: str) -> None:
        """Keeps the active-runs gauge: a final state (or "") leaves it."""
        final = not state or RunState(state).is_final
        if state == self._state:
            return
        if self._state:
            PIPELINE_RUNS_ACTIVE.labels(self.pipeline, self._state.lower()).dec()
        self._state = "" if final else state
        if self._state:
            PIPELINE_RUNS_ACTIVE.labels(self.pipeline, self._state.lower()).inc()

    def _open_run(self, now: float, now_ns: int, *, resumed: bool = False) -> None:
        attributes: dict[str, Any] = {"ia.kind": "run", "run_id": self.run_id, "pipeline": self.pipeline}
        tenant = current_tenant()
        if tenant != DEFAULT_TENANT:
            # The run's work acts for its tenant; the telemetry service files the trace
            # under it (a trace that names none is the default tenant's).
            attributes["tenant"] = tenant
        if resumed:
            attributes["resumed"] = True
        # A resumed run has no caller: it starts a trace of its own.
        parent = trace.set_span_in_context(trace.INVALID_SPAN) if resumed else None
        name = f"run {self.pipeline}"
        self._run_span = start_span(name, _SCOPE, context=parent, attributes=attributes, start_time=now_ns)
        self._run_context = trace.set_span_in_context(self._run_span)
        self._run_start = now
        self._traced = self._run_span.is_recording()

    def _run_changed(self, event: RunStateChanged, at_ns: int) -> None:
        if event.state is RunState.RUNNING and self._run_span is None:
            self._open_run(event.time, at_ns)
            PIPELINE_RUNS_STARTED.labels(self.pipeline).inc()
        self._move_to(event.state.value)
        if not event.state.is_final:
            return
        status = event.state.value.lower()
        if self._run_span is None:
            self._open_run(event.time, at_ns)
        assert self._run_span is not None
        for attempt in self._attempts.values():
            attempt.span.set_attribute("status", "cancelled")
            attempt.span.end(end_time=at_ns)
            self._parallel.dec()
        self._attempts.clear()
        self._span_ids.clear()
        for key in list(self._tasks):
            self._task_closed(key)
        self._run_span.set_attribute("status", status)
        if event.error is not None:
            _record_error(self._run_span, event.error)
        self._run_span.end(end_time=at_ns)
        self._run_span = self._run_context = None
        PIPELINE_EXECUTION_DURATION.labels(self.pipeline, status).observe(max(event.time - self._run_start, 0.0))
        PIPELINE_RUNS_FINISHED.labels(self.pipeline, status).inc()

    def _task_closed(self, key: str) -> None:
        if self._tasks.pop(key, None) is not None:
            PIPELINE_HUMAN_TASKS_WAITING.labels(self.pipeline).dec()

    # ----- steps -----------------------------------------------------------------------------------

    def _open_attempt(self, step_id: str, iteration: int, attempt: int, now: float, now_ns: int) -> None:
        span_id = self._span_ids.pop((step_id, iteration, attempt), None)
        span = self._step_span(step_id, iteration, attempt, now_ns, span_id)
        self._attempts[(step_id, iteration)] = _Attempt(attempt, span, now)

    def _step_span(
        self, step_id: str, iteration: int, attempt: int, start_ns: int, span_id: int | None = None
    ) -> Span:
        if not self._traced:
            return trace.INVALID_SPAN
        return start_span(
            f"step {step_id}",
            _SCOPE,
            context=self._run_context,
            attributes={
                "ia.kind": "step",
                "run_id": self.run_id,
                "pipeline": self.pipeline,
                "step_id": step_id,
                "attempt": attempt,
                "iteration": iteration,
            },
            start_time=start_ns,
            span_id=span_id,
        )

    def _step_changed(
        self,
        event: StepStateChanged,
        at_ns: int,
        missed: dict[tuple[str, str], str],
        events: Sequence[Event],
    ) -> None:
        key = (event.step_id, event.iteration)
        if event.state in _UNDER_WAY:
            if key not in self._attempts:
                self._open_attempt(event.step_id, event.iteration, event.attempt, event.time, at_ns)
                self._running_change += 1
            return
        # A skipped step never ran; a PENDING one is held by a debugger before it runs.
        if event.state in (StepState.SKIPPED, StepState.PENDING) and key not in self._attempts:
            return
        attempt = self._attempts.pop(key, None)
        if attempt is None:
            # Failed before it ran (its inputs did not resolve, say): a span of no length.
            span = self._step_span(event.step_id, event.iteration, event.attempt, at_ns)
            attempt = _Attempt(event.attempt, span, event.time)
        else:
            self._running_change -= 1
        if self._tasks:
            for task_key in [k for k, where in self._tasks.items() if where == key]:
                self._task_closed(task_key)
        self._record_end(attempt, event, at_ns, missed, events)

    def _record_end(
        self,
        attempt: _Attempt,
        event: StepStateChanged,
        at_ns: int,
        missed: dict[tuple[str, str], str],
        events: Sequence[Event],
    ) -> None:
        status = "failed" if event.state is StepState.RETRYING else event.state.value.lower()
        span = attempt.span
        if self._traced:
            span.set_attribute("status", status)
            if event.error is not None:
                _record_error(span, event.error)
            span.end(end_time=at_ns)
        if event.error is not None:
            PIPELINE_STEP_ERRORS.labels(self.pipeline, event.step_id, event.error.kind).inc()
        labels = (self.pipeline, event.step_id, status)
        duration = _STEP_DURATIONS.get(labels)
        if duration is None:
            duration = _STEP_DURATIONS[labels] = PIPELINE_STEP_DURATION.labels(*labels)
        duration.observe(max(event.time - attempt.start, 0.0))
        if self._traced and event.state is StepState.SUCCEEDED:
            self._conditions(event, at_ns, span, missed, events)

    def _conditions(
        self,
        event: StepStateChanged,
        at_ns: int,
        step_span: Span,
        missed: dict[tuple[str, str], str],
        events: Sequence[Event],
    ) -> None:
        """One span per transition the scheduler evaluated after this step succeeded."""
        step = self._plan.steps.get(event.step_id)
        if step is None:
            return
        evaluated = []
        for edge in step.back_out:
            evaluated.append(edge)
            if (edge.source, edge.target) not in missed:
                break  # this loop fired; the forward transitions wait for a later iteration
        else:
            # A condition plugin answers later, through its own call; it is not derived here.
            evaluated.extend(e for e in step.outgoing if not e.condition.always and e.condition.kind != "plugin")
        if not evaluated:
            return  # a step that only hands on, the usual case
        # A condition that failed to evaluate ends the run, with the error, in the same decision.
        condition_error = next(
            (
                e.error
                for e in events
                if isinstance(e, RunStateChanged) and e.error is not None and e.error.kind in _CONDITION_ERRORS
            ),
            None,
        )
        context = trace.set_span_in_context(step_span)
        for edge in evaluated:
            reason = missed.get((edge.source, edge.target))
            span = start_span(
                f"condition {edge.label}",
                _SCOPE,
                context=context,
                attributes={
                    "ia.kind": "condition",
                    "run_id": self.run_id,
                    "pipeline": self.pipeline,
                    "step_id": event.step_id,
                    "iteration": event.iteration,
                    "condition.kind": edge.condition.kind,
                    "condition.expression": edge.condition.text,
                    "fired": reason is None,
                    **({"reason": reason} if reason is not None else {}),
                },
                start_time=at_ns,
            )
            if reason is None and condition_error is not None and condition_error.step_id == edge.source:
                _record_error(span, condition_error)
            span.end(end_time=at_ns)


class _Off:
    """What a run records when IA_TELEMETRY=off: nothing, at no cost."""

    wants_transitions = False

    def observe(self, decision: Decision, scheduler: Scheduler) -> None:
        """Nothing to record."""

    def resumed(self, scheduler: Scheduler, now: float) -> None:
        """Nothing to record."""

    def attempt(self, step_id: str, iteration: int, number: int) -> contextlib.AbstractContextManager[None]:
        return _NO_SPAN

    def stopped(self) -> None:
        """Nothing to release."""


def run_telemetry(run_id: str, plan: Plan) -> RunTelemetry | _Off:
    """The run's telemetry; one that records nothing when IA_TELEMETRY=off."""
    if not telemetry_enabled():
        return _Off()
    return RunTelemetry(run_id, plan)
