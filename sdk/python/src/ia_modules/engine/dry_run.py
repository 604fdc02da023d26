"""Walk a plan without running anything: mocked outputs, or each step echoing its input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ia_modules.engine.actions import EvaluateCondition, ExecuteStep, StartChildRun, StartTimer
from ia_modules.engine.plan import Plan
from ia_modules.engine.scheduler import NotTaken, Scheduler, StepRecord
from ia_modules.engine.signals import ConditionEvaluated
from ia_modules.engine.states import ExecutionError, RunState

__all__ = ["DryRunResult", "dry_run"]

_MAX_SIGNALS = 100_000


@dataclass
class DryRunResult:
    """The path a run would take: the step runs in order, the edges not taken and why."""

    steps: list[StepRecord]
    not_taken: list[NotTaken]
    outputs: dict[str, Any] | None
    state: RunState
    error: ExecutionError | None


def _mock(mocks: Mapping[str, Any], step_id: str, index: int | None, echo: dict[str, Any]) -> dict[str, Any]:
    if step_id not in mocks:
        return echo
    value = mocks[step_id]
    if index is not None and isinstance(value, list):
        value = value[index] if index < len(value) else echo
    return value if isinstance(value, dict) else {"value": value}


def dry_run(
    plan: Plan,
    parameters: Mapping[str, Any],
    mocks: Mapping[str, Any] | None = None,
    *,
    run_id: str = "dry-run",
) -> DryRunResult:
    """Walk ``plan`` with ``parameters``. ``mocks`` maps step ids to canned outputs.

    A step without a mock echoes its input; a map step's mock may be a list, one
    output per item; a human_input step without a mock answers with its
    ``default_response``, or echoes the data under review. Retries and waits take
    no time. A transition guarded by a condition plugin is taken: no plugin is called.
    """
    mocks = mocks or {}
    scheduler = Scheduler(plan, run_id, parameters, record_transitions=True)
    now = 0.0
    pending = list(scheduler.start(now).actions)
    for _ in range(_MAX_SIGNALS):
        if scheduler.state.is_final:
            break
        if pending:
            action = pending.pop(0)
            if isinstance(action, ExecuteStep):
                output = _mock(mocks, action.step_id, action.item_index, action.input)
            elif isinstance(action, StartChildRun):
                output = _mock(mocks, action.step_id, action.item_index, action.inputs)
            elif isinstance(action, StartTimer):
                output = {}
            elif isinstance(action, EvaluateCondition):
                verdict = ConditionEvaluated(action.key, True, "a dry run takes plugin conditions", now)
                pending.extend(scheduler.apply(verdict).actions)
                continue
            else:
                continue
            pending.extend(scheduler.succeed(action.key, output, now).actions)
            continue
        tasks = scheduler.open_tasks()
        if tasks:
            key, step_id = tasks[0]
            record = next(r for r in reversed(scheduler.step_runs) if r.idempotency_key == key)
            default = plan.steps[step_id].human.default_response
            output = _mock(mocks, step_id, None, dict(default) if default else dict(record.input or {}))
            pending.extend(scheduler.succeed(key, output, now).actions)
            continue
        wakeup = scheduler.next_wakeup
        if wakeup is None:
            break
        now = max(now, wakeup)
        pending.extend(scheduler.tick(now).actions)
    return DryRunResult(
        steps=list(scheduler.step_runs),
        not_taken=list(scheduler.not_taken or []),
        outputs=scheduler.outputs,
        state=scheduler.state,
        error=scheduler.error,
    )
