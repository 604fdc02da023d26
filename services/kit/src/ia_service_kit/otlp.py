"""OTLP export of spans in fewer steps than the SDK's encoder.

The SDK's OTLP encoder took about 60 µs a span here, in the export thread, which
shares the interpreter with the service's requests. `encode_spans` builds the
same request (a test holds it to the SDK encoder's output) with one pass over the
spans, a direct conversion per attribute type, and the attributes that repeat
from span to span encoded once. `LeanOTLPSpanExporter` is the
SDK's OTLP/gRPC exporter (endpoint, TLS, headers, retries) encoding with it;
it also sends the spans other processes encoded (a plugin's, queued as OTLP
ResourceSpans by `telemetry.forward_spans`) in the same request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope as PB2Scope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PB2Resource
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind

__all__ = ["LeanOTLPSpanExporter", "encode_spans"]


_KINDS = {
    SpanKind.INTERNAL: trace_pb2.Span.SpanKind.SPAN_KIND_INTERNAL,
    SpanKind.SERVER: trace_pb2.Span.SpanKind.SPAN_KIND_SERVER,
    SpanKind.CLIENT: trace_pb2.Span.SpanKind.SPAN_KIND_CLIENT,
    SpanKind.PRODUCER: trace_pb2.Span.SpanKind.SPAN_KIND_PRODUCER,
    SpanKind.CONSUMER: trace_pb2.Span.SpanKind.SPAN_KIND_CONSUMER,
}
_HAS_IS_REMOTE = trace_pb2.SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = _HAS_IS_REMOTE | trace_pb2.SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK


def _value(value: Any) -> AnyValue:
    if value is None:  # as the SDK's encoder writes it: a value with none of its fields set
        return AnyValue()
    kind = type(value)
    if kind is str:
        return AnyValue(string_value=value)
    if kind is bool:  # before int: a bool is an int too
        return AnyValue(bool_value=value)
    if kind is int:
        return AnyValue(int_value=value)
    if kind is float:
        return AnyValue(double_value=value)
    if kind is bytes:
        return AnyValue(bytes_value=value)
    if isinstance(value, Mapping):
        return AnyValue(kvlist_value={"values": _attributes(value)})
    if isinstance(value, Sequence):
        return AnyValue(array_value=ArrayValue(values=[_value(item) for item in value]))
    raise TypeError(f"an attribute value must be a string, number, boolean, bytes or a list of them, not {kind.__name__}")


# Encoded attributes by (key, value type, value): most repeat from span to span (kind,
# pipeline, step, status, the run's id), and copying a message costs a third of building
# one. The type is part of the key because True == 1 == 1.0.
_KEY_VALUES: dict[tuple[str, type, Any], KeyValue] = {}
_KEY_VALUES_KEPT = 4096


def _key_value(key: str, value: Any) -> KeyValue:
    kind = type(value)
    if kind not in (str, int, float, bool):
        return KeyValue(key=key, value=_value(value))
    cache_key = (key, kind, value)
    encoded = _KEY_VALUES.get(cache_key)
    if encoded is None:
        if len(_KEY_VALUES) >= _KEY_VALUES_KEPT:
            _KEY_VALUES.clear()
        encoded = _KEY_VALUES[cache_key] = KeyValue(key=key, value=_value(value))
    return encoded


def _attributes(attributes: Mapping[str, Any] | None) -> list[KeyValue]:
    if not attributes:
        return []
    return [_key_value(key, value) for key, value in attributes.items()]


def _flags(parent: SpanContext | None) -> int:
    return _IS_REMOTE if parent is not None and parent.is_remote else _HAS_IS_REMOTE


def _add_span(spans: Any, span: ReadableSpan) -> None:
    """Encodes ``span`` into the repeated field ``spans`` (built in place: no copy)."""
    context = span.context
    parent = span.parent
    status = span.status
    spans.add(
        trace_id=context.trace_id.to_bytes(16, "big"),
        span_id=context.span_id.to_bytes(8, "big"),
        trace_state=",".join(f"{key}={value}" for key, value in context.trace_state.items()) or None,
        parent_span_id=parent.span_id.to_bytes(8, "big") if parent is not None else None,
        name=span.name,
        kind=_KINDS[span.kind],
        start_time_unix_nano=span.start_time,
        end_time_unix_nano=span.end_time,
        attributes=_attributes(span.attributes),
        events=[
            trace_pb2.Span.Event(
                name=event.name,
                time_unix_nano=event.timestamp,
                attributes=_attributes(event.attributes),
                dropped_attributes_count=event.dropped_attributes,
            )
            for event in span.events
        ],
        links=[_link(link) for link in span.links],
        status=trace_pb2.Status(code=status.status_code.value, message=status.description),
        dropped_attributes_count=span.dropped_attributes,
        dropped_events_count=span.dropped_events,
        dropped_links_count=span.dropped_links,
        flags=_flags(parent),
    )


def _link(link: Link) -> trace_pb2.Span.Link:
    return trace_pb2.Span.Link(
        trace_id=link.context.trace_id.to_bytes(16, "big"),
        span_id=link.context.span_id.to_bytes(8, "big"),
        attributes=_attributes(link.attributes),
        dropped_attributes_count=link.dropped_attributes,
        flags=_flags(link.context),
    )


def _scope(scope: InstrumentationScope | None) -> PB2Scope | None:
    if scope is None:
        return None
    return PB2Scope(name=scope.name, version=scope.version, attributes=_attributes(scope.attributes))


def encode_spans(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The OTLP export request of ``spans``, grouped by resource, then by scope."""
    # Grouped by identity: a process's spans share one Resource and a few scope objects.
    resources: dict[int, tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[ReadableSpan]]]]] = {}
    for span in spans:
        resource = span.resource
        scopes = resources.setdefault(id(resource), (resource, {}))[1]
        scope = span.instrumentation_scope
        scopes.setdefault(id(scope), (scope, []))[1].append(span)
    request = ExportTraceServiceRequest()
    for resource, scopes in resources.values():
        resource_spans = request.resource_spans.add(
            resource=PB2Resource(attributes=_attributes(resource.attributes)), schema_url=resource.schema_url
        )
        for scope, scope_members in scopes.values():
            scope_spans = resource_spans.scope_spans.add(
                scope=_scope(scope), schema_url=scope.schema_url if scope is not None else None
            )
            for span in scope_members:
                _add_span(scope_spans.spans, span)
    return request


class LeanOTLPSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/gRPC span exporter, encoding with `encode_spans`.

    A batch may hold OTLP ResourceSpans among the spans: they go into the request as they are.
    """

    def _translate_data(self, data: Sequence[ReadableSpan | trace_pb2.ResourceSpans]) -> ExportTraceServiceRequest:
        own = [span for span in data if type(span) is not trace_pb2.ResourceSpans]
        request = encode_spans(own)
        if len(own) < len(data):
            request.resource_spans.extend(span for span in data if type(span) is trace_pb2.ResourceSpans)
        return request
