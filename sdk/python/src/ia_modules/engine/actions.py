"""What the engine asks the executor to do. Each piece of work has a ``key``.

The key is the step run's idempotency key, ``run_id/step_id/iteration``, with
``/<index>`` appended for one item of a ``map``. It stays the same on every
attempt and after a crash, so a plugin can use it to do its work only once.
The executor reports how the work ended with ``StepSucceeded``/``StepFailed``
signals carrying the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Action", "CancelWork", "EvaluateCondition", "ExecuteStep", "StartChildRun", "StartTimer"]


@dataclass(slots=True)
class ExecuteStep:
    """Call a step plugin (``plugin``) or a Python step class (``module``/``step_class``).

    ``deadline`` is the absolute time the attempt must end by; past it the executor
    reports the error kind STEP_TIMEOUT.
    """

    key: str
    step_id: str
    iteration: int
    attempt: int
    plugin: str
    module: str
    step_class: str
    config: dict[str, Any]
    input: dict[str, Any]
    deadline: float | None
    item_index: int | None = None


@dataclass(slots=True)
class StartTimer:
    """A ``wait`` step: report the key as succeeded once ``until`` has passed."""

    key: str
    step_id: str
    iteration: int
    attempt: int
    until: float
    item_index: int | None = None


@dataclass(slots=True)
class StartChildRun:
    """A ``pipeline`` step: start a run of ``pipeline_name`` with ``inputs``.

    Use ``key`` as the child's request id, so the same child is found again after
    a crash. Report its outputs as the step's output, or its error as a failure.
    """

    key: str
    step_id: str
    iteration: int
    attempt: int
    pipeline_name: str
    revision: int
    inputs: dict[str, Any]
    deadline: float | None
    item_index: int | None = None


@dataclass(slots=True)
class EvaluateCondition:
    """Ask condition plugin ``plugin`` whether the transition ``source -> target`` fires.

    ``input`` is the source step's output. Report the verdict with
    ``ConditionEvaluated`` (same key), or a failure with ``StepFailed``: the run
    then fails with CONDITION_ERROR. The key is the source step run's key with
    ``/condition/<transition index>`` appended.
    """

    key: str
    step_id: str
    iteration: int
    target: str
    plugin: str
    config: dict[str, Any]
    input: dict[str, Any]


@dataclass(slots=True)
class CancelWork:
    """Stop the work ``key`` (and a child run started for it); its result is ignored."""

    key: str
    reason: str


Action = ExecuteStep | StartTimer | StartChildRun | EvaluateCondition | CancelWork
