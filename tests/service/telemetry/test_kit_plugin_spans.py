"""A plugin's span of a call reaches the collector through its caller (`forward_spans`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client import REGISTRY

from ia.plugin.v1 import request_response_pb2 as plugin_rr
from ia.telemetry.v1 import message_pb2
from ia.telemetry.v1 import request_response_pb2 as rr
from ia_modules.plugin import CallInfo, PluginContext, step_plugin
from ia_modules.plugin.call_span import CallSpan
from ia_modules.plugin.client import PluginClient
from ia_modules.plugin.harness import socket_folder
from ia_modules.plugin.server import start_plugin_server
from ia_service_kit import telemetry as kit_telemetry
from ia_service_kit.otlp import LeanOTLPSpanExporter
from ia_service_kit.telemetry import (
    ClientCallSpan,
    TelemetrySettings,
    configure_tracing,
    forward_spans,
    uninstrumented_channel,
)

EXECUTE_STEP = "/ia.plugin.v1.PluginService/ExecuteStep"


@step_plugin
async def greet(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    return {"greeting": "hello"}


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("ia_telemetry_spans_dropped_total", {"reason": reason}) or 0.0


TRACE = bytes.fromhex("7debd95f74abc4fd7fa658fc2ef892e2")
# The trace context of the call the trailers came back from, as PluginClient hands it on.
CALL = f"00-{TRACE.hex()}-b8d6047eaa7bbfbd-01"


def plugin_span(spans: int = 1, trace_id: bytes = TRACE) -> bytes:
    """A plugin's trailer holding `spans` spans of trace `trace_id` (the SDK's plugins send one)."""
    from opentelemetry.proto.trace.v1 import trace_pb2

    parent = (trace_id, bytes.fromhex("b8d6047eaa7bbfbd"))
    request = plugin_rr.ExecuteStepRequest(plugin="greet")
    raw = CallSpan("greetings", EXECUTE_STEP, parent, request).trailer(grpc.StatusCode.OK)[1]
    many = trace_pb2.ResourceSpans.FromString(raw)
    many.scope_spans[0].spans.extend([many.scope_spans[0].spans[0]] * (spans - 1))
    return many.SerializeToString()


class CapturingExporter(LeanOTLPSpanExporter):
    """The lean OTLP exporter, keeping the requests it would send instead of sending them."""

    def __init__(self) -> None:
        super().__init__(endpoint="localhost:1", insecure=True)
        self.requests: list[ExportTraceServiceRequest] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.requests.append(self._translate_data(spans))
        return SpanExportResult.SUCCESS


@contextlib.contextmanager
def capturing(queue_size: int = 2048) -> Iterator[CapturingExporter]:
    """This process's tracing into a CapturingExporter; `.flush()` exports what is queued."""
    exporter = CapturingExporter()
    settings = TelemetrySettings(export_delay_s=60, queue_size=queue_size)
    tracing = configure_tracing("kit-test", settings, exporter=exporter)
    assert tracing is not None
    exporter.flush = tracing.flush  # type: ignore[attr-defined]
    try:
        yield exporter
    finally:
        tracing.shutdown()


@pytest.fixture
def captured() -> Iterator[CapturingExporter]:
    with capturing() as exporter:
        yield exporter


def contents(request: ExportTraceServiceRequest) -> list[tuple[str, list[str]]]:
    """(service.name, span names) of each ResourceSpans of an export request."""
    found = []
    for resource_spans in request.resource_spans:
        (name,) = [a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"]
        found.append((name, [span.name for scope in resource_spans.scope_spans for span in scope.spans]))
    return found


def own_and_forwarded(request: ExportTraceServiceRequest) -> tuple[list[list[str]], list[list[str]]]:
    """The span names of the process's own ResourceSpans, and of the plugin's."""
    found = contents(request)
    plugin = [names for service, names in found if service == "plugin greetings"]
    return [names for service, names in found if service != "plugin greetings"], plugin


def test_forwarded_spans_go_out_in_the_same_request_as_the_process_own(captured: CapturingExporter) -> None:
    with trace.get_tracer("test").start_as_current_span("own"):
        pass
    forward_spans(plugin_span(), CALL)
    captured.flush()  # type: ignore[attr-defined]

    (request,) = captured.requests
    assert own_and_forwarded(request) == ([["own"]], [[EXECUTE_STEP]])


def test_a_plugin_adds_spans_only_to_the_trace_of_its_call(captured: CapturingExporter) -> None:
    from opentelemetry.proto.trace.v1 import trace_pb2

    before = dropped("wrong_trace")
    elsewhere = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    mixed = trace_pb2.ResourceSpans.FromString(plugin_span(2))
    mixed.scope_spans[0].spans[1].trace_id = elsewhere

    forward_spans(plugin_span(trace_id=elsewhere), CALL)
    forward_spans(plugin_span(), None)  # a call that carried no trace context
    forward_spans(plugin_span(), CALL[:-2] + "00")  # nor does an unsampled one
    forward_spans(mixed.SerializeToString(), CALL)
    captured.flush()  # type: ignore[attr-defined]

    (request,) = captured.requests
    assert own_and_forwarded(request) == ([], [[EXECUTE_STEP]])
    assert [span.trace_id for rs in request.resource_spans for s in rs.scope_spans for span in s.spans] == [TRACE]
    assert dropped("wrong_trace") - before == 4


def test_a_malformed_trailer_is_dropped_and_counted_and_loses_nothing_else(captured: CapturingExporter) -> None:
    before = dropped("malformed")

    with trace.get_tracer("test").start_as_current_span("own"):
        pass
    forward_spans(b"\xff\xff\xff", CALL)
    forward_spans(b"\x0a\x10truncated", CALL)
    forward_spans(plugin_span(), CALL)
    captured.flush()  # type: ignore[attr-defined]

    assert dropped("malformed") - before == 2
    (request,) = captured.requests
    assert own_and_forwarded(request) == ([["own"]], [[EXECUTE_STEP]])


def test_a_forwarded_trailer_is_one_entry_of_the_queue_bound() -> None:
    before = dropped("queue_full")

    with capturing(queue_size=4) as captured:
        queue = kit_telemetry._router.current
        assert isinstance(queue, kit_telemetry.SpanQueue)
        # A full queue wakes the export thread; held here, it leaves the queue full.
        with queue._export_lock:
            forward_spans(plugin_span(3), CALL)  # one entry, however many spans it holds
            for _ in range(4):
                forward_spans(plugin_span(1), CALL)  # the fourth of these passes the bound of 4
        captured.flush()  # type: ignore[attr-defined]

    assert dropped("queue_full") - before == 1
    (request,) = captured.requests
    assert own_and_forwarded(request) == ([], [[EXECUTE_STEP]] * 6)


def test_without_tracing_forwarded_spans_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit_telemetry._router, "current", None)
    before = dropped("malformed")

    forward_spans(b"\xff\xff\xff", CALL)
    forward_spans(plugin_span(), CALL)

    assert dropped("malformed") == before


async def test_a_plugins_span_reaches_the_telemetry_service_under_the_client_span(start_telemetry, connect) -> None:
    telemetry = await start_telemetry()
    tracing = configure_tracing("kit-test", TelemetrySettings(otlp_endpoint=telemetry.address, export_delay_s=60))
    assert tracing is not None
    try:
        with socket_folder() as folder:
            server = await start_plugin_server([greet], str(folder / "plugin.sock"), process_name="greetings")
            client = PluginClient(server.target, open_channel=uninstrumented_channel, on_spans=forward_spans)
            try:
                with trace.get_tracer("test").start_as_current_span("step") as step:
                    with ClientCallSpan(EXECUTE_STEP) as traceparent:
                        await client.execute_step("greet", call=CallInfo(traceparent=traceparent or ""))
            finally:
                await client.close()
                await server.stop(0)
        await asyncio.to_thread(tracing.flush)
        trace_id = format(step.get_span_context().trace_id, "032x")
        stored = await connect(telemetry).telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id))
    finally:
        await asyncio.to_thread(tracing.shutdown)

    # The process's service name is the first one configured in it: not asserted.
    spans = {s.kind: s for s in stored.trace.spans if s.name == EXECUTE_STEP}
    calling, called = spans[message_pb2.SPAN_KIND_CLIENT], spans[message_pb2.SPAN_KIND_SERVER]
    assert called.service == "plugin greetings"
    assert calling.parent_span_id == format(step.get_span_context().span_id, "016x")
    assert called.parent_span_id == calling.span_id
    assert called.attributes["plugin"] == "greet"


def test_spans_forwarded_while_the_queue_shuts_down_are_counted(captured: CapturingExporter) -> None:
    queue = kit_telemetry._router.current
    assert isinstance(queue, kit_telemetry.SpanQueue)
    before = dropped("shutdown")

    queue.shutdown()
    forward_spans(plugin_span(), CALL)
    forward_spans(plugin_span(), CALL)

    assert dropped("shutdown") - before == 2


def test_tracing_on_says_whether_plugin_calls_carry_a_trace(
    captured: CapturingExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert kit_telemetry.tracing_configured()
    monkeypatch.setattr(kit_telemetry, "_client_instrumentor", None)
    assert not kit_telemetry.tracing_configured()
