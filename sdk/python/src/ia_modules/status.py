"""Errors on the wire: a gRPC status carrying google.rpc details.

Every error a service or a plugin process sends carries exactly one `ErrorInfo`
(domain "ia-modules", a stable UPPER_SNAKE reason); an invalid request also carries
a `BadRequest` whose field violations name the offending field. It lives in the
SDK because plugin processes depend on the SDK only; the service kit builds on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "ia-modules"

# Status details travel in a trailer, and clients refuse trailers over 8 KiB by
# default; the details are base64-encoded on the wire, so a 3 KiB budget keeps a
# request with thousands of violations a readable error rather than a transport
# failure.
_DETAILS_BUDGET_BYTES = 3 * 1024
_MAX_DESCRIPTION_CHARS = 300
_MAX_MESSAGE_CHARS = 500


def clip(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_violation(field: str, description: str, reason: str = "") -> error_details_pb2.BadRequest.FieldViolation:
    """A BadRequest field violation with a description short enough for a trailer."""
    return error_details_pb2.BadRequest.FieldViolation(
        field=field, description=clip(description, _MAX_DESCRIPTION_CHARS), reason=reason
    )


def error_status(
    code: grpc.StatusCode,
    reason: str,
    message: str,
    metadata: dict[str, str] | None = None,
    violations: Iterable[error_details_pb2.BadRequest.FieldViolation] = (),
) -> status_pb2.Status:
    """Builds the google.rpc.Status for an error: one ErrorInfo, and a BadRequest if any violations.

    Violations past the trailer budget are left out; callers count them in `message`.
    """
    status = status_pb2.Status(code=code.value[0], message=clip(message, _MAX_MESSAGE_CHARS))
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata or {})
    status.details.append(_packed(info))
    bad_request = error_details_pb2.BadRequest()
    for violation in violations:
        bad_request.field_violations.append(violation)
        if bad_request.ByteSize() + status.ByteSize() > _DETAILS_BUDGET_BYTES:
            del bad_request.field_violations[-1]
            break
    if bad_request.field_violations:
        status.details.append(_packed(bad_request))
    return status


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


async def abort_with(context: grpc.aio.ServicerContext, status: status_pb2.Status) -> NoReturn:
    """Ends the call with a prepared status (see `error_status`)."""
    await context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returned")  # pragma: no cover - grpc always raises


async def abort(
    context: grpc.aio.ServicerContext,
    code: grpc.StatusCode,
    reason: str,
    message: str,
    *,
    violations: Iterable[error_details_pb2.BadRequest.FieldViolation] = (),
    **metadata: object,
) -> NoReturn:
    """Ends the call with `code`, `message` and an ErrorInfo(`reason`, `metadata`).

    Metadata values are sent as strings, for example `name="hello", revision=3`.
    """
    status = error_status(code, reason, message, {k: str(v) for k, v in metadata.items()}, violations)
    await abort_with(context, status)
