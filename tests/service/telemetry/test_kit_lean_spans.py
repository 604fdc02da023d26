"""The kit's lean spans (`ia_service_kit.spans`) and OTLP encoder (`ia_service_kit.otlp`):
the same spans and the same export request as the OpenTelemetry SDK's own."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from ia_service_kit import spans as lean
from ia_service_kit.otlp import encode_spans

SCOPE = InstrumentationScope("ia_test", "1.0")


class Kept(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


@pytest.fixture
def kept():
    provider = TracerProvider(resource=Resource.create({"service.name": "lean-test"}))
    processor = Kept()
    provider.add_span_processor(processor)
    before = (lean._recorder.provider, lean._recorder.processor)
    lean.install(provider, processor)
    yield provider, processor
    lean.install(*before)  # the kit's tracing, as other tests in this process configured it


def test_a_light_span_is_the_child_of_the_current_span_and_ends_once_as_a_readable_span(kept) -> None:
    provider, processor = kept
    with provider.get_tracer("sdk").start_as_current_span("parent") as parent:
        span = lean.start_span("child", SCOPE, kind=SpanKind.CLIENT, attributes={"n": 1}, start_time=10)
        with trace.use_span(span, end_on_exit=False):
            assert trace.get_current_span() is span
            trace.get_current_span().set_attribute("tenant", "acme")
        span.set_status(Status(StatusCode.ERROR, "boom"))
        span.add_event("retry", {"attempt": 2}, timestamp=15)
        span.end(end_time=20)
        span.end(end_time=30)  # a second end changes nothing
        span.set_attribute("late", True)  # nor does anything else once it ended
        span.set_status(Status(StatusCode.OK))
    (child,) = [s for s in processor.spans if s.name == "child"]
    assert child is span  # handed over as it is: nothing copied
    assert child.context.trace_id == parent.get_span_context().trace_id
    assert child.parent.span_id == parent.get_span_context().span_id
    assert child.context.trace_flags.sampled
    assert (child.kind, child.start_time, child.end_time) == (SpanKind.CLIENT, 10, 20)
    assert dict(child.attributes) == {"n": 1, "tenant": "acme"}
    assert (child.status.status_code, child.status.description) == (StatusCode.ERROR, "boom")
    assert [(e.name, dict(e.attributes), e.timestamp) for e in child.events] == [("retry", {"attempt": 2}, 15)]
    assert child.resource is provider.resource and child.instrumentation_scope is SCOPE
    assert not span.is_recording()


def test_status_rules_are_the_sdks_and_an_exception_becomes_an_event(kept) -> None:
    _, processor = kept
    span = lean.start_span("work", SCOPE)
    span.set_status(StatusCode.OK)
    span.set_status(Status(StatusCode.ERROR, "too late"))  # OK is final
    span.record_exception(ValueError("bad value"))
    span.end()
    (ended,) = processor.spans
    assert ended.status.status_code is StatusCode.OK
    (event,) = ended.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "bad value"


def test_a_span_can_start_with_an_id_given_out_before(kept) -> None:
    _, processor = kept
    span_id = lean.new_span_id()
    span = lean.start_span("later", SCOPE, span_id=span_id)
    span.end()
    lean.install(None, None)

    assert span_id != trace.INVALID_SPAN_ID
    assert processor.spans[0].context.span_id == span_id
    assert lean.new_span_id() == trace.INVALID_SPAN_ID  # tracing not configured: no ids


def test_the_providers_sampler_decides_and_an_unsampled_parent_is_followed(kept) -> None:
    provider, processor = kept
    unsampled = SpanContext(0x1234, 0x99, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    span = lean.start_span("child", SCOPE, context=trace.set_span_in_context(trace.NonRecordingSpan(unsampled)))
    assert not span.is_recording() and span.get_span_context().trace_id == 0x1234
    span.end()
    # A sampled parent's trace state travels on, as the SDK's sampler has it.
    sampled = SpanContext(
        0x1234, 0x99, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("k", "v")])
    )
    child = lean.start_span("child", SCOPE, context=trace.set_span_in_context(trace.NonRecordingSpan(sampled)))
    assert child.is_recording() and dict(child.get_span_context().trace_state) == {"k": "v"}
    child.end()
    processor.spans.clear()
    off = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    lean.install(off, processor)
    root = lean.start_span("root", SCOPE)
    assert not root.is_recording() and root.get_span_context().is_valid
    lean.install(None, None)
    assert lean.start_span("untraced", SCOPE) is trace.INVALID_SPAN
    assert processor.spans == []


def _varied_spans(provider: TracerProvider, processor: Kept) -> list[ReadableSpan]:
    """Spans with everything the encoder must carry: events, links, statuses, arrays,
    a remote parent, a trace state, two scopes and two resources."""
    tracer = provider.get_tracer("sdk", "2.0")
    remote = SpanContext(
        0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("k", "v")])
    )
    with tracer.start_as_current_span(
        "server",
        context=trace.set_span_in_context(trace.NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={"s": "x", "b": True, "i": 7, "f": 0.5, "list": ["a", "b"], "ints": [1, 2]},
        links=[Link(remote, {"why": "follows"})],
    ) as server:
        server.add_event("exception", {"exception.type": "E"})
        server.set_status(Status(StatusCode.ERROR, "failed"))
        light = lean.start_span("light", SCOPE, attributes={"n": 3, "none": None})
        light.end()
    other = TracerProvider(resource=Resource.create({"service.name": "other"}))
    other.add_span_processor(processor)
    other.get_tracer("elsewhere").start_span("alone").end()
    return processor.spans


def test_the_lean_encoder_writes_the_sdk_encoders_request(kept) -> None:
    provider, processor = kept
    spans = _varied_spans(provider, processor)
    assert len(spans) == 3
    assert encode_spans(spans) == sdk_encode_spans(spans)


def test_an_attribute_the_encoder_cannot_write_is_refused_by_name() -> None:
    span = ReadableSpan("bad", SpanContext(1, 2, False), attributes={"object": object()})
    with pytest.raises(TypeError, match="not object"):
        encode_spans([span])
