"""What the scheduler keeps for a debugger: paused steps and evaluated conditions.

A run started with breakpoints or mocks (``Start.breakpoints``/``Start.mocks``)
is a debugged run. It pauses before a step at a breakpoint, with the step's input
resolved; ``Resume`` lets it go on, one step at a time or until the next
breakpoint. A debugged run also keeps every transition condition it evaluated,
with the values the condition read, so a debugger can say why a branch was or was
not taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ia_modules.conditions import ConditionError, compile_cel
from ia_modules.engine.plan import Plan

__all__ = ["ConditionRecord", "PausedStep", "check_debugging"]


@dataclass(frozen=True, slots=True)
class PausedStep:
    """A step the run holds before it runs, with its resolved (maybe edited) input."""

    step_id: str
    iteration: int
    input: dict[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class ConditionRecord:
    """One evaluated transition condition: the verdict, why, and what it read."""

    source: str
    target: str
    iteration: int
    condition: str
    fired: bool
    reason: str
    values: dict[str, Any]


def check_debugging(
    plan: Plan, breakpoints: Iterable[tuple[str, str]], mocks: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(field path, problem) for each breakpoint or mock the plan cannot honour:
    an unknown step id or a CEL condition that does not compile."""
    problems: list[tuple[str, str]] = []
    known = ", ".join(sorted(plan.steps))
    for index, (step_id, condition) in enumerate(breakpoints):
        where = f"breakpoints[{index}]"
        if step_id not in plan.steps:
            problems.append((f"{where}.step_id", f"no step {step_id!r} in pipeline {plan.name!r}; its steps: {known}"))
        if condition.strip():
            try:
                compile_cel(condition)
            except ConditionError as exc:
                problems.append((f"{where}.condition", str(exc)))
    for step_id in mocks:
        if step_id not in plan.steps:
            problems.append((f"mocks.{step_id}", f"no step {step_id!r} in pipeline {plan.name!r}; its steps: {known}"))
    return problems
