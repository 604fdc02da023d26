"""Telemetry every service shares: traces over OTLP, Prometheus metrics, gRPC instrumentation.

Tracing: one OpenTelemetry TracerProvider per process, with `service.name` set,
and gRPC instrumentation on both sides: server spans from an interceptor of the
kit's server, client spans on every `grpc.aio` channel the process opens, so the
W3C `traceparent` travels with each call. Ended spans go to a bounded queue that
one thread exports by OTLP/gRPC; when the queue is full the span is dropped and
counted, so a slow or absent collector never holds up a run. The spans the kit
and the executor record on every call and step are lean ones (`spans.py`), and
the export encodes with `otlp.py`: the SDK's own cost more than a step.

Plugins run sandboxed, without network, so they cannot export spans. A plugin
called with a sampled `traceparent` (the executor's CLIENT span of the call, in
the request's CallContext) returns its SERVER span of the call in the trailer
`ia-spans-bin`, as an OTLP ResourceSpans naming the plugin process (`plugin
<name>`); the executor hands it to `forward_spans`, which queues it with the
process's own spans, and the exporter sends it in the same request. That is
how a plugin's span reaches the collector, in the run's trace.

Metrics: the names below are the project's metric catalog (DESIGN.md §7), shared
by every service: the executor records the pipeline metrics and the duration of
its calls into plugins, the plugin host its processes' restarts and whether they
run. Each process serves them on `/metrics` for Prometheus.

Environment:

- IA_TELEMETRY: `off` turns all of it off (no interceptors, no export, no
  `/metrics`), for benchmarks of the overhead; anything else, or unset, is on.
- OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT, then
  IA_TELEMETRY_ADDRESS: where spans go (default `localhost:50054`, the telemetry
  service). A `https://` endpoint is dialled with TLS, `http://` in plain text,
  and one without a scheme (the telemetry service) with IA_TLS_* when set.
- IA_METRICS_PORT: the `/metrics` port. Unset: the service's port + 1000
  (registry 51051, executor 51052, plugin host 51053, telemetry 51054), or a
  free port when the service itself was given port 0. `0`: a free port. `off`:
  no `/metrics`. The bound port is logged as `metrics on <host>:<port>`.
- IA_TELEMETRY_QUEUE_SIZE (default 2048 spans), IA_TELEMETRY_EXPORT_DELAY_MS
  (default 500: how long spans may wait to be batched), IA_TELEMETRY_EXPORT_TIMEOUT_S
  (default 5).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from ia_modules.tls import TLSSettings

from ia_service_kit import spans
from ia_service_kit.interception import Behavior, WrappingInterceptor
from ia_service_kit.identity import service_authorization
from ia_service_kit.logging import get_logger

if TYPE_CHECKING:
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient

    from ia_service_kit.config import ServiceConfig

__all__ = [
    "GRPC_SERVER_HANDLED",
    "GRPC_SERVER_HANDLING_SECONDS",
    "GRPC_SERVER_STARTED",
    "PIPELINE_EXECUTION_DURATION",
    "PIPELINE_HUMAN_TASKS_WAITING",
    "PIPELINE_PARALLEL_STEPS",
    "PIPELINE_RUNS_ACTIVE",
    "PIPELINE_RUNS_FINISHED",
    "PIPELINE_RUNS_STARTED",
    "PIPELINE_STEP_DURATION",
    "PIPELINE_STEP_ERRORS",
    "PLUGIN_CALL_DURATION",
    "PLUGIN_PROCESSES_RUNNING",
    "PLUGIN_RESTARTS",
    "SPANS_DROPPED",
    "SPANS_EXPORTED",
    "ClientCallSpan",
    "GrpcServerTelemetry",
    "MetricsEndpoint",
    "SpanQueue",
    "TelemetrySettings",
    "TelemetrySettingsError",
    "Tracing",
    "configure_tracing",
    "forward_spans",
    "positive_number",
    "server_interceptors",
    "serve_metrics",
    "tracing_configured",
    "uninstrumented_channel",
]

log = get_logger(__name__)

DEFAULT_TELEMETRY_ADDRESS = "localhost:50054"
METRICS_PORT_OFFSET = 1000

# ----- the metric catalog ----------------------------------------------------------------
# Run ids never appear in labels: a label value per run would grow without bound.

# Steps last from milliseconds (pass, templates) to hours (a person, a long plugin call).
_STEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

PIPELINE_STEP_DURATION = Histogram(
    "pipeline_step_duration_seconds",
    "How long one attempt of a step took, by how it ended (succeeded, failed, cancelled).",
    ["pipeline", "step", "status"],
    buckets=_STEP_BUCKETS,
)
PIPELINE_STEP_ERRORS = Counter(
    "pipeline_step_errors",
    "Failed step attempts, by error kind (STEP_ERROR, STEP_TIMEOUT, UNAVAILABLE, ...).",
    ["pipeline", "step", "error_type"],
)
PIPELINE_EXECUTION_DURATION = Histogram(
    "pipeline_execution_duration_seconds",
    "How long a run took from start to its final state, by final state.",
    ["pipeline", "status"],
    buckets=_STEP_BUCKETS,
)
PIPELINE_PARALLEL_STEPS = Gauge(
    "pipeline_parallel_steps_concurrent",
    "Steps running right now, summed over the runs of a pipeline.",
    ["pipeline"],
)
PIPELINE_RUNS_STARTED = Counter("pipeline_runs_started", "Runs started.", ["pipeline"])
PIPELINE_RUNS_FINISHED = Counter(
    "pipeline_runs_finished",
    "Runs that reached a final state, by that state (succeeded, failed, cancelled, timed_out).",
    ["pipeline", "state"],
)
PIPELINE_RUNS_ACTIVE = Gauge(
    "pipeline_runs_active",
    "Runs this process is driving, by state (pending, running, waiting_for_input).",
    ["pipeline", "state"],
)
PIPELINE_HUMAN_TASKS_WAITING = Gauge(
    "pipeline_human_tasks_waiting",
    "Human tasks open and waiting for an answer.",
    ["pipeline"],
)
PLUGIN_CALL_DURATION = Histogram(
    "plugin_call_duration_seconds",
    "Calls into a plugin (the executor calls plugin processes directly), by method and gRPC status code name"
    " (CANCELLED also when the run stopped waiting for the call).",
    ["plugin", "method", "status"],
    buckets=_STEP_BUCKETS,
)
PLUGIN_RESTARTS = Counter(
    "plugin_restarts",
    "Plugin processes restarted, by why they went away (exited, or unhealthy: no answer to health checks).",
    ["plugin", "reason"],
)
PLUGIN_PROCESSES_RUNNING = Gauge("plugin_processes_running", "Plugin processes running and healthy.", ["plugin"])
GRPC_SERVER_STARTED = Counter(
    "grpc_server_started", "RPCs started on the server.", ["grpc_service", "grpc_method", "grpc_type"]
)
GRPC_SERVER_HANDLED = Counter(
    "grpc_server_handled",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
)
GRPC_SERVER_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "How long the server took to handle an RPC (to the end of the stream for streams).",
    ["grpc_service", "grpc_method", "grpc_type"],
    buckets=_RPC_BUCKETS,
)
SPANS_EXPORTED = Counter("ia_telemetry_spans_exported", "Spans handed to the OTLP collector and accepted.")
SPANS_DROPPED = Counter(
    "ia_telemetry_spans_dropped",
    "Spans dropped rather than delay the service: queue_full, export_failed, shutdown, malformed (a"
    " plugin's span trailer that is not an OTLP ResourceSpans) or wrong_trace (a plugin's span outside"
    " the trace of its call).",
    ["reason"],
)


# ----- settings ---------------------------------------------------------------------------


class TelemetrySettingsError(ValueError):
    """A telemetry variable of the environment is malformed; the message names it."""


@dataclass(frozen=True)
class TelemetrySettings:
    """What the environment asks for; see the module docstring for the variables."""

    enabled: bool = True
    otlp_endpoint: str = DEFAULT_TELEMETRY_ADDRESS
    # None: no /metrics; 0: any free port.
    metrics_port: int | None = None
    queue_size: int = 2048
    export_delay_s: float = 0.5
    export_timeout_s: float = 5.0

    @classmethod
    def from_env(cls, service_port: int = 0, environ: Mapping[str, str] | None = None) -> TelemetrySettings:
        """Reads the environment; `service_port` is the port the service was asked to bind.

        Raises TelemetrySettingsError naming the variable when a value is malformed.
        """
        env = os.environ if environ is None else environ
        endpoint = (
            env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or env.get("IA_TELEMETRY_ADDRESS")
            or DEFAULT_TELEMETRY_ADDRESS
        )
        return cls(
            enabled=telemetry_enabled(env),
            otlp_endpoint=endpoint,
            metrics_port=_metrics_port(env.get("IA_METRICS_PORT"), service_port),
            queue_size=positive_number(env, "IA_TELEMETRY_QUEUE_SIZE", 2048, int),
            export_delay_s=positive_number(env, "IA_TELEMETRY_EXPORT_DELAY_MS", 500, float) / 1000,
            export_timeout_s=positive_number(env, "IA_TELEMETRY_EXPORT_TIMEOUT_S", 5.0, float),
        )


def telemetry_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether IA_TELEMETRY leaves telemetry on; cheaper than reading every setting."""
    env = os.environ if environ is None else environ
    return env.get("IA_TELEMETRY", "").strip().lower() != "off"


def _metrics_port(raw: str | None, service_port: int) -> int | None:
    if raw is None or not raw.strip():
        if not service_port:
            return 0
        port = service_port + METRICS_PORT_OFFSET
        return port if port <= 65535 else 0
    text = raw.strip().lower()
    if text == "off":
        return None
    if not text.isdigit() or int(text) > 65535:
        raise TelemetrySettingsError(f"IA_METRICS_PORT={raw!r}: give a port (0-65535), 0 for any free port, or `off`")
    return int(text)


def positive_number(env: Mapping[str, str], name: str, default: Any, kind: Callable[[str], Any] = float) -> Any:
    """The variable `name` of `env` as a positive `kind`, or `default` when unset.

    Raises TelemetrySettingsError naming the variable when it is not a positive number.
    """
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise TelemetrySettingsError(f"{name}={raw!r}: give a positive number")
    return value


# ----- tracing ------------------------------------------------------------------------------


class SpanQueue(SpanProcessor):
    """Batches ended spans to an exporter on its own thread, never blocking the caller.

    The queue holds at most `max_queue_size` entries; an entry that comes while it
    is full is dropped and counted (`ia_telemetry_spans_dropped_total{reason="queue_full"}`),
    and so is every span of a batch the exporter refused or failed to send.
    Spans other processes recorded (a plugin's span trailer, see `forward_spans`)
    queue as they came, one entry a trailer, and are read on the export thread:
    there they become OTLP ResourceSpans of one span each, among the ReadableSpans,
    and the exporter sends both. So do client spans (`ClientCallSpan`): they queue
    as the ids and times taken during the call, and become spans there.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        delay_s: float = 0.5,
    ) -> None:
        self._exporter = exporter
        self._max_queue_size = max_queue_size
        self._max_batch_size = min(max_batch_size, max_queue_size)
        self._delay_s = delay_s
        self._queue: deque[ReadableSpan | _Trailer | _ClientCall] = deque()
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="ia-span-export", daemon=True)
        self._thread.start()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Nothing to do until a span ends."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queues the span, or drops and counts it when the queue is full."""
        if span.context.trace_flags.sampled:
            self._put(span)

    def on_trailer(self, raw: bytes, traceparent: str | None) -> None:
        """Queues a plugin's span trailer (see `forward_spans`), or drops and counts it when the queue is full."""
        self._put(_Trailer((raw, traceparent)))

    def on_client_call(self, call: _ClientCall) -> None:
        """Queues a call's client span (see `ClientCallSpan`), or drops and counts it when the queue is full."""
        self._put(call)

    def _put(self, entry: ReadableSpan | _Trailer | _ClientCall) -> None:
        if self._stopping:
            SPANS_DROPPED.labels("shutdown").inc()
            return
        if len(self._queue) >= self._max_queue_size:
            SPANS_DROPPED.labels("queue_full").inc()
            return
        self._queue.append(entry)
        if len(self._queue) >= self._max_batch_size:
            self._wake.set()

    def _work(self) -> None:
        while not self._stopping:
            self._wake.wait(self._delay_s)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        """Exports the spans queued now, in batches.

        Spans that end during the export wait for the next round (the delay, or a
        full batch): draining until the queue is empty would send each few spans
        of a busy process as they end, an RPC and a collector transaction apiece.
        """
        with self._export_lock:
            left = len(self._queue)
            while left > 0:
                taken = [self._queue.popleft() for _ in range(min(self._max_batch_size, left))]
                left -= len(taken)
                batch = _read_deferred(taken)
                if not batch:
                    continue
                try:
                    result = self._exporter.export(batch)
                except Exception as error:  # an exporter bug must not end the export thread
                    log.warning("span export failed", error=repr(error), spans=len(batch))
                    result = SpanExportResult.FAILURE
                if result is SpanExportResult.SUCCESS:
                    SPANS_EXPORTED.inc(len(batch))
                else:
                    SPANS_DROPPED.labels("export_failed").inc(len(batch))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Exports what is queued now, on the caller's thread."""
        self._drain()
        return True

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Stops taking spans, exports what is queued within `timeout_s`, then closes the exporter."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self._drain()
        self._exporter.shutdown()


class _SpanRouter(SpanProcessor):
    """The one processor of the process-wide provider; forwards to the current SpanQueue.

    OpenTelemetry lets a process set its tracer provider once. Routing through this
    lets a process (a test, say) configure tracing again with another destination.
    """

    def __init__(self) -> None:
        self.current: SpanProcessor | None = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Spans are only handled once they end."""

    def on_end(self, span: ReadableSpan) -> None:
        current = self.current
        if current is not None:
            current.on_end(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        current = self.current
        return current.force_flush(timeout_millis) if current is not None else True


_router = _SpanRouter()
_provider: TracerProvider | None = None
_client_instrumentor: GrpcAioInstrumentorClient | None = None


class Tracing:
    """Tracing as configured for this process; `shutdown()` flushes and stops it."""

    def __init__(self, queue: SpanQueue) -> None:
        self.queue = queue

    def flush(self) -> None:
        """Exports every span ended so far (for tests and before exit)."""
        self.queue.force_flush()

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Exports what is queued (within `timeout_s`), then stops tracing and client instrumentation."""
        global _client_instrumentor
        if _router.current is self.queue:
            _router.current = None
        self.queue.shutdown(timeout_s)
        if _client_instrumentor is not None:
            _client_instrumentor.uninstrument()
            _client_instrumentor = None


def configure_tracing(
    service: str,
    settings: TelemetrySettings | None = None,
    *,
    exporter: SpanExporter | None = None,
) -> Tracing | None:
    """Sends this process's spans, as service `service`, to the OTLP endpoint of `settings`.

    Installs the process-wide tracer provider (its resource is fixed by the first
    call) and client instrumentation of `grpc.aio` channels opened from now on.
    `exporter` replaces the OTLP exporter (tests). Returns None when telemetry is off.
    """
    global _provider, _client_instrumentor
    settings = settings or TelemetrySettings.from_env()
    if not settings.enabled:
        return None
    # Imported here: they cost a CLI or a service with telemetry off a second of start-up.
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient, filters

    from ia_service_kit.otlp import LeanOTLPSpanExporter

    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        _provider.add_span_processor(_router)
        trace.set_tracer_provider(_provider)
    spans.install(_provider, _router)
    if exporter is None:
        endpoint = settings.otlp_endpoint
        own_tls = TLSSettings.from_env()
        headers = dict(service_authorization()) or None
        if own_tls is not None and "://" not in endpoint:
            # The project's own telemetry service: dialled with the TLS every service uses.
            exporter = LeanOTLPSpanExporter(
                endpoint=endpoint,
                insecure=False,
                credentials=own_tls.channel_credentials(),
                timeout=settings.export_timeout_s,
                headers=headers,
            )
        else:
            exporter = LeanOTLPSpanExporter(
                endpoint=endpoint,
                insecure=not endpoint.startswith("https://"),
                timeout=settings.export_timeout_s,
                headers=headers,
            )
    queue = SpanQueue(exporter, max_queue_size=settings.queue_size, delay_s=settings.export_delay_s)
    previous, _router.current = _router.current, queue
    if previous is not None:
        previous.shutdown(0)
    if _client_instrumentor is None:
        _client_instrumentor = GrpcAioInstrumentorClient(filter_=filters.negate(filters.health_check()))
        _client_instrumentor.instrument()
    log.debug("tracing", service=service, endpoint=settings.otlp_endpoint, queue_size=settings.queue_size)
    return Tracing(queue)


def tracing_configured() -> bool:
    """True when this process traces its calls (configure_tracing ran and telemetry is on)."""
    return _client_instrumentor is not None


# ----- spans other processes recorded ---------------------------------------------------------

_malformed_logged = False


class _Trailer(tuple[bytes, str | None]):
    """A plugin's span trailer, and the `traceparent` of the call it came back from."""

    __slots__ = ()

    def read(self) -> list[ResourceSpans]:
        return _plugin_spans(*self)


def forward_spans(raw: bytes, traceparent: str | None) -> None:
    """Queues the spans of a serialized OTLP ResourceSpans (a plugin's `ia-spans-bin`
    trailer) that belong to the trace of `traceparent`, the trace context of the
    call they came back from (as PluginClient's `on_spans` gives them).

    Both are read on the export thread, not on the caller's: a plugin may add to
    the trace it was called in, nothing else, so spans of another trace (or any,
    when the call carried no sampled trace context) are dropped and counted
    (`reason="wrong_trace"`); malformed bytes are dropped and counted
    (`reason="malformed"`), with one warning per process and never the payload.
    A trailer is one entry of the queue's bound: gRPC's metadata limit bounds its
    size. Without tracing, nothing happens.
    """
    queue = _router.current
    if isinstance(queue, SpanQueue):
        queue.on_trailer(raw, traceparent)


def _read_deferred(batch: list[ReadableSpan | _Trailer | _ClientCall]) -> list[ReadableSpan | ResourceSpans]:
    """`batch` with each trailer replaced by its spans of the right trace (see `forward_spans`)
    and each client call by its span (see `ClientCallSpan`)."""
    if not any(type(entry) in _DEFERRED for entry in batch):
        return batch  # type: ignore[return-value]
    read: list[ReadableSpan | ResourceSpans] = []
    for entry in batch:
        if type(entry) in _DEFERRED:
            read.extend(entry.read())  # type: ignore[union-attr]
        else:
            read.append(entry)  # type: ignore[arg-type]
    return read


def _plugin_spans(raw: bytes, traceparent: str | None) -> list[ResourceSpans]:
    """The spans of a trailer in the trace of `traceparent`, each as a ResourceSpans of its own."""
    global _malformed_logged
    # Imported here: ia_modules.plugin costs every service a third of a second of start-up,
    # and only a process that calls plugins (so has it imported) forwards their spans.
    from ia_modules.plugin.call_span import parse_traceparent

    parent = parse_traceparent(traceparent) if traceparent is not None else None
    trace_id = parent[0] if parent is not None else None
    resource_spans = ResourceSpans()
    try:
        resource_spans.ParseFromString(raw)
    except Exception:  # protobuf's DecodeError, or anything else a hostile payload provokes
        SPANS_DROPPED.labels("malformed").inc()
        if not _malformed_logged:
            _malformed_logged = True
            log.warning("dropped a span trailer that is not an OTLP ResourceSpans", size=len(raw))
        return []
    scopes = resource_spans.scope_spans
    if len(scopes) == 1 and len(scopes[0].spans) == 1 and scopes[0].spans[0].trace_id == trace_id:
        return [resource_spans]  # what a plugin sends
    entries = [
        ResourceSpans(
            resource=resource_spans.resource,
            schema_url=resource_spans.schema_url,
            scope_spans=[ScopeSpans(scope=scope.scope, schema_url=scope.schema_url, spans=[span])],
        )
        for scope in scopes
        for span in scope.spans
        if span.trace_id == trace_id
    ]
    stray = sum(len(scope.spans) for scope in scopes) - len(entries)
    if stray:
        SPANS_DROPPED.labels("wrong_trace").inc(stray)
    return entries


# ----- client spans without an interceptor ----------------------------------------------------

# Taken before configure_tracing's client instrumentation wraps grpc.aio.insecure_channel.
_plain_insecure_channel = grpc.aio.insecure_channel


def uninstrumented_channel(target: str, options: Any = None) -> grpc.aio.Channel:
    """A plain-text channel without the OpenTelemetry client interceptor (see `ClientCallSpan`)."""
    return _plain_insecure_channel(target, options=options)


class ClientCallSpan:
    """The CLIENT span of one call, as opentelemetry-instrumentation-grpc writes it, and its
    W3C `traceparent`; None (no span) when client tracing is off.

    For the executor's calls into plugins, one per step attempt: a grpc.aio client
    interceptor costs each call a task and a wrapped response stream, several times
    the span itself. The call goes on a channel from `uninstrumented_channel` with
    the `traceparent` the `with` gives in its request (ia.plugin.v1.CallContext: a
    metadata entry costs more than the span). Same span name, kind and attributes as
    the interceptor's; an error leaving the block marks it (status code attribute,
    ERROR, exception event).

    The call itself pays for the span's ids and times only: they are queued as they
    are (`_ClientCall`) and the span is built on the export thread. The `traceparent`
    is written directly: plugins read nothing else (no `tracestate`, no baggage), and
    the process's propagators cost more than the span.

    Under a span the sampler dropped there is no span at all: every standard sampler
    follows the parent's decision (or the trace id, as it did for the parent), so the
    call only passes the decision on, as the current span's `traceparent`.
    """

    __slots__ = ("_attributes", "_context", "_method", "_parent", "_start", "_traceparent")

    def __init__(self, full_method: str) -> None:
        self._context: SpanContext | None = None
        self._traceparent: str | None = None
        if _client_instrumentor is None:
            return
        caller = trace.get_current_span().get_span_context()
        if caller.is_valid and not caller.trace_flags.sampled:
            self._traceparent = _traceparent(caller)
            return
        self._method = full_method
        self._attributes = dict(_client_attributes(full_method))
        decided = spans.decide(full_method, SpanKind.CLIENT, self._attributes)
        if decided is not None:
            context = self._context = decided[0]
            self._parent = decided[1]
            self._traceparent = _traceparent(context)
            self._start = time.time_ns()

    def __enter__(self) -> str | None:
        # Only the call's request needs the span; nothing under it records spans, so it
        # is not made current (attaching and detaching a context costs more than the span).
        return self._traceparent

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        context = self._context
        # Whether it is recorded does not matter: only a sampled span is exported.
        if context is None or not context.trace_flags.sampled:
            return
        queue = _router.current
        if isinstance(queue, SpanQueue):
            failure = error if isinstance(error, Exception) else None
            end = time.time_ns()
            queue.on_client_call(
                _ClientCall((self._method, context, self._parent, self._attributes, self._start, end, failure))
            )


def _traceparent(context: SpanContext) -> str:
    """The W3C `traceparent` of `context`."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


class _ClientCall(tuple[str, SpanContext, SpanContext | None, dict[str, Any], int, int, Exception | None]):
    """A client call as `ClientCallSpan` took it: method, span context, parent's, attributes,
    start and end (ns), and the error it failed with, if any."""

    __slots__ = ()

    def read(self) -> list[ReadableSpan]:
        method, context, parent, attributes, start, end, error = self
        if error is not None:
            code = getattr(error, "code", None)
            code = code() if callable(code) else code
            if isinstance(code, grpc.StatusCode):
                attributes["rpc.grpc.status_code"] = code.value[0]
        assert _provider is not None  # client tracing is configured
        span = spans.ended_span(
            method,
            _CLIENT_SCOPE,
            _provider.resource,
            context=context,
            parent=parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=start,
            end_time=end,
            error=error,
        )
        return [span]


_DEFERRED = (_Trailer, _ClientCall)


@functools.lru_cache(maxsize=64)
def _client_attributes(full_method: str) -> dict[str, Any]:
    """The attributes of a successful call of `full_method` (copied before use)."""
    service, _, method = full_method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.grpc.status_code": _OK_CODE, "rpc.method": method, "rpc.service": service}


_CLIENT_SCOPE = InstrumentationScope("ia_service_kit.telemetry.client")
_OK_CODE = grpc.StatusCode.OK.value[0]  # an enum's value is looked up in Python each time


# ----- gRPC server instrumentation ---------------------------------------------------------


def server_interceptors(settings: TelemetrySettings | None = None) -> list[grpc.aio.ServerInterceptor]:
    """The interceptor for the kit's server (a span and RPC metrics per call); [] when off."""
    settings = settings or TelemetrySettings.from_env()
    return [GrpcServerTelemetry()] if settings.enabled else []


# Health checks would drown the traces; the collector's own Export calls would
# trace themselves forever.
_UNTRACED_PREFIXES = ("/grpc.health.", "/grpc.reflection.", "/opentelemetry.proto.collector.")


_SERVER_SCOPE = InstrumentationScope("ia_service_kit.telemetry")


class GrpcServerTelemetry(WrappingInterceptor):
    """A SERVER span per call, child of the caller's `traceparent`, and RPC metrics.

    Spans follow the OpenTelemetry RPC conventions (name `/pkg.Service/Method`,
    `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`) as
    opentelemetry-instrumentation-grpc writes them on the client side. The server
    side is ours because that package's aio server wrapper handles streams
    written as async generators only, and WatchRun writes with `context.write()`.
    The status code is read from the call once it ends, so errors sent with
    `abort_with_status` (the kit's `abort`) mark the span too.
    """

    def __init__(self) -> None:
        super().__init__(self._measured)

    def _measured(self, method: str, rpc_type: str, behavior: Behavior) -> Behavior:
        call = _Call(method, rpc_type)
        return call.wrap_generator(behavior) if inspect.isasyncgenfunction(behavior) else call.wrap(behavior)


class _Call:
    """How calls of one method are measured."""

    def __init__(self, full_method: str, rpc_type: str) -> None:
        service, _, method = full_method.lstrip("/").rpartition("/")
        self.full_method = full_method
        self.rpc_type = rpc_type
        self.labels = (service or "unknown", method, rpc_type)
        self.traced = not full_method.startswith(_UNTRACED_PREFIXES)
        self.attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        # The method's metric children, looked up once (labels() costs a lock and a dict per call).
        self._started = GRPC_SERVER_STARTED.labels(*self.labels)
        self._seconds = GRPC_SERVER_HANDLING_SECONDS.labels(*self.labels)

    @contextlib.contextmanager
    def measured(self, context: grpc.aio.ServicerContext) -> Iterator[None]:
        self._started.inc()
        started = time.perf_counter()
        span_scope: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.traced:
            carrier = {key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)}
            span = spans.start_span(
                self.full_method,
                _SERVER_SCOPE,
                context=propagate.extract(carrier),
                kind=SpanKind.SERVER,
                attributes=dict(self.attributes),
            )
            span_scope = trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False)
        failed = True
        with span_scope as span:
            try:
                yield
                failed = False
            finally:
                code = context.code()
                if code is None:
                    code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
                GRPC_SERVER_HANDLED.labels(*self.labels, code.name).inc()
                self._seconds.observe(time.perf_counter() - started)
                if span is not None:
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    if code is not grpc.StatusCode.OK:
                        details = context.details() or ""
                        span.set_status(Status(StatusCode.ERROR, f"{code.name}: {details}" if details else code.name))

    def wrap(self, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def measured_call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with self.measured(context):
                return await behavior(request, context)

        return measured_call

    def wrap_generator(self, behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def measured_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with self.measured(context):
                async for response in behavior(request, context):
                    yield response

        return measured_stream


# ----- /metrics -------------------------------------------------------------------------------


class MetricsEndpoint:
    """The Prometheus `/metrics` HTTP endpoint of this process."""

    def __init__(self, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host)
        self.host = host
        self.port: int = self._server.server_port

    def close(self) -> None:
        """Stops serving and releases the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)


def serve_metrics(config: ServiceConfig, settings: TelemetrySettings | None = None) -> MetricsEndpoint | None:
    """Serves `/metrics` on the port the settings say (None when off).

    Raises OSError naming the port when it cannot be bound.
    """
    settings = settings or TelemetrySettings.from_env(config.bind_port)
    if not settings.enabled or settings.metrics_port is None:
        return None
    try:
        endpoint = MetricsEndpoint(config.host, settings.metrics_port)
    except OSError as error:
        raise OSError(f"cannot serve /metrics on {config.host}:{settings.metrics_port}: {error}") from error
    log.info(f"metrics on {config.host}:{endpoint.port}", host=config.host, port=endpoint.port)
    return endpoint
