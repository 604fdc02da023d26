"""Client spans written without an interceptor (`client_call_span`), as the executor's plugin calls use them."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from test_kit_telemetry import PROBE, call, probe, spans  # noqa: F401  (fixtures)

from ia_service_kit import telemetry as kit_telemetry
from ia_service_kit.telemetry import client_call_span, uninstrumented_channel


async def test_a_traced_call_is_a_client_span_under_the_caller_and_parent_of_the_server_span(probe, spans) -> None:
    tracer = trace.get_tracer("test")
    method = f"/{PROBE}/Echo"
    async with uninstrumented_channel(probe.address) as channel:
        with tracer.start_as_current_span("caller") as caller, client_call_span(method) as metadata:
            assert metadata is not None
            await channel.unary_unary(method)(b"hi", metadata=metadata)
    spans.flush()

    (client_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    (server_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert client_span.name == method
    assert dict(client_span.attributes) == {
        "rpc.system": "grpc",
        "rpc.grpc.status_code": 0,
        "rpc.method": "Echo",
        "rpc.service": PROBE,
    }
    assert client_span.parent.span_id == caller.get_span_context().span_id
    assert server_span.parent.span_id == client_span.context.span_id


async def test_a_failed_traced_call_marks_its_client_span(probe, spans) -> None:
    method = f"/{PROBE}/Missing"
    async with uninstrumented_channel(probe.address) as channel:
        with pytest.raises(grpc.RpcError), client_call_span(method) as metadata:
            await channel.unary_unary(method)(b"", metadata=metadata)
    spans.flush()

    (client_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert client_span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert client_span.status.status_code is StatusCode.ERROR
    assert [event.name for event in client_span.events] == ["exception"]


async def test_the_uninstrumented_channel_adds_no_span_of_its_own(probe, spans) -> None:
    async with uninstrumented_channel(probe.address) as channel:
        await call(channel, "Echo")(b"hi")
    spans.flush()

    assert [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT] == []


def test_without_client_tracing_there_is_no_span_and_no_metadata(monkeypatch) -> None:
    monkeypatch.setattr(kit_telemetry, "_client_instrumentor", None)
    with client_call_span(f"/{PROBE}/Echo") as metadata:
        assert metadata is None
