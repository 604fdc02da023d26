"""Errors a plugin process sends: gRPC status codes with google.rpc details.

Like the services (see `ia_service_kit.errors`), every error carries one
`ErrorInfo` (domain "ia-modules", a stable UPPER_SNAKE reason), and an invalid
config or input also a `BadRequest` whose field violations name the field, for
example `config.operator` or `input.amount`. Plugins only need the SDK, so this
small builder lives here rather than in the service kit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "ia-modules"
_MAX_MESSAGE_CHARS = 500
_MAX_VIOLATIONS = 20


def error_status(
    code: grpc.StatusCode,
    reason: str,
    message: str,
    *,
    metadata: dict[str, str] | None = None,
    violations: Iterable[tuple[str, str]] = (),
) -> status_pb2.Status:
    """A status with one ErrorInfo and, given (field, description) pairs, a BadRequest."""
    clipped = message if len(message) <= _MAX_MESSAGE_CHARS else message[: _MAX_MESSAGE_CHARS - 3] + "..."
    status = status_pb2.Status(code=code.value[0], message=clipped)
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata or {})
    status.details.append(_packed(info))
    pairs = list(violations)[:_MAX_VIOLATIONS]
    if pairs:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=field, description=description, reason=reason)
                for field, description in pairs
            ]
        )
        status.details.append(_packed(bad_request))
    return status


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


async def abort(
    context: grpc.aio.ServicerContext,
    code: grpc.StatusCode,
    reason: str,
    message: str,
    *,
    violations: Iterable[tuple[str, str]] = (),
    **metadata: object,
) -> NoReturn:
    """Ends the call with `code`, `message` and ErrorInfo(`reason`, `metadata`)."""
    status = error_status(
        code, reason, message, metadata={k: str(v) for k, v in metadata.items()}, violations=violations
    )
    await context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returned")  # pragma: no cover - grpc always raises
