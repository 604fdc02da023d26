"""A method's wrapper is built once and rebuilt only when its handler changes."""

from __future__ import annotations

import grpc

from ia_service_kit.interception import WrappedHandlers, rpc_type


def _unary(reply: str) -> grpc.RpcMethodHandler:
    async def behavior(request: object, context: object) -> str:
        return reply

    return grpc.unary_unary_rpc_method_handler(behavior)


def test_an_unchanged_handler_is_wrapped_once_and_a_new_one_again() -> None:
    wrapped_for: list[tuple[str, str]] = []

    def wrap(method: str, kind: str, behavior):  # noqa: ANN001, ANN202
        wrapped_for.append((method, kind))
        return behavior

    handlers = WrappedHandlers(wrap)
    original = _unary("a")

    first = handlers.get("/x.v1.S/M", original)
    again = handlers.get("/x.v1.S/M", original)
    replaced = handlers.get("/x.v1.S/M", _unary("b"))

    assert again is first
    assert replaced is not first
    assert wrapped_for == [("/x.v1.S/M", "unary"), ("/x.v1.S/M", "unary")]


def test_the_wrapped_handler_keeps_its_kind_and_serializers() -> None:
    stream = grpc.unary_stream_rpc_method_handler(
        lambda request, context: iter(()), request_deserializer=bytes, response_serializer=bytes
    )

    wrapped = WrappedHandlers(lambda method, kind, behavior: behavior).get("/x.v1.S/Watch", stream)

    assert rpc_type(wrapped) == "server_stream"
    assert wrapped.request_deserializer is bytes and wrapped.response_serializer is bytes
