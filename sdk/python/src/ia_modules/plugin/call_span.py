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
        from opentelemetry.proto.trace.v1 import trace_pb2

        end_ns = time.time_ns()
        # What every call of this method shares comes parsed from bytes: half the cost of building it.
        spans = trace_pb2.ResourceSpans.FromString(_template(self.process, self.full_method))
        span = spans.scope_spans[0].spans[0]
        span.trace_id = self.trace_id
        span.span_id = _span_id()
        span.parent_span_id = self.parent_id
        span.start_time_unix_nano = self.start_ns
        span.end_time_unix_nano = end_ns
        attributes = span.attributes
        attributes.add(key="rpc.grpc.status_code").value.int_value = code.value[0]
        plugin = getattr(self.request, "plugin", "")
        if plugin:
            _string(attributes.add(key="plugin"), plugin)
        call = getattr(self.request, "context", None)
        if call is not None:
            if call.run_id:
                _string(attributes.add(key="run_id"), call.run_id)
            if call.step_id:
                _string(attributes.add(key="step_id"), call.step_id)
            if call.attempt:
                attributes.add(key="attempt").value.int_value = call.attempt
        if code is not grpc.StatusCode.OK:
            span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
            span.status.message = _cut(f"{code.name}: {message}" if message else code.name)
        return SPANS_TRAILER, spans.SerializeToString()


@functools.lru_cache(maxsize=8)
def _template(process: str, full_method: str) -> bytes:
    """The serialized ResourceSpans of a call of `full_method` in `process`, before the call's own fields."""
    # Imported on the first traced call: plugin start-up does not pay for it.
    from opentelemetry.proto.trace.v1 import trace_pb2

    service, _, method = full_method.lstrip("/").partition("/")
    # Built in place: a sub-message passed to a constructor is copied.
    spans = trace_pb2.ResourceSpans()
    _string(spans.resource.attributes.add(key="service.name"), f"plugin {process}")
    scope_spans = spans.scope_spans.add()
    scope_spans.scope.name = _SCOPE
    span = scope_spans.spans.add(name=full_method, kind=trace_pb2.Span.SPAN_KIND_SERVER, flags=_REMOTE_PARENT)
    _string(span.attributes.add(key="rpc.system"), "grpc")
    _string(span.attributes.add(key="rpc.service"), service)
    _string(span.attributes.add(key="rpc.method"), method)
    return spans.SerializeToString()


def _string(key_value: Any, text: str) -> None:
    key_value.value.string_value = _cut(text)


def _span_id() -> bytes:
    while True:
        span_id = os.urandom(8)
        if any(span_id):
            return span_id
