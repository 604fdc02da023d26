"""Definitions to store and readers for refused calls, shared by the registry tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import request_response_pb2 as rr
from ia.registry.v1 import service_pb2_grpc


def definition(name: str = "hello", **fields: Any) -> dict[str, Any]:
    """A small valid definition (two `pass` steps) as canonical JSON, with overrides."""
    doc: dict[str, Any] = {
        "name": name,
        "description": "says hello",
        "steps": [
            {"id": "greet", "type": "pass", "config": {"values": {"text": "hello"}}},
            {"id": "done", "type": "pass"},
        ],
        "flow": {"start_at": "greet", "transitions": [{"from": "greet", "to": "done"}]},
    }
    doc.update(fields)
    return doc


def pipeline(name: str = "hello", **fields: Any) -> pipeline_pb2.Pipeline:
    """`definition` as a message."""
    return json_format.ParseDict(definition(name, **fields), pipeline_pb2.Pipeline())


@dataclass
class Refusal:
    """What a failed call carried: code, ErrorInfo and BadRequest violations."""

    code: grpc.StatusCode
    message: str
    reason: str
    domain: str
    metadata: dict[str, str]
    violations: list[tuple[str, str, str]]  # (field, reason, description)


def refusal(error: grpc.aio.AioRpcError) -> Refusal:
    status = rpc_status.from_call(error)
    assert status is not None, f"no google.rpc.Status details on {error.code()}: {error.details()}"
    infos, violations = [], []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            infos.append(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.reason, v.description) for v in bad.field_violations]
    assert len(infos) == 1, "every error carries exactly one ErrorInfo"
    return Refusal(
        error.code(), error.details() or "", infos[0].reason, infos[0].domain, dict(infos[0].metadata), violations
    )


async def refused(call: Any) -> Refusal:
    """Awaits a call that must fail and returns what it carried."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return refusal(caught.value)


async def create(
    registry: service_pb2_grpc.RegistryServiceStub, name: str = "hello", **fields: Any
) -> rr.CreatePipelineResponse:
    """Creates `pipeline(name, **fields)`."""
    return await registry.CreatePipeline(rr.CreatePipelineRequest(pipeline=pipeline(name, **fields)))
