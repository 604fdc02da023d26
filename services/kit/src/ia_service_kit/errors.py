"""Errors on the wire: gRPC status codes with google.rpc.Status details.

Every error carries exactly one `ErrorInfo` (domain "ia-modules", a stable
UPPER_SNAKE reason). Invalid requests also carry a `BadRequest` whose field
violations name the offending field; for a pipeline definition the field is a JSON
path into it, for example `steps[2].inputs.topic`.

`ErrorInterceptor` makes sure nothing else leaves a service: an unexpected
exception becomes INTERNAL with a short message, and its traceback goes to the
server log only.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from ia_modules.definition import Finding, Severity
from ia_service_kit.logging import get_logger

DOMAIN = "ia-modules"

# Status details travel in a trailer, and clients refuse trailers over 8 KiB by
# default; the details are base64-encoded on the wire, so a 3 KiB budget keeps a
# definition with thousands of errors a readable INVALID_ARGUMENT rather than a
# transport failure. Violations beyond it are counted in the message instead.
_DETAILS_BUDGET_BYTES = 3 * 1024
_MAX_DESCRIPTION_CHARS = 300
_MAX_MESSAGE_CHARS = 500

log = get_logger(__name__)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_status(
    code: grpc.StatusCode,
    reason: str,
    message: str,
    metadata: dict[str, str] | None = None,
    violations: Iterable[error_details_pb2.BadRequest.FieldViolation] = (),
) -> status_pb2.Status:
    """Builds the google.rpc.Status for an error: one ErrorInfo, and a BadRequest if any violations."""
    status = status_pb2.Status(code=code.value[0], message=_clip(message, _MAX_MESSAGE_CHARS))
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
    **metadata: object,
) -> NoReturn:
    """Ends the call with `code`, `message` and an ErrorInfo(`reason`, `metadata`).

    Metadata values are sent as strings, for example `name="hello", revision=3`.
    """
    await abort_with(context, error_status(code, reason, message, {k: str(v) for k, v in metadata.items()}))


async def abort_invalid_argument(
    context: grpc.aio.ServicerContext,
    field: str,
    description: str,
    *,
    reason: str = "INVALID_ARGUMENT",
    **metadata: object,
) -> NoReturn:
    """INVALID_ARGUMENT about one request field, with a BadRequest field violation naming it."""
    violation = error_details_pb2.BadRequest.FieldViolation(
        field=field, description=_clip(description, _MAX_DESCRIPTION_CHARS), reason=reason
    )
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
        error_details_pb2.BadRequest.FieldViolation(
            field=finding.path,
            description=_clip(
                f"{finding.message} (hint: {finding.hint})" if finding.hint else finding.message,
                _MAX_DESCRIPTION_CHARS,
            ),
            reason=finding.code,
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


Behavior = Callable[..., Any]


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns any unexpected exception in a handler into INTERNAL without leaking details.

    Aborts (`context.abort`, `abort` above) and cancellations pass through untouched.
    """

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _guard_call(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _guard_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _guard_call(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            _guard_stream(handler.stream_stream, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


# An abort is how a handler reports an expected error; it must reach the client as is.
# (Cancellation is a BaseException and is never caught here.)
_PASS_THROUGH = grpc.aio.AbortError


async def _internal(context: grpc.aio.ServicerContext, method: str) -> NoReturn:
    log.exception("unexpected error in handler", method=method)
    await abort(context, grpc.StatusCode.INTERNAL, "INTERNAL", "internal error; see the service log", method=method)


def _guard_call(behavior: Behavior, method: str) -> Behavior:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await behavior(request, context)
        except _PASS_THROUGH:
            raise
        except Exception:
            await _internal(context, method)

    return guarded


def _guard_stream(behavior: Behavior, method: str) -> Behavior:
    if inspect.isasyncgenfunction(behavior):

        async def guarded_generator(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                async for response in behavior(request, context):
                    yield response
            except _PASS_THROUGH:
                raise
            except Exception:
                await _internal(context, method)

        return guarded_generator
    # Streaming handlers written as coroutines send with context.write().
    return _guard_call(behavior, method)
