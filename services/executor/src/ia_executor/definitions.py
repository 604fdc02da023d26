"""The definitions runs execute: inline ones validated here, registered ones fetched
from the registry and cached by (name, revision).

A run stores the definition it runs, so once started it no longer needs the registry.
Clients tend to send the same inline definition again and again: a definition that
passed validation is remembered by the digest of its serialized form, so the next
run of it is neither validated nor compiled again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format
from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import request_response_pb2, service_pb2_grpc
from ia_modules import tls
from ia_modules.definition import Code, Finding, Severity, canonical_json, load_definition, validate
from ia_modules.definition import loader as definition_loader
from ia_modules.definition import source as definition_source
from ia_modules.engine import Plan, PlanError, compile_plan
from ia_service_kit.identity import current_tenant, outgoing_metadata

from ia_executor.errors import DefinitionRefused, InvalidInput, PipelineNotFound, RegistryUnavailable

__all__ = ["Definition", "Definitions"]

_REGISTRY_TIMEOUT_S = 10.0
_CACHE_SIZE = 256


@dataclass(frozen=True)
class Definition:
    """A definition ready to run: its canonical JSON document and compiled plan."""

    name: str
    revision: int
    document: dict[str, Any]
    plan: Plan


def _plan_findings(error: PlanError) -> list[Finding]:
    return [Finding(Severity.ERROR, path, message, Code.INVALID_VALUE) for path, message in error.problems]


def _over_limits(pipeline: pipeline_pb2.Pipeline) -> list[Finding]:
    """The findings of a definition over IA_MAX_STEPS or IA_MAX_DEFINITION_BYTES, the
    same ones the registry gives (the loader words them); empty when within both."""
    too_many = len(pipeline.steps) > definition_loader.MAX_STEPS
    # JSON takes a few times the binary size (keys, quotes, escapes), well under 8x:
    # a definition that small in binary needs no JSON text to know it is within the limit.
    if not too_many and pipeline.ByteSize() * 8 <= definition_source.MAX_DOCUMENT_BYTES:
        return []
    text = canonical_json(pipeline)
    if too_many or len(text.encode()) > definition_source.MAX_DOCUMENT_BYTES:
        return [f for f in load_definition(text).findings if f.severity is Severity.ERROR]
    return []


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Adds to a cache of at most _CACHE_SIZE entries, dropping the oldest first."""
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


class Definitions:
    """Resolves and compiles definitions; compiled plans are cached by content."""

    def __init__(self, registry_address: str) -> None:
        self._registry_address = registry_address
        self._channel: grpc.aio.Channel | None = None
        self._registered: dict[tuple[str, str, int], Definition] = {}
        self._plans: dict[str, Plan] = {}
        self._inline: dict[bytes, Definition] = {}

    def plan(self, document: dict[str, Any]) -> Plan:
        """The compiled plan of a canonical document (raises DefinitionRefused)."""
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        plan = self._plans.get(digest)
        if plan is None:
            try:
                plan = compile_plan(document)
            except PlanError as error:
                raise DefinitionRefused(_plan_findings(error)) from error
            _remember(self._plans, digest, plan)
        return plan

    async def inline(self, pipeline: pipeline_pb2.Pipeline) -> Definition:
        """Validates an inline definition (once per distinct definition); raises
        DefinitionRefused with JSON paths."""
        digest = hashlib.sha256(pipeline.SerializeToString(deterministic=True)).digest()
        definition = self._inline.get(digest)
        if definition is None:
            definition = await asyncio.to_thread(self._validated, pipeline)
            _remember(self._inline, digest, definition)
        return definition

    def _validated(self, pipeline: pipeline_pb2.Pipeline) -> Definition:
        errors = _over_limits(pipeline) or [f for f in validate(pipeline) if f.severity is Severity.ERROR]
        if errors:
            raise DefinitionRefused(errors)
        document = json_format.MessageToDict(pipeline, preserving_proto_field_name=True)
        return Definition(pipeline.name, 0, document, self.plan(document))

    async def registered(self, name: str, revision: int) -> Definition:
        """The current tenant's registered pipeline ``name`` at ``revision`` (0: the latest)."""
        tenant = current_tenant()
        cached = self._registered.get((tenant, name, revision)) if revision else None
        if cached is not None:
            return cached
        version = await self._fetch(name, revision)
        document = json_format.MessageToDict(version.definition, preserving_proto_field_name=True)
        definition = Definition(version.name, version.revision, document, self.plan(document))
        self._registered[(tenant, version.name, version.revision)] = definition
        return definition

    async def _fetch(self, name: str, revision: int) -> Any:
        if self._channel is None:
            self._channel = tls.aio_channel(self._registry_address)
        stub = service_pb2_grpc.RegistryServiceStub(self._channel)
        request = request_response_pb2.GetPipelineRequest(name=name, revision=revision)
        try:
            response = await stub.GetPipeline(request, timeout=_REGISTRY_TIMEOUT_S, metadata=outgoing_metadata())
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise PipelineNotFound(error.details() or f"pipeline {name!r} is not registered", name=name) from error
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                # The registry refused the name or revision: the caller's mistake, not an outage.
                raise InvalidInput(error.details() or "the registry refused the request", []) from error
            raise RegistryUnavailable(
                f"the registry at {self._registry_address} did not answer: {error.code().name} {error.details()}",
                address=self._registry_address,
            ) from error
        return response.pipeline

    async def close(self) -> None:
        """Closes the registry connection."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
