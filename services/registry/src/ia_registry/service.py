"""RegistryService: maps each RPC to the `Registry` and each refusal to a gRPC status.

The registry's work (SQLite/PostgreSQL and validation) is blocking, so it runs in
worker threads and the event loop stays free for other calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn, TypeVar, cast

import grpc
from google.protobuf import timestamp_pb2

from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import message_pb2, service_pb2_grpc
from ia.registry.v1 import request_response_pb2 as rr
from ia_modules.definition import DefinitionError
from ia_registry import errors
from ia_registry.registry import Registry, Stored, check_pipeline, check_text
from ia_registry.store import StoredVersion
from ia_service_kit.errors import abort, abort_invalid_argument, abort_invalid_definition

T = TypeVar("T")

_STATUS = {
    errors.PipelineNotFound: grpc.StatusCode.NOT_FOUND,
    errors.PipelineAlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.EtagMismatch: grpc.StatusCode.ABORTED,
    errors.ConcurrentModification: grpc.StatusCode.ABORTED,
}


def version_message(version: StoredVersion) -> message_pb2.PipelineVersion:
    """The wire form of a stored version."""
    create_time = timestamp_pb2.Timestamp()
    create_time.FromDatetime(version.create_time)
    return message_pb2.PipelineVersion(
        name=version.name,
        revision=version.revision,
        definition=version.definition(),
        content_hash=version.content_hash,
        etag=version.etag,
        create_time=create_time,
        source_dialect=version.source_dialect,
    )


def _warnings(stored: Stored) -> list[pipeline_pb2.Finding]:
    return [finding.to_proto() for finding in stored.warnings]


_REFUSALS = (DefinitionError, errors.RegistryError)


async def _refuse(context: grpc.aio.ServicerContext, error: Exception) -> NoReturn:
    """Ends the call with the status for one of `_REFUSALS`."""
    if isinstance(error, DefinitionError):
        await abort_invalid_definition(context, error.findings)
    elif isinstance(error, errors.InvalidField):
        await abort_invalid_argument(context, error.field, str(error))
    else:
        registry_error = cast(errors.RegistryError, error)
        await abort(context, _STATUS[type(error)], registry_error.reason, str(error), **registry_error.metadata)


class RegistryService(service_pb2_grpc.RegistryServiceServicer):
    """The gRPC face of the registry."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def _call(self, context: grpc.aio.ServicerContext, work: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.to_thread(work, *args)
        except _REFUSALS as error:
            await _refuse(context, error)

    async def CreatePipeline(
        self, request: rr.CreatePipelineRequest, context: grpc.aio.ServicerContext
    ) -> rr.CreatePipelineResponse:
        stored = await self._call(context, self._registry.create, request.pipeline, request.request_id)
        return rr.CreatePipelineResponse(pipeline=version_message(stored.version), warnings=_warnings(stored))

    async def GetPipeline(
        self, request: rr.GetPipelineRequest, context: grpc.aio.ServicerContext
    ) -> rr.GetPipelineResponse:
        version = await self._call(context, self._registry.get, request.name, request.revision)
        return rr.GetPipelineResponse(pipeline=version_message(version))

    async def ListPipelines(
        self, request: rr.ListPipelinesRequest, context: grpc.aio.ServicerContext
    ) -> rr.ListPipelinesResponse:
        page = await self._call(
            context,
            lambda: self._registry.list_pipelines(
                size=request.page_size,
                token=request.page_token,
                name_prefix=request.name_prefix,
                labels=dict(request.labels),
            ),
        )
        return rr.ListPipelinesResponse(
            pipelines=[version_message(v) for v in page.versions], next_page_token=page.next_page_token
        )

    async def UpdatePipeline(
        self, request: rr.UpdatePipelineRequest, context: grpc.aio.ServicerContext
    ) -> rr.UpdatePipelineResponse:
        stored = await self._call(
            context, self._registry.update, request.pipeline, list(request.update_mask.paths), request.etag
        )
        return rr.UpdatePipelineResponse(pipeline=version_message(stored.version), warnings=_warnings(stored))

    async def DeletePipeline(
        self, request: rr.DeletePipelineRequest, context: grpc.aio.ServicerContext
    ) -> rr.DeletePipelineResponse:
        count = await self._call(context, self._registry.delete, request.name, request.etag)
        return rr.DeletePipelineResponse(deleted_revisions=count)

    async def ListPipelineVersions(
        self, request: rr.ListPipelineVersionsRequest, context: grpc.aio.ServicerContext
    ) -> rr.ListPipelineVersionsResponse:
        page = await self._call(
            context,
            lambda: self._registry.list_versions(request.name, size=request.page_size, token=request.page_token),
        )
        return rr.ListPipelineVersionsResponse(
            versions=[version_message(v) for v in page.versions], next_page_token=page.next_page_token
        )

    async def ValidatePipeline(
        self, request: rr.ValidatePipelineRequest, context: grpc.aio.ServicerContext
    ) -> rr.ValidatePipelineResponse:
        source = request.WhichOneof("source")
        if source is None:
            await abort_invalid_argument(context, "source", "give either `pipeline` or `definition_json`")
        if source == "pipeline":
            check = await self._call(context, lambda: check_pipeline(request.pipeline, strict=request.strict))
        else:
            check = await self._call(context, lambda: check_text(request.definition_json, strict=request.strict))
        return rr.ValidatePipelineResponse(
            valid=check.valid,
            findings=[finding.to_proto() for finding in check.findings],
            source_dialect=check.dialect,
            pipeline=check.pipeline,
        )

    async def ImportPipelines(
        self, request: rr.ImportPipelinesRequest, context: grpc.aio.ServicerContext
    ) -> rr.ImportPipelinesResponse:
        sources = [(source.source_name, source.definition_json) for source in request.sources]
        results = await self._call(context, self._registry.import_sources, sources)
        return rr.ImportPipelinesResponse(
            results=[
                message_pb2.ImportResult(
                    source_name=result.source_name,
                    name=result.name,
                    outcome=result.outcome,
                    revision=result.revision,
                    findings=[finding.to_proto() for finding in result.findings],
                )
                for result in results
            ]
        )
