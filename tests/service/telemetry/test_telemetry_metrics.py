"""QueryMetrics: points derived from run and step spans, and OTLP metrics kept as sent."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from telemetry_testing import gauge_request, histogram_request, new_span_id, new_trace_id, refused, span, traces_request

from ia.telemetry.v1 import request_response_pb2 as rr

T0 = 1_800_000_000 * 10**9  # a whole minute
SECOND = 10**9


def at(ns: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(ns)
    return stamp


def window(name: str, **fields) -> rr.QueryMetricsRequest:
    return rr.QueryMetricsRequest(
        name=name, start_time=at(T0), end_time=at(T0 + 600 * SECOND), step=duration_pb2.Duration(seconds=60), **fields
    )


def run_spans(pipeline: str, start_ns: int, *, fail_step: bool = False) -> list:
    trace_id, run = new_trace_id(), new_span_id()
    status = "failed" if fail_step else "succeeded"
    return [
        span(
            "run", trace_id, span_id=run, start_ns=start_ns, duration_ns=3 * SECOND, ia_kind="run",
            pipeline=pipeline, status=status,
        ),
        span(
            "step fetch", trace_id, parent=run, start_ns=start_ns, duration_ns=SECOND, ia_kind="step",
            pipeline=pipeline, step_id="fetch", status="succeeded",
        ),
        span(
            "step store", trace_id, parent=run, start_ns=start_ns + SECOND, duration_ns=2 * SECOND, ia_kind="step",
            pipeline=pipeline, step_id="store", status=status, error_type="STEP_TIMEOUT" if fail_step else "",
        ),
    ]  # fmt: skip


async def test_step_and_run_spans_become_the_pipeline_metrics(telemetry, otlp_traces) -> None:
    await otlp_traces.Export(traces_request(*run_spans("etl", T0)))
    await otlp_traces.Export(traces_request(*run_spans("etl", T0 + 10 * SECOND, fail_step=True)))

    steps = await telemetry.QueryMetrics(window("pipeline_step_duration_seconds", group_by=["step"]))
    runs = await telemetry.QueryMetrics(window("pipeline_execution_duration_seconds", labels={"pipeline": "etl"}))
    errors = await telemetry.QueryMetrics(window("pipeline_step_errors_total"))

    by_step = {s.labels["step"]: [(p.count, p.sum, p.min, p.max) for p in s.points] for s in steps.series}
    assert by_step == {"fetch": [(2, 2.0, 1.0, 1.0)], "store": [(2, 4.0, 2.0, 2.0)]}
    assert {s.labels["status"]: s.points[0].count for s in runs.series} == {"succeeded": 1, "failed": 1}
    assert [(dict(s.labels), s.points[0].sum) for s in errors.series] == [
        ({"pipeline": "etl", "step": "store", "error_type": "STEP_TIMEOUT"}, 1.0)
    ]


async def test_points_fall_into_buckets_of_the_step(telemetry, otlp_traces) -> None:
    for offset in (0, 30, 61, 500):
        await otlp_traces.Export(traces_request(*run_spans("bucketed", T0 + offset * SECOND)))

    result = await telemetry.QueryMetrics(
        window("pipeline_execution_duration_seconds", labels={"pipeline": "bucketed"})
    )

    (series,) = result.series
    assert [(p.time.ToNanoseconds() - T0) // SECOND for p in series.points] == [0, 60, 480]
    assert [p.count for p in series.points] == [2, 1, 1]


async def test_otlp_gauges_and_histograms_are_kept_with_their_labels(telemetry, otlp_metrics) -> None:
    await otlp_metrics.Export(
        gauge_request(
            "plugin_queue_depth", [(T0 + SECOND, 4.0, {"plugin": "web"}), (T0 + 2 * SECOND, 6.0, {"plugin": "web"})]
        )
    )
    await otlp_metrics.Export(
        histogram_request("plugin_latency_seconds", T0 + SECOND, count=4, total=2.0, low=0.1, high=1.2)
    )

    gauge = await telemetry.QueryMetrics(window("plugin_queue_depth"))
    histogram = await telemetry.QueryMetrics(window("plugin_latency_seconds"))

    assert [(dict(s.labels), [(p.count, p.sum, p.min, p.max) for p in s.points]) for s in gauge.series] == [
        ({"plugin": "web", "service": "plugin"}, [(2, 10.0, 4.0, 6.0)])
    ]
    assert [(p.count, p.sum, p.min, p.max) for p in histogram.series[0].points] == [(4, 2.0, 0.1, 1.2)]


async def test_data_points_without_a_time_are_refused(telemetry, otlp_metrics) -> None:
    answer = await otlp_metrics.Export(gauge_request("half_good", [(0, 1.0, {}), (T0, 2.0, {})]))

    kept = await telemetry.QueryMetrics(window("half_good"))

    assert answer.partial_success.rejected_data_points == 1
    assert [p.sum for p in kept.series[0].points] == [2.0]


async def test_bad_queries_name_the_field(telemetry) -> None:
    nameless = await refused(telemetry.QueryMetrics(rr.QueryMetricsRequest()))
    reversed_range = await refused(
        telemetry.QueryMetrics(rr.QueryMetricsRequest(name="x", start_time=at(T0 + SECOND), end_time=at(T0)))
    )
    too_fine = await refused(
        telemetry.QueryMetrics(
            rr.QueryMetricsRequest(
                name="x", start_time=at(T0), end_time=at(T0 + 86_400 * SECOND), step=duration_pb2.Duration(seconds=1)
            )
        )
    )

    assert (nameless.code, nameless.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["name"])
    assert reversed_range.fields == ["start_time"]
    assert too_fine.fields == ["step"]


async def test_the_default_window_is_the_last_hour_in_minutes(telemetry, otlp_traces) -> None:
    import time

    await otlp_traces.Export(traces_request(*run_spans("recent", time.time_ns() - 5 * SECOND)))

    result = await telemetry.QueryMetrics(
        rr.QueryMetricsRequest(name="pipeline_runs_finished_total", labels={"pipeline": "recent"})
    )

    assert [p.count for s in result.series for p in s.points] == [1]
    assert all(p.time.ToNanoseconds() % (60 * SECOND) == 0 for s in result.series for p in s.points)
