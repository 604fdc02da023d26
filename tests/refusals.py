"""Reading a refused gRPC call: its status code, ErrorInfo and field violations.

Shared by the suites whose services answer with the project's error shape (ErrorInfo
in the "ia-modules" domain, BadRequest field violations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass
class Refusal:
    """What a failed call carried."""

    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    violations: list[tuple[str, str]]  # (field, description)


async def refused(call: Any) -> Refusal:
    """Awaits a call (or drains a stream) that must fail; returns what it carried."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    error = caught.value
    status = rpc_status.from_call(error)
    assert status is not None, f"no status details on {error.code()}: {error.details()}"
    info, violations = None, []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.description) for v in bad.field_violations]
    assert info is not None and info.domain == "ia-modules"
    return Refusal(error.code(), error.details() or "", info.reason, dict(info.metadata), violations)
