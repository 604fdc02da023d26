"""What the engine asks the executor to record, in order, for each decision.

The executor persists every event of a decision (with a per-run sequence number)
in one transaction before it performs the decision's actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ia_modules.engine.states import ExecutionError, RunState, StepState

__all__ = [
    "Event",
    "InputRequested",
    "RunOutputs",
    "RunStateChanged",
    "StepInputEdited",
    "StepLog",
    "StepStateChanged",
    "TaskClosed",
]


@dataclass(slots=True)
class RunStateChanged:
    """The run moved to ``state``."""

    state: RunState
    time: float
    error: ExecutionError | None = None


@dataclass(slots=True)
class StepStateChanged:
    """One step run (``step_id`` at ``iteration``) moved to ``state``.

    ``input`` is set when the step starts, ``output`` when it ends with one,
    ``reason`` says in words why a step was skipped, retried or failed.
    """

    step_id: str
    iteration: int
    state: StepState
    attempt: int
    time: float
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: ExecutionError | None = None
    reason: str = ""


@dataclass(slots=True)
class StepLog:
    """A line about a step worth showing (map item retries, loop decisions)."""

    step_id: str
    iteration: int
    level: str
    message: str
    time: float


@dataclass(slots=True)
class InputRequested:
    """A human_input step opened a task: create it (the executor assigns task ids)."""

    key: str
    step_id: str
    iteration: int
    prompt: str
    ui_schema: dict[str, Any]
    data: dict[str, Any]
    assignees: tuple[str, ...]
    deadline: float | None
    time: float


@dataclass(slots=True)
class TaskClosed:
    """The task ``key`` closed without an answer: ``state`` is TIMED_OUT or CANCELLED."""

    key: str
    state: str
    time: float
    response: dict[str, Any] | None = None


@dataclass(slots=True)
class RunOutputs:
    """The run's result: its evaluated ``outputs``."""

    outputs: dict[str, Any]
    time: float


@dataclass(slots=True)
class StepInputEdited:
    """A paused step's input was changed before it ran: it runs with ``input``.

    ``fields`` are the top-level fields that were set.
    """

    step_id: str
    iteration: int
    input: dict[str, Any]
    fields: tuple[str, ...]
    time: float


Event = RunStateChanged | StepStateChanged | StepLog | InputRequested | TaskClosed | RunOutputs | StepInputEdited
