"""Each exporter against a real local receiver: StatsD and DogStatsD on a UDP socket,
Datadog's series API on a local HTTP server, CloudWatch on moto's server (the local
stand-in for AWS), EMF lines in a file, and OTLP forwarded to a second telemetry service."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from prometheus_client import REGISTRY
from telemetry_testing import NOW_NS, new_span_id, new_trace_id, span, traces_request

from ia.telemetry.v1 import request_response_pb2 as rr
from ia_telemetry.exporters import Exporters, ExportSettings
from ia_telemetry.exporters.outbox import Outbox
from ia_telemetry.exporters.statsd import MAX_DATAGRAM_BYTES, datagrams
from ia_telemetry.points import COUNT, DURATION, GAUGE, MetricPoint

FAST = {"interval_s": 0.05}


def one_run(pipeline: str = "etl") -> Any:
    trace_id, run = new_trace_id(), new_span_id()
    return traces_request(
        span(
            "run", trace_id, span_id=run, duration_ns=2_000_000_000, ia_kind="run", pipeline=pipeline, status="failed",
        ),
        span(
            "step load", trace_id, parent=run, duration_ns=250_000_000, ia_kind="step", pipeline=pipeline,
            step_id="load", status="failed", error_type="STEP_ERROR",
        ),
    )  # fmt: skip


class UdpListener:
    """Collects the lines of every datagram sent to it."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"

    async def lines(self, count: int) -> list[str]:
        received: list[str] = []
        loop = asyncio.get_running_loop()
        while len(received) < count:
            packet = await asyncio.wait_for(loop.sock_recv(self.socket, 65535), 10)
            received.extend(packet.decode().split("\n"))
        return received


@pytest.fixture
def udp() -> Iterator[UdpListener]:
    listener = UdpListener()
    listener.socket.setblocking(False)
    yield listener
    listener.socket.close()


async def test_statsd_gets_timers_and_counters_with_graphite_tags(start_telemetry, connect, udp) -> None:
    stubs = connect(await start_telemetry(exports=ExportSettings(statsd=udp.address, **FAST)))

    await stubs.traces.Export(one_run())
    lines = await udp.lines(4)

    assert sorted(lines) == sorted(
        [
            "pipeline_execution_duration_seconds;pipeline=etl;status=failed:2000|ms",
            "pipeline_runs_finished_total;pipeline=etl;state=failed:1|c",
            "pipeline_step_duration_seconds;pipeline=etl;status=failed;step=load:250|ms",
            "pipeline_step_errors_total;error_type=STEP_ERROR;pipeline=etl;step=load:1|c",
        ]
    )


async def test_dogstatsd_gets_the_same_points_with_hash_tags(start_telemetry, connect, udp) -> None:
    stubs = connect(await start_telemetry(exports=ExportSettings(dogstatsd=udp.address, **FAST)))

    await stubs.traces.Export(one_run("tagged"))
    lines = await udp.lines(4)

    assert "pipeline_step_duration_seconds:250|ms|#pipeline:tagged,status:failed,step:load" in lines
    assert "pipeline_step_errors_total:1|c|#error_type:STEP_ERROR,pipeline:tagged,step:load" in lines


def test_statsd_lines_are_packed_into_datagrams_under_the_size_limit() -> None:
    lines = [f"metric_{i}:1|c|#pipeline:p" for i in range(500)]

    packets = datagrams(lines)

    assert all(len(p) <= MAX_DATAGRAM_BYTES for p in packets)
    assert [line for p in packets for line in p.decode().split("\n")] == lines


class SeriesApi(BaseHTTPRequestHandler):
    """Datadog's /api/v1/series, keeping what it is sent."""

    received: list[tuple[str, str, dict]] = []
    got_one = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.path, self.headers["DD-API-KEY"], body))
        type(self).got_one.set()
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')

    def log_message(self, *args: Any) -> None:
        """Quiet."""


async def test_datadog_gets_series_json_with_the_api_key(start_telemetry, connect) -> None:
    class Api(SeriesApi):
        received = []
        got_one = threading.Event()

    http = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{http.server_port}"
        stubs = connect(await start_telemetry(exports=ExportSettings(datadog_url=url, datadog_api_key="k-123", **FAST)))
        await stubs.traces.Export(one_run("dd"))
        assert await asyncio.to_thread(Api.got_one.wait, 10)
    finally:
        http.shutdown()
        http.server_close()

    path, key, body = Api.received[0]
    series = {entry["metric"]: entry for entry in body["series"]}
    assert (path, key) == ("/api/v1/series", "k-123")
    assert series["pipeline_step_duration_seconds"]["type"] == "gauge"
    assert series["pipeline_step_duration_seconds"]["points"][0][1] == 0.25
    assert sorted(series["pipeline_step_duration_seconds"]["tags"]) == ["pipeline:dd", "status:failed", "step:load"]
    assert series["pipeline_step_errors_total"]["type"] == "count"
    assert series["pipeline_step_errors_total"]["points"][0] == [(NOW_NS + 250_000_000) // 10**9, 1]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


async def test_cloudwatch_put_metric_data_reaches_the_aws_stand_in(
    start_telemetry, connect, moto_url, aws_test_credentials
) -> None:
    namespace = f"IAModules/{new_trace_id().hex()[:8]}"
    settings = ExportSettings(cloudwatch_namespace=namespace, cloudwatch_endpoint=moto_url, **FAST)
    server = await start_telemetry(exports=settings)
    stubs = connect(server)
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_url)

    await stubs.traces.Export(one_run("cw"))

    async def listed() -> list[dict]:
        while True:
            found = (await asyncio.to_thread(cloudwatch.list_metrics, Namespace=namespace))["Metrics"]
            if len(found) >= 4:
                return found
            await asyncio.sleep(0.05)

    metrics = await asyncio.wait_for(listed(), 10)
    dimensions = {m["MetricName"]: {d["Name"]: d["Value"] for d in m["Dimensions"]} for m in metrics}
    assert dimensions["pipeline_step_duration_seconds"] == {"pipeline": "cw", "status": "failed", "step": "load"}
    assert dimensions["pipeline_step_errors_total"] == {"error_type": "STEP_ERROR", "pipeline": "cw", "step": "load"}


async def test_emf_lines_are_cloudwatch_embedded_metric_documents(tmp_path: Path) -> None:
    target = tmp_path / "emf.log"
    exporters = Exporters(ExportSettings(emf=str(target), emf_namespace="IA", **FAST))
    exporters.offer_points(
        [
            MetricPoint.single(
                "pipeline_step_duration_seconds",
                {"pipeline": "p", "step": "s"},
                1_700_000_000_123_000_000,
                DURATION,
                0.5,
            )
        ]
    )

    await exporters.flush()
    await exporters.stop()

    (document,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert document["_aws"]["Timestamp"] == 1_700_000_000_123
    assert document["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "IA",
            "Dimensions": [["pipeline", "step"]],
            "Metrics": [{"Name": "pipeline_step_duration_seconds", "Unit": "Seconds"}],
        }
    ]
    assert (document["pipeline"], document["step"], document["pipeline_step_duration_seconds"]) == ("p", "s", 0.5)


async def test_otlp_requests_are_forwarded_upstream_as_received(start_telemetry, connect) -> None:
    upstream = await start_telemetry("upstream")
    downstream = await start_telemetry("downstream", exports=ExportSettings(otlp=upstream.address, **FAST))
    request = one_run("forwarded")
    trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()

    await connect(downstream).traces.Export(request)

    async def arrived() -> rr.GetTraceResponse:
        while True:
            found = await connect(upstream).telemetry.ListTraces(rr.ListTracesRequest(pipeline="forwarded"))
            if found.traces:
                return found
            await asyncio.sleep(0.05)

    found = await asyncio.wait_for(arrived(), 10)
    assert [t.trace_id for t in found.traces] == [trace_id]


def dropped(exporter: str, reason: str) -> float:
    return (
        REGISTRY.get_sample_value("ia_telemetry_export_dropped_total", {"exporter": exporter, "reason": reason}) or 0.0
    )


class BrokenSink:
    name = "broken-test-sink"

    def send(self, items: Any) -> None:
        raise ConnectionRefusedError("nobody listens")

    def close(self) -> None:
        """Nothing to close."""


async def test_a_full_outbox_drops_new_points_and_counts_them() -> None:
    before = dropped("broken-test-sink", "queue_full")
    outbox = Outbox(BrokenSink(), max_items=3)
    point = MetricPoint.single("x", {}, 1, GAUGE, 1.0)

    outbox.offer([point] * 5)

    assert dropped("broken-test-sink", "queue_full") - before == 2


async def test_a_failing_destination_counts_what_it_lost_and_keeps_going() -> None:
    before = dropped("broken-test-sink", "send_failed")
    outbox = Outbox(BrokenSink(), max_items=100)
    outbox.offer([MetricPoint.single("x", {}, 1, COUNT, 1.0)] * 4)

    await outbox.flush()
    outbox.offer([MetricPoint.single("x", {}, 1, COUNT, 1.0)])
    await outbox.flush()

    assert dropped("broken-test-sink", "send_failed") - before == 5


def test_export_settings_come_from_the_environment() -> None:
    settings = ExportSettings.from_env(
        {
            "IA_EXPORT_STATSD": "127.0.0.1:8125",
            "IA_EXPORT_DATADOG_URL": "http://dd",
            "DD_API_KEY": "k",
            "IA_EXPORT_INTERVAL_MS": "250",
        }
    )

    assert (settings.statsd, settings.datadog_url, settings.datadog_api_key, settings.interval_s) == (
        "127.0.0.1:8125",
        "http://dd",
        "k",
        0.25,
    )
    with pytest.raises(ValueError, match="API key"):
        ExportSettings.from_env({"IA_EXPORT_DATADOG_URL": "http://dd"})
    with pytest.raises(ValueError, match="IA_EXPORT_QUEUE_SIZE"):
        ExportSettings.from_env({"IA_EXPORT_QUEUE_SIZE": "-3"})
