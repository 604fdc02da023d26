"""Callers with a token, JWTs, definitions and a refusal reader for the security tests."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
from google.protobuf import json_format
from ia.executor.v1 import request_response_pb2 as executor_rr
from ia.executor.v1 import service_pb2_grpc as executor_grpc
from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import request_response_pb2 as registry_rr
from ia.registry.v1 import service_pb2_grpc as registry_grpc
from ia.telemetry.v1 import service_pb2_grpc as telemetry_grpc
from ia_modules.call_metadata import aio_interceptors
from ia_modules.engine.values import to_struct
from ia_service_kit.keys import ApiKeys
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2
from refusals import Refusal, refused  # noqa: F401 (the suite's tests import them from here)

JWT_SECRET = "a-test-only-hs256-secret-of-enough-length"


def token_for(subject: str, tenant: str, role: str, *, expires_in_s: float = 300, secret: str = JWT_SECRET) -> str:
    """An HS256 JWT with the claims the services read."""
    claims = {"sub": subject, "tenant": tenant, "role": role, "exp": int(time.time() + expires_in_s)}
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class Caller:
    """Stubs for every service, each call sent with `metadata`."""

    registry: registry_grpc.RegistryServiceStub
    executor: executor_grpc.ExecutorServiceStub
    telemetry: telemetry_grpc.TelemetryServiceStub
    traces: trace_service_pb2_grpc.TraceServiceStub


@dataclass
class Deployment:
    """Addresses of the services, the keys issued (by (tenant, role)) and the service token."""

    registry_address: str
    executor_address: str
    telemetry_address: str
    keys: dict[tuple[str, str], str]
    service_token: str
    key_store: ApiKeys
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    async def __aenter__(self) -> Deployment:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for channel in self._channels:
            await channel.close()

    def caller(self, token: str | None = None, *extra: tuple[str, str]) -> Caller:
        """Stubs sending `authorization: Bearer <token>` (none without a token) plus `extra`."""
        metadata = (*((("authorization", f"Bearer {token}"),) if token else ()), *extra)
        interceptors = aio_interceptors((lambda: metadata) if metadata else None)

        def channel(address: str) -> grpc.aio.Channel:
            opened = grpc.aio.insecure_channel(address, interceptors=interceptors)
            self._channels.append(opened)
            return opened

        return Caller(
            registry_grpc.RegistryServiceStub(channel(self.registry_address)),
            executor_grpc.ExecutorServiceStub(channel(self.executor_address)),
            telemetry_grpc.TelemetryServiceStub(channel(self.telemetry_address)),
            trace_service_pb2_grpc.TraceServiceStub(channel(self.telemetry_address)),
        )

    def as_role(self, tenant: str, role: str) -> Caller:
        """A caller with the API key of `role` in `tenant`."""
        return self.caller(self.keys[(tenant, role)])

    def as_service(self, tenant: str) -> Caller:
        """Another service of the deployment, acting for `tenant`."""
        return self.caller(self.service_token, ("x-ia-tenant", tenant))


def definition(name: str, *, assignees: list[str] | None = None) -> pipeline_pb2.Pipeline:
    """A pipeline: a human approval (when `assignees` is given) then a pass step."""
    steps: list[dict[str, Any]] = []
    if assignees is not None:
        steps.append(
            {
                "id": "review",
                "type": "human_input",
                "human_input": {
                    "prompt": "Publish?",
                    "ui_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                    "assignees": assignees,
                },
            }
        )
    steps.append({"id": "publish", "type": "pass", "inputs": {"topic": "{{ parameters.topic }}"}})
    transitions = [{"from": "review", "to": "publish"}] if assignees is not None else []
    document = {
        "name": name,
        "parameters": {"topic": "ai"},
        "steps": steps,
        "flow": {"transitions": transitions},
    }
    return json_format.ParseDict(document, pipeline_pb2.Pipeline())


async def create_pipeline(caller: Caller, name: str, **options: Any) -> None:
    await caller.registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=definition(name, **options)))


async def start_run(caller: Caller, pipeline_name: str, **fields: Any) -> str:
    response = await caller.executor.StartRun(
        executor_rr.StartRunRequest(pipeline_name=pipeline_name, inputs=to_struct({}), **fields)
    )
    return response.run.run_id


async def open_task(caller: Caller, run_id: str) -> Any:
    """Waits for the run's human task, then returns it."""
    async for response in caller.executor.WatchRun(executor_rr.WatchRunRequest(run_id=run_id)):
        if response.event.WhichOneof("kind") == "input_requested":
            return response.event.input_requested
    raise AssertionError("the run ended without asking for input")


def spans_request(tenant: str) -> tuple[str, trace_service_pb2.ExportTraceServiceRequest]:
    """A one-span trace that names `tenant`; returns its trace id and the OTLP request."""
    trace_id = os.urandom(16)
    now = time.time_ns()
    span = trace_pb2.Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        name="StartRun",
        start_time_unix_nano=now,
        end_time_unix_nano=now + 1000,
        attributes=[KeyValue(key="tenant", value=AnyValue(string_value=tenant))],
    )
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="executor")))
    resource.scope_spans.add().spans.append(span)
    return trace_id.hex(), request
