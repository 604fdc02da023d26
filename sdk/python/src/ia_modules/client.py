"""A thin Python client for the IA Modules registry and executor.

`Client` is synchronous and `AsyncClient` uses `grpc.aio`; both expose the same
methods. They return the protobuf messages of the contract (`PipelineVersion`,
`Run`, `HumanTask`, …), take run inputs and human answers as plain dicts, and
raise `IAError` for every failed call.

    with Client() as client:          # IA_ENDPOINT, default localhost:8080
        run = client.start_run("etl", inputs={"topic": "ai"})
        run = client.wait_run(run.run_id)
        print(to_dict(run.outputs))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import grpc
import grpc.aio
from google.protobuf import field_mask_pb2, struct_pb2

from ia.executor.v1 import message_pb2 as executor_messages
from ia.executor.v1 import request_response_pb2 as executor_requests
from ia.executor.v1 import service_pb2_grpc as executor_grpc
from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import message_pb2 as registry_messages
from ia.registry.v1 import request_response_pb2 as registry_requests
from ia.registry.v1 import service_pb2_grpc as registry_grpc
from ia_modules.call_metadata import aio_interceptors, bearer, resolve_token, sync_interceptors
from ia_modules.errors import IAError
from ia_modules.tls import TLSSettings, aio_channel, channel

DEFAULT_ENDPOINT = "localhost:8080"
# Deadline of every unary call, in seconds. Streams (WatchRun) have none: a run
# may take hours.
DEFAULT_TIMEOUT_S = 30.0
# How often a broken WatchRun stream is reopened before giving up; enough to
# ride out an executor restart.
DEFAULT_RECONNECT_ATTEMPTS = 8

# How long a failed call waits to learn whether the channel is connected, to tell
# an unreachable endpoint from a slow service.
_READY_PROBE_S = 0.25

RunState = executor_messages.RunState
FINAL_RUN_STATES = frozenset(
    {
        executor_messages.RUN_STATE_SUCCEEDED,
        executor_messages.RUN_STATE_FAILED,
        executor_messages.RUN_STATE_CANCELLED,
        executor_messages.RUN_STATE_TIMED_OUT,
    }
)

# A definition: the proto itself, or a dict in any supported dialect.
PipelineSource: TypeAlias = pipeline_pb2.Pipeline | Mapping[str, Any]
RunEventCallback: TypeAlias = Callable[[executor_messages.RunEvent], None]
# Step ids to pause a run before, each alone or as (step id, CEL condition).
Breakpoints: TypeAlias = Iterable[str | tuple[str, str]]


def resolve_endpoint(endpoint: str | None = None) -> str:
    """The endpoint to call: the argument, else IA_ENDPOINT, else localhost:8080."""
    return endpoint or os.environ.get("IA_ENDPOINT") or DEFAULT_ENDPOINT


def to_struct(data: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """A dict as a `google.protobuf.Struct`."""
    struct = struct_pb2.Struct()
    if data:
        struct.update(data)
    return struct


def to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A `google.protobuf.Struct` as a dict.

    Struct stores every number as a double; whole numbers come back as ints so
    that `{"count": 3}` survives the round trip. Raises ValueError for NaN or an
    infinity, which JSON cannot hold.
    """
    # Walks the message directly: json_format.MessageToDict and a second pass for
    # the ints cost twice as much, on every plugin call (input, config, output).
    return {key: _json_value(value) for key, value in struct.fields.items()}


def _json_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        if not math.isfinite(number):
            raise ValueError(f"{number} is not a JSON number")
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return to_dict(value.struct_value)
    if kind == "list_value":
        return [_json_value(item) for item in value.list_value.values]
    return None  # null_value, or a Value with nothing set


def _pipeline(source: PipelineSource) -> pipeline_pb2.Pipeline:
    """The canonical proto of a definition, normalizing older dialects locally."""
    if isinstance(source, pipeline_pb2.Pipeline):
        return source
    from ia_modules.definition import Severity, load_definition

    loaded = load_definition(dict(source))
    errors = [f for f in loaded.findings if f.severity is Severity.ERROR]
    if loaded.pipeline is None or errors:
        raise IAError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "the definition has errors",
            reason="INVALID_DEFINITION",
            field_violations=[(f.path, f.message) for f in errors],
        )
    return loaded.pipeline


def _validate_request(source: PipelineSource | str, strict: bool) -> registry_requests.ValidatePipelineRequest:
    if isinstance(source, pipeline_pb2.Pipeline):
        return registry_requests.ValidatePipelineRequest(pipeline=source, strict=strict)
    text = source if isinstance(source, str) else json.dumps(dict(source))
    return registry_requests.ValidatePipelineRequest(definition_json=text, strict=strict)


def _import_request(
    sources: Mapping[str, str] | Iterable[tuple[str, str]],
) -> registry_requests.ImportPipelinesRequest:
    pairs = sources.items() if isinstance(sources, Mapping) else sources
    return registry_requests.ImportPipelinesRequest(
        sources=[registry_messages.ImportSource(source_name=name, definition_json=text) for name, text in pairs]
    )


def _update_request(
    pipeline: PipelineSource, update_mask: Sequence[str], etag: str
) -> registry_requests.UpdatePipelineRequest:
    return registry_requests.UpdatePipelineRequest(
        pipeline=_pipeline(pipeline),
        update_mask=field_mask_pb2.FieldMask(paths=list(update_mask)),
        etag=etag,
    )


def _set_pipeline(request: Any, pipeline: str | PipelineSource) -> Any:
    """Fills the `pipeline` oneof: a registered name or an inline definition."""
    if isinstance(pipeline, str):
        request.pipeline_name = pipeline
    else:
        request.definition.CopyFrom(_pipeline(pipeline))
    return request


def _start_run_request(
    pipeline: str | PipelineSource,
    revision: int,
    inputs: Mapping[str, Any] | None,
    request_id: str,
    breakpoints: Breakpoints = (),
    mocks: Mapping[str, Any] | None = None,
) -> executor_requests.StartRunRequest:
    request = executor_requests.StartRunRequest(revision=revision, inputs=to_struct(inputs), request_id=request_id)
    for point in breakpoints:
        step_id, condition = (point, "") if isinstance(point, str) else point
        request.breakpoints.add(step_id=step_id, condition=condition)
    if mocks:
        request.mocks.CopyFrom(to_struct(mocks))
    return _set_pipeline(request, pipeline)


def _resume_request(kind: type[Any], run_id: str, inputs: Mapping[str, Any] | None, step_id: str) -> Any:
    request = kind(run_id=run_id, step_id=step_id)
    if inputs:
        request.inputs.CopyFrom(to_struct(inputs))
    return request


def _dry_run_request(
    pipeline: str | PipelineSource,
    revision: int,
    inputs: Mapping[str, Any] | None,
    mocks: Mapping[str, Any] | None,
) -> executor_requests.DryRunRequest:
    request = executor_requests.DryRunRequest(revision=revision, inputs=to_struct(inputs), mocks=to_struct(mocks))
    return _set_pipeline(request, pipeline)


def _response_events(response: executor_requests.WatchRunResponse) -> list[executor_messages.RunEvent]:
    """The events of a WatchRun response: several when batched, else the one
    (a server that predates batching always sends one)."""
    return list(response.events) if response.events else [response.event]


def _reconnect_delay(failures: int) -> float:
    return min(0.2 * 2 ** (failures - 1), 2.0)


def _waiting_event(event: executor_messages.RunEvent) -> bool:
    return (
        event.WhichOneof("kind") == "run_state_changed"
        and event.run_state_changed.state == executor_messages.RUN_STATE_WAITING_FOR_INPUT
    )


def _paused_event(event: executor_messages.RunEvent) -> bool:
    return (
        event.WhichOneof("kind") == "run_state_changed"
        and event.run_state_changed.state == executor_messages.RUN_STATE_PAUSED
    )


def _final_event(event: executor_messages.RunEvent) -> bool:
    return event.WhichOneof("kind") == "run_state_changed" and event.run_state_changed.state in FINAL_RUN_STATES


class Client:
    """A synchronous client for both services behind one endpoint (Envoy).

    Args:
        endpoint: host:port; defaults to IA_ENDPOINT, then localhost:8080.
        timeout: the deadline of each unary call, in seconds.
        credentials: gRPC channel credentials, used as given.
        tls: TLS settings (`TLSSettings.from_files(ca=..., cert=..., key=...)`);
            without them or `credentials`, IA_TLS_CA/IA_TLS_CERT/IA_TLS_KEY when
            set, else plaintext.
        token: an API key or JWT sent as `authorization: Bearer`; defaults to IA_TOKEN.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        credentials: grpc.ChannelCredentials | None = None,
        tls: TLSSettings | None = None,
        token: str | None = None,
    ) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self.timeout = timeout
        if credentials is None:
            self._channel = channel(self.endpoint, tls=tls)
        else:
            self._channel = grpc.secure_channel(self.endpoint, credentials)
        token = resolve_token(token)
        if token:
            self._channel = grpc.intercept_channel(self._channel, *sync_interceptors(bearer(token)))
        self._registry = registry_grpc.RegistryServiceStub(self._channel)
        self._executor = executor_grpc.ExecutorServiceStub(self._channel)

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ready(self) -> bool:
        ready = grpc.channel_ready_future(self._channel)
        try:
            ready.result(timeout=_READY_PROBE_S)
            return True
        except grpc.FutureTimeoutError:
            return False
        finally:
            ready.cancel()

    def _error(self, error: grpc.RpcError) -> IAError:
        connected = error.code() is not grpc.StatusCode.DEADLINE_EXCEEDED or self._ready()
        return IAError.from_rpc_error(error, endpoint=self.endpoint, connected=connected)

    def _call(self, method: Callable[..., Any], request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise self._error(error) from error

    def _pages(self, method: Callable[..., Any], request: Any, field: str) -> Iterator[Any]:
        while True:
            page = self._call(method, request)
            yield from getattr(page, field)
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    # Registry

    def create_pipeline(
        self, pipeline: PipelineSource, *, request_id: str = ""
    ) -> registry_requests.CreatePipelineResponse:
        """Stores a new pipeline as revision 1; `.pipeline` and `.warnings`."""
        request = registry_requests.CreatePipelineRequest(pipeline=_pipeline(pipeline), request_id=request_id)
        return self._call(self._registry.CreatePipeline, request)

    def get_pipeline(self, name: str, revision: int = 0) -> registry_messages.PipelineVersion:
        """The latest revision of a pipeline, or the one asked for."""
        request = registry_requests.GetPipelineRequest(name=name, revision=revision)
        return self._call(self._registry.GetPipeline, request).pipeline

    def list_pipelines_page(
        self,
        *,
        prefix: str = "",
        labels: Mapping[str, str] | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> registry_requests.ListPipelinesResponse:
        """One page of pipelines (latest revision each), with `next_page_token`."""
        request = registry_requests.ListPipelinesRequest(
            name_prefix=prefix, labels=labels or {}, page_size=page_size, page_token=page_token
        )
        return self._call(self._registry.ListPipelines, request)

    def list_pipelines(
        self, *, prefix: str = "", labels: Mapping[str, str] | None = None, page_size: int = 0
    ) -> Iterator[registry_messages.PipelineVersion]:
        """Every pipeline (latest revision each) by name, fetching pages as needed."""
        request = registry_requests.ListPipelinesRequest(name_prefix=prefix, labels=labels or {}, page_size=page_size)
        return self._pages(self._registry.ListPipelines, request, "pipelines")

    def update_pipeline(
        self, pipeline: PipelineSource, *, update_mask: Sequence[str] = (), etag: str = ""
    ) -> registry_requests.UpdatePipelineResponse:
        """Stores a new revision; an empty mask replaces the whole definition."""
        request = _update_request(pipeline, update_mask, etag)
        return self._call(self._registry.UpdatePipeline, request)

    def push_pipeline(
        self, pipeline: pipeline_pb2.Pipeline, *, request_id: str = ""
    ) -> tuple[str, registry_messages.PipelineVersion, list[pipeline_pb2.Finding]]:
        """Creates the pipeline, or adds a revision when it exists and differs from the latest.

        Returns (action, version, warnings): action is "created", "updated" or
        "unchanged" (a definition identical to the latest revision stores nothing).
        """
        from ia_modules.definition import content_hash

        try:
            response = self.create_pipeline(pipeline, request_id=request_id)
            return "created", response.pipeline, list(response.warnings)
        except IAError as error:
            if error.code is not grpc.StatusCode.ALREADY_EXISTS:
                raise
        latest = self.get_pipeline(pipeline.name)
        if latest.content_hash == content_hash(pipeline):
            return "unchanged", latest, []
        response = self.update_pipeline(pipeline, etag=latest.etag)
        return "updated", response.pipeline, list(response.warnings)

    def delete_pipeline(self, name: str, *, etag: str = "") -> int:
        """Deletes a pipeline and all its revisions; returns how many were deleted."""
        request = registry_requests.DeletePipelineRequest(name=name, etag=etag)
        return self._call(self._registry.DeletePipeline, request).deleted_revisions

    def list_versions(self, name: str, *, page_size: int = 0) -> Iterator[registry_messages.PipelineVersion]:
        """Every revision of a pipeline, newest first."""
        request = registry_requests.ListPipelineVersionsRequest(name=name, page_size=page_size)
        return self._pages(self._registry.ListPipelineVersions, request, "versions")

    def validate(
        self, source: PipelineSource | str, *, strict: bool = False
    ) -> registry_requests.ValidatePipelineResponse:
        """Validates a definition (proto, dict, or JSON text in any dialect)."""
        return self._call(self._registry.ValidatePipeline, _validate_request(source, strict))

    def import_pipelines(
        self, sources: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> list[registry_messages.ImportResult]:
        """Imports definitions given as {source name: JSON text}; one result each."""
        return list(self._call(self._registry.ImportPipelines, _import_request(sources)).results)

    # Executor

    def start_run(
        self,
        pipeline: str | PipelineSource,
        *,
        revision: int = 0,
        inputs: Mapping[str, Any] | None = None,
        request_id: str = "",
        breakpoints: Breakpoints = (),
        mocks: Mapping[str, Any] | None = None,
    ) -> executor_messages.Run:
        """Starts a run of a registered pipeline (by name) or an inline definition.

        `breakpoints` (step ids, or (step id, CEL condition) pairs) pause it before
        those steps; `mocks` (step id -> output) complete steps without running them.
        """
        request = _start_run_request(pipeline, revision, inputs, request_id, breakpoints, mocks)
        return self._call(self._executor.StartRun, request).run

    def get_run(self, run_id: str) -> executor_messages.Run:
        """A run with the state of each step."""
        return self._call(self._executor.GetRun, executor_requests.GetRunRequest(run_id=run_id)).run

    def list_runs(
        self, *, pipeline: str = "", states: Sequence[int] = (), page_size: int = 0
    ) -> Iterator[executor_messages.Run]:
        """Runs, newest first, without step details."""
        request = executor_requests.ListRunsRequest(pipeline_name=pipeline, states=list(states), page_size=page_size)
        return self._pages(self._executor.ListRuns, request, "runs")

    def watch_run(
        self,
        run_id: str,
        *,
        from_sequence: int = 0,
        reconnect_attempts: int = DEFAULT_RECONNECT_ATTEMPTS,
    ) -> Iterator[executor_messages.RunEvent]:
        """The run's events after `from_sequence`, then live ones until it ends.

        A stream that breaks with UNAVAILABLE after delivering events is reopened
        from the last sequence seen, so no event is lost or repeated.
        """
        last = from_sequence
        failures = 0
        while True:
            stream = self._executor.WatchRun(
                executor_requests.WatchRunRequest(run_id=run_id, from_sequence=last, batch=True)
            )
            try:
                for response in stream:
                    for event in _response_events(response):
                        last = event.sequence
                        failures = 0
                        yield event
                return
            except grpc.RpcError as error:
                resumable = last > from_sequence and error.code() is grpc.StatusCode.UNAVAILABLE
                if not resumable or failures >= reconnect_attempts:
                    raise self._error(error) from error
                failures += 1
                time.sleep(_reconnect_delay(failures))
            finally:
                stream.cancel()

    def wait_run(self, run_id: str, *, on_event: RunEventCallback | None = None) -> executor_messages.Run:
        """Watches a run until it ends, waits for input or is paused, and returns it.

        `on_event` sees every event on the way, for progress displays.
        """
        with contextlib.closing(self.watch_run(run_id)) as events:
            for event in events:
                if on_event is not None:
                    on_event(event)
                if _final_event(event):
                    break
                if _waiting_event(event) and self._waits_for_input(run_id):
                    break
                # A replayed pause may be history: the run is paused only if it still says so.
                if _paused_event(event) and self.get_run(run_id).state == executor_messages.RUN_STATE_PAUSED:
                    break
        return self.get_run(run_id)

    def _waits_for_input(self, run_id: str) -> bool:
        # A replayed WAITING_FOR_INPUT event may be history: the run waits only if
        # it still says so and a task is still open.
        if self.get_run(run_id).state != executor_messages.RUN_STATE_WAITING_FOR_INPUT:
            return False
        return next(iter(self.list_human_tasks(run_id=run_id)), None) is not None

    def cancel_run(self, run_id: str, *, reason: str = "") -> executor_messages.Run:
        """Cancels a run and whatever it has in flight."""
        request = executor_requests.CancelRunRequest(run_id=run_id, reason=reason)
        return self._call(self._executor.CancelRun, request).run

    def list_human_tasks(
        self, *, run_id: str = "", states: Sequence[int] = ()
    ) -> Iterator[executor_messages.HumanTask]:
        """Human-input tasks, OPEN ones unless `states` says otherwise."""
        request = executor_requests.ListHumanTasksRequest(run_id=run_id, states=list(states))
        return self._pages(self._executor.ListHumanTasks, request, "tasks")

    def submit_human_input(
        self, task_id: str, data: Mapping[str, Any], *, submitter: str = ""
    ) -> executor_messages.HumanTask:
        """Answers a human-input task, which resumes its run."""
        request = executor_requests.SubmitHumanInputRequest(task_id=task_id, data=to_struct(data), submitter=submitter)
        return self._call(self._executor.SubmitHumanInput, request).task

    def dry_run(
        self,
        pipeline: str | PipelineSource,
        *,
        revision: int = 0,
        inputs: Mapping[str, Any] | None = None,
        mocks: Mapping[str, Any] | None = None,
    ) -> executor_requests.DryRunResponse:
        """Walks the graph with mock step outputs and returns the path taken."""
        request = _dry_run_request(pipeline, revision, inputs, mocks)
        return self._call(self._executor.DryRun, request)

    def resume_run(
        self, run_id: str, *, inputs: Mapping[str, Any] | None = None, step_id: str = ""
    ) -> executor_messages.Run:
        """Lets a paused run go on until its next breakpoint; `inputs` first sets
        top-level fields of the paused step's (`step_id`, else the first) input."""
        request = _resume_request(executor_requests.ResumeRunRequest, run_id, inputs, step_id)
        return self._call(self._executor.ResumeRun, request).run

    def step_run(
        self, run_id: str, *, inputs: Mapping[str, Any] | None = None, step_id: str = ""
    ) -> executor_messages.Run:
        """Runs one paused step (`step_id`, else the first), then pauses before the next."""
        request = _resume_request(executor_requests.StepRunRequest, run_id, inputs, step_id)
        return self._call(self._executor.StepRun, request).run

    def inspect_run(self, run_id: str) -> executor_requests.InspectRunResponse:
        """The paused steps with their inputs, the outputs so far and the conditions evaluated."""
        return self._call(self._executor.InspectRun, executor_requests.InspectRunRequest(run_id=run_id))


class AsyncClient:
    """The asyncio twin of `Client`, on `grpc.aio`; use it with `async with`."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        credentials: grpc.ChannelCredentials | None = None,
        tls: TLSSettings | None = None,
        token: str | None = None,
    ) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self.timeout = timeout
        token = resolve_token(token)
        interceptors = aio_interceptors(bearer(token) if token else None)
        if credentials is None:
            self._channel = aio_channel(self.endpoint, tls=tls, interceptors=interceptors)
        else:
            self._channel = grpc.aio.secure_channel(self.endpoint, credentials, interceptors=interceptors)
        self._registry = registry_grpc.RegistryServiceStub(self._channel)
        self._executor = executor_grpc.ExecutorServiceStub(self._channel)

    async def close(self) -> None:
        """Closes the channel."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _error(self, error: grpc.RpcError) -> IAError:
        connected = (
            error.code() is not grpc.StatusCode.DEADLINE_EXCEEDED
            or self._channel.get_state() is grpc.ChannelConnectivity.READY
        )
        return IAError.from_rpc_error(error, endpoint=self.endpoint, connected=connected)

    async def _call(self, method: Callable[..., Any], request: Any) -> Any:
        try:
            return await method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise self._error(error) from error

    async def _pages(self, method: Callable[..., Any], request: Any, field: str) -> AsyncIterator[Any]:
        while True:
            page = await self._call(method, request)
            for item in getattr(page, field):
                yield item
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    # Registry

    async def create_pipeline(
        self, pipeline: PipelineSource, *, request_id: str = ""
    ) -> registry_requests.CreatePipelineResponse:
        """Stores a new pipeline as revision 1; `.pipeline` and `.warnings`."""
        request = registry_requests.CreatePipelineRequest(pipeline=_pipeline(pipeline), request_id=request_id)
        return await self._call(self._registry.CreatePipeline, request)

    async def get_pipeline(self, name: str, revision: int = 0) -> registry_messages.PipelineVersion:
        """The latest revision of a pipeline, or the one asked for."""
        request = registry_requests.GetPipelineRequest(name=name, revision=revision)
        return (await self._call(self._registry.GetPipeline, request)).pipeline

    async def list_pipelines_page(
        self,
        *,
        prefix: str = "",
        labels: Mapping[str, str] | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> registry_requests.ListPipelinesResponse:
        """One page of pipelines (latest revision each), with `next_page_token`."""
        request = registry_requests.ListPipelinesRequest(
            name_prefix=prefix, labels=labels or {}, page_size=page_size, page_token=page_token
        )
        return await self._call(self._registry.ListPipelines, request)

    def list_pipelines(
        self, *, prefix: str = "", labels: Mapping[str, str] | None = None, page_size: int = 0
    ) -> AsyncIterator[registry_messages.PipelineVersion]:
        """Every pipeline (latest revision each) by name, fetching pages as needed."""
        request = registry_requests.ListPipelinesRequest(name_prefix=prefix, labels=labels or {}, page_size=page_size)
        return self._pages(self._registry.ListPipelines, request, "pipelines")

    async def update_pipeline(
        self, pipeline: PipelineSource, *, update_mask: Sequence[str] = (), etag: str = ""
    ) -> registry_requests.UpdatePipelineResponse:
        """Stores a new revision; an empty mask replaces the whole definition."""
        request = _update_request(pipeline, update_mask, etag)
        return await self._call(self._registry.UpdatePipeline, request)

    async def delete_pipeline(self, name: str, *, etag: str = "") -> int:
        """Deletes a pipeline and all its revisions; returns how many were deleted."""
        request = registry_requests.DeletePipelineRequest(name=name, etag=etag)
        return (await self._call(self._registry.DeletePipeline, request)).deleted_revisions

    def list_versions(self, name: str, *, page_size: int = 0) -> AsyncIterator[registry_messages.PipelineVersion]:
        """Every revision of a pipeline, newest first."""
        request = registry_requests.ListPipelineVersionsRequest(name=name, page_size=page_size)
        return self._pages(self._registry.ListPipelineVersions, request, "versions")

    async def validate(
        self, source: PipelineSource | str, *, strict: bool = False
    ) -> registry_requests.ValidatePipelineResponse:
        """Validates a definition (proto, dict, or JSON text in any dialect)."""
        return await self._call(self._registry.ValidatePipeline, _validate_request(source, strict))

    async def import_pipelines(
        self, sources: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> list[registry_messages.ImportResult]:
        """Imports definitions given as {source name: JSON text}; one result each."""
        response = await self._call(self._registry.ImportPipelines, _import_request(sources))
        return list(response.results)

    # Executor

    async def start_run(
        self,
        pipeline: str | PipelineSource,
        *,
        revision: int = 0,
        inputs: Mapping[str, Any] | None = None,
        request_id: str = "",
        breakpoints: Breakpoints = (),
        mocks: Mapping[str, Any] | None = None,
    ) -> executor_messages.Run:
        """Starts a run of a registered pipeline (by name) or an inline definition.

        `breakpoints` (step ids, or (step id, CEL condition) pairs) pause it before
        those steps; `mocks` (step id -> output) complete steps without running them.
        """
        request = _start_run_request(pipeline, revision, inputs, request_id, breakpoints, mocks)
        return (await self._call(self._executor.StartRun, request)).run

    async def get_run(self, run_id: str) -> executor_messages.Run:
        """A run with the state of each step."""
        request = executor_requests.GetRunRequest(run_id=run_id)
        return (await self._call(self._executor.GetRun, request)).run

    def list_runs(
        self, *, pipeline: str = "", states: Sequence[int] = (), page_size: int = 0
    ) -> AsyncIterator[executor_messages.Run]:
        """Runs, newest first, without step details."""
        request = executor_requests.ListRunsRequest(pipeline_name=pipeline, states=list(states), page_size=page_size)
        return self._pages(self._executor.ListRuns, request, "runs")

    async def watch_run(
        self,
        run_id: str,
        *,
        from_sequence: int = 0,
        reconnect_attempts: int = DEFAULT_RECONNECT_ATTEMPTS,
    ) -> AsyncIterator[executor_messages.RunEvent]:
        """The run's events after `from_sequence`, then live ones until it ends.

        A stream that breaks with UNAVAILABLE after delivering events is reopened
        from the last sequence seen, so no event is lost or repeated.
        """
        last = from_sequence
        failures = 0
        while True:
            stream = self._executor.WatchRun(
                executor_requests.WatchRunRequest(run_id=run_id, from_sequence=last, batch=True)
            )
            try:
                async for response in stream:
                    for event in _response_events(response):
                        last = event.sequence
                        failures = 0
                        yield event
                return
            except grpc.RpcError as error:
                resumable = last > from_sequence and error.code() is grpc.StatusCode.UNAVAILABLE
                if not resumable or failures >= reconnect_attempts:
                    raise self._error(error) from error
                failures += 1
                await asyncio.sleep(_reconnect_delay(failures))
            finally:
                stream.cancel()

    async def wait_run(self, run_id: str, *, on_event: RunEventCallback | None = None) -> executor_messages.Run:
        """Watches a run until it ends, waits for input or is paused, and returns it.

        `on_event` sees every event on the way, for progress displays.
        """
        async with contextlib.aclosing(self.watch_run(run_id)) as events:
            async for event in events:
                if on_event is not None:
                    on_event(event)
                if _final_event(event):
                    break
                if _waiting_event(event) and await self._waits_for_input(run_id):
                    break
                # A replayed pause may be history: the run is paused only if it still says so.
                if _paused_event(event) and (await self.get_run(run_id)).state == executor_messages.RUN_STATE_PAUSED:
                    break
        return await self.get_run(run_id)

    async def _waits_for_input(self, run_id: str) -> bool:
        # A replayed WAITING_FOR_INPUT event may be history: the run waits only if
        # it still says so and a task is still open.
        if (await self.get_run(run_id)).state != executor_messages.RUN_STATE_WAITING_FOR_INPUT:
            return False
        async with contextlib.aclosing(self.list_human_tasks(run_id=run_id)) as tasks:
            async for _ in tasks:
                return True
        return False

    async def cancel_run(self, run_id: str, *, reason: str = "") -> executor_messages.Run:
        """Cancels a run and whatever it has in flight."""
        request = executor_requests.CancelRunRequest(run_id=run_id, reason=reason)
        return (await self._call(self._executor.CancelRun, request)).run

    def list_human_tasks(
        self, *, run_id: str = "", states: Sequence[int] = ()
    ) -> AsyncIterator[executor_messages.HumanTask]:
        """Human-input tasks, OPEN ones unless `states` says otherwise."""
        request = executor_requests.ListHumanTasksRequest(run_id=run_id, states=list(states))
        return self._pages(self._executor.ListHumanTasks, request, "tasks")

    async def submit_human_input(
        self, task_id: str, data: Mapping[str, Any], *, submitter: str = ""
    ) -> executor_messages.HumanTask:
        """Answers a human-input task, which resumes its run."""
        request = executor_requests.SubmitHumanInputRequest(task_id=task_id, data=to_struct(data), submitter=submitter)
        return (await self._call(self._executor.SubmitHumanInput, request)).task

    async def dry_run(
        self,
        pipeline: str | PipelineSource,
        *,
        revision: int = 0,
        inputs: Mapping[str, Any] | None = None,
        mocks: Mapping[str, Any] | None = None,
    ) -> executor_requests.DryRunResponse:
        """Walks the graph with mock step outputs and returns the path taken."""
        request = _dry_run_request(pipeline, revision, inputs, mocks)
        return await self._call(self._executor.DryRun, request)

    async def resume_run(
        self, run_id: str, *, inputs: Mapping[str, Any] | None = None, step_id: str = ""
    ) -> executor_messages.Run:
        """Lets a paused run go on until its next breakpoint; `inputs` first sets
        top-level fields of the paused step's (`step_id`, else the first) input."""
        request = _resume_request(executor_requests.ResumeRunRequest, run_id, inputs, step_id)
        return (await self._call(self._executor.ResumeRun, request)).run

    async def step_run(
        self, run_id: str, *, inputs: Mapping[str, Any] | None = None, step_id: str = ""
    ) -> executor_messages.Run:
        """Runs one paused step (`step_id`, else the first), then pauses before the next."""
        request = _resume_request(executor_requests.StepRunRequest, run_id, inputs, step_id)
        return (await self._call(self._executor.StepRun, request)).run

    async def inspect_run(self, run_id: str) -> executor_requests.InspectRunResponse:
        """The paused steps with their inputs, the outputs so far and the conditions evaluated."""
        return await self._call(self._executor.InspectRun, executor_requests.InspectRunRequest(run_id=run_id))
