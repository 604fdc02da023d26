"""What the kit's server interceptors share: wrapping a method's behaviour once.

A method's handler is built when the service is registered and never changes, so
rebuilding its wrapper on every call would only add work to every call. The
handler is still asked for on each call, so interceptors after this one (and any
that answer a call with a handler of their own) run as usual; only the wrapping of
an unchanged handler is reused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

Behavior = Callable[..., Any]
# (full method name, rpc type, behaviour) -> the behaviour to serve instead.
Wrap = Callable[[str, str, Behavior], Behavior]
# A request deserializer -> the one to use instead.
WrapDeserializer = Callable[[Any], Any]

_FACTORIES = {
    "unary": (grpc.unary_unary_rpc_method_handler, "unary_unary"),
    "server_stream": (grpc.unary_stream_rpc_method_handler, "unary_stream"),
    "client_stream": (grpc.stream_unary_rpc_method_handler, "stream_unary"),
    "bidi_stream": (grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


def rpc_type(handler: grpc.RpcMethodHandler) -> str:
    """"unary", "server_stream", "client_stream" or "bidi_stream"."""
    if handler.unary_unary:
        return "unary"
    if handler.unary_stream:
        return "server_stream"
    if handler.stream_unary:
        return "client_stream"
    return "bidi_stream"


class WrappedHandlers:
    """The wrapped handler of each method, rebuilt only when its handler changes."""

    def __init__(self, wrap: Wrap, wrap_deserializer: WrapDeserializer | None = None) -> None:
        self._wrap = wrap
        self._wrap_deserializer = wrap_deserializer
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` with its behaviour wrapped for `method`."""
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        kind = rpc_type(handler)
        factory, attribute = _FACTORIES[kind]
        deserializer = handler.request_deserializer
        if self._wrap_deserializer is not None:
            # A handler without a deserializer takes raw bytes; the wrapper is given None.
            deserializer = self._wrap_deserializer(deserializer)
        wrapped = factory(
            self._wrap(method, kind, getattr(handler, attribute)),
            request_deserializer=deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = (handler, wrapped)
        return wrapped


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """A server interceptor that serves each method's handler with its behaviour
    wrapped by ``wrap`` (and its request deserializer by ``wrap_deserializer``)."""

    def __init__(self, wrap: Wrap, wrap_deserializer: WrapDeserializer | None = None) -> None:
        self._handlers = WrappedHandlers(wrap, wrap_deserializer)

    def wraps(self, method: str) -> bool:
        """Whether calls of ``method`` are wrapped (all of them unless a subclass says)."""
        return True

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self.wraps(method):
            return handler
        return self._handlers.get(method, handler)
