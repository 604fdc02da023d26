"""A plugin's span of a traced call, returned in the `ia-spans-bin` trailer, and PluginClient's `on_spans`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from ia_modules.errors import IAError
from ia_modules.plugin import CallInfo, ConditionResult, PluginContext, PluginError, condition_plugin, step_plugin
from ia_modules.plugin.call_span import MAX_VALUE_CHARS, sampled_parent
from ia_modules.plugin.client import PluginClient
from ia_modules.plugin.harness import socket_folder
from ia_modules.plugin.server import start_plugin_server
from ia_modules.plugin.servicer import PluginServicer

# Fixed: test ids made of them must be the same in every pytest-xdist worker.
TRACE_ID, PARENT_ID = "7debd95f74abc4fd7fa658fc2ef892e2", "b8d6047eaa7bbfbd"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
SAMPLED = (("traceparent", TRACEPARENT),)  # the trace context as a metadata entry


@step_plugin
async def greet(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    if data.get("fail"):
        raise PluginError(data.get("why", "the greeting failed"), reason="NO_GREETING")
    return {"greeting": f"hello {data.get('who', 'world')}"}


@condition_plugin
def always(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    return ConditionResult(True, "always")


class Plugin:
    """A plugin process served in this process, and a client that keeps the span trailers it receives."""

    def __init__(self, client: PluginClient, trailers: list[bytes], traceparents: list[str | None]) -> None:
        self.client = client
        self.trailers = trailers
        self.traceparents = traceparents  # what the client passed on_spans with each trailer

    def spans(self) -> list[tuple[trace_pb2.ResourceSpans, trace_pb2.Span]]:
        found = []
        for raw in self.trailers:
            resource_spans = trace_pb2.ResourceSpans.FromString(raw)
            found.extend((resource_spans, span) for scope in resource_spans.scope_spans for span in scope.spans)
        return found


@pytest.fixture
async def plugin() -> AsyncIterator[Plugin]:
    trailers: list[bytes] = []
    traceparents: list[str | None] = []

    def keep(raw: bytes, traceparent: str | None) -> None:
        trailers.append(raw)
        traceparents.append(traceparent)

    with socket_folder() as folder:
        server = await start_plugin_server([greet, always], str(folder / "plugin.sock"), process_name="greetings")
        try:
            async with PluginClient(server.target, on_spans=keep) as client:
                yield Plugin(client, trailers, traceparents)
        finally:
            await server.stop(0)


def attributes(span: trace_pb2.Span) -> dict[str, Any]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


async def test_a_sampled_call_returns_one_server_span_under_the_callers_span(plugin: Plugin) -> None:
    call = CallInfo("run-1", step_id="hello", attempt=2, idempotency_key="run-1/hello/0", traceparent=TRACEPARENT)

    outcome = await plugin.client.execute_step("greet", {}, {"who": "ada"}, call=call)

    assert outcome.output == {"greeting": "hello ada"}
    ((resource_spans, span),) = plugin.spans()
    assert [(a.key, a.value.string_value) for a in resource_spans.resource.attributes] == [
        ("service.name", "plugin greetings")
    ]
    assert span.name == "/ia.plugin.v1.PluginService/ExecuteStep"
    assert span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert (span.trace_id.hex(), span.parent_span_id.hex()) == (TRACE_ID, PARENT_ID)
    assert plugin.traceparents == [TRACEPARENT]  # the call's trace context, for the caller to hold the span to
    assert len(span.span_id) == 8 and span.span_id.hex() != PARENT_ID
    assert 0 < span.start_time_unix_nano <= span.end_time_unix_nano
    assert span.status.code == trace_pb2.Status.STATUS_CODE_UNSET
    assert attributes(span) == {
        "rpc.system": "grpc",
        "rpc.service": "ia.plugin.v1.PluginService",
        "rpc.method": "ExecuteStep",
        "rpc.grpc.status_code": 0,
        "plugin": "greet",
        "run_id": "run-1",
        "step_id": "hello",
        "attempt": 2,
    }


async def test_a_unary_call_returns_its_span_too(plugin: Plugin) -> None:
    answer = await plugin.client.evaluate_condition("always", {}, {}, call=CallInfo(traceparent=TRACEPARENT))

    assert answer.result is True
    ((_, span),) = plugin.spans()
    assert span.name == "/ia.plugin.v1.PluginService/EvaluateCondition"
    assert attributes(span)["rpc.method"] == "EvaluateCondition"
    # No run in the call context: no run, step or attempt attributes.
    assert not {"run_id", "step_id"} & set(attributes(span))


async def test_a_traceparent_in_metadata_is_read_when_the_call_context_has_none(plugin: Plugin) -> None:
    await plugin.client.execute_step("greet", {}, {}, metadata=SAMPLED)

    ((_, span),) = plugin.spans()
    assert (span.trace_id.hex(), span.parent_span_id.hex()) == (TRACE_ID, PARENT_ID)
    assert plugin.traceparents == [TRACEPARENT]


async def test_the_call_contexts_traceparent_comes_before_a_metadata_entry(plugin: Plugin) -> None:
    other_trace = "0af7651916cd43dd8448eb211c80319c"
    call = CallInfo(traceparent=f"00-{other_trace}-{PARENT_ID}-01")

    await plugin.client.execute_step("greet", {}, {}, call=call, metadata=SAMPLED)

    ((_, span),) = plugin.spans()
    assert span.trace_id.hex() == other_trace
    assert plugin.traceparents == [call.traceparent]


@pytest.mark.parametrize(
    "traceparent",
    [
        "",
        f"00-{TRACE_ID}-{PARENT_ID}-00",  # not sampled
        "not a traceparent",
        f"00-{'0' * 32}-{PARENT_ID}-01",  # an invalid trace id
    ],
    ids=["none", "not-sampled", "malformed", "zero-trace-id"],
)
async def test_without_a_sampled_traceparent_there_is_no_span(plugin: Plugin, traceparent: str) -> None:
    call = CallInfo(traceparent=traceparent)
    metadata = (("traceparent", traceparent),) if traceparent else None
    await plugin.client.execute_step("greet", {}, {}, call=call)
    await plugin.client.evaluate_condition("always", {}, {}, call=call)
    await plugin.client.execute_step("greet", {}, {}, metadata=metadata)
    await plugin.client.evaluate_condition("always", {}, {}, metadata=metadata)

    assert plugin.trailers == []


async def test_a_failed_call_returns_an_error_span_with_its_status(plugin: Plugin) -> None:
    with pytest.raises(IAError) as failed:
        await plugin.client.execute_step("greet", {}, {"fail": True}, metadata=SAMPLED)

    assert failed.value.reason == "NO_GREETING"  # the error details still arrive with the span
    ((_, span),) = plugin.spans()
    assert span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert span.status.message == "UNKNOWN: the greeting failed"
    assert attributes(span)["rpc.grpc.status_code"] == grpc.StatusCode.UNKNOWN.value[0]


async def test_a_refused_unary_call_returns_an_error_span(plugin: Plugin) -> None:
    with pytest.raises(IAError) as refused:
        await plugin.client.evaluate_condition("no_such_plugin", {}, {}, metadata=SAMPLED)

    assert refused.value.code is grpc.StatusCode.NOT_FOUND
    ((_, span),) = plugin.spans()
    assert span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert span.status.message.startswith("NOT_FOUND: this process serves no plugin 'no_such_plugin'")
    assert attributes(span)["plugin"] == "no_such_plugin"


async def test_huge_values_are_cut_so_the_trailer_stays_small(plugin: Plugin) -> None:
    call = CallInfo("r" * 100_000, step_id="s" * 100_000)

    # A message this long still fits in the status the plugin sends; its span keeps a part.
    with pytest.raises(IAError):
        await plugin.client.execute_step("greet", {}, {"fail": True, "why": "w" * 3000}, call=call, metadata=SAMPLED)

    (raw,) = plugin.trailers
    assert len(raw) < 2048  # gRPC refuses metadata over 8 KiB
    ((_, span),) = plugin.spans()
    values = attributes(span)
    assert {len(values[key]) for key in ("run_id", "step_id")} == {MAX_VALUE_CHARS}
    assert len(span.status.message) == MAX_VALUE_CHARS


async def test_a_client_without_on_spans_ignores_the_trailer() -> None:
    with socket_folder() as folder:
        server = await start_plugin_server([greet], str(folder / "plugin.sock"))
        try:
            async with PluginClient(server.target) as client:
                outcome = await client.execute_step("greet", {}, {}, metadata=SAMPLED)
        finally:
            await server.stop(0)

    assert outcome.output == {"greeting": "hello world"}


@pytest.mark.parametrize(
    ("header", "parent"),
    [
        (f"00-{TRACE_ID}-{PARENT_ID}-01", (bytes.fromhex(TRACE_ID), bytes.fromhex(PARENT_ID))),
        (f"00-{TRACE_ID}-{PARENT_ID}-03", (bytes.fromhex(TRACE_ID), bytes.fromhex(PARENT_ID))),
        (f"ff-{TRACE_ID}-{PARENT_ID}-01", None),
        (f"00-{TRACE_ID}-{'0' * 16}-01", None),
        (f"00-{TRACE_ID.upper()}-{PARENT_ID}-01", None),
        (b"binary", None),
    ],
)
def test_sampled_parent_reads_only_a_valid_sampled_traceparent(header: Any, parent: Any) -> None:
    assert sampled_parent((("other", "x"), ("traceparent", header))) == parent


async def test_a_call_that_breaks_the_servicer_still_returns_an_error_span(
    plugin: Plugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the servicer")

    monkeypatch.setattr(PluginServicer, "_invoke", broken)

    with pytest.raises(IAError) as failed:
        await plugin.client.evaluate_condition("always", {}, {}, metadata=SAMPLED)

    assert failed.value.code is grpc.StatusCode.UNKNOWN
    ((_, span),) = plugin.spans()
    assert span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert span.status.message == "UNKNOWN: RuntimeError: a bug in the servicer"
