"""ExecutorService: maps each RPC to `Runs` and each refusal to a gRPC status."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import NoReturn, TypeVar

import grpc
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.rpc import error_details_pb2
from ia.executor.v1 import message_pb2, service_pb2_grpc
from ia.executor.v1 import request_response_pb2 as rr
from ia_modules.engine.values import from_struct
from ia_service_kit.errors import abort, abort_invalid_definition, abort_with, error_status
from ia_service_kit.request_fields import enum_name

from ia_executor import errors
from ia_executor.inspection import inspect_response
from ia_executor.messages import dry_run_response, event_message, run_message, task_message
from ia_executor.runs import Runs

T = TypeVar("T")

_STATUS = {
    errors.RunNotFound: grpc.StatusCode.NOT_FOUND,
    errors.TaskNotFound: grpc.StatusCode.NOT_FOUND,
    errors.PipelineNotFound: grpc.StatusCode.NOT_FOUND,
    errors.TaskNotOpen: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TaskNotAssigned: grpc.StatusCode.PERMISSION_DENIED,
    errors.RunAlreadyEnded: grpc.StatusCode.FAILED_PRECONDITION,
    errors.RunNotPaused: grpc.StatusCode.FAILED_PRECONDITION,
    errors.RegistryUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.TooManyRuns: grpc.StatusCode.RESOURCE_EXHAUSTED,
}

_REFUSALS = (errors.ExecutorError,)

BATCH_BYTES = 1024 * 1024
"""The size a batched WatchRun response grows to at most (unless one event alone
is bigger), well below the 4 MiB clients accept by default."""


def _batches(events: list[message_pb2.RunEvent]) -> list[rr.WatchRunResponse]:
    """``events`` in as few responses as fit BATCH_BYTES, in order."""
    responses: list[rr.WatchRunResponse] = []
    batch: list[message_pb2.RunEvent] = []
    size = 0
    for event in events:
        event_size = event.ByteSize()
        if batch and size + event_size > BATCH_BYTES:
            responses.append(rr.WatchRunResponse(events=batch))
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        responses.append(rr.WatchRunResponse(events=batch))
    return responses


async def _refuse(context: grpc.aio.ServicerContext, error: Exception) -> NoReturn:
    if isinstance(error, errors.DefinitionRefused):
        await abort_invalid_definition(context, error.findings)
    if isinstance(error, errors.InvalidInput):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description, reason=error.reason)
            for field, description in error.violations
        ]
        await abort_with(
            context,
            error_status(grpc.StatusCode.INVALID_ARGUMENT, error.reason, str(error), error.metadata, violations),
        )
    assert isinstance(error, errors.ExecutorError)
    await abort(context, _STATUS[type(error)], error.reason, str(error), **error.metadata)


async def _call(context: grpc.aio.ServicerContext, work: Awaitable[T]) -> T:
    try:
        return await work
    except _REFUSALS as error:
        await _refuse(context, error)


def _state_names(values: list[int], enum: EnumTypeWrapper, prefix: str) -> list[str]:
    """Enum values as the domain's state names (RUN_STATE_FAILED -> FAILED); an
    unknown number is INVALID_ARGUMENT naming `states`."""
    return [enum_name(enum, value, "states").removeprefix(prefix) for value in values if value]


class ExecutorService(service_pb2_grpc.ExecutorServiceServicer):
    """The gRPC face of the executor."""

    def __init__(self, runs: Runs) -> None:
        self._runs = runs

    async def StartRun(self, request: rr.StartRunRequest, context: grpc.aio.ServicerContext) -> rr.StartRunResponse:
        has_definition = request.WhichOneof("pipeline") == "definition"
        view = await _call(
            context,
            self._runs.start_run(
                pipeline_name=request.pipeline_name,
                definition=request.definition if has_definition else None,
                revision=request.revision,
                inputs=from_struct(request.inputs),
                inputs_size=request.inputs.ByteSize(),
                request_id=request.request_id,
                breakpoints=tuple((b.step_id, b.condition) for b in request.breakpoints),
                mocks=from_struct(request.mocks),
            ),
        )
        return rr.StartRunResponse(run=run_message(view))

    async def GetRun(self, request: rr.GetRunRequest, context: grpc.aio.ServicerContext) -> rr.GetRunResponse:
        view = await _call(context, self._runs.get(request.run_id))
        return rr.GetRunResponse(run=run_message(view))

    async def ListRuns(self, request: rr.ListRunsRequest, context: grpc.aio.ServicerContext) -> rr.ListRunsResponse:
        rows, token = await _call(
            context,
            self._runs.list_runs(
                size=request.page_size,
                token=request.page_token,
                pipeline_name=request.pipeline_name,
                states=_state_names(list(request.states), message_pb2.RunState, "RUN_STATE_"),
            ),
        )
        return rr.ListRunsResponse(runs=[run_message(row) for row in rows], next_page_token=token)

    async def WatchRun(self, request: rr.WatchRunRequest, context: grpc.aio.ServicerContext) -> None:
        # context.write() rather than an async generator: grpc.aio sends each
        # message of a generator handler at about three times the cost.
        # Each write costs about as much as a step, so a batching watcher gets the
        # events available together in one message; older clients get one each.
        groups = self._runs.watch(request.run_id, max(request.from_sequence, 0))
        try:
            while True:
                try:
                    group = await anext(groups)
                except StopAsyncIteration:
                    return
                except _REFUSALS as error:
                    await _refuse(context, error)
                if request.batch:
                    for response in _batches([event_message(event) for event in group]):
                        await context.write(response)
                else:
                    for event in group:
                        await context.write(rr.WatchRunResponse(event=event_message(event)))
        finally:
            # A client that hangs up mid-stream must not leave its subscription behind.
            await groups.aclose()

    async def CancelRun(self, request: rr.CancelRunRequest, context: grpc.aio.ServicerContext) -> rr.CancelRunResponse:
        view = await _call(context, self._runs.cancel(request.run_id, request.reason))
        return rr.CancelRunResponse(run=run_message(view))

    async def ListHumanTasks(
        self, request: rr.ListHumanTasksRequest, context: grpc.aio.ServicerContext
    ) -> rr.ListHumanTasksResponse:
        rows, token = await _call(
            context,
            self._runs.list_tasks(
                size=request.page_size,
                token=request.page_token,
                run_id=request.run_id,
                states=_state_names(list(request.states), message_pb2.HumanTaskState, "HUMAN_TASK_STATE_"),
            ),
        )
        return rr.ListHumanTasksResponse(tasks=[task_message(row) for row in rows], next_page_token=token)

    async def SubmitHumanInput(
        self, request: rr.SubmitHumanInputRequest, context: grpc.aio.ServicerContext
    ) -> rr.SubmitHumanInputResponse:
        task = await _call(context, self._runs.submit(request.task_id, from_struct(request.data), request.submitter))
        return rr.SubmitHumanInputResponse(task=task_message(task))

    async def DryRun(self, request: rr.DryRunRequest, context: grpc.aio.ServicerContext) -> rr.DryRunResponse:
        has_definition = request.WhichOneof("pipeline") == "definition"
        result = await _call(
            context,
            self._runs.dry_run(
                pipeline_name=request.pipeline_name,
                definition=request.definition if has_definition else None,
                revision=request.revision,
                inputs=from_struct(request.inputs),
                inputs_size=request.inputs.ByteSize(),
                mocks=from_struct(request.mocks),
            ),
        )
        return dry_run_response(result)

    async def ResumeRun(self, request: rr.ResumeRunRequest, context: grpc.aio.ServicerContext) -> rr.ResumeRunResponse:
        view = await _call(
            context,
            self._runs.release(request.run_id, step=False, step_id=request.step_id, inputs=from_struct(request.inputs)),
        )
        return rr.ResumeRunResponse(run=run_message(view))

    async def StepRun(self, request: rr.StepRunRequest, context: grpc.aio.ServicerContext) -> rr.StepRunResponse:
        view = await _call(
            context,
            self._runs.release(request.run_id, step=True, step_id=request.step_id, inputs=from_struct(request.inputs)),
        )
        return rr.StepRunResponse(run=run_message(view))

    async def InspectRun(
        self, request: rr.InspectRunRequest, context: grpc.aio.ServicerContext
    ) -> rr.InspectRunResponse:
        inspection = await _call(context, self._runs.inspect(request.run_id))
        return inspect_response(inspection)
