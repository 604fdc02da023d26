"""The one error type clients of IA Modules catch.

Services report failures as gRPC status codes with `google.rpc` details in the
trailing status: an `ErrorInfo` with a stable UPPER_SNAKE reason and, for bad
definitions, a `BadRequest` whose field violations point into the definition.
`IAError` keeps the raw call and parses those details only when asked.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

# Codes that, without any status details from a service, mean the client never
# got a conversation going with the endpoint.
_TRANSPORT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class IAError(Exception):
    """A failed call to IA Modules, or a request the SDK refused before sending.

    Attributes:
        code: the gRPC status code.
        message: the status message from the service.
        endpoint: the address the client called, when known.
        unreachable: True when the endpoint could not be reached at all.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[tuple[str, str]] = (),
        endpoint: str | None = None,
        unreachable: bool = False,
        call: grpc.Call | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.unreachable = unreachable
        self._call = call
        self._reason = reason
        self._metadata = dict(metadata or {})
        self._field_violations = list(field_violations)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, *, endpoint: str | None = None, connected: bool = True) -> IAError:
        """Wraps a failed gRPC call.

        `connected` says whether the channel had a connection when the call
        failed; a deadline that passes while still connecting is reported as an
        unreachable endpoint rather than a slow service.
        """
        code = error.code()
        wrapped = cls(code, error.details() or "", endpoint=endpoint, call=error)
        if code in _TRANSPORT_CODES and wrapped.status is None:
            wrapped.unreachable = code is grpc.StatusCode.UNAVAILABLE or not connected
        return wrapped

    @functools.cached_property
    def status(self) -> status_pb2.Status | None:
        """The `google.rpc.Status` the service sent, or None if it sent none."""
        if self._call is None:
            return None
        try:
            return rpc_status.from_call(self._call)
        except ValueError:
            # A proxy replaced the status but kept the old details: they no
            # longer describe this error.
            return None

    def _detail(self, message_type: type) -> list:
        found = []
        for detail in self.status.details if self.status is not None else ():
            candidate = message_type()
            if detail.Unpack(candidate):
                found.append(candidate)
        return found

    @functools.cached_property
    def _error_info(self) -> error_details_pb2.ErrorInfo | None:
        infos = self._detail(error_details_pb2.ErrorInfo)
        return infos[0] if infos else None

    @property
    def reason(self) -> str | None:
        """The stable reason from `ErrorInfo`, for example PIPELINE_NOT_FOUND."""
        if self._reason is None and self._error_info is not None:
            return self._error_info.reason or None
        return self._reason

    @property
    def metadata(self) -> dict[str, str]:
        """The `ErrorInfo` metadata, for example {"pipeline": "etl"}."""
        if not self._metadata and self._error_info is not None:
            return dict(self._error_info.metadata)
        return self._metadata

    @property
    def field_violations(self) -> list[tuple[str, str]]:
        """(field, description) pairs from `BadRequest`; fields are JSON paths."""
        if self._field_violations:
            return self._field_violations
        return [
            (violation.field, violation.description)
            for request in self._detail(error_details_pb2.BadRequest)
            for violation in request.field_violations
        ]

    def __str__(self) -> str:
        if self.unreachable:
            return (
                f"cannot reach the IA Modules endpoint at {self.endpoint}: {self.message} "
                "(is the stack up? `ia-modules up`)"
            )
        text = f"{self.code.name}: {self.message}"
        if self.reason:
            text += f" [{self.reason}]"
        for field, description in self.field_violations:
            text += f"\n  {field}: {description}" if field else f"\n  {description}"
        return text

    def __repr__(self) -> str:
        return f"IAError({self.code.name}, {self.message!r}, reason={self.reason!r})"
