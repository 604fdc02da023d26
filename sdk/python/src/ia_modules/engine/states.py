"""Run and step states (DESIGN.md §5) and the error record a failure carries."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["ErrorKind", "ExecutionError", "RunState", "StepState"]


class RunState(enum.Enum):
    """PENDING → RUNNING ⇄ WAITING_FOR_INPUT → one final state; a debugged run
    also goes RUNNING ⇄ PAUSED (held before a step)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    WAITING_FOR_INPUT = "WAITING_FOR_INPUT"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    PAUSED = "PAUSED"

    @property
    def is_final(self) -> bool:
        """True once the run has ended."""
        return self in _FINAL_RUN


class StepState(enum.Enum):
    """The state of one step run (one iteration of a step)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        """True once this step run has ended."""
        return self in _FINAL_STEP


_FINAL_RUN = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.TIMED_OUT})
_FINAL_STEP = frozenset({StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED, StepState.CANCELLED})


class ErrorKind:
    """Stable UPPER_SNAKE error kinds the engine itself produces or knows about."""

    STEP_ERROR = "STEP_ERROR"
    STEP_TIMEOUT = "STEP_TIMEOUT"
    UNAVAILABLE = "UNAVAILABLE"
    TEMPLATE_ERROR = "TEMPLATE_ERROR"
    CEL_ERROR = "CEL_ERROR"
    CONDITION_ERROR = "CONDITION_ERROR"
    OUTPUT_MISSING = "OUTPUT_MISSING"
    INVALID_OUTPUT = "INVALID_OUTPUT"
    INVALID_INPUT = "INVALID_INPUT"
    # A plugin refused the step's config: the same config fails again.
    INVALID_CONFIG = "INVALID_CONFIG"
    HUMAN_INPUT_TIMEOUT = "HUMAN_INPUT_TIMEOUT"
    CHILD_RUN_FAILED = "CHILD_RUN_FAILED"
    LOOP_LIMIT_EXCEEDED = "LOOP_LIMIT_EXCEEDED"
    RUN_TIMEOUT = "RUN_TIMEOUT"
    CANCELLED = "CANCELLED"

    #: Kinds a retry cannot fix: retried only when `retry_on` names them.
    NOT_RETRYABLE = frozenset(
        {
            TEMPLATE_ERROR,
            CEL_ERROR,
            CONDITION_ERROR,
            OUTPUT_MISSING,
            INVALID_OUTPUT,
            INVALID_INPUT,
            INVALID_CONFIG,
            HUMAN_INPUT_TIMEOUT,
            LOOP_LIMIT_EXCEEDED,
            RUN_TIMEOUT,
            CANCELLED,
        }
    )


@dataclass(frozen=True, slots=True)
class ExecutionError:
    """Why something failed: a stable kind, a message, and the step if any."""

    kind: str
    message: str
    step_id: str = ""

    def to_dict(self) -> dict[str, str]:
        """The form templates see as ``error`` and that outputs carry."""
        return {"kind": self.kind, "message": self.message, "step_id": self.step_id}
