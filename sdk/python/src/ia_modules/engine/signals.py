"""What the executor tells the engine. Each signal carries the time it happened.

Signals are plain data with a JSON form (``to_dict``/``signal_from_dict``), so the
executor can journal every signal it applies. Replaying the journal into a new
Scheduler rebuilds the run exactly: the engine is deterministic given its plan,
parameters, run id and signals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Cancel",
    "ConditionEvaluated",
    "Resume",
    "Signal",
    "Start",
    "StepFailed",
    "StepSucceeded",
    "Tick",
    "signal_from_dict",
]


@dataclass(frozen=True, slots=True)
class Start:
    """Start the run.

    A debugged run also names its ``breakpoints`` ((step id, CEL condition or "")
    pairs: pause before the step, when the condition holds) and its ``mocks``
    (step id -> the output it completes with, without being dispatched). Being
    part of the journaled start, they hold again when the run is replayed.
    """

    now: float
    breakpoints: tuple[tuple[str, str], ...] = ()
    mocks: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, tagged with the signal's name (debug fields only when set)."""
        data: dict[str, Any] = {"signal": "start", "now": self.now}
        if self.breakpoints:
            data["breakpoints"] = [list(pair) for pair in self.breakpoints]
        if self.mocks:
            data["mocks"] = self.mocks
        return data


@dataclass(frozen=True, slots=True)
class StepSucceeded:
    """The work ``key`` ended with ``output`` (a human task: the accepted response)."""

    key: str
    output: dict[str, Any]
    now: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, tagged with the signal's name."""
        return {"signal": "step_succeeded", **asdict(self)}


@dataclass(frozen=True, slots=True)
class StepFailed:
    """The work ``key`` failed with an error of ``kind`` (STEP_TIMEOUT for a deadline)."""

    key: str
    kind: str
    message: str
    now: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, tagged with the signal's name."""
        return {"signal": "step_failed", **asdict(self)}


@dataclass(frozen=True, slots=True)
class ConditionEvaluated:
    """The condition plugin asked with ``EvaluateCondition`` (same key) gave its verdict."""

    key: str
    fired: bool
    reason: str
    now: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, tagged with the signal's name."""
        return {"signal": "condition_evaluated", **asdict(self)}


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed: fire due retries, input deadlines and the run's deadline."""

    now: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, tagged with the signal's name."""
        return {"signal": "tick", **asdict(self)}


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel the run and everything it has in flight."""

    reason: str
    now: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, tagged with the signal's name."""
        return {"signal": "cancel", **asdict(self)}


@dataclass(frozen=True, slots=True)
class Resume:
    """Let a paused run go on.

    ``step`` runs only the paused step ``step_id`` (the first paused one when
    empty) and pauses again before the next step; otherwise every paused step
    runs. ``inputs`` sets top-level fields of that step's input first.
    """

    now: float
    step: bool = False
    step_id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, tagged with the signal's name."""
        return {"signal": "resume", **asdict(self)}


Signal = Start | StepSucceeded | StepFailed | ConditionEvaluated | Tick | Cancel | Resume

_BY_NAME = {
    "start": Start,
    "step_succeeded": StepSucceeded,
    "step_failed": StepFailed,
    "condition_evaluated": ConditionEvaluated,
    "tick": Tick,
    "cancel": Cancel,
    "resume": Resume,
}


def signal_from_dict(data: dict[str, Any]) -> Signal:
    """Rebuild a signal from its ``to_dict`` form."""
    fields = dict(data)
    kind = _BY_NAME[fields.pop("signal")]
    if kind is Start and "breakpoints" in fields:
        fields["breakpoints"] = tuple(tuple(pair) for pair in fields["breakpoints"])
    return kind(**fields)
