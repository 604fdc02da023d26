"""Why the executor refuses a request. Each error has a stable reason (ErrorInfo)."""

from __future__ import annotations

from ia_modules.definition import Finding

__all__ = [
    "DefinitionRefused",
    "ExecutorError",
    "InvalidInput",
    "PipelineNotFound",
    "RegistryUnavailable",
    "RunAlreadyEnded",
    "RunNotFound",
    "RunNotPaused",
    "TaskNotAssigned",
    "TaskNotFound",
    "TaskNotOpen",
    "TooManyRuns",
]


class ExecutorError(Exception):
    """A refusal: ``reason`` is the ErrorInfo reason, ``metadata`` its details."""

    reason = "INTERNAL"

    def __init__(self, message: str, **metadata: object) -> None:
        super().__init__(message)
        self.metadata = {k: str(v) for k, v in metadata.items()}


class RunNotFound(ExecutorError):
    reason = "RUN_NOT_FOUND"

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} does not exist", run_id=run_id)


class RunAlreadyEnded(ExecutorError):
    reason = "RUN_ALREADY_ENDED"

    def __init__(self, run_id: str, state: str) -> None:
        super().__init__(f"run {run_id!r} has already ended ({state})", run_id=run_id, state=state)


class RunNotPaused(ExecutorError):
    reason = "RUN_NOT_PAUSED"

    def __init__(self, run_id: str, state: str) -> None:
        super().__init__(
            f"run {run_id!r} is not paused (it is {state}); only a run started with breakpoints pauses",
            run_id=run_id,
            state=state,
        )


class TaskNotFound(ExecutorError):
    reason = "TASK_NOT_FOUND"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} does not exist", task_id=task_id)


class TaskNotOpen(ExecutorError):
    reason = "TASK_NOT_OPEN"

    def __init__(self, task_id: str, state: str) -> None:
        super().__init__(f"task {task_id!r} is not waiting for input (it is {state})", task_id=task_id, state=state)


class TaskNotAssigned(ExecutorError):
    """The caller may see the task but is none of its assignees (and no admin)."""

    reason = "NOT_AN_ASSIGNEE"

    def __init__(self, task_id: str, assignees: list[str]) -> None:
        super().__init__(
            f"task {task_id!r} is assigned to {', '.join(assignees)}; only an assignee or an admin may answer it",
            task_id=task_id,
            assignees=",".join(assignees),
        )


class PipelineNotFound(ExecutorError):
    reason = "PIPELINE_NOT_FOUND"


class RegistryUnavailable(ExecutorError):
    reason = "REGISTRY_UNAVAILABLE"


class InvalidInput(ExecutorError):
    """Request data that does not fit: ``violations`` are (field path, description) pairs."""

    reason = "INVALID_INPUT"

    def __init__(self, message: str, violations: list[tuple[str, str]], **metadata: object) -> None:
        super().__init__(message, **metadata)
        self.violations = violations


class DefinitionRefused(ExecutorError):
    """The definition has errors; ``findings`` carry their JSON paths."""

    reason = "INVALID_DEFINITION"

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("invalid pipeline definition")
        self.findings = findings


class TooManyRuns(ExecutorError):
    """The caller has as many runs going as IA_MAX_CONCURRENT_RUNS allows."""

    reason = "CONCURRENT_RUNS_LIMIT"
