"""The JSON documents the CLI prints for findings, pipeline versions and runs.

Field names follow the protos; enum values are printed without their prefix
(`SUCCEEDED`, not `RUN_STATE_SUCCEEDED`), as DESIGN.md §3 promises scripts.
"""

from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp

    from ia.executor.v1 import message_pb2 as executor_messages
    from ia.registry.v1 import message_pb2 as registry_messages
    from ia_modules.definition import Finding


def timestamp(value: "Timestamp") -> str | None:
    """RFC 3339 text, or None when the timestamp is unset."""
    return value.ToJsonString() if value.seconds or value.nanos else None


def local_time(value: "Timestamp") -> str:
    """A timestamp in the local zone, to the second, for tables."""
    if not (value.seconds or value.nanos):
        return "-"
    return value.ToDatetime(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def enum_name(enum_type: Any, value: int, prefix: str) -> str:
    """`RUN_STATE_SUCCEEDED` as `SUCCEEDED`."""
    return enum_type.Name(value).removeprefix(prefix)


def run_state(value: int) -> str:
    """A RunState as its name without prefix, e.g. WAITING_FOR_INPUT."""
    from ia.executor.v1 import message_pb2

    return enum_name(message_pb2.RunState, value, "RUN_STATE_")


def step_state(value: int) -> str:
    """A StepState as its name without prefix, e.g. RETRYING."""
    from ia.executor.v1 import message_pb2

    return enum_name(message_pb2.StepState, value, "STEP_STATE_")


def finding(item: "Finding") -> dict[str, Any]:
    """A finding: severity, code, path, message, hint and line."""
    return {
        "severity": item.severity.value,
        "code": str(item.code),
        "path": item.path,
        "message": item.message,
        "hint": item.hint,
        "line": item.line,
    }


def pipeline_version(version: "registry_messages.PipelineVersion") -> dict[str, Any]:
    """A stored pipeline version, without its definition."""
    return {
        "name": version.name,
        "revision": version.revision,
        "version": version.definition.version,
        "description": version.definition.description,
        "labels": dict(version.definition.labels),
        "content_hash": version.content_hash,
        "etag": version.etag,
        "create_time": timestamp(version.create_time),
        "source_dialect": version.source_dialect,
    }


def execution_error(error: "executor_messages.ExecutionError") -> dict[str, str] | None:
    """Why something failed, or None when nothing did."""
    if not (error.kind or error.message):
        return None
    return {"kind": error.kind, "message": error.message, "step_id": error.step_id}


def run(item: "executor_messages.Run", tasks: "list[executor_messages.HumanTask] | None" = None) -> dict[str, Any]:
    """A run: run_id, state, outputs, per-step state, error, and open tasks."""
    from ia_modules.client import to_dict

    return {
        "run_id": item.run_id,
        "pipeline": item.pipeline_name,
        "revision": item.revision,
        "state": run_state(item.state),
        "inputs": to_dict(item.inputs),
        "outputs": to_dict(item.outputs),
        "steps": [
            {
                "id": step.step_id,
                "state": step_state(step.state),
                "attempts": step.attempts,
                "iteration": step.iteration,
                "error": execution_error(step.error),
            }
            for step in item.steps
        ],
        "error": execution_error(item.error),
        "tasks": [human_task(task) for task in tasks or ()],
        "create_time": timestamp(item.create_time),
        "end_time": timestamp(item.end_time),
    }


def human_task(task: "executor_messages.HumanTask") -> dict[str, Any]:
    """A human-input task, with what a person needs to answer it."""
    from ia.executor.v1 import message_pb2
    from ia_modules.client import to_dict

    return {
        "task_id": task.task_id,
        "run_id": task.run_id,
        "step_id": task.step_id,
        "state": enum_name(message_pb2.HumanTaskState, task.state, "HUMAN_TASK_STATE_"),
        "prompt": task.prompt,
        "ui_schema": to_dict(task.ui_schema),
        "data": to_dict(task.data),
        "assignees": list(task.assignees),
        "deadline": timestamp(task.deadline),
    }
