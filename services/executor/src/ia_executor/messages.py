"""The wire form (ia.executor.v1 messages) of runs, step runs, tasks and events."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, timestamp_pb2
from ia.executor.v1 import message_pb2, request_response_pb2
from ia_modules.engine import DryRunResult
from ia_modules.engine.values import to_struct

from ia_executor import records
from ia_executor.runs import RunView
from ia_executor.store import RunRow, StoredEvent, TaskRow

__all__ = ["dry_run_response", "event_message", "run_message", "task_message"]


def _time(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    if seconds is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def _error(error: dict[str, Any] | None) -> message_pb2.ExecutionError | None:
    return None if not error else message_pb2.ExecutionError(**error)


def _struct(value: Any) -> Any:
    return None if value is None else to_struct(value)


def step_message(step: dict[str, Any]) -> message_pb2.StepRun:
    """A stored step run as a StepRun."""
    return message_pb2.StepRun(
        step_id=step["step_id"],
        iteration=step["iteration"],
        state=message_pb2.StepState.Value(f"STEP_STATE_{step['state']}"),
        attempts=step["attempts"],
        start_time=_time(step["start_time"]),
        end_time=_time(step["end_time"]),
        input=_struct(step["input"]),
        output=_struct(step["output"]),
        error=_error(step["error"]),
        idempotency_key=step["idempotency_key"],
    )


def run_message(run: RunView | RunRow) -> message_pb2.Run:
    """A run as a Run; with its step runs when given a RunView."""
    row = run.row if isinstance(run, RunView) else run
    steps = run.steps if isinstance(run, RunView) else []
    return message_pb2.Run(
        run_id=row.run_id,
        pipeline_name=row.pipeline_name,
        revision=row.revision,
        state=message_pb2.RunState.Value(f"RUN_STATE_{row.state}"),
        inputs=to_struct(row.parameters),
        outputs=_struct(row.outputs),
        error=_error(row.error),
        steps=[step_message(step) for step in steps],
        create_time=_time(row.create_time),
        start_time=_time(row.start_time),
        end_time=_time(row.end_time),
        parent_run_id=row.parent_run_id or "",
        request_id=row.request_id or "",
    )


def task_message(task: TaskRow) -> message_pb2.HumanTask:
    """A stored task as a HumanTask."""
    body = records.task_body(task.__dict__)
    return json_format.ParseDict(body, message_pb2.HumanTask())


def event_message(event: StoredEvent) -> message_pb2.RunEvent:
    """A stored event as a RunEvent."""
    message = json_format.ParseDict(event.event, message_pb2.RunEvent())
    message.run_id = event.run_id
    message.sequence = event.sequence
    message.time.CopyFrom(_time(event.time))
    return message


def dry_run_response(result: DryRunResult) -> request_response_pb2.DryRunResponse:
    """A dry run's result as a DryRunResponse."""
    return request_response_pb2.DryRunResponse(
        steps=[
            message_pb2.DryRunStep(
                step_id=step.step_id,
                iteration=step.iteration,
                state=message_pb2.StepState.Value(f"STEP_STATE_{step.state.value}"),
                input=_struct(step.input),
                output=_struct(step.output),
            )
            for step in result.steps
        ],
        not_taken=[
            message_pb2.TransitionNotTaken(**{"from": n.source, "to": n.target, "reason": n.reason})
            for n in result.not_taken
        ],
        outputs=_struct(result.outputs),
        state=message_pb2.RunState.Value(f"RUN_STATE_{result.state.value}"),
        error=_error(None if result.error is None else result.error.to_dict()),
    )
