"""Lean spans, for the spans the services record by the thousand.

OpenTelemetry's Python SDK takes about 45 µs to start and end a span (each
attribute checked and copied under a lock) and its OTLP encoder about 60 µs to
encode one, measured on this project's machines. The executor records a span per
run, per step attempt and per call: at those prices tracing cost a run of ten
`pass` steps more than the engine and its checkpoints together.

- `start_span` makes a `LightSpan`: an OpenTelemetry API span, so `trace.use_span`,
  W3C propagation and `trace.get_current_span()` work as with the SDK's, that
  keeps its attributes in a plain dict (the services set strings, numbers and
  booleans themselves). Trace and span ids, and whether it is sampled, come from
  the tracer provider's id generator and sampler, as for any SDK span. It is an
  SDK `ReadableSpan` too: once ended it reaches the process's span processor as
  it is, nothing copied.

Their export is cheaper too: see `ia_service_kit.otlp`.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes

__all__ = ["LightSpan", "decide", "ended_span", "install", "new_span_id", "start_span"]

_UNSET = Status(StatusCode.UNSET)


# The SDK's default sampler (OTEL_TRACES_SAMPLER unset): a span is sampled when its
# parent is, and a root always. Its decision is taken here without the call.
_DEFAULT_SAMPLER = ParentBased(ALWAYS_ON).get_description()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


class _Recorder:
    """Where light spans come from and go to: set by `install` when tracing is configured."""

    provider: TracerProvider | None = None
    processor: SpanProcessor | None = None
    default_sampler = False


_recorder = _Recorder()


def install(provider: TracerProvider | None, processor: SpanProcessor | None) -> None:
    """Light spans take ids and sampling from ``provider`` and end in ``processor``;
    (None, None) makes `start_span` return non-recording spans."""
    _recorder.provider = provider
    _recorder.processor = processor
    _recorder.default_sampler = provider is not None and provider.sampler.get_description() == _DEFAULT_SAMPLER


class LightSpan(trace.Span, ReadableSpan):
    """A recording span without the SDK's per-attribute checks; see the module docstring.

    It is its own ReadableSpan: ending it hands the span itself to the processor,
    with nothing copied. Once ended it changes no more.
    """

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_time: int,
        scope: InstrumentationScope,
        resource: Resource,
    ) -> None:
        # ReadableSpan's fields, set directly: its constructor takes keywords and checks them.
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._start_time = start_time
        self._end_time: int | None = None
        self._instrumentation_scope = scope
        self._instrumentation_info = None
        self._resource = resource
        self._events: list[Event] = []
        self._links: tuple[Link, ...] = ()
        self._status = _UNSET

    def get_span_context(self) -> SpanContext:
        return self._context

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._end_time is None:
            self._attributes.update(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        if self._end_time is None:
            self._attributes[key] = value

    def add_event(self, name: str, attributes: Attributes = None, timestamp: int | None = None) -> None:
        if self._end_time is None:
            self._events.append(Event(name, attributes or {}, timestamp or time.time_ns()))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: an OK status is final, and UNSET never replaces one.
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        status = status if isinstance(status, Status) else Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        details = {
            "exception.type": type(exception).__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        self.add_event("exception", {**details, **(attributes or {})}, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time or time.time_ns()
        processor = _recorder.processor
        if processor is not None:
            processor.on_end(self)


def start_span(
    name: str,
    scope: InstrumentationScope,
    *,
    context: Any = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
    start_time: int | None = None,
    span_id: int | None = None,
) -> trace.Span:
    """A span named ``name``, child of the span current in ``context`` (default: the
    current context), as the SDK's tracer would start it; non-recording when tracing
    is not configured or the sampler drops it. ``attributes`` is kept, not copied.
    ``span_id`` is the span's id when one was given out before it started (see
    `new_span_id`)."""
    attributes = {} if attributes is None else attributes
    decided = decide(name, kind, attributes, context=context, span_id=span_id)
    if decided is None:
        return trace.INVALID_SPAN
    span_context, parent, recording = decided
    if not recording:
        return trace.NonRecordingSpan(span_context)
    resource = _recorder.provider.resource  # type: ignore[union-attr]  # decide() found one
    return LightSpan(name, span_context, parent, kind, attributes, start_time or time.time_ns(), scope, resource)


def decide(
    name: str, kind: SpanKind, attributes: dict[str, Any], *, context: Any = None, span_id: int | None = None
) -> tuple[SpanContext, SpanContext | None, bool] | None:
    """What the tracer decides for a new span, child of the span current in ``context``:
    its context (ids, sampled flag, trace state), its parent's (None for a root), and
    whether it is recorded; None when tracing is not configured. The sampler's
    attributes go into ``attributes``."""
    provider = _recorder.provider
    if provider is None:
        return None
    parent = trace.get_current_span(context).get_span_context()
    ids = provider.id_generator
    span_id = span_id or ids.generate_span_id()
    trace_id = parent.trace_id if parent.is_valid else ids.generate_trace_id()
    if _recorder.default_sampler:
        sampled = parent.trace_flags.sampled if parent.is_valid else True
        trace_state = parent.trace_state if parent.is_valid else None
        span_context = SpanContext(trace_id, span_id, False, _SAMPLED if sampled else _NOT_SAMPLED, trace_state)
        recording = sampled
    else:
        sampling = provider.sampler.should_sample(context, trace_id, name, kind, attributes)
        flags = _SAMPLED if sampling.decision.is_sampled() else _NOT_SAMPLED
        span_context = SpanContext(trace_id, span_id, False, flags, sampling.trace_state)
        recording = sampling.decision.is_recording()
        if recording and sampling.attributes:
            attributes.update(sampling.attributes)
    return span_context, parent if parent.is_valid else None, recording


def ended_span(
    name: str,
    scope: InstrumentationScope,
    resource: Resource,
    *,
    context: SpanContext,
    parent: SpanContext | None,
    kind: SpanKind,
    attributes: dict[str, Any],
    start_time: int,
    end_time: int,
    error: BaseException | None = None,
) -> LightSpan:
    """A span that ended already, built from what `decide` gave and the times taken
    while the work ran (so that the work pays for neither); ``error`` marks it as
    failed. It is not handed to the processor: the caller exports it."""
    span = LightSpan(name, context, parent, kind, attributes, start_time, scope, resource)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.record_exception(error, timestamp=end_time)
    span._end_time = end_time
    return span


def new_span_id() -> int:
    """A span id from the provider's id generator, for a span that starts later (`start_span`'s
    ``span_id``): its children can be given its context before it exists."""
    provider = _recorder.provider
    return provider.id_generator.generate_span_id() if provider is not None else trace.INVALID_SPAN_ID
