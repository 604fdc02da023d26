"""Time filters beyond what storage holds, found by fuzzing the REST surface: each was INTERNAL before."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from telemetry_testing import new_trace_id, refused, span, traces_request

from ia.telemetry.v1 import request_response_pb2 as rr


def _at(text: str) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromJsonString(text)
    return stamp


async def test_trace_filters_from_the_far_past_or_future_filter_as_meant(telemetry, otlp_traces) -> None:
    trace_id = new_trace_id()
    await otlp_traces.Export(traces_request(span("run far", trace_id, ia_kind="run", pipeline="far", run_id="r-far")))

    everything = await telemetry.ListTraces(
        rr.ListTracesRequest(
            pipeline="far", start_time_from=_at("0517-11-30T17:16:38Z"), start_time_to=_at("9999-12-31T23:59:59Z")
        )
    )
    before_everything = rr.ListTracesRequest(pipeline="far", start_time_to=_at("0001-01-01T00:00:00Z"))
    nothing = await telemetry.ListTraces(before_everything)

    assert [t.trace_id for t in everything.traces] == [trace_id.hex()]
    assert list(nothing.traces) == []


async def test_a_metrics_query_reaching_past_storage_is_answered(telemetry) -> None:
    found = await telemetry.QueryMetrics(
        rr.QueryMetricsRequest(
            name="ia_step_duration_seconds",
            start_time=_at("2262-01-01T00:00:00Z"),
            end_time=_at("9999-12-31T23:59:59Z"),
            step=duration_pb2.Duration(seconds=86_400),
        )
    )
    assert list(found.series) == []


async def test_a_benchmark_starting_beyond_storage_is_refused_naming_the_field(telemetry) -> None:
    from ia.telemetry.v1 import message_pb2

    far = message_pb2.BenchmarkRun(suite="engine", start_time=_at("9999-12-31T23:59:59Z"))
    refusal = await refused(telemetry.RecordBenchmark(rr.RecordBenchmarkRequest(benchmark=far)))

    assert (refusal.code, refusal.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["benchmark.start_time"])
