"""Metadata added to every call of a channel: the caller's token, above all.

    channel = grpc.aio.insecure_channel(endpoint, interceptors=aio_interceptors(bearer(token)))

A token comes from the `token` argument or option, else IA_TOKEN. `supply` is
asked at each call, so metadata that depends on the call's context (the tenant a
service acts for) is read when the call is made.
"""

from __future__ import annotations

import os
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import grpc

__all__ = ["Supply", "aio_interceptors", "bearer", "resolve_token", "sync_interceptors"]

Supply = Callable[[], Sequence[tuple[str, str]]]


def resolve_token(token: str | None = None) -> str | None:
    """The token to send: the argument, else IA_TOKEN, else None (no authorization)."""
    return token or os.environ.get("IA_TOKEN") or None


def bearer(token: str) -> Supply:
    """`authorization: Bearer <token>` on each call."""
    pair = (("authorization", f"Bearer {token}"),)
    return lambda: pair


def _merged(metadata: Any, supply: Supply) -> tuple[tuple[str, str], ...]:
    return (*tuple(metadata or ()), *supply())


class _AioMetadata:
    def __init__(self, supply: Supply) -> None:
        self._supply = supply

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*_merged(details.metadata, self._supply)),
            details.credentials,
            details.wait_for_ready,
        )


# One class per kind of call: a grpc.aio channel files each interceptor under the
# first kind it implements only.
class _AioUnaryUnary(_AioMetadata, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


class _AioUnaryStream(_AioMetadata, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


class _AioStreamUnary(_AioMetadata, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


class _AioStreamStream(_AioMetadata, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


def aio_interceptors(supply: Supply | None) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors for a `grpc.aio` channel adding `supply()` to each call; [] for None."""
    if supply is None:
        return []
    return [kind(supply) for kind in (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)]


class _Details(
    namedtuple("_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class _SyncMetadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, supply: Supply) -> None:
        self._supply = supply

    def _details(self, details: Any) -> _Details:
        return _Details(
            details.method,
            details.timeout,
            _merged(details.metadata, self._supply),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


def sync_interceptors(supply: Supply | None) -> list[Any]:
    """Interceptors for `grpc.intercept_channel` adding `supply()` to each call; [] for None."""
    return [] if supply is None else [_SyncMetadata(supply)]
