"""A harness that plays the executor's part against the engine, with a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from ia_modules.engine import (
    CancelWork,
    Decision,
    ExecuteStep,
    Scheduler,
    Signal,
    StartChildRun,
    StartTimer,
    StepStateChanged,
    compile_plan,
)


def linear(*steps: dict[str, Any], **pipeline: Any) -> dict[str, Any]:
    """A pipeline whose steps run one after the other."""
    transitions = [{"from": a["id"], "to": b["id"]} for a, b in zip(steps, steps[1:], strict=False)]
    return {"name": "test", "steps": list(steps), "flow": {"transitions": transitions}, **pipeline}


class Harness:
    """Drives a Scheduler: keeps the clock, the journal, the events and the open work."""

    def __init__(self, definition: dict[str, Any], parameters: dict[str, Any] | None = None, **options: Any):
        self.plan = compile_plan(definition)
        self.parameters = self.plan.parameters_for(parameters or {})
        self.options = options
        self.scheduler = Scheduler(self.plan, "run-1", self.parameters, **options)
        self.now = 0.0
        self.events: list[Any] = []
        self.open: dict[str, Any] = {}
        self.cancelled: list[str] = []
        self.journal: list[Signal] = []
        self.batches: list[list[Any]] = []

    def _take(self, decision: Decision) -> Decision:
        self.events.extend(decision.events)
        batch = []
        for action in decision.actions:
            if isinstance(action, CancelWork):
                self.cancelled.append(action.key)
                self.open.pop(action.key, None)
            else:
                self.open[action.key] = action
                batch.append(action)
        if batch:
            self.batches.append(batch)
        return decision

    def apply(self, signal: Signal) -> Decision:
        self.journal.append(signal)
        return self._take(self.scheduler.apply(signal))

    def start(self) -> Decision:
        from ia_modules.engine import Start

        return self.apply(Start(self.now))

    def key(self, step_id: str, index: int | None = None) -> str:
        keys = [k for k, a in self.open.items() if a.step_id == step_id and (index is None or a.item_index == index)]
        keys += [k for k, s in self.scheduler.open_tasks() if s == step_id]
        assert keys, f"no open work for {step_id!r}; open: {list(self.open)}"
        return keys[0]

    def succeed(self, step_id: str, output: dict[str, Any] | None = None, index: int | None = None) -> Decision:
        from ia_modules.engine import StepSucceeded

        key = self.key(step_id, index)
        self.open.pop(key, None)
        return self.apply(StepSucceeded(key, output if output is not None else {}, self.now))

    def fail(self, step_id: str, kind: str = "STEP_ERROR", message: str = "boom", index: int | None = None) -> Decision:
        from ia_modules.engine import StepFailed

        key = self.key(step_id, index)
        self.open.pop(key, None)
        return self.apply(StepFailed(key, kind, message, self.now))

    def tick(self, now: float) -> Decision:
        from ia_modules.engine import Tick

        self.now = now
        return self.apply(Tick(now))

    def cancel(self, reason: str = "stop") -> Decision:
        from ia_modules.engine import Cancel

        return self.apply(Cancel(reason, self.now))

    def finish_all(self, outputs: dict[str, dict[str, Any]] | None = None) -> None:
        """Complete every open piece of work (echoing inputs) until nothing is open."""
        outputs = outputs or {}
        while self.open and not self.scheduler.state.is_final:
            key, action = next(iter(self.open.items()))
            if isinstance(action, ExecuteStep):
                output = outputs.get(action.step_id, action.input)
            elif isinstance(action, StartChildRun):
                output = outputs.get(action.step_id, action.inputs)
            else:
                assert isinstance(action, StartTimer)
                output = {}
            self.open.pop(key)
            from ia_modules.engine import StepSucceeded

            self.apply(StepSucceeded(key, output, self.now))

    # ----- reading what happened -----

    @property
    def state(self) -> str:
        return self.scheduler.state.value

    def step_states(self, step_id: str) -> list[str]:
        """The final state of each iteration of a step."""
        return [r.state.value for r in self.scheduler.step_runs if r.step_id == step_id]

    def transitions(self, step_id: str) -> list[tuple[str, int]]:
        """Every state a step went through, with the attempt."""
        return [
            (e.state.value, e.attempt) for e in self.events if isinstance(e, StepStateChanged) and e.step_id == step_id
        ]

    def ran(self) -> list[str]:
        """Step ids in the order they started (one entry per iteration)."""
        return [r.step_id for r in self.scheduler.step_runs if r.state.value != "SKIPPED"]

    def output(self, step_id: str) -> Any:
        return [r.output for r in self.scheduler.step_runs if r.step_id == step_id][-1]

    def event(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def harness():
    return Harness


@pytest.fixture
def pipeline():
    return linear
