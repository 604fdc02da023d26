"""The scheduler: feed it signals, get back the events to record and the actions to take.

Semantics (DESIGN.md §5):

- A step is ready once every incoming transition is resolved and at least one
  fired. A transition fires when its source succeeded and its condition held.
  A step whose incoming transitions all failed to fire is SKIPPED, and its own
  outgoing transitions resolve as not taken (dead-path elimination), so the join
  after an if/else runs once. Steps that become ready together are returned
  together.
- A back edge (loop) that fires starts a new iteration of its target: every step
  after the target is reset and may run again, each run recorded as its own
  iteration. While a loop goes round, the forward edges of the step that looped
  back wait for a later iteration. A transition's ``max_iterations`` stops it
  from firing once reached (the loop exits); ``loop_config`` limits fail the run
  with LOOP_LIMIT_EXCEEDED.
- A failed attempt is retried under the step's retry policy. When the step has
  failed for good, the first that applies wins: ``fallback`` (its output), the
  step's ``on_error`` route, ``continue_on_error`` (its error as output), the
  pipeline's defaults; otherwise the run fails.
- A condition that errors (a CEL runtime error, say) fails the run, naming the
  transition, the expression and the step.
- A condition plugin cannot run here: for a forward transition guarded by one,
  the scheduler asks the executor (EvaluateCondition) and resolves the transition
  when the ConditionEvaluated signal comes back. Being a signal, the verdict is
  journaled, so a replay decides the same way.
- A debugged run (breakpoints or mocks on its Start) holds a step at a
  breakpoint before it runs, with its input resolved; while nothing else runs
  the run is PAUSED. ``Resume`` releases the held steps (``step``: one of them,
  then every next step is held too). A mocked step completes with its mock and
  is never dispatched. A debugged run keeps each condition it evaluated.

The scheduler does no I/O, never reads the clock and draws randomness (retry
jitter) only from its ``rng``, seeded from the run id unless one is given.
"""

from __future__ import annotations

import copy
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ia_modules.conditions import ConditionError, Verdict, compile_condition
from ia_modules.engine.actions import Action, CancelWork, EvaluateCondition, ExecuteStep, StartChildRun, StartTimer
from ia_modules.engine.debugging import ConditionRecord, PausedStep
from ia_modules.engine.events import (
    Event,
    InputRequested,
    RunOutputs,
    RunStateChanged,
    StepInputEdited,
    StepLog,
    StepStateChanged,
    TaskClosed,
)
from ia_modules.engine.plan import Plan, StepPlan, TransitionPlan
from ia_modules.engine.signals import (
    Cancel,
    ConditionEvaluated,
    Resume,
    Signal,
    Start,
    StepFailed,
    StepSucceeded,
    Tick,
)
from ia_modules.engine.states import ErrorKind, ExecutionError, RunState, StepState
from ia_modules.templates import TemplateError

__all__ = ["Decision", "NotTaken", "Scheduler", "StepRecord"]

_PENDING, _ACTIVE, _DONE = 0, 1, 2


@dataclass(slots=True)
class StepRecord:
    """One step run: a step at one iteration. Mirrors ia.executor.v1.StepRun."""

    step_id: str
    iteration: int
    idempotency_key: str
    state: StepState = StepState.PENDING
    attempts: int = 0
    start_time: float | None = None
    end_time: float | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: ExecutionError | None = None


@dataclass(frozen=True, slots=True)
class NotTaken:
    """A transition that did not fire, and why (kept when ``record_transitions``)."""

    source: str
    target: str
    reason: str


@dataclass(slots=True)
class Decision:
    """What one signal led to: events to record first, then actions to take."""

    events: list[Event] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)


class _Node:
    """Run-time state of one step."""

    __slots__ = (
        "plan",
        "status",
        "resolved",
        "fired",
        "entry",
        "not_fired",
        "iterations",
        "record",
        "attempt",
        "key",
        "error",
        "loop_start",
        "rerun",
        "map",
        "human",
    )

    def __init__(self, plan: StepPlan) -> None:
        self.plan = plan
        self.status = _PENDING
        self.resolved = 0
        self.fired: list[TransitionPlan] = []
        self.entry: list[TransitionPlan] = []
        self.not_fired: list[str] = []
        self.iterations = 0
        self.record: StepRecord | None = None
        self.attempt = 0
        self.key = ""
        self.error: ExecutionError | None = None
        self.loop_start: float | None = None
        self.rerun = False
        self.map: _MapState | None = None
        self.human = False


class _MapState:
    __slots__ = ("items", "results", "next", "running", "done", "attempts")

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.results: list[Any] = [None] * len(items)
        self.next = 0
        self.running = 0
        self.done = 0
        self.attempts = [0] * len(items)


class _Work:
    """Something in flight outside the engine."""

    __slots__ = ("node", "index", "action", "data")

    def __init__(self, node: _Node, index: int | None, action: Action | None, data: Any = None) -> None:
        self.node = node
        self.index = index
        self.action = action
        self.data = data


class Scheduler:
    """Drives one run of a compiled Plan.

    Call ``apply(signal)`` (or the shortcuts ``start``, ``succeed``, ``fail``,
    ``tick``, ``cancel``) and act on the returned Decision. Call ``tick`` at
    ``next_wakeup`` so retries, input deadlines and the run deadline fire.
    """

    def __init__(
        self,
        plan: Plan,
        run_id: str,
        parameters: Mapping[str, Any],
        *,
        run_info: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
        record_transitions: bool = False,
    ) -> None:
        self.plan = plan
        self.run_id = run_id
        self.parameters = dict(parameters)
        self.state = RunState.PENDING
        self._ended = False
        self.error: ExecutionError | None = None
        self.outputs: dict[str, Any] | None = None
        self.step_runs: list[StepRecord] = []
        self.not_taken: list[NotTaken] | None = [] if record_transitions else None
        self._rng = rng if rng is not None else random.Random(run_id)
        self._run = {"run_id": run_id, "pipeline": plan.name, **(run_info or {})}
        self._nodes = {sid: _Node(sp) for sid, sp in plan.steps.items()}
        self._edge_state: list[bool | None] = [None] * len(plan.transitions)
        self._taken = [0] * len(plan.transitions)
        self._outputs: dict[str, Any] = {}
        self._last_output: dict[str, Any] = {}
        self._ready: deque[tuple[_Node, bool]] = deque()
        self._active: dict[str, _Node] = {}
        self._waiting = 0
        # Condition plugins asked and not answered yet: the run cannot end meanwhile.
        self._asking = 0
        self._inflight: dict[str, _Work] = {}
        self._timers: dict[str, tuple[float, _Node, int | None]] = {}
        self._deadline: float | None = None
        self._now = 0.0
        self._events: list[Event] = []
        self._actions: list[Action] = []
        # Debugging (see Start): breakpoint conditions by step id ("" = always),
        # mock outputs by step id, the steps held before they run (with why), and
        # whether every step about to run is held (after a Resume with ``step``).
        self._breakpoints: dict[str, list[str]] = {}
        self._mocks: dict[str, dict[str, Any]] = {}
        self._held: list[tuple[_Node, str]] = []
        self._stepping = False
        #: Each transition condition evaluated so far; kept by debugged runs only.
        self.conditions: list[ConditionRecord] | None = None

    # ----- signals -----------------------------------------------------------------

    def apply(self, signal: Signal) -> Decision:
        """Apply one signal and return what it led to. Signals after the end are ignored."""
        if self._ended:
            return Decision()
        now = signal.now
        self._now = now
        if isinstance(signal, StepSucceeded):
            self._on_succeeded(signal.key, signal.output, now)
        elif isinstance(signal, StepFailed):
            self._on_failed(signal.key, ExecutionError(signal.kind, signal.message), now)
        elif isinstance(signal, ConditionEvaluated):
            self._on_condition(signal.key, signal.fired, signal.reason, now)
        elif isinstance(signal, Tick):
            self._on_tick(now)
        elif isinstance(signal, Start):
            self._on_start(signal)
        elif isinstance(signal, Resume):
            self._on_resume(signal, now)
        elif isinstance(signal, Cancel):
            self._terminate(RunState.CANCELLED, ExecutionError(ErrorKind.CANCELLED, signal.reason), now)
        self._pump(now)
        self._settle(now)
        decision = Decision(self._events, self._actions)
        self._events, self._actions = [], []
        return decision

    def start(self, now: float) -> Decision:
        """Start the run."""
        return self.apply(Start(now))

    def succeed(self, key: str, output: dict[str, Any], now: float) -> Decision:
        """The work ``key`` succeeded with ``output``."""
        return self.apply(StepSucceeded(key, output, now))

    def fail(self, key: str, kind: str, message: str, now: float) -> Decision:
        """The work ``key`` failed with an error of ``kind``."""
        return self.apply(StepFailed(key, kind, message, now))

    def tick(self, now: float) -> Decision:
        """Time is ``now``: fire whatever is due."""
        return self.apply(Tick(now))

    def cancel(self, reason: str, now: float) -> Decision:
        """Cancel the run."""
        return self.apply(Cancel(reason, now))

    # ----- questions -----------------------------------------------------------------

    @property
    def next_wakeup(self) -> float | None:
        """When ``tick`` must next be called, or None if nothing is timed."""
        times = [t for t, _n, _i in self._timers.values()]
        if self._deadline is not None and not self._ended:
            times.append(self._deadline)
        return min(times) if times else None

    def inflight(self) -> list[Action]:
        """The actions still in flight, to dispatch again after a restart."""
        return [w.action for w in self._inflight.values() if w.action is not None]

    def open_tasks(self) -> list[tuple[str, str]]:
        """(key, step id) of each human-input task still waiting for an answer."""
        return [(k, w.node.plan.id) for k, w in self._inflight.items() if w.action is None]

    def paused(self) -> list[PausedStep]:
        """The steps held before they run, in the order they were held."""
        return [
            PausedStep(node.plan.id, node.record.iteration, dict(node.record.input or {}), reason)
            for node, reason in self._held
        ]

    def step_outputs(self) -> dict[str, Any]:
        """The output of each step that succeeded so far (its latest iteration's), by step id."""
        return dict(self._outputs)

    # ----- run lifecycle ---------------------------------------------------------------

    def _on_start(self, signal: Start) -> None:
        if self.state is not RunState.PENDING:
            return
        now = signal.now
        if signal.breakpoints or signal.mocks:
            for step_id, condition in signal.breakpoints:
                self._breakpoints.setdefault(step_id, []).append(condition.strip())
            self._mocks = {
                step_id: output if isinstance(output, dict) else {"value": output}
                for step_id, output in signal.mocks.items()
            }
            self.conditions = []
        self.state = RunState.RUNNING
        self._events.append(RunStateChanged(RunState.RUNNING, now))
        if self.plan.timeout_s:
            self._deadline = now + self.plan.timeout_s
        self._ready.append((self._nodes[self.plan.start], True))

    def _settle(self, now: float) -> None:
        if self._ended or self.state is RunState.PENDING:
            return
        if self._active or self._ready or self._asking:
            idle = len(self._active) == self._waiting + len(self._held) and not self._ready and not self._asking
            if not idle:
                state = RunState.RUNNING
            else:
                state = RunState.PAUSED if self._held else RunState.WAITING_FOR_INPUT
            if state is not self.state:
                self.state = state
                self._events.append(RunStateChanged(state, now))
            return
        if self.plan.outputs is None:
            outputs = self._last_output
        else:
            try:
                outputs = self.plan.outputs.render(self._context())
            except TemplateError as exc:
                self._terminate(
                    RunState.FAILED,
                    ExecutionError(ErrorKind.TEMPLATE_ERROR, f"pipeline outputs: {exc}"),
                    now,
                )
                return
        self.outputs = outputs
        self.state = RunState.SUCCEEDED
        self._ended = True
        self._events.append(RunOutputs(outputs, now))
        self._events.append(RunStateChanged(RunState.SUCCEEDED, now))

    def _terminate(self, state: RunState, error: ExecutionError, now: float) -> None:
        """End the run: cancel all work in flight and every active step."""
        reason = f"run {state.value.lower().replace('_', ' ')}: {error.message}"
        for key, work in self._inflight.items():
            if work.action is None:
                self._events.append(TaskClosed(key, "CANCELLED", now))
            else:
                self._actions.append(CancelWork(key, reason))
        for node in self._active.values():
            record = node.record
            record.state = StepState.CANCELLED
            record.end_time = now
            self._events.append(
                StepStateChanged(node.plan.id, record.iteration, StepState.CANCELLED, node.attempt, now, reason=reason)
            )
        self._inflight.clear()
        self._timers.clear()
        self._active.clear()
        self._ready.clear()
        self._held.clear()
        self._waiting = 0
        self._asking = 0
        self.state = state
        self._ended = True
        self.error = error
        self._events.append(RunStateChanged(state, now, error))

    def _on_tick(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline:
            self._terminate(
                RunState.TIMED_OUT,
                ExecutionError(ErrorKind.RUN_TIMEOUT, f"the run exceeded its timeout of {self.plan.timeout_s:g}s"),
                now,
            )
            return
        due = sorted((t, key) for key, (t, _n, _i) in self._timers.items() if t <= now)
        for _t, key in due:
            if self._ended or key not in self._timers:
                continue
            _t, node, index = self._timers.pop(key)
            if node.human:
                self._human_timeout(node, key, now)
            elif index is None:
                self._attempt(node, now)
            else:
                self._launch_item(node, index, now)
                if node.map is not None:
                    self._fill_map(node, now)

    # ----- readiness -----------------------------------------------------------------

    def _pump(self, now: float) -> None:
        ready = self._ready
        while ready and not self._ended:
            node, run = ready.popleft()
            if run:
                self._activate(node, now)
            else:
                self._skip(node, now)

    def _resolve(self, edge: TransitionPlan, fired: bool, reason: str) -> None:
        if self._edge_state[edge.index] is not None:
            return
        self._edge_state[edge.index] = fired
        target = self._nodes[edge.target]
        target.resolved += 1
        if fired:
            target.fired.append(edge)
        else:
            target.not_fired.append(f"{edge.label}: {reason}")
            if self.not_taken is not None:
                self.not_taken.append(NotTaken(edge.source, edge.target, reason))
        if target.resolved == len(target.plan.incoming):
            target.entry = list(target.fired)
            self._ready.append((target, bool(target.entry)))

    def _leave(self, node: _Node, outcome: StepState, now: float) -> None:
        """Resolve a finished step's outgoing transitions; ``outcome`` is how it ended."""
        plan = node.plan
        if outcome is StepState.SUCCEEDED:
            if plan.back_out and self._loop_back(node, now):
                return
            if self._ended:
                return
            context = None
            for edge in plan.outgoing:
                condition = edge.condition
                if condition.always:
                    self._resolve(edge, True, "")
                    continue
                if condition.kind == "plugin":
                    self._ask(node, edge, now)
                    continue
                if context is None:
                    context = self._context(result=self._outputs.get(plan.id))
                verdict = self._evaluate(edge, context, now)
                if verdict is None:
                    return
                self._note_condition(edge, node, verdict, context)
                self._resolve(edge, verdict.fired, verdict.reason)
            if plan.error_edge is not None:
                self._resolve(plan.error_edge, False, f"{plan.id} did not fail")
        elif outcome is StepState.FAILED:
            for edge in plan.outgoing:
                self._resolve(edge, False, f"{plan.id} failed")
            edge = plan.error_edge
            handler = self._nodes[edge.target]
            handler.error = node.error
            if edge.back:
                self._take_back_edge(edge, node, now)
            else:
                self._resolve(edge, True, "")
        else:
            for edge in plan.outgoing:
                self._resolve(edge, False, f"{plan.id} was skipped")
            if plan.error_edge is not None:
                self._resolve(plan.error_edge, False, f"{plan.id} was skipped")
        if node.rerun and not self._ended:
            node.rerun = False
            self._ready.append((node, True))

    def _evaluate(self, edge: TransitionPlan, context: dict[str, Any], now: float) -> Any:
        try:
            return edge.condition.evaluate(context)
        except ConditionError as exc:
            kind = ErrorKind.CEL_ERROR if edge.condition.kind == "cel" else ErrorKind.CONDITION_ERROR
            self._terminate(
                RunState.FAILED,
                ExecutionError(kind, f"transition {edge.label} (after step {edge.source!r}): {exc}", edge.source),
                now,
            )
            return None

    def _note_condition(self, edge: TransitionPlan, node: _Node, verdict: Verdict, context: dict[str, Any]) -> None:
        if self.conditions is None:
            return
        # A copy: the outputs the condition read keep changing as the run goes on.
        values = copy.deepcopy(edge.condition.reads(context))
        self.conditions.append(
            ConditionRecord(
                edge.source,
                edge.target,
                node.record.iteration,
                edge.condition.text,
                verdict.fired,
                verdict.reason,
                values,
            )
        )

    def _ask(self, node: _Node, edge: TransitionPlan, now: float) -> None:
        """Have the executor call the condition plugin guarding ``edge``."""
        condition = edge.condition
        key = f"{node.key}/condition/{edge.index}"
        action = EvaluateCondition(
            key,
            edge.source,
            node.record.iteration,
            edge.target,
            condition.plugin,
            condition.config,
            self._outputs.get(edge.source) or {},
        )
        self._inflight[key] = _Work(node, None, action, edge)
        self._asking += 1
        self._actions.append(action)

    def _on_condition(self, key: str, fired: bool, reason: str, now: float) -> None:
        work = self._inflight.pop(key, None)
        if work is None or not isinstance(work.action, EvaluateCondition):
            return
        self._asking -= 1
        edge = work.data
        verb = "fires" if fired else "does not fire"
        self._log(work.node, "info", f"condition plugin {work.action.plugin!r}: {edge.label} {verb} ({reason})", now)
        self._note_condition(edge, work.node, Verdict(fired, reason), {})
        self._resolve(edge, fired, reason)

    def _condition_failed(self, work: _Work, error: ExecutionError, now: float) -> None:
        self._asking -= 1
        edge = work.data
        message = (
            f"transition {edge.label} (after step {edge.source!r}): condition plugin "
            f"{work.action.plugin!r} failed: {error.kind}: {error.message}"
        )
        self._terminate(RunState.FAILED, ExecutionError(ErrorKind.CONDITION_ERROR, message, edge.source), now)

    # ----- loops -----------------------------------------------------------------------

    def _loop_back(self, node: _Node, now: float) -> bool:
        """Take the first back edge of ``node`` that fires; True if one did."""
        context = self._context(result=self._outputs.get(node.plan.id))
        for edge in node.plan.back_out:
            verdict = self._evaluate(edge, context, now)
            if verdict is None:
                return True
            self._note_condition(edge, node, verdict, context)
            if not verdict.fired:
                self._note_not_taken(edge, verdict.reason)
                continue
            if edge.max_iterations and self._taken[edge.index] >= edge.max_iterations:
                reason = f"its max_iterations ({edge.max_iterations}) was reached"
                self._note_not_taken(edge, reason)
                self._log(node, "info", f"loop {edge.label} not taken: {reason}", now)
                continue
            self._take_back_edge(edge, node, now)
            return True
        return False

    def _note_not_taken(self, edge: TransitionPlan, reason: str) -> None:
        if self.not_taken is not None:
            self.not_taken.append(NotTaken(edge.source, edge.target, reason))

    def _take_back_edge(self, edge: TransitionPlan, source: _Node, now: float) -> None:
        target = self._nodes[edge.target]
        limit = self.plan.loop_max_seconds
        if limit and target.loop_start is not None and now - target.loop_start > limit:
            self._loop_limit(
                source, f"the loop {edge.label} ran longer than loop_config.max_loop_time_seconds ({limit:g}s)", now
            )
            return
        self._taken[edge.index] += 1
        region, inner = self.plan.regions[edge.target]
        for inner_edge in inner:
            fired = self._edge_state[inner_edge.index]
            if fired is None:
                continue
            self._edge_state[inner_edge.index] = None
            reset = self._nodes[inner_edge.target]
            reset.resolved -= 1
            if fired:
                reset.fired.remove(inner_edge)
        for name in region:
            reset = self._nodes[name]
            reset.not_fired = []
            if reset.status == _DONE:
                reset.status = _PENDING
        self._log(source, "info", f"loop {edge.label}: iteration {target.iterations} of {target.plan.id}", now)
        target.entry = [edge]
        self._ready.append((target, True))

    def _loop_limit(self, node: _Node, message: str, now: float) -> None:
        self._terminate(RunState.FAILED, ExecutionError(ErrorKind.LOOP_LIMIT_EXCEEDED, message, node.plan.id), now)

    # ----- running a step ------------------------------------------------------------

    def _context(self, **extra: Any) -> dict[str, Any]:
        context = {"parameters": self.parameters, "steps": self._outputs, "run": self._run}
        context.update(extra)
        return context

    def _input(self, node: _Node) -> dict[str, Any]:
        plan = node.plan
        if plan.inputs is not None:
            extra = {"error": node.error.to_dict()} if node.error is not None else {}
            value = plan.inputs.render(self._context(**extra))
            return value if isinstance(value, dict) else {"value": value}
        merged = dict(self.parameters)
        for edge in node.entry:
            if edge.on_failure:
                merged["error"] = node.error.to_dict()
            else:
                output = self._outputs.get(edge.source)
                if output:
                    merged.update(output)
        return merged

    def _activate(self, node: _Node, now: float) -> None:
        if node.status == _ACTIVE:
            node.rerun = True
            return
        plan = node.plan
        limit = self.plan.loop_max_iterations
        if limit and node.iterations >= limit:
            self._loop_limit(
                node,
                f"step {plan.id!r} would run {node.iterations + 1} times; loop_config.max_iterations is {limit}",
                now,
            )
            return
        iteration = node.iterations
        node.iterations += 1
        if node.loop_start is None:
            node.loop_start = now
        node.key = f"{self.run_id}/{plan.id}/{iteration}"
        record = StepRecord(plan.id, iteration, node.key, start_time=now)
        self.step_runs.append(record)
        node.record = record
        node.status = _ACTIVE
        node.attempt = 0
        self._active[plan.id] = node
        try:
            record.input = self._input(node)
        except TemplateError as exc:
            node.attempt = 1
            record.attempts = 1
            self._final_failure(node, ExecutionError(ErrorKind.TEMPLATE_ERROR, f"inputs: {exc}", plan.id), now)
            return
        if self._stepping or self._breakpoints:
            reason = self._pause_reason(node)
            if reason:
                self._held.append((node, reason))
                self._events.append(
                    StepStateChanged(
                        plan.id, iteration, StepState.PENDING, 0, now, input=record.input, reason=f"paused: {reason}"
                    )
                )
                return
        self._attempt(node, now)

    # ----- debugging -------------------------------------------------------------------

    def _pause_reason(self, node: _Node) -> str:
        """Why ``node`` is held before it runs; "" to run it."""
        if self._stepping:
            return "stepping"
        for text in self._breakpoints.get(node.plan.id, ()):
            if not text:
                return "breakpoint"
            try:
                verdict = compile_condition({"expr": text}).evaluate(self._context(input=node.record.input))
            except ConditionError as exc:
                # A debugger that cannot tell stops: better than running past the step.
                return f"breakpoint (its condition failed: {exc})"
            if verdict.fired:
                return f"breakpoint ({text})"
        return ""

    def _on_resume(self, signal: Resume, now: float) -> None:
        held = self._held
        index = 0
        if signal.step_id:
            index = next((i for i, (node, _r) in enumerate(held) if node.plan.id == signal.step_id), -1)
        if not held or index < 0:
            return
        node = held[index][0]
        if signal.inputs:
            record = node.record
            record.input = {**(record.input or {}), **signal.inputs}
            self._events.append(
                StepInputEdited(node.plan.id, record.iteration, dict(record.input), tuple(signal.inputs), now)
            )
        if self.state is RunState.PAUSED:
            # Said even when the run pauses again within this decision (a `pass`
            # step run by a step): a watcher sees each pause on its own.
            self.state = RunState.RUNNING
            self._events.append(RunStateChanged(RunState.RUNNING, now))
        if signal.step:
            self._stepping = True
            del held[index]
            released = [node]
        else:
            self._stepping = False
            released = [held_node for held_node, _r in held]
            held.clear()
        for released_node in released:
            if self._ended:
                return
            self._attempt(released_node, now)

    def _attempt(self, node: _Node, now: float) -> None:
        plan = node.plan
        record = node.record
        node.attempt += 1
        record.attempts = node.attempt
        attempt = node.attempt
        kind = plan.kind
        mock = self._mocks.get(plan.id) if self._mocks else None
        if kind == "human_input" and mock is None:
            self._request_input(node, now)
            return
        record.state = StepState.RUNNING
        self._events.append(
            StepStateChanged(
                plan.id,
                record.iteration,
                StepState.RUNNING,
                attempt,
                now,
                input=record.input if attempt == 1 else None,
            )
        )
        if mock is not None:
            self._succeed(node, dict(mock), now, reason="mocked: completed with its mock output; it did not run")
        elif kind == "pass":
            self._succeed(node, {**plan.values, **record.input}, now)
        elif kind == "map":
            self._start_map(node, now)
        else:
            action = self._action(plan, node.key, record.iteration, attempt, record.input, None, now)
            self._inflight[node.key] = _Work(node, None, action)
            self._actions.append(action)

    def _action(
        self,
        plan: StepPlan,
        key: str,
        iteration: int,
        attempt: int,
        data: dict[str, Any],
        index: int | None,
        now: float,
    ) -> Action:
        deadline = now + plan.timeout_s if plan.timeout_s else None
        if plan.kind == "wait":
            return StartTimer(key, plan.id, iteration, attempt, now + plan.wait_seconds, index)
        if plan.kind == "pipeline":
            return StartChildRun(
                key, plan.id, iteration, attempt, plan.child_pipeline, plan.child_revision, data, deadline, index
            )
        return ExecuteStep(
            key,
            plan.id,
            iteration,
            attempt,
            plan.plugin,
            plan.module,
            plan.step_class,
            plan.config,
            data,
            deadline,
            index,
        )

    def _request_input(self, node: _Node, now: float) -> None:
        plan = node.plan
        human = plan.human
        record = node.record
        record.state = StepState.WAITING
        deadline = now + human.timeout_s if human.timeout_s else None
        node.human = True
        self._waiting += 1
        self._inflight[node.key] = _Work(node, None, None)
        if deadline is not None:
            self._timers[node.key] = (deadline, node, None)
        self._events.append(
            StepStateChanged(
                plan.id,
                record.iteration,
                StepState.WAITING,
                node.attempt,
                now,
                input=record.input,
                reason="waiting for input",
            )
        )
        self._events.append(
            InputRequested(
                node.key,
                plan.id,
                record.iteration,
                human.prompt,
                human.ui_schema,
                record.input,
                human.assignees,
                deadline,
                now,
            )
        )

    def _human_timeout(self, node: _Node, key: str, now: float) -> None:
        human = node.plan.human
        self._inflight.pop(key, None)
        self._stop_waiting(node)
        if human.on_timeout == "default":
            self._events.append(TaskClosed(key, "TIMED_OUT", now, human.default_response))
            self._succeed(
                node, dict(human.default_response), now, reason="no answer in time; used the default response"
            )
            return
        self._events.append(TaskClosed(key, "TIMED_OUT", now))
        if human.on_timeout == "skip":
            self._finish(node, StepState.SKIPPED, now, reason="no answer in time; skipped")
            self._leave(node, StepState.SKIPPED, now)
            return
        error = ExecutionError(ErrorKind.HUMAN_INPUT_TIMEOUT, f"no answer within {human.timeout_s:g}s", node.plan.id)
        self._final_failure(node, error, now)

    def _stop_waiting(self, node: _Node) -> None:
        """The task was answered or ended: the run is running again."""
        if node.human:
            node.human = False
            self._waiting -= 1
            if self.state is RunState.WAITING_FOR_INPUT:
                self.state = RunState.RUNNING
                self._events.append(RunStateChanged(RunState.RUNNING, self._now))

    def _finish(
        self,
        node: _Node,
        state: StepState,
        now: float,
        *,
        output: dict[str, Any] | None = None,
        error: ExecutionError | None = None,
        reason: str = "",
    ) -> None:
        record = node.record
        record.state = state
        record.end_time = now
        record.output = output
        record.error = error
        node.status = _DONE
        del self._active[node.plan.id]
        self._events.append(
            StepStateChanged(
                node.plan.id, record.iteration, state, node.attempt, now, output=output, error=error, reason=reason
            )
        )

    def _succeed(self, node: _Node, output: dict[str, Any], now: float, *, reason: str = "") -> None:
        plan = node.plan
        if plan.required_outputs or plan.output_schemas:
            problem = _check_outputs(plan, output)
            if problem is not None:
                self._attempt_failed(node, problem, now)
                return
        self._outputs[plan.id] = output
        self._last_output = output
        self._finish(node, StepState.SUCCEEDED, now, output=output, reason=reason)
        self._leave(node, StepState.SUCCEEDED, now)

    def _skip(self, node: _Node, now: float) -> None:
        plan = node.plan
        iteration = node.iterations
        node.iterations += 1
        key = f"{self.run_id}/{plan.id}/{iteration}"
        self.step_runs.append(StepRecord(plan.id, iteration, key, StepState.SKIPPED, start_time=now, end_time=now))
        node.status = _DONE
        reasons = node.not_fired
        reason = "no transition into it fired: " + "; ".join(reasons[:5])
        if len(reasons) > 5:
            reason += f"; and {len(reasons) - 5} more"
        self._events.append(StepStateChanged(plan.id, iteration, StepState.SKIPPED, 0, now, reason=reason))
        self._leave(node, StepState.SKIPPED, now)

    # ----- failures --------------------------------------------------------------------

    def _attempt_failed(self, node: _Node, error: ExecutionError, now: float) -> None:
        plan = node.plan
        error = ExecutionError(error.kind, error.message, plan.id)
        retry = plan.retry
        if node.attempt < retry.max_attempts and retry.retries(error.kind, ErrorKind.NOT_RETRYABLE):
            delay = retry.delay(node.attempt, self._rng)
            node.record.state = StepState.RETRYING
            node.record.error = error
            self._timers[node.key] = (now + delay, node, None)
            self._events.append(
                StepStateChanged(
                    plan.id,
                    node.record.iteration,
                    StepState.RETRYING,
                    node.attempt,
                    now,
                    error=error,
                    reason=f"attempt {node.attempt} of {retry.max_attempts} failed ({error.kind}: "
                    f"{error.message}); retrying in {delay:.3g}s",
                )
            )
            return
        self._final_failure(node, error, now)

    def _final_failure(self, node: _Node, error: ExecutionError, now: float) -> None:
        """The step failed for good: apply its error policy."""
        plan = node.plan
        error = ExecutionError(error.kind, error.message, plan.id)
        self._stop_waiting(node)
        if plan.has_fallback:
            output = plan.fallback if isinstance(plan.fallback, dict) else {"value": plan.fallback}
            self._outputs[plan.id] = output
            self._last_output = output
            self._finish(
                node,
                StepState.SUCCEEDED,
                now,
                output=output,
                error=error,
                reason=f"failed ({error.kind}: {error.message}); used its fallback output",
            )
            self._leave(node, StepState.SUCCEEDED, now)
        elif plan.error_edge is not None:
            node.error = error
            self._finish(
                node,
                StepState.FAILED,
                now,
                error=error,
                reason=f"failed; routing to {plan.error_edge.target} (on_error)",
            )
            self._leave(node, StepState.FAILED, now)
        elif plan.continue_on_error:
            output = {"error": error.to_dict()}
            self._outputs[plan.id] = output
            self._last_output = output
            self._finish(
                node,
                StepState.SUCCEEDED,
                now,
                output=output,
                error=error,
                reason=f"failed ({error.kind}: {error.message}); continuing (continue_on_error)",
            )
            self._leave(node, StepState.SUCCEEDED, now)
        else:
            self._finish(node, StepState.FAILED, now, error=error, reason=f"{error.kind}: {error.message}")
            self._terminate(RunState.FAILED, error, now)

    # ----- results from the executor ---------------------------------------------------

    def _on_succeeded(self, key: str, output: dict[str, Any], now: float) -> None:
        work = self._inflight.get(key)
        if work is None or isinstance(work.action, EvaluateCondition):
            return
        del self._inflight[key]
        node = work.node
        if work.index is not None:
            self._item_succeeded(node, work, output, now)
            return
        kind = node.plan.kind
        if kind == "wait":
            output = node.record.input
        elif kind == "human_input":
            self._timers.pop(key, None)
            self._stop_waiting(node)
        self._succeed(node, output if isinstance(output, dict) else {"value": output}, now)

    def _on_failed(self, key: str, error: ExecutionError, now: float) -> None:
        work = self._inflight.pop(key, None)
        if work is None:
            return
        if isinstance(work.action, EvaluateCondition):
            self._condition_failed(work, error, now)
            return
        if work.index is not None:
            self._item_failed(work.node, work.index, error, now)
            return
        if work.node.human:
            self._timers.pop(key, None)
            self._stop_waiting(work.node)
        self._attempt_failed(work.node, error, now)

    # ----- map -------------------------------------------------------------------------

    def _start_map(self, node: _Node, now: float) -> None:
        spec = node.plan.map
        try:
            items = spec.items.render(self._context())
        except TemplateError as exc:
            self._final_failure(node, ExecutionError(ErrorKind.TEMPLATE_ERROR, f"map items: {exc}"), now)
            return
        if not isinstance(items, list):
            self._final_failure(
                node,
                ExecutionError(ErrorKind.INVALID_INPUT, f"map items must be a list, got {type(items).__name__}"),
                now,
            )
            return
        node.map = _MapState(items)
        self._fill_map(node, now)

    def _fill_map(self, node: _Node, now: float) -> None:
        state = node.map
        limit = node.plan.map.max_concurrency or len(state.items)
        while state.next < len(state.items) and state.running < limit:
            index = state.next
            state.next += 1
            state.running += 1
            self._launch_item(node, index, now)
            if node.map is not state:
                return
        if state.done == len(state.items):
            node.map = None
            self._succeed(node, {"results": state.results}, now)

    def _launch_item(self, node: _Node, index: int, now: float) -> None:
        """Start (or retry) item ``index``; ``pass`` items finish at once."""
        state = node.map
        inner = node.plan.map.step
        state.attempts[index] += 1
        item = state.items[index]
        key = f"{node.key}/{index}"
        try:
            if inner.inputs is not None:
                data = inner.inputs.render(self._context(item=item, index=index))
                data = data if isinstance(data, dict) else {"value": data}
            else:
                data = {"item": item, "index": index}
        except TemplateError as exc:
            self._item_failed(node, index, ExecutionError(ErrorKind.TEMPLATE_ERROR, f"item {index}: {exc}"), now)
            return
        if inner.kind == "pass":
            state.results[index] = {**inner.values, **data}
            state.running -= 1
            state.done += 1
            return
        action = self._action(inner, key, node.record.iteration, state.attempts[index], data, index, now)
        self._inflight[key] = _Work(node, index, action, data)
        self._actions.append(action)

    def _item_succeeded(self, node: _Node, work: _Work, output: Any, now: float) -> None:
        state = node.map
        index = work.index
        if node.plan.map.step.kind == "wait":
            output = work.data
        state.results[index] = output
        state.running -= 1
        state.done += 1
        self._fill_map(node, now)

    def _item_failed(self, node: _Node, index: int, error: ExecutionError, now: float) -> None:
        state = node.map
        retry = node.plan.map.step.retry
        key = f"{node.key}/{index}"
        if state.attempts[index] < retry.max_attempts and retry.retries(error.kind, ErrorKind.NOT_RETRYABLE):
            delay = retry.delay(state.attempts[index], self._rng)
            self._timers[key] = (now + delay, node, index)
            self._log(
                node,
                "warning",
                f"item {index} attempt {state.attempts[index]} failed ({error.kind}: {error.message}); "
                f"retrying in {delay:.3g}s",
                now,
            )
            return
        prefix = f"{node.key}/"
        for other in [k for k, w in self._inflight.items() if w.node is node and k.startswith(prefix)]:
            del self._inflight[other]
            self._actions.append(CancelWork(other, f"item {index} of the map failed"))
        for other in [k for k, (_t, n, _i) in self._timers.items() if n is node]:
            del self._timers[other]
        node.map = None
        self._final_failure(node, ExecutionError(error.kind, f"item {index}: {error.message}"), now)

    def _log(self, node: _Node, level: str, message: str, now: float) -> None:
        iteration = node.record.iteration if node.record is not None else 0
        self._events.append(StepLog(node.plan.id, iteration, level, message, now))


def _check_outputs(plan: StepPlan, output: dict[str, Any]) -> ExecutionError | None:
    missing = [name for name in plan.required_outputs if name not in output]
    if missing:
        return ExecutionError(ErrorKind.OUTPUT_MISSING, f"required output missing: {', '.join(missing)}")
    for name, validator in plan.output_schemas:
        if name in output:
            for error in validator.iter_errors(output[name]):
                return ExecutionError(ErrorKind.INVALID_OUTPUT, f"output {name}: {error.message}")
    return None
