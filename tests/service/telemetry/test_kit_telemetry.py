"""The kit's telemetry: settings, server spans and RPC metrics, client propagation,
the bounded span queue, and /metrics."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from ia.telemetry.v1 import message_pb2
from ia.telemetry.v1 import request_response_pb2 as rr
from ia_service_kit.config import ServiceConfig
from ia_service_kit.errors import abort
from ia_service_kit.server import RunningServer, Wiring, start
from ia_service_kit.telemetry import (
    SpanQueue,
    TelemetrySettings,
    TelemetrySettingsError,
    configure_tracing,
    serve_metrics,
    server_interceptors,
)

PROBE = "test.v1.TracedProbe"


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def missing(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await abort(context, grpc.StatusCode.NOT_FOUND, "THING_NOT_FOUND", "no such thing")


async def write_twice(request: bytes, context: grpc.aio.ServicerContext) -> None:
    await context.write(request)
    await context.write(request)


async def yield_twice(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield request
    yield request


def add_probe(servicer: object, server: grpc.aio.Server) -> None:
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Missing": grpc.unary_unary_rpc_method_handler(missing),
        "WriteTwice": grpc.unary_stream_rpc_method_handler(write_twice),
        "YieldTwice": grpc.unary_stream_rpc_method_handler(yield_twice),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(PROBE, handlers)])


@pytest.fixture
async def probe(tmp_path: Path) -> AsyncIterator[RunningServer]:
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path, grace_period_s=0)
    running = await start(config, lambda cfg: Wiring(servicers=[(add_probe, None)]))
    yield running
    await running.stop(0)


@pytest.fixture
async def spans() -> AsyncIterator[InMemorySpanExporter]:
    """Tracing of this process into memory, with client instrumentation on."""
    exporter = InMemorySpanExporter()
    tracing = configure_tracing("kit-test", TelemetrySettings(export_delay_s=0.01), exporter=exporter)
    assert tracing is not None
    exporter.flush = tracing.flush  # type: ignore[attr-defined]
    yield exporter
    await asyncio.to_thread(tracing.shutdown)


def handled(method: str, code: str) -> float:
    labels = {"grpc_service": PROBE, "grpc_method": method, "grpc_code": code}
    found = [
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "grpc_server_handled"
        for sample in metric.samples
        if sample.name == "grpc_server_handled_total" and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(found)


def call_with_traceparent(address: str, method: str, traceparent: str) -> None:
    """A call from a client that is not instrumented here (a sync channel), with its own traceparent."""
    with grpc.insecure_channel(address) as channel:
        unary = channel.unary_unary(
            f"/{PROBE}/{method}", request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        unary(b"hi", metadata=(("traceparent", traceparent),), timeout=10)


def call(channel: grpc.aio.Channel, method: str, *, stream: bool = False) -> Any:
    make = channel.unary_stream if stream else channel.unary_unary
    return make(f"/{PROBE}/{method}", request_serializer=lambda b: b, response_deserializer=lambda b: b)


# ----- settings ----------------------------------------------------------------------------


def test_metrics_port_is_the_service_port_plus_1000_or_free_or_off() -> None:
    assert TelemetrySettings.from_env(50052, {}).metrics_port == 51052
    assert TelemetrySettings.from_env(0, {}).metrics_port == 0
    assert TelemetrySettings.from_env(65000, {}).metrics_port == 0
    assert TelemetrySettings.from_env(50052, {"IA_METRICS_PORT": "9464"}).metrics_port == 9464
    assert TelemetrySettings.from_env(50052, {"IA_METRICS_PORT": "off"}).metrics_port is None
    with pytest.raises(TelemetrySettingsError, match="IA_METRICS_PORT"):
        TelemetrySettings.from_env(50052, {"IA_METRICS_PORT": "ninety"})


def test_the_otlp_endpoint_prefers_the_standard_variables() -> None:
    assert TelemetrySettings.from_env(0, {}).otlp_endpoint == "localhost:50054"
    assert TelemetrySettings.from_env(0, {"IA_TELEMETRY_ADDRESS": "t:1"}).otlp_endpoint == "t:1"
    both = {"IA_TELEMETRY_ADDRESS": "t:1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}
    assert TelemetrySettings.from_env(0, both).otlp_endpoint == "http://collector:4317"
    with pytest.raises(TelemetrySettingsError, match="IA_TELEMETRY_QUEUE_SIZE"):
        TelemetrySettings.from_env(0, {"IA_TELEMETRY_QUEUE_SIZE": "0"})


def test_telemetry_off_means_no_interceptors_no_tracing_and_no_metrics_endpoint(tmp_path: Path) -> None:
    off = TelemetrySettings.from_env(50052, {"IA_TELEMETRY": "off"})
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path)

    assert not off.enabled
    assert server_interceptors(off) == []
    assert configure_tracing("probe", off) is None
    assert serve_metrics(config, off) is None


# ----- server spans and RPC metrics ------------------------------------------------------------


async def test_a_call_with_a_traceparent_gets_a_server_span_under_the_callers_span(probe, spans) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    await asyncio.to_thread(call_with_traceparent, probe.address, "Echo", f"00-{trace_id}-{parent_id}-01")
    spans.flush()

    (server_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server_span.kind is SpanKind.SERVER
    assert format(server_span.context.trace_id, "032x") == trace_id
    assert format(server_span.parent.span_id, "016x") == parent_id
    assert server_span.attributes["rpc.grpc.status_code"] == 0
    assert server_span.attributes["rpc.method"] == "Echo"


async def test_an_abort_marks_the_span_and_is_counted_by_code(probe, spans) -> None:
    before = handled("Missing", "NOT_FOUND")
    async with grpc.aio.insecure_channel(probe.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await call(channel, "Missing")(b"x")
    spans.flush()

    (server_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server_span.status.status_code is trace.StatusCode.ERROR
    assert server_span.status.description == "NOT_FOUND: no such thing"
    assert handled("Missing", "NOT_FOUND") - before == 1


async def test_streams_written_with_context_write_or_yield_both_work_and_are_counted(probe, spans) -> None:
    before = (handled("WriteTwice", "OK"), handled("YieldTwice", "OK"))
    async with grpc.aio.insecure_channel(probe.address) as channel:
        written = [r async for r in call(channel, "WriteTwice", stream=True)(b"w")]
        yielded = [r async for r in call(channel, "YieldTwice", stream=True)(b"y")]
    spans.flush()

    assert (written, yielded) == ([b"w", b"w"], [b"y", b"y"])
    assert (handled("WriteTwice", "OK") - before[0], handled("YieldTwice", "OK") - before[1]) == (1, 1)
    assert {s.name for s in spans.get_finished_spans()} >= {f"/{PROBE}/WriteTwice", f"/{PROBE}/YieldTwice"}


async def test_client_calls_carry_the_current_trace_to_the_server(probe, spans) -> None:
    tracer = trace.get_tracer("test")
    async with grpc.aio.insecure_channel(probe.address) as channel:
        with tracer.start_as_current_span("caller") as caller:
            await call(channel, "Echo")(b"hi")
    spans.flush()

    (client_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    (server_span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert client_span.parent.span_id == caller.get_span_context().span_id
    assert server_span.parent.span_id == client_span.context.span_id
    assert server_span.context.trace_id == caller.get_span_context().trace_id


async def test_health_checks_are_counted_but_not_traced(probe, spans) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(probe.address) as channel:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    spans.flush()

    assert not [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]


async def test_spans_reach_the_telemetry_service_over_otlp(probe, start_telemetry, connect) -> None:
    telemetry = await start_telemetry()
    tracing = configure_tracing("kit-test", TelemetrySettings(otlp_endpoint=telemetry.address, export_delay_s=0.01))
    trace_id = "a" * 32
    try:
        await asyncio.to_thread(call_with_traceparent, probe.address, "Echo", f"00-{trace_id}-{'b' * 16}-01")
        await asyncio.to_thread(tracing.flush)
        stored = await connect(telemetry).telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id))
    finally:
        await asyncio.to_thread(tracing.shutdown)

    assert [(s.name, s.parent_span_id, s.kind) for s in stored.trace.spans] == [
        (f"/{PROBE}/Echo", "b" * 16, message_pb2.SPAN_KIND_SERVER)
    ]


# ----- the bounded span queue -----------------------------------------------------------------


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("ia_telemetry_spans_dropped_total", {"reason": reason}) or 0.0


class StuckExporter:
    """An exporter whose first export blocks until released, as a hung collector would."""

    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.exported = 0
        self.result = result

    def export(self, batch: Any) -> SpanExportResult:
        self.entered.set()
        self.release.wait(10)
        self.exported += len(batch)
        return self.result

    def shutdown(self) -> None:
        self.release.set()


def ended_spans(count: int) -> list[Any]:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("queue-test")
    made = []
    for index in range(count):
        with tracer.start_as_current_span(f"s{index}") as span:
            pass
        made.append(span)
    return made


def test_a_full_queue_drops_new_spans_and_counts_them_without_blocking() -> None:
    exporter = StuckExporter()
    queue = SpanQueue(exporter, max_queue_size=4, max_batch_size=1, delay_s=0.01)
    first, *rest = ended_spans(7)
    before = dropped("queue_full")

    queue.on_end(first)
    assert exporter.entered.wait(5)
    for span in rest:
        queue.on_end(span)
    dropped_now = dropped("queue_full") - before
    exporter.release.set()
    queue.shutdown()

    assert dropped_now == 2
    assert exporter.exported == 5


def test_a_batch_the_collector_refuses_is_counted_as_dropped() -> None:
    exporter = StuckExporter(SpanExportResult.FAILURE)
    exporter.release.set()
    queue = SpanQueue(exporter, max_queue_size=10, delay_s=60)
    before = dropped("export_failed")

    for span in ended_spans(3):
        queue.on_end(span)
    queue.force_flush()
    queue.shutdown()

    assert dropped("export_failed") - before == 3


class BatchRecorder:
    """An exporter that records each batch; `during` runs inside the first export."""

    def __init__(self, during: Any = None) -> None:
        self.batches: list[list[str]] = []
        self.during = during

    def export(self, batch: Any) -> SpanExportResult:
        self.batches.append([span.name for span in batch])
        if self.during is not None:
            during, self.during = self.during, None
            during()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def test_spans_ending_during_an_export_wait_for_the_next_round() -> None:
    # Sending them straight away would make a busy process export a few spans at a time.
    first, second, late = ended_spans(3)
    exporter = BatchRecorder()
    queue = SpanQueue(exporter, max_queue_size=10, delay_s=60)
    exporter.during = lambda: queue.on_end(late)
    queue.on_end(first)
    queue.on_end(second)

    queue.force_flush()
    assert exporter.batches == [["s0", "s1"]]

    queue.shutdown()
    assert exporter.batches == [["s0", "s1"], ["s2"]]


# ----- /metrics -------------------------------------------------------------------------------


def test_metrics_are_served_for_prometheus_on_the_chosen_port(tmp_path: Path) -> None:
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path)
    endpoint = serve_metrics(config, TelemetrySettings(metrics_port=0))
    assert endpoint is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{endpoint.port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    finally:
        endpoint.close()

    for name in (
        "pipeline_step_duration_seconds",
        "pipeline_step_errors_total",
        "pipeline_execution_duration_seconds",
        "pipeline_parallel_steps_concurrent",
        "pipeline_human_tasks_waiting",
        "plugin_call_duration_seconds",
        "plugin_restarts_total",
        "grpc_server_handled_total",
        "ia_telemetry_spans_dropped_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_a_metrics_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path)
    first = serve_metrics(config, TelemetrySettings(metrics_port=0))
    assert first is not None
    try:
        with pytest.raises(OSError, match=f"cannot serve /metrics on 127.0.0.1:{first.port}"):
            serve_metrics(config, TelemetrySettings(metrics_port=first.port))
    finally:
        first.close()


@pytest.fixture(autouse=True)
def _no_leftover_client_instrumentation() -> Iterator[None]:
    original = grpc.aio.insecure_channel
    yield
    assert grpc.aio.insecure_channel is original, "a test left grpc.aio instrumented"


# Configures tracing in a process of its own (the tracer provider is set once a process), with
# the sampler the environment names, and prints what it kept and what a plugin call would carry.
_SAMPLED_RUN = """
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from ia_service_kit import spans
from ia_service_kit.telemetry import ClientCallSpan, configure_tracing

exporter = InMemorySpanExporter()
tracing = configure_tracing("probe", exporter=exporter)
for _ in range(200):
    run = spans.start_span("run", InstrumentationScope("probe"))
    with trace.use_span(run, end_on_exit=True), ClientCallSpan("/ia.plugin.v1.PluginService/ExecuteStep") as tp:
        assert tp.endswith("-01") == run.is_recording()
tracing.flush()
finished = exporter.get_finished_spans()
print(len({span.context.trace_id for span in finished}), len(finished))
"""


@pytest.mark.parametrize(
    ("sampler", "argument", "fewest", "most"),
    [("always_off", "", 0, 0), ("parentbased_traceidratio", "0.25", 20, 80), ("", "", 200, 200)],
)
def test_the_sdks_sampler_settings_decide_which_runs_are_traced(
    sampler: str, argument: str, fewest: int, most: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "IA_TELEMETRY"))}
    env.update(OTEL_TRACES_SAMPLER=sampler, OTEL_TRACES_SAMPLER_ARG=argument)
    done = subprocess.run([sys.executable, "-c", _SAMPLED_RUN], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    traces, kept_spans = map(int, done.stdout.split())
    assert fewest <= traces <= most
    # A kept run has its span and its call's client span; a dropped one sent an unsampled traceparent.
    assert kept_spans == 2 * traces
