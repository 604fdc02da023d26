"""Errors on the wire: gRPC status codes with google.rpc.Status details.

Every error carries exactly one `ErrorInfo` (domain "ia-modules", a stable
UPPER_SNAKE reason). Invalid requests also carry a `BadRequest` whose field
violations name the offending field; for a pipeline definition the field is a JSON
path into it, for example `steps[2].inputs.topic`.

The status builder itself (`error_status`, `abort`, `abort_with`) lives in the SDK's
`ia_modules.status`, shared with plugin processes, and is re-exported here.

`ErrorInterceptor` makes sure nothing else leaves a service: the kit's own page
errors become INVALID_ARGUMENT naming `page_token` or `page_size` (and an
InvalidField from `request_fields` the field it names), a full disk becomes
RESOURCE_EXHAUSTED (STORAGE_FULL), and an unexpected
exception becomes INTERNAL with a short message, and its traceback goes to the
server log only.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, NoReturn, cast

import grpc
from google.rpc import status_pb2

from ia_modules.definition import Finding, Severity
from ia_modules.limits import ENV
from ia_modules.status import DOMAIN, abort, abort_with, error_status, field_violation
from ia_service_kit.interception import Behavior, WrappingInterceptor
from ia_service_kit.logging import get_logger
from ia_service_kit.pagination import PageError
from ia_service_kit.request_fields import InvalidField
from ia_service_kit.storage_errors import storage_full

__all__ = [
    "DOMAIN",
    "ErrorInterceptor",
    "abort",
    "abort_invalid_argument",
    "abort_invalid_definition",
    "abort_with",
    "definition_error_status",
    "error_status",
]

log = get_logger(__name__)


async def abort_invalid_argument(
    context: grpc.aio.ServicerContext,
    field: str,
    description: str,
    *,
    reason: str = "INVALID_ARGUMENT",
    **metadata: object,
) -> NoReturn:
    """INVALID_ARGUMENT about one request field, with a BadRequest field violation naming it."""
    violation = field_violation(field, description, reason)
    status = error_status(
        grpc.StatusCode.INVALID_ARGUMENT,
        reason,
        f"{field}: {description}",
        {"field": field, **{k: str(v) for k, v in metadata.items()}},
        [violation],
    )
    await abort_with(context, status)


def definition_error_status(findings: Sequence[Finding]) -> status_pb2.Status:
    """The INVALID_DEFINITION status for a definition's error findings (warnings are left out)."""
    errors = [f for f in findings if f.severity is Severity.ERROR]
    violations = [
        field_violation(
            finding.path,
            f"{finding.message} (hint: {finding.hint})" if finding.hint else finding.message,
            finding.code,
        )
        for finding in errors
    ]
    summary = "invalid pipeline definition"
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        summary += f": {first.path}: {first.message}{more}"
    return error_status(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_DEFINITION",
        summary,
        {"error_count": str(len(errors))},
        violations,
    )


async def abort_invalid_definition(context: grpc.aio.ServicerContext, findings: Sequence[Finding]) -> NoReturn:
    """INVALID_ARGUMENT + ErrorInfo(INVALID_DEFINITION) + one field violation per error finding.

    Each violation's `field` is the finding's JSON path, `reason` its code and
    `description` its message with the hint.
    """
    await abort_with(context, definition_error_status(findings))




class ErrorInterceptor(WrappingInterceptor):
    """Turns any unexpected exception in a handler into INTERNAL without leaking details.

    Aborts (`context.abort`, `abort` above) and cancellations pass through untouched.
    """

    def __init__(self, max_request_bytes: int | None = None) -> None:
        """A request over ``max_request_bytes`` is RESOURCE_EXHAUSTED naming
        IA_MAX_MESSAGE_BYTES (the server lets grpc take somewhat more, see server.py)."""
        super().__init__(_guard, _tolerant(max_request_bytes))


def _guard(method: str, rpc_type: str, behavior: Behavior) -> Behavior:
    if rpc_type in ("server_stream", "bidi_stream"):
        return _guard_stream(behavior, method)
    return _guard_call(behavior, method)


class _Malformed:
    """What a request that does not parse becomes, so the guard can answer it."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class _TooLarge:
    """What a request over IA_MAX_MESSAGE_BYTES becomes (it is not parsed)."""

    __slots__ = ("limit", "size")

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit


def _tolerant(max_request_bytes: int | None) -> Callable[[Callable[[bytes], Any] | None], Callable[[bytes], Any]]:
    def wrap(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
        # grpc answers a deserializer's exception with UNKNOWN and the exception's text;
        # the bytes are the caller's mistake, so the guard answers INVALID_ARGUMENT instead.
        def deserialize(data: bytes) -> Any:
            if max_request_bytes is not None and len(data) > max_request_bytes:
                return _TooLarge(len(data), max_request_bytes)
            if deserializer is None:
                return data
            try:
                return deserializer(data)
            except Exception as error:
                return _Malformed(error)

        return deserialize

    return wrap


async def _refuse_unread(context: grpc.aio.ServicerContext, method: str, request: _Malformed | _TooLarge) -> NoReturn:
    if type(request) is _TooLarge:
        await abort(
            context,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MESSAGE_TOO_LARGE",
            f"the request is {request.size} bytes; the limit is {request.limit} ({ENV['message_bytes']})",
            method=method,
            limit=ENV["message_bytes"],
            max=str(request.limit),
        )
    await abort(
        context,
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
        f"the request is not a valid protobuf message for {method}: {cast(_Malformed, request).error}",
        method=method,
    )


_UNREAD = (_Malformed, _TooLarge)


# An abort is how a handler reports an expected error; it must reach the client as is.
# (Cancellation is a BaseException and is never caught here.)
_PASS_THROUGH = grpc.aio.AbortError


async def _internal(context: grpc.aio.ServicerContext, method: str, error: Exception) -> NoReturn:
    full = storage_full(error)
    if full is not None:
        log.error("storage full", method=method, error=full)
        await abort(
            context,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "STORAGE_FULL",
            f"the service's storage is full ({full}); the write failed. Free space in its data folder.",
            method=method,
        )
    log.exception("unexpected error in handler", method=method)
    await abort(context, grpc.StatusCode.INTERNAL, "INTERNAL", "internal error; see the service log", method=method)


def _guard_call(behavior: Behavior, method: str) -> Behavior:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if type(request) in _UNREAD:
            await _refuse_unread(context, method, request)
        try:
            return await behavior(request, context)
        except _PASS_THROUGH:
            raise
        except (PageError, InvalidField) as error:
            await abort_invalid_argument(context, error.field, str(error), reason=error.reason)
        except Exception as error:
            await _internal(context, method, error)

    return guarded


def _guard_stream(behavior: Behavior, method: str) -> Behavior:
    if inspect.isasyncgenfunction(behavior):

        async def guarded_generator(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if type(request) in _UNREAD:
                await _refuse_unread(context, method, request)
            try:
                async for response in behavior(request, context):
                    yield response
            except _PASS_THROUGH:
                raise
            except (PageError, InvalidField) as error:
                await abort_invalid_argument(context, error.field, str(error), reason=error.reason)
            except Exception as error:
                await _internal(context, method, error)

        return guarded_generator
    # Streaming handlers written as coroutines send with context.write().
    return _guard_call(behavior, method)
