"""OTLP spans in; ListTraces and GetTrace out; refusals, limits and retention."""

from __future__ import annotations

import grpc
from google.protobuf import timestamp_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from telemetry_testing import (
    NOW_NS,
    key_values,
    new_span_id,
    new_trace_id,
    refused,
    span,
    traces_request,
    value,
)

from ia.telemetry.v1 import message_pb2
from ia.telemetry.v1 import request_response_pb2 as rr
from ia_telemetry.spans import ELLIPSIS, Limits, decode
from ia_telemetry.traces import Retention


async def test_a_trace_keeps_its_spans_their_parents_and_its_run(telemetry, otlp_traces) -> None:
    trace_id, run_span = new_trace_id(), new_span_id()
    request = traces_request(
        span(
            "run hello",
            trace_id,
            span_id=run_span,
            duration_ns=5_000_000,
            ia_kind="run",
            pipeline="hello",
            run_id="r-1",
        ),
        span(
            "step greet", trace_id, parent=run_span, start_ns=NOW_NS + 1_000, ia_kind="step", step_id="greet", attempt=1
        ),
    )

    answer = await otlp_traces.Export(request)
    trace = (await telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id.hex()))).trace

    assert not answer.HasField("partial_success")
    assert [s.name for s in trace.spans] == ["run hello", "step greet"]
    assert trace.spans[1].parent_span_id == run_span.hex() == trace.spans[0].span_id
    assert trace.spans[0].service == "executor"
    assert trace.spans[1].attributes["attempt"] == 1
    assert trace.summary.root_name == "run hello" and trace.summary.root_service == "executor"
    assert (trace.summary.pipeline, trace.summary.run_id, trace.summary.span_count) == ("hello", "r-1", 2)
    assert trace.summary.status == message_pb2.SPAN_STATUS_OK
    assert trace.summary.duration.ToNanoseconds() == 5_000_000


async def test_spans_of_one_trace_may_arrive_in_any_order_and_twice(telemetry, otlp_traces) -> None:
    trace_id, root = new_trace_id(), new_span_id()
    child = span("GetPipeline", trace_id, parent=root, start_ns=NOW_NS + 10, error=True)
    await otlp_traces.Export(traces_request(child, service="registry"))
    partial = (await telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id.hex()))).trace.summary

    await otlp_traces.Export(traces_request(span("/ia.executor.v1.ExecutorService/StartRun", trace_id, span_id=root)))
    await otlp_traces.Export(traces_request(child, service="registry"))
    whole = (await telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id.hex()))).trace

    assert partial.root_name == "GetPipeline"
    assert whole.summary.root_name == "/ia.executor.v1.ExecutorService/StartRun"
    assert whole.summary.span_count == 2
    assert whole.summary.status == message_pb2.SPAN_STATUS_ERROR


async def test_list_traces_filters_by_pipeline_run_status_and_time(telemetry, otlp_traces) -> None:
    traces = {}
    for index, (pipeline, failed) in enumerate([("a", False), ("b", True), ("a", True)]):
        trace_id = new_trace_id()
        traces[index] = trace_id.hex()
        start = NOW_NS + index * 1_000_000_000
        await otlp_traces.Export(
            traces_request(
                span(
                    "run", trace_id, start_ns=start, ia_kind="run", pipeline=pipeline, run_id=f"r{index}", error=failed
                )
            )
        )

    def ids(response: rr.ListTracesResponse) -> list[str]:
        return [t.trace_id for t in response.traces]

    everything = await telemetry.ListTraces(rr.ListTracesRequest())
    of_a = await telemetry.ListTraces(rr.ListTracesRequest(pipeline="a"))
    failed_a = await telemetry.ListTraces(rr.ListTracesRequest(pipeline="a", status=message_pb2.SPAN_STATUS_ERROR))
    of_run = await telemetry.ListTraces(rr.ListTracesRequest(run_id="r1"))
    since = timestamp_pb2.Timestamp()
    since.FromNanoseconds(NOW_NS + 1_000_000_000)
    recent = await telemetry.ListTraces(rr.ListTracesRequest(start_time_from=since))
    older = await telemetry.ListTraces(rr.ListTracesRequest(start_time_to=since))

    assert ids(everything) == [traces[2], traces[1], traces[0]]
    assert ids(of_a) == [traces[2], traces[0]]
    assert ids(failed_a) == [traces[2]]
    assert ids(of_run) == [traces[1]]
    assert ids(recent) == [traces[2], traces[1]]
    assert ids(older) == [traces[0]]


async def test_list_traces_pages_with_opaque_tokens_bound_to_the_query(telemetry, otlp_traces) -> None:
    expected = []
    for index in range(5):
        trace_id = new_trace_id()
        expected.insert(0, trace_id.hex())
        await otlp_traces.Export(traces_request(span("run", trace_id, start_ns=NOW_NS + index, pipeline="paged")))

    seen, token = [], ""
    while True:
        page = await telemetry.ListTraces(rr.ListTracesRequest(pipeline="paged", page_size=2, page_token=token))
        seen.extend(t.trace_id for t in page.traces)
        token = page.next_page_token
        if not token:
            break
    first = await telemetry.ListTraces(rr.ListTracesRequest(pipeline="paged", page_size=2))
    other_query = await refused(
        telemetry.ListTraces(rr.ListTracesRequest(pipeline="other", page_token=first.next_page_token))
    )
    negative = await refused(telemetry.ListTraces(rr.ListTracesRequest(page_size=-1)))

    assert seen == expected
    assert (other_query.code, other_query.reason, other_query.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_PAGE_TOKEN",
        ["page_token"],
    )
    assert negative.fields == ["page_size"]


async def test_get_trace_refuses_a_malformed_id_and_reports_an_unknown_one(telemetry) -> None:
    malformed = await refused(telemetry.GetTrace(rr.GetTraceRequest(trace_id="run-1")))
    unknown = await refused(telemetry.GetTrace(rr.GetTraceRequest(trace_id="ab" * 16)))

    assert (malformed.code, malformed.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["trace_id"])
    assert (unknown.code, unknown.reason) == (grpc.StatusCode.NOT_FOUND, "TRACE_NOT_FOUND")


async def test_malformed_spans_are_refused_and_the_rest_of_the_request_kept(telemetry, otlp_traces) -> None:
    trace_id = new_trace_id()
    good = span("good", trace_id)
    bad_trace_id = span("short trace id", b"\x01" * 8)
    zero_span_id = span("zero span id", trace_id, span_id=b"\x00" * 8)
    backwards = span("ends before it starts", trace_id, duration_ns=-5)

    answer = await otlp_traces.Export(traces_request(good, bad_trace_id, zero_span_id, backwards))
    stored = (await telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id.hex()))).trace

    assert answer.partial_success.rejected_spans == 3
    assert "trace_id must be 16 bytes" in answer.partial_success.error_message
    assert [s.name for s in stored.spans] == ["good"]


async def test_bytes_that_are_not_otlp_fail_the_call_and_harm_nothing(channel, telemetry, otlp_traces) -> None:
    export = channel.unary_unary(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        request_serializer=lambda raw: raw,
        response_deserializer=lambda raw: raw,
    )
    trace_id = new_trace_id()

    failure = None
    try:
        await export(b"\xff\xff\xff\xff not a protobuf")
    except grpc.aio.AioRpcError as error:
        failure = error.code()
    await otlp_traces.Export(traces_request(span("after", trace_id)))
    after = (await telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id.hex()))).trace

    assert failure is not None and failure is not grpc.StatusCode.OK
    assert [s.name for s in after.spans] == ["after"]


async def test_huge_names_and_attribute_values_are_cut(start_telemetry, connect) -> None:
    stubs = connect(await start_telemetry(limits=Limits(max_attribute_chars=100, max_name_chars=50)))
    trace_id = new_trace_id()

    await stubs.traces.Export(traces_request(span("n" * 10_000, trace_id, note="x" * 1_000_000, small="ok")))
    stored = await stubs.telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id.hex()))

    kept = stored.trace.spans[0]
    assert kept.name == "n" * 49 + ELLIPSIS
    assert kept.attributes["note"] == "x" * 99 + ELLIPSIS
    assert kept.attributes["small"] == "ok"


async def test_only_the_newest_traces_are_kept_beyond_the_retention_count(start_telemetry, connect) -> None:
    stubs = connect(await start_telemetry(retention=Retention(max_traces=3, every_s=0), clock=lambda: 1_000.0))
    ids = []
    for index in range(5):
        trace_id = new_trace_id()
        ids.append(trace_id.hex())
        await stubs.traces.Export(traces_request(span("run", trace_id, start_ns=1_000 * 10**9 + index)))

    listed = await stubs.telemetry.ListTraces(rr.ListTracesRequest())
    gone = await refused(stubs.telemetry.GetTrace(rr.GetTraceRequest(trace_id=ids[0])))

    assert [t.trace_id for t in listed.traces] == ids[:1:-1]
    assert gone.reason == "TRACE_NOT_FOUND"


async def test_traces_older_than_the_retention_age_are_deleted(start_telemetry, connect) -> None:
    hour_ns = 3600 * 10**9
    now_s = 100 * 3600.0
    stubs = connect(await start_telemetry(retention=Retention(trace_hours=1, every_s=0), clock=lambda: now_s))
    old, fresh = new_trace_id(), new_trace_id()

    await stubs.traces.Export(traces_request(span("old", old, start_ns=int(now_s * 1e9) - 2 * hour_ns)))
    await stubs.traces.Export(traces_request(span("fresh", fresh, start_ns=int(now_s * 1e9) - 10)))
    listed = await stubs.telemetry.ListTraces(rr.ListTracesRequest())

    assert [t.trace_id for t in listed.traces] == [fresh.hex()]


def test_decoding_reads_every_kind_of_value_and_names_the_service_by_its_resource() -> None:
    trace_id = new_trace_id()
    limits = Limits(max_attribute_chars=10, max_name_chars=8)
    first = span("s", trace_id, text="short", long="y" * 50, number=7, flag=True, ratio=0.5, **{"a-long-key-name": 1})
    first.attributes.extend(
        [
            KeyValue(key="items", value=AnyValue(array_value=ArrayValue(values=[value("a"), value(2)]))),
            KeyValue(key="nested", value=AnyValue(kvlist_value=KeyValueList(values=key_values({"k": "v"})))),
            KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\x01")),
        ]
    )
    request = traces_request(first, service="executor")
    # A resource that says its name twice: the last one counts, as it would in a dict.
    second = traces_request(span("t", trace_id), service="first")
    second.resource_spans[0].resource.attributes.extend(key_values({"service.name": "plugin-x"}))
    request.resource_spans.extend(second.resource_spans)
    # A resource with no name at all.
    request.resource_spans.add().scope_spans.add().spans.append(span("u", trace_id))

    decoded = decode(request, limits)

    assert [(s.name, s.service) for s in decoded.spans] == [("s", "executor"), ("t", "plugin-x"), ("u", "unknown")]
    assert decoded.spans[0].attributes == {
        "text": "short",
        "long": "y" * 9 + ELLIPSIS,
        "number": 7,
        "flag": True,
        "ratio": 0.5,
        "a-long-" + ELLIPSIS: 1,
        "items": ["a", 2],
        "nested": {"k": "v"},
        "raw": "AAE=",
    }
