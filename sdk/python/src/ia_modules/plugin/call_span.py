"""The span of one plugin call, returned to the caller in the call's trailers.

A plugin runs sandboxed, without network: it cannot export spans itself. When a
call arrives with a sampled W3C `traceparent` (in its `CallContext`, or else in
a `traceparent` metadata entry), the plugin records one SERVER span
for it (the full method name, child of the caller's span, the attributes
opentelemetry-instrumentation-grpc writes plus the plugin, run, step and attempt)
and sends it back as a serialized OTLP `ResourceSpans` in the binary trailer
`ia-spans-bin`. The caller (the executor) queues it with its own spans for its
collector. A call without a sampled traceparent costs a field read and one metadata lookup.

String values are cut to `MAX_VALUE_CHARS`, so the trailer stays far below
gRPC's 8 KiB metadata limit whatever the request holds.
"""

from __future__ import annotations

import functools
import os
import re
import struct
import time
from typing import Any

import grpc

SPANS_TRAILER = "ia-spans-bin"
"""The trailer holding a plugin call's spans: one serialized OTLP ResourceSpans."""

MAX_VALUE_CHARS = 256

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_SCOPE = "ia_modules.plugin"
# SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK: the parent is the caller's.
_REMOTE_PARENT = 0x100 | 0x200


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def sampled_parent(metadata: Any) -> tuple[bytes, bytes] | None:
    """(trace id, parent span id) of a sampled `traceparent` in `metadata`, else None."""
    for key, value in metadata or ():
        if key == "traceparent":
            return parse_traceparent(value) if isinstance(value, str) else None
    return None


def parse_traceparent(value: str) -> tuple[bytes, bytes] | None:
    """(trace id, parent span id) of the W3C `traceparent` `value` if it is valid and sampled, else None."""
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    # Version ff is invalid; all-zero ids are invalid (W3C Trace Context §3.2).
    if version == "ff" or not int(flags, 16) & 1 or not int(trace_id, 16) or not int(span_id, 16):
        return None
    return bytes.fromhex(trace_id), bytes.fromhex(span_id)


class CallSpan:
    """One traced call: started when it arrives, encoded by `trailer` when it ends."""

    def __init__(self, process: str, full_method: str, parent: tuple[bytes, bytes], request: Any) -> None:
        self.process = process
        self.full_method = full_method
        self.trace_id, self.parent_id = parent
        self.request = request
        self.start_ns = time.time_ns()

    def trailer(self, code: grpc.StatusCode, message: str = "") -> tuple[str, bytes]:
        """The `ia-spans-bin` trailer of the call, ended now with status `code`."""
        end_ns = time.time_ns()
        resource, scope, constant = _constant_parts(self.process, self.full_method)
        # Written in the protobuf wire format directly: the call waits for the trailer, and
        # building the message with protobuf took it twice as long. Fields may come in any order.
        fields = [
            constant,
            _TRACE_ID, self.trace_id, _SPAN_ID, _span_id(), _PARENT_SPAN_ID, self.parent_id,
            _START, _FIXED64.pack(self.start_ns), _END, _FIXED64.pack(end_ns),
            _attribute("rpc.grpc.status_code", code.value[0]),
        ]  # fmt: skip
        plugin = getattr(self.request, "plugin", "")
        if plugin:
            fields.append(_attribute("plugin", plugin))
        call = getattr(self.request, "context", None)
        if call is not None:
            if call.run_id:
                fields.append(_attribute("run_id", call.run_id))
            if call.step_id:
                fields.append(_attribute("step_id", call.step_id))
            if call.attempt:
                fields.append(_attribute("attempt", call.attempt))
        if code is not grpc.StatusCode.OK:
            fields.append(_error_status(f"{code.name}: {message}" if message else code.name))
        span = b"".join(fields)
        scope_spans = scope + _SPANS + _varint(len(span)) + span
        return SPANS_TRAILER, resource + _SPANS + _varint(len(scope_spans)) + scope_spans


# Tags (field number << 3 | wire type) of the fields `trailer` writes, with the length of the fixed-size ones.
_SPANS = b"\x12"  # ResourceSpans.scope_spans and ScopeSpans.spans: field 2, length-delimited
_TRACE_ID = b"\x0a\x10"  # Span.trace_id: field 1, 16 bytes
_SPAN_ID = b"\x12\x08"  # Span.span_id: field 2, 8 bytes
_PARENT_SPAN_ID = b"\x22\x08"  # Span.parent_span_id: field 4, 8 bytes
_START = b"\x39"  # Span.start_time_unix_nano: field 7, fixed64
_END = b"\x41"  # Span.end_time_unix_nano: field 8, fixed64
_ATTRIBUTE = b"\x4a"  # Span.attributes: field 9, length-delimited
_STATUS = b"\x7a"  # Span.status: field 15, length-delimited
_FIXED64 = struct.Struct("<Q")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


@functools.lru_cache(maxsize=8)
def _constant_parts(process: str, full_method: str) -> tuple[bytes, bytes, bytes]:
    """The encoded fields every call of `full_method` in `process` shares: the ResourceSpans's
    (its resource), the ScopeSpans's (its scope) and the Span's (name, kind, flags, RPC attributes)."""
    # Imported on the first traced call: plugin start-up does not pay for it.
    from opentelemetry.proto.trace.v1 import trace_pb2

    service, _, method = full_method.lstrip("/").partition("/")
    spans = trace_pb2.ResourceSpans()
    _string(spans.resource.attributes.add(key="service.name"), f"plugin {process}")
    scope = trace_pb2.ScopeSpans()
    scope.scope.name = _SCOPE
    span = trace_pb2.Span(name=full_method, kind=trace_pb2.Span.SPAN_KIND_SERVER, flags=_REMOTE_PARENT)
    _string(span.attributes.add(key="rpc.system"), "grpc")
    _string(span.attributes.add(key="rpc.service"), service)
    _string(span.attributes.add(key="rpc.method"), method)
    return spans.SerializeToString(), scope.SerializeToString(), span.SerializeToString()


# Encoded attributes by (key, value type, value): the plugin, step, run and attempt repeat
# from call to call. The type is part of the key because True == 1.
_ATTRIBUTES: dict[tuple[str, type, Any], bytes] = {}
_ATTRIBUTES_KEPT = 1024


def _attribute(key: str, value: str | int) -> bytes:
    """The encoded Span.attributes entry `key`: `value` (a string is cut to MAX_VALUE_CHARS)."""
    text = type(value) is str
    if text:
        value = _cut(value)  # first: a huge value must not be kept as a key either
    cache_key = (key, type(value), value)
    encoded = _ATTRIBUTES.get(cache_key)
    if encoded is None:
        from opentelemetry.proto.common.v1.common_pb2 import KeyValue

        key_value = KeyValue(key=key)
        if text:
            key_value.value.string_value = value
        else:
            key_value.value.int_value = value
        if len(_ATTRIBUTES) >= _ATTRIBUTES_KEPT:
            _ATTRIBUTES.clear()
        encoded = _ATTRIBUTES[cache_key] = _length_delimited(_ATTRIBUTE, key_value.SerializeToString())
    return encoded


def _error_status(message: str) -> bytes:
    from opentelemetry.proto.trace.v1.trace_pb2 import Status

    status = Status(code=Status.STATUS_CODE_ERROR, message=_cut(message))
    return _length_delimited(_STATUS, status.SerializeToString())


def _string(key_value: Any, text: str) -> None:
    key_value.value.string_value = _cut(text)


def _span_id() -> bytes:
    while True:
        span_id = os.urandom(8)
        if any(span_id):
            return span_id
