"""The engine: a plain library that schedules a pipeline run. No gRPC, no I/O.

How an executor drives it::

    plan = compile_plan(pipeline)                  # once per definition (PlanError)
    problems = plan.check_inputs(inputs)           # (field path, message) pairs
    scheduler = Scheduler(plan, run_id, plan.parameters_for(inputs))
    decision = scheduler.apply(Start(now))
    # persist decision.events (and the signal) in one transaction, then perform
    # decision.actions; report each action's end with StepSucceeded/StepFailed
    # (same key); answer EvaluateCondition (a condition plugin) with
    # ConditionEvaluated; call Tick(now) at scheduler.next_wakeup; Cancel(reason, now).
    # A debugged run: Start(now, breakpoints, mocks) (check them first with
    # check_debugging); it pauses at a breakpoint, Resume(now, step=...) goes on.

After a crash, replay the journal of applied signals into a new Scheduler, then
dispatch ``scheduler.inflight()`` again (same keys) and ``Tick`` at the current time.
"""

from ia_modules.engine.actions import Action, CancelWork, EvaluateCondition, ExecuteStep, StartChildRun, StartTimer
from ia_modules.engine.debugging import ConditionRecord, PausedStep, check_debugging
from ia_modules.engine.dry_run import DryRunResult, dry_run
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
from ia_modules.engine.plan import Plan, PlanError, RetryPolicy, compile_plan
from ia_modules.engine.scheduler import Decision, NotTaken, Scheduler, StepRecord
from ia_modules.engine.signals import (
    Cancel,
    ConditionEvaluated,
    Resume,
    Signal,
    Start,
    StepFailed,
    StepSucceeded,
    Tick,
    signal_from_dict,
)
from ia_modules.engine.states import ErrorKind, ExecutionError, RunState, StepState

__all__ = [
    "Action",
    "Cancel",
    "CancelWork",
    "ConditionEvaluated",
    "ConditionRecord",
    "Decision",
    "DryRunResult",
    "ErrorKind",
    "EvaluateCondition",
    "Event",
    "ExecuteStep",
    "ExecutionError",
    "InputRequested",
    "NotTaken",
    "PausedStep",
    "Plan",
    "PlanError",
    "Resume",
    "RetryPolicy",
    "RunOutputs",
    "RunState",
    "RunStateChanged",
    "Scheduler",
    "Signal",
    "Start",
    "StartChildRun",
    "StartTimer",
    "StepFailed",
    "StepInputEdited",
    "StepLog",
    "StepRecord",
    "StepState",
    "StepStateChanged",
    "StepSucceeded",
    "TaskClosed",
    "Tick",
    "check_debugging",
    "compile_plan",
    "dry_run",
    "signal_from_dict",
]
