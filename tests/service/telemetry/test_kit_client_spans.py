"""Client spans written without an interceptor (`ClientCallSpan`), as the executor's plugin calls use them."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanContext, SpanKind, StatusCode, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from test_kit_telemetry import PROBE, call, probe, spans  # noqa: F401  (fixtures)

from ia_service_kit import spans as lean_spans
from ia_service_kit import telemetry as kit_telemetry
from ia_service_kit.telemetry import ClientCallSpan, uninstrumented_channel


async def test_a_traced_call_is_a_client_span_under_the_caller_and_parent_of_the_server_span(probe, spans) -> None:
    tracer = trace.get_tracer("test")
    method = f"/{PROBE}/Echo"
    async with uninstrumented_channel(probe.address) as channel:
        with tracer.start_as_current_span("caller") as caller, ClientCallSpan(method) as traceparent:
            assert traceparent is not None
            await channel.unary_unary(method)(b"hi", metadata=[("traceparent", traceparent)])
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
        with pytest.raises(grpc.RpcError), ClientCallSpan(method):
            await channel.unary_unary(method)(b"")
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


def test_without_client_tracing_there_is_no_span_and_no_trace_context(monkeypatch) -> None:
    monkeypatch.setattr(kit_telemetry, "_client_instrumentor", None)
    with ClientCallSpan(f"/{PROBE}/Echo") as traceparent:
        assert traceparent is None


def test_the_trace_context_is_the_w3c_traceparent_of_the_client_span(spans) -> None:
    state = TraceState([("vendor", "x1")])
    caller = SpanContext(0xA1B2, 0xC3D4, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=state)
    with trace.use_span(trace.NonRecordingSpan(caller)), ClientCallSpan(f"/{PROBE}/Echo") as traceparent:
        assert traceparent is not None
    spans.flush()

    (client_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    span_id = client_span.context.span_id
    assert traceparent == f"00-{0xA1B2:032x}-{span_id:016x}-01"
    # What the SDK's own propagator reads back: the client span, sampled.
    headers = {"traceparent": traceparent}
    read = trace.get_current_span(TraceContextTextMapPropagator().extract(headers)).get_span_context()
    assert (read.trace_id, read.span_id, read.trace_flags.sampled) == (0xA1B2, span_id, True)
    assert client_span.context.trace_state == state  # kept in the trace, not sent to plugins


def test_an_unsampled_caller_sends_an_unsampled_trace_context_and_records_nothing(spans) -> None:
    caller = SpanContext(0xA1B2, 0xC3D4, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    with trace.use_span(trace.NonRecordingSpan(caller)), ClientCallSpan(f"/{PROBE}/Echo") as traceparent:
        assert traceparent is not None
    spans.flush()

    # No span of its own: the call passes the caller's context and decision on.
    assert traceparent == f"00-{0xA1B2:032x}-{0xC3D4:016x}-00"
    assert [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT] == []


def test_without_a_tracer_provider_there_is_no_span_and_no_trace_context(spans, monkeypatch) -> None:
    # Client instrumentation is on, but light spans have nowhere to come from.
    monkeypatch.setattr(lean_spans._recorder, "provider", None)
    with ClientCallSpan(f"/{PROBE}/Echo") as traceparent:
        assert traceparent is None
    spans.flush()

    assert [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT] == []
