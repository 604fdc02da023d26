"""OTLP spans as the service stores them, with limits on what one sender may put in.

A span whose ids are malformed, or that ends before it starts, is refused (the
sender is told how many in the OTLP partial-success answer); the rest of its
request is kept. Long names and attribute values are cut, so that one sender
cannot fill the database with a single span.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from ia.telemetry.v1 import message_pb2

ELLIPSIS = "…"


@dataclass(frozen=True)
class Limits:
    """How much of one span is kept."""

    max_attribute_chars: int = 4096
    max_attributes: int = 128
    max_events: int = 128
    max_name_chars: int = 256


@dataclass(frozen=True)
class SpanRecord:
    """One stored span. Ids are lowercase hex; times are Unix nanoseconds."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    kind: int
    start_ns: int
    end_ns: int
    status: int
    status_message: str
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """How long the span lasted, in seconds."""
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def failed(self) -> bool:
        """True when an error was recorded on the span."""
        return self.status == message_pb2.SPAN_STATUS_ERROR


@dataclass
class Decoded:
    """What a request held: the spans to keep, and how many were refused and why."""

    spans: list[SpanRecord] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)


def clip(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def any_value(value: AnyValue, limits: Limits) -> Any:
    """An OTLP AnyValue as a JSON value, strings cut to the limit."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return clip(value.string_value, limits.max_attribute_chars)
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return clip(base64.b64encode(value.bytes_value).decode("ascii"), limits.max_attribute_chars)
    if kind == "array_value":
        return [any_value(v, limits) for v in value.array_value.values[: limits.max_attributes]]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values, limits)
    return None


def attributes(pairs: Iterable[KeyValue], limits: Limits) -> dict[str, Any]:
    """OTLP key/values as a dict, at most `max_attributes` of them."""
    found: dict[str, Any] = {}
    max_name, max_value = limits.max_name_chars, limits.max_attribute_chars
    for pair in pairs:
        if len(found) >= limits.max_attributes:
            break
        key, value = pair.key, pair.value
        # Most values are short strings and integers: read at once, without any_value's dispatch.
        kind = value.WhichOneof("value")
        if kind == "string_value":
            text = value.string_value
            decoded: Any = text if len(text) <= max_value else clip(text, max_value)
        elif kind == "int_value":
            decoded = value.int_value
        else:
            decoded = any_value(value, limits)
        found[key if len(key) <= max_name else clip(key, max_name)] = decoded
    return found


def _service_name(pairs: Sequence[KeyValue], limits: Limits) -> str:
    """The `service.name` among a resource's first `max_attributes` attributes (the last, if repeated),
    or "unknown"."""
    name: Any = None
    for pair in pairs[: limits.max_attributes]:
        if pair.key == "service.name":
            name = any_value(pair.value, limits)
    return str(name or "unknown")


_STATUS = {
    Status.STATUS_CODE_UNSET: message_pb2.SPAN_STATUS_OK,
    Status.STATUS_CODE_OK: message_pb2.SPAN_STATUS_OK,
    Status.STATUS_CODE_ERROR: message_pb2.SPAN_STATUS_ERROR,
}


def decode(request: ExportTraceServiceRequest, limits: Limits) -> Decoded:
    """The spans of an OTLP export request, checked and cut to the limits."""
    decoded = Decoded()
    for resource_spans in request.resource_spans:
        # Only the service's name is kept of the resource: a plugin's span comes with a resource of its own.
        service = clip(_service_name(resource_spans.resource.attributes, limits), limits.max_name_chars)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = _problem(span)
                if problem:
                    decoded.rejected += 1
                    if len(decoded.problems) < 5:
                        decoded.problems.append(problem)
                    continue
                decoded.spans.append(
                    SpanRecord(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=clip(span.name, limits.max_name_chars),
                        service=service,
                        kind=span.kind if 0 <= span.kind <= 5 else 0,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status=_STATUS.get(span.status.code, message_pb2.SPAN_STATUS_UNSPECIFIED),
                        status_message=clip(span.status.message, limits.max_attribute_chars),
                        attributes=attributes(span.attributes, limits),
                        events=[
                            {
                                "name": clip(event.name, limits.max_name_chars),
                                "time_ns": event.time_unix_nano,
                                "attributes": attributes(event.attributes, limits),
                            }
                            for event in span.events[: limits.max_events]
                        ],
                    )
                )
    return decoded


def _problem(span: Any) -> str:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return f"span {span.name[:64]!r}: trace_id must be 16 bytes, not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return f"span {span.name[:64]!r}: span_id must be 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return f"span {span.name[:64]!r}: parent_span_id must be empty or 8 bytes"
    if not span.start_time_unix_nano or span.end_time_unix_nano < span.start_time_unix_nano:
        return f"span {span.name[:64]!r}: needs a start time and an end time not before it"
    return ""
