"""The wire form (ia.executor.v1 messages) of runs, step runs, tasks and events.

Messages are built field by field from the stored dicts: json_format's generic
conversion costs more than the rest of streaming an event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from ia.executor.v1 import message_pb2, request_response_pb2
from ia_modules.engine import DryRunResult
from ia_modules.engine.values import to_struct

from ia_executor import records
from ia_executor.store import RunRow, RunView, StoredEvent, TaskRow

__all__ = ["dry_run_response", "event_message", "run_message", "task_message"]

_RUN_STATES = dict(message_pb2.RunState.items())
_STEP_STATES = dict(message_pb2.StepState.items())
_NANOS_PER_SECOND = 1_000_000_000


def _error(error: dict[str, Any] | None) -> message_pb2.ExecutionError | None:
    return None if not error else message_pb2.ExecutionError(**error)


def _struct(value: Any) -> Any:
    return None if value is None else to_struct(value)


# The _set_* helpers fill a message's field in place (cheaper than building a field
# message and copying it in); each marks the field present, as a value would be.


def _set_time(target: timestamp_pb2.Timestamp, seconds: float | None) -> None:
    if seconds is not None:
        target.SetInParent()
        target.seconds, target.nanos = divmod(int(seconds * 1e9), _NANOS_PER_SECOND)


def _set_struct(target: struct_pb2.Struct, value: dict[str, Any] | None) -> None:
    if value is not None:
        target.SetInParent()
        target.update(value)


def _set_error(target: message_pb2.ExecutionError, error: dict[str, Any] | None) -> None:
    if error:
        target.CopyFrom(message_pb2.ExecutionError(**error))


def _set_step(target: message_pb2.StepRun, step: dict[str, Any]) -> None:
    target.step_id = step["step_id"]
    target.iteration = step["iteration"]
    target.state = _STEP_STATES[f"STEP_STATE_{step['state']}"]
    target.attempts = step["attempts"]
    _set_time(target.start_time, step["start_time"])
    _set_time(target.end_time, step["end_time"])
    _set_struct(target.input, step["input"])
    _set_struct(target.output, step["output"])
    _set_error(target.error, step["error"])
    target.idempotency_key = step["idempotency_key"]


def run_message(run: RunView | RunRow) -> message_pb2.Run:
    """A run as a Run; with its step runs when given a RunView."""
    row = run.row if isinstance(run, RunView) else run
    message = message_pb2.Run(
        run_id=row.run_id,
        pipeline_name=row.pipeline_name,
        revision=row.revision,
        state=_RUN_STATES[f"RUN_STATE_{row.state}"],
        parent_run_id=row.parent_run_id or "",
        request_id=row.request_id or "",
    )
    _set_struct(message.inputs, row.parameters)
    _set_struct(message.outputs, row.outputs)
    _set_error(message.error, row.error)
    _set_time(message.create_time, row.create_time)
    _set_time(message.start_time, row.start_time)
    _set_time(message.end_time, row.end_time)
    if isinstance(run, RunView):
        for step in run.steps:
            _set_step(message.steps.add(), step)
    return message


def task_message(task: TaskRow) -> message_pb2.HumanTask:
    """A stored task as a HumanTask."""
    body = records.task_body(task.__dict__)
    return json_format.ParseDict(body, message_pb2.HumanTask())


def _set_run_state_changed(target: message_pb2.RunStateChanged, body: dict[str, Any]) -> None:
    target.state = _RUN_STATES[body["state"]]
    _set_error(target.error, body.get("error"))


def _set_step_state_changed(target: message_pb2.StepStateChanged, body: dict[str, Any]) -> None:
    target.step_id = body["step_id"]
    target.iteration = body["iteration"]
    target.state = _STEP_STATES[body["state"]]
    target.attempt = body["attempt"]
    _set_struct(target.output, body.get("output"))
    _set_error(target.error, body.get("error"))
    target.reason = body.get("reason", "")


def _set_step_log(target: message_pb2.StepLog, body: dict[str, Any]) -> None:
    target.step_id = body["step_id"]
    target.iteration = body["iteration"]
    target.level = body["level"]
    target.message = body["message"]


def _set_step_progress(target: message_pb2.StepProgress, body: dict[str, Any]) -> None:
    target.step_id = body["step_id"]
    target.iteration = body["iteration"]
    target.fraction = body["fraction"]
    target.message = body["message"]


def _set_outputs(target: message_pb2.RunOutputs, body: dict[str, Any]) -> None:
    _set_struct(target.outputs, body.get("outputs"))


def _set_step_input_edited(target: message_pb2.StepInputEdited, body: dict[str, Any]) -> None:
    target.step_id = body["step_id"]
    target.iteration = body["iteration"]
    _set_struct(target.input, body["input"])
    target.fields.extend(body["fields"])


def _set_input_requested(target: message_pb2.HumanTask, body: dict[str, Any]) -> None:
    # Rare, and stored with RFC 3339 times: the generic conversion is fine here.
    json_format.ParseDict(body, target)


# The event kinds records.event_body stores, by RunEvent field.
_EVENT_KINDS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "run_state_changed": _set_run_state_changed,
    "step_state_changed": _set_step_state_changed,
    "step_log": _set_step_log,
    "step_progress": _set_step_progress,
    "outputs": _set_outputs,
    "input_requested": _set_input_requested,
    "step_input_edited": _set_step_input_edited,
}


def event_message(event: StoredEvent) -> message_pb2.RunEvent:
    """A stored event as a RunEvent."""
    message = message_pb2.RunEvent(run_id=event.run_id, sequence=event.sequence)
    _set_time(message.time, event.time)
    ((kind, body),) = event.event.items()
    target = getattr(message, kind)
    target.SetInParent()
    _EVENT_KINDS[kind](target, body)
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
