"""RecordBenchmark, ListBenchmarks and GetBenchmark: the benchmark suite's history."""

from __future__ import annotations

import grpc
from google.protobuf import timestamp_pb2
from telemetry_testing import refused

from ia.telemetry.v1 import message_pb2
from ia.telemetry.v1 import request_response_pb2 as rr


def suite_run(suite: str, start_s: int, **labels: str) -> message_pb2.BenchmarkRun:
    run = message_pb2.BenchmarkRun(suite=suite, machine="2 cores", mode="quick", labels=labels, notes=["quick mode"])
    run.start_time.CopyFrom(timestamp_pb2.Timestamp(seconds=start_s))
    run.figures.add(
        metric="10-step run p50",
        unit="ms",
        value=9.3,
        baseline=1.2,
        baseline_name="bare",
        target_kind="ratio",
        target=5,
        met=False,
        samples=60,
    )
    run.figures.add(metric="runs/s", unit="runs/s", value=120.0)
    return run


async def test_a_recorded_run_comes_back_whole_with_an_id(telemetry) -> None:
    recorded = (
        await telemetry.RecordBenchmark(rr.RecordBenchmarkRequest(benchmark=suite_run("grpc", 1_000, commit="abc")))
    ).benchmark
    fetched = (await telemetry.GetBenchmark(rr.GetBenchmarkRequest(benchmark_id=recorded.benchmark_id))).benchmark

    assert recorded.benchmark_id and recorded.HasField("create_time")
    assert fetched == recorded
    assert fetched.figures[0].HasField("baseline") and fetched.figures[0].met is False
    assert not fetched.figures[1].HasField("baseline") and not fetched.figures[1].HasField("met")
    assert dict(fetched.labels) == {"commit": "abc"}


async def test_the_same_request_id_records_once(telemetry) -> None:
    request = rr.RecordBenchmarkRequest(benchmark=suite_run("engine", 1_000), request_id="ci-42-engine")

    first = (await telemetry.RecordBenchmark(request)).benchmark
    again = (await telemetry.RecordBenchmark(request)).benchmark
    listed = await telemetry.ListBenchmarks(rr.ListBenchmarksRequest(suite="engine"))

    assert again.benchmark_id == first.benchmark_id
    assert len(listed.benchmarks) == 1


async def test_history_is_newest_first_filtered_and_paged(telemetry) -> None:
    for index in range(5):
        telemetry_on = "off" if index % 2 else "on"
        await telemetry.RecordBenchmark(
            rr.RecordBenchmarkRequest(benchmark=suite_run("grpc", 1_000 + index, telemetry=telemetry_on))
        )
    await telemetry.RecordBenchmark(rr.RecordBenchmarkRequest(benchmark=suite_run("engine", 5_000)))

    pages, token = [], ""
    while True:
        page = await telemetry.ListBenchmarks(rr.ListBenchmarksRequest(suite="grpc", page_size=2, page_token=token))
        pages.append([b.start_time.seconds for b in page.benchmarks])
        token = page.next_page_token
        if not token:
            break
    off = await telemetry.ListBenchmarks(rr.ListBenchmarksRequest(labels={"telemetry": "off"}))

    assert pages == [[1004, 1003], [1002, 1001], [1000]]
    assert [b.start_time.seconds for b in off.benchmarks] == [1003, 1001]


async def test_refusals_name_the_field_or_the_missing_run(telemetry) -> None:
    no_suite = await refused(telemetry.RecordBenchmark(rr.RecordBenchmarkRequest(benchmark=message_pb2.BenchmarkRun())))
    unnamed = suite_run("grpc", 1)
    unnamed.figures.add(unit="ms", value=1)
    no_metric = await refused(telemetry.RecordBenchmark(rr.RecordBenchmarkRequest(benchmark=unnamed)))
    missing = await refused(telemetry.GetBenchmark(rr.GetBenchmarkRequest(benchmark_id="nope")))

    assert (no_suite.code, no_suite.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["benchmark.suite"])
    assert no_metric.fields == ["benchmark.figures[2].metric"]
    assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "BENCHMARK_NOT_FOUND")
