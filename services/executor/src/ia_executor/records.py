"""How engine events and step runs are recorded.

Event bodies are stored in the proto3 JSON shape of `ia.executor.v1.RunEvent`'s
`kind` (for example `{"step_state_changed": {...}}`), so they can be streamed as
they are and read by any tool that knows the contract.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ia_modules.engine import (
    Event,
    ExecutionError,
    InputRequested,
    RunOutputs,
    RunState,
    RunStateChanged,
    StepInputEdited,
    StepLog,
    StepRecord,
    StepStateChanged,
)

__all__ = [
    "FINAL_RUN_STATES",
    "error_dict",
    "event_body",
    "is_final_event",
    "run_state_body",
    "step_log_body",
    "step_row",
    "timestamp",
]

FINAL_RUN_STATES = tuple(state.value for state in RunState if state.is_final)
_FINAL_ENUM_NAMES = frozenset(f"RUN_STATE_{state}" for state in FINAL_RUN_STATES)


def timestamp(seconds: float) -> str:
    """RFC 3339, as proto3 JSON writes a Timestamp."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def error_dict(error: ExecutionError | None) -> dict[str, str] | None:
    """The stored form of an ExecutionError."""
    return None if error is None else error.to_dict()


def run_state_body(state: str, error: dict[str, str] | None = None) -> dict[str, Any]:
    """A run_state_changed event body."""
    body: dict[str, Any] = {"state": f"RUN_STATE_{state}"}
    if error:
        body["error"] = error
    return {"run_state_changed": body}


def step_log_body(step_id: str, iteration: int, level: str, message: str) -> dict[str, Any]:
    """A step_log event body."""
    return {"step_log": {"step_id": step_id, "iteration": iteration, "level": level, "message": message}}


def step_progress_body(step_id: str, iteration: int, fraction: float, message: str) -> dict[str, Any]:
    """A step_progress event body."""
    return {"step_progress": {"step_id": step_id, "iteration": iteration, "fraction": fraction, "message": message}}


def task_dict(event: InputRequested, *, task_id: str, run_id: str, pipeline_name: str) -> dict[str, Any]:
    """The stored human_tasks row an InputRequested event opens."""
    return {
        "task_id": task_id,
        "run_id": run_id,
        "step_id": event.step_id,
        "key": event.key,
        "state": "OPEN",
        "prompt": event.prompt,
        "ui_schema": event.ui_schema,
        "data": event.data,
        "assignees": list(event.assignees),
        "deadline": event.deadline,
        "response": None,
        "submitter": None,
        "create_time": event.time,
        "pipeline_name": pipeline_name,
    }


def task_body(task: dict[str, Any]) -> dict[str, Any]:
    """A HumanTask in proto3 JSON."""
    body = {
        "task_id": task["task_id"],
        "run_id": task["run_id"],
        "step_id": task["step_id"],
        "state": f"HUMAN_TASK_STATE_{task['state']}",
        "prompt": task["prompt"],
        "ui_schema": task["ui_schema"],
        "data": task["data"],
        "assignees": task["assignees"],
        "create_time": timestamp(task["create_time"]),
        "pipeline_name": task["pipeline_name"],
    }
    if task["deadline"] is not None:
        body["deadline"] = timestamp(task["deadline"])
    if task.get("response") is not None:
        body["response"] = task["response"]
    if task.get("submitter"):
        body["submitter"] = task["submitter"]
    return body


def event_body(event: Event, task: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The stored body of an engine event; None for events that are not streamed."""
    if isinstance(event, StepStateChanged):
        body: dict[str, Any] = {
            "step_id": event.step_id,
            "iteration": event.iteration,
            "state": f"STEP_STATE_{event.state.value}",
            "attempt": event.attempt,
        }
        if event.output is not None:
            body["output"] = event.output
        if event.error is not None:
            body["error"] = event.error.to_dict()
        if event.reason:
            body["reason"] = event.reason
        return {"step_state_changed": body}
    if isinstance(event, RunStateChanged):
        return run_state_body(event.state.value, error_dict(event.error))
    if isinstance(event, StepLog):
        return step_log_body(event.step_id, event.iteration, event.level, event.message)
    if isinstance(event, RunOutputs):
        return {"outputs": {"outputs": event.outputs}}
    if isinstance(event, InputRequested) and task is not None:
        return {"input_requested": task_body(task)}
    if isinstance(event, StepInputEdited):
        edited = {"step_id": event.step_id, "iteration": event.iteration, "input": event.input}
        return {"step_input_edited": edited | {"fields": list(event.fields)}}
    return None


def is_final_event(body: dict[str, Any]) -> bool:
    """True for the event that ends a run (its last one)."""
    change = body.get("run_state_changed")
    return change is not None and change.get("state") in _FINAL_ENUM_NAMES


def step_row(record: StepRecord) -> dict[str, Any]:
    """The stored step_runs row of a step run (without its position)."""
    return {
        "step_id": record.step_id,
        "iteration": record.iteration,
        "state": record.state.value,
        "attempts": record.attempts,
        "start_time": record.start_time,
        "end_time": record.end_time,
        "input": record.input,
        "output": record.output,
        "error": error_dict(record.error),
        "idempotency_key": record.idempotency_key,
    }
