"""Telemetry through a real stack: one trace per run with properly parented spans from
Envoy's caller down to the registry lookup, the plugin host and the plugin itself,
`ia-modules trace`, the Prometheus metrics each service serves, and dashboards and
alerts that only name exported metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ia.executor.v1 import request_response_pb2 as executor_requests
from ia.executor.v1 import service_pb2_grpc as executor_grpc
from ia.telemetry.v1 import message_pb2 as telemetry_messages
from ia.telemetry.v1 import request_response_pb2 as telemetry_requests
from ia.telemetry.v1 import service_pb2_grpc as telemetry_grpc
from ia_modules import stack
from ia_modules.client import Client, to_struct

from e2e_http import json_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ROOT = Path(__file__).resolve().parents[3]
_METRICS_PORT = re.compile(r"metrics on \S+:(\d+)")
# Series Prometheus makes itself while scraping, not any service.
PROMETHEUS_OWN = {"up"}


def metrics_port(status: stack.StackStatus, service: str) -> int:
    """The /metrics port a stack service logged (`metrics on <host>:<port>`)."""
    found = _METRICS_PORT.findall(status.services[service].log_path.read_text())
    assert found, f"{service} did not log `metrics on <host>:<port>`"
    return int(found[-1])


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return reply.read().decode()


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample a /metrics endpoint serves, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics_text(port))
        for sample in family.samples
    }


# The series Prometheus stores for a family of each type, by suffix.
_SERIES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


def exported_names(status: stack.StackStatus) -> set[str]:
    """Every series name any gRPC service of the stack exports. A family declared but not
    yet observed (a plugin metric before any plugin call) counts: Prometheus knows its
    name from the first scrape that shows a sample, and a query of it is well formed."""
    names = set()
    for service in (spec.name for spec in stack.SERVICES if spec.grpc_services):
        for family in text_string_to_metric_families(metrics_text(metrics_port(status, service))):
            names.update(sample.name for sample in family.samples)
            names.update(family.name + suffix for suffix in _SERIES.get(family.type, ("",)))
    return names


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def poll_trace(telemetry: telemetry_grpc.TelemetryServiceStub, trace_id: str, whole: Any, missing: Any) -> Any:
    """Polls until `whole(trace)` holds (spans arrive in batches, after the run); the trace.
    `missing(trace)` says what was still missing if it never does."""
    deadline = time.monotonic() + 30
    trace = None
    while True:
        try:
            trace = telemetry.GetTrace(telemetry_requests.GetTraceRequest(trace_id=trace_id), timeout=10).trace
            if whole(trace):
                return trace
        except grpc.RpcError as error:
            if error.code() is not grpc.StatusCode.NOT_FOUND:
                raise
        assert time.monotonic() < deadline, f"trace {trace_id} did not arrive whole in time: {missing(trace)}"
        time.sleep(0.1)


def wait_for_trace(telemetry: telemetry_grpc.TelemetryServiceStub, trace_id: str, expected: int) -> Any:
    """The trace, once it holds `expected` spans."""
    return poll_trace(
        telemetry,
        trace_id,
        lambda trace: len(trace.spans) >= expected,
        lambda trace: f"{len(trace.spans) if trace else 0} of {expected} spans",
    )


def wait_for_spans(
    telemetry: telemetry_grpc.TelemetryServiceStub, trace_id: str, wanted: set[tuple[str, str, int]]
) -> dict[tuple[str, str, int], Any]:
    """The trace's spans by (service, name, kind), once it holds one of each wanted."""

    def spans(trace: Any) -> dict[tuple[str, str, int], Any]:
        return {(s.service, s.name, s.kind): s for s in trace.spans} if trace else {}

    return spans(
        poll_trace(
            telemetry,
            trace_id,
            lambda trace: wanted <= spans(trace).keys(),
            lambda trace: f"it lacks {wanted - spans(trace).keys()}; it has {list(spans(trace))}",
        )
    )


@pytest.fixture(scope="module")
def channel(endpoint: str) -> Any:
    with grpc.insecure_channel(endpoint) as opened:
        yield opened


def traced_run(channel: Any, client: Client, pipeline_name: str, inputs: dict[str, Any]) -> tuple[str, str, str]:
    """Starts a run with a traceparent of our own, waits for its end; (run id, trace id, our span id)."""
    trace_id, parent_id = os.urandom(16).hex(), os.urandom(8).hex()
    started = executor_grpc.ExecutorServiceStub(channel).StartRun(
        executor_requests.StartRunRequest(pipeline_name=pipeline_name, inputs=to_struct(inputs)),
        metadata=(("traceparent", f"00-{trace_id}-{parent_id}-01"),),
        timeout=30,
    )
    client.wait_run(started.run.run_id)
    return started.run.run_id, trace_id, parent_id


def test_a_run_is_one_trace_from_the_caller_through_envoy_to_the_registry(
    channel, client: Client, example, pipeline_name: str
) -> None:
    client.create_pipeline(example("hello.json", pipeline_name))
    run_id, trace_id, caller = traced_run(channel, client, pipeline_name, {"who": "trace", "times": 1})
    telemetry = telemetry_grpc.TelemetryServiceStub(channel)

    # StartRun, GetPipeline (client and server), the run, greet, its condition, sign.
    trace = wait_for_trace(telemetry, trace_id, expected=7)
    listed = telemetry.ListTraces(telemetry_requests.ListTracesRequest(run_id=run_id), timeout=10)

    spans = {(s.service, s.name, s.kind): s for s in trace.spans}
    start_run = spans["executor", "/ia.executor.v1.ExecutorService/StartRun", telemetry_messages.SPAN_KIND_SERVER]
    lookup_out = spans["executor", "/ia.registry.v1.RegistryService/GetPipeline", telemetry_messages.SPAN_KIND_CLIENT]
    lookup_in = spans["registry", "/ia.registry.v1.RegistryService/GetPipeline", telemetry_messages.SPAN_KIND_SERVER]
    run = spans["executor", f"run {pipeline_name}", telemetry_messages.SPAN_KIND_INTERNAL]
    greet = spans["executor", "step greet", telemetry_messages.SPAN_KIND_INTERNAL]
    sign = spans["executor", "step sign", telemetry_messages.SPAN_KIND_INTERNAL]
    condition = spans["executor", "condition greet -> cheer", telemetry_messages.SPAN_KIND_INTERNAL]
    assert [t.trace_id for t in listed.traces] == [trace_id]
    assert start_run.parent_span_id == caller
    assert lookup_out.parent_span_id == start_run.span_id
    assert lookup_in.parent_span_id == lookup_out.span_id
    assert run.parent_span_id == start_run.span_id
    assert greet.parent_span_id == sign.parent_span_id == run.span_id
    assert condition.parent_span_id == greet.span_id
    assert dict(run.attributes) == {
        "ia.kind": "run", "run_id": run_id, "pipeline": pipeline_name, "status": "succeeded"
    }  # fmt: skip
    assert (greet.attributes["step_id"], greet.attributes["attempt"], greet.attributes["iteration"]) == ("greet", 1, 0)
    assert greet.attributes["status"] == "succeeded" and greet.attributes["run_id"] == run_id
    assert condition.attributes["fired"] is False
    assert condition.attributes["reason"].startswith("result.times >= 2 was false")
    assert not any(s.name == "step cheer" for s in trace.spans)
    assert trace.summary.run_id == run_id and trace.summary.status == telemetry_messages.SPAN_STATUS_OK


def test_ia_modules_trace_prints_the_runs_span_tree(
    channel, client: Client, endpoint: str, example, pipeline_name: str
) -> None:
    client.create_pipeline(example("hello.json", pipeline_name))
    run_id, trace_id, _ = traced_run(channel, client, pipeline_name, {"who": "cli", "times": 2})
    wait_for_trace(telemetry_grpc.TelemetryServiceStub(channel), trace_id, expected=8)

    result = subprocess.run(
        [sys.executable, "-m", "ia_modules.cli", "--endpoint", endpoint, "trace", run_id],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Trace {trace_id} (") and f"run {run_id} of {pipeline_name}" in lines[0]
    tree = "\n".join(lines[1:])
    assert re.search(r"^/ia\.executor\.v1\.ExecutorService/StartRun \([\d.]+m?s\)  executor", tree, re.M)
    assert re.search(rf"^(│  |   )*[└├]─ run {pipeline_name} \([\d.]+m?s\)  executor  succeeded", tree, re.M)
    assert re.search(r"^(│  |   )*[└├]─ step greet \([\d.]+m?s\)  executor  succeeded", tree, re.M)
    assert re.search(r"[└├]─ condition greet -> cheer \(.*\)  executor  fired", tree)


def test_a_run_moves_the_executors_metrics_by_the_expected_counts(
    ia_stack: stack.StackStatus, channel, client: Client, example, pipeline_name: str
) -> None:
    port = metrics_port(ia_stack, "executor")
    client.create_pipeline(example("hello.json", pipeline_name))
    before = scrape(port)

    for times in (1, 3):
        traced_run(channel, client, pipeline_name, {"who": "metrics", "times": times})
    after = scrape(port)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    p = pipeline_name
    assert moved("pipeline_runs_started_total", pipeline=p) == 2
    assert moved("pipeline_runs_finished_total", pipeline=p, state="succeeded") == 2
    assert moved("pipeline_execution_duration_seconds_count", pipeline=p, status="succeeded") == 2
    assert moved("pipeline_step_duration_seconds_count", pipeline=p, step="greet", status="succeeded") == 2
    assert moved("pipeline_step_duration_seconds_count", pipeline=p, step="sign", status="succeeded") == 2
    assert moved("pipeline_step_duration_seconds_count", pipeline=p, step="cheer", status="succeeded") == 1
    assert value(after, "pipeline_parallel_steps_concurrent", pipeline=p) == 0
    assert value(after, "pipeline_runs_active", pipeline=p, state="running") == 0
    assert not [key for key in after if key[0] == "pipeline_step_errors_total" and ("pipeline", p) in key[1]]
    handled = "grpc_server_handled_total"
    start_runs = {
        "grpc_service": "ia.executor.v1.ExecutorService",
        "grpc_method": "StartRun",
        "grpc_type": "unary",
        "grpc_code": "OK",
    }
    assert moved(handled, **start_runs) == 2


def test_the_telemetry_service_charts_what_the_executor_traced(
    channel, client: Client, example, pipeline_name: str
) -> None:
    client.create_pipeline(example("hello.json", pipeline_name))
    _, trace_id, _ = traced_run(channel, client, pipeline_name, {"who": "chart", "times": 1})
    telemetry = telemetry_grpc.TelemetryServiceStub(channel)
    wait_for_trace(telemetry, trace_id, expected=7)

    charted = telemetry.QueryMetrics(
        telemetry_requests.QueryMetricsRequest(
            name="pipeline_step_duration_seconds", labels={"pipeline": pipeline_name}, group_by=["step"]
        ),
        timeout=10,
    )

    assert {s.labels["step"]: sum(p.count for p in s.points) for s in charted.series} == {"greet": 1, "sign": 1}


_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "le",
    "inf", "nan",
}  # fmt: skip


def metric_names_in(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names (in `{...}`, `by (...)`) or template variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group() in _PROMQL_WORDS:
            continue
        names.add(match.group())
    return names


def test_dashboard_panels_and_alert_rules_only_query_exported_metrics(ia_stack: stack.StackStatus) -> None:
    exported = exported_names(ia_stack) | PROMETHEUS_OWN
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "ia-modules.json").read_text())
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())

    queried = {
        f"panel {panel['title']!r}": metric_names_in(target["expr"])
        for panel in dashboard["panels"]
        for target in panel["targets"]
    }
    queried.update(
        {f"rule {rule['alert']}": metric_names_in(rule["expr"]) for group in rules["groups"] for rule in group["rules"]}
    )

    missing = {where: sorted(names - exported) for where, names in queried.items() if names - exported}
    assert all(queried.values()), "every panel and rule reads at least one metric"
    assert not missing, f"queries name metrics no service exports: {missing}"


def test_the_promql_name_reader_finds_names_and_skips_the_rest() -> None:
    expression = (
        "histogram_quantile(0.95, sum by (le, pipeline) (rate(pipeline_step_duration_seconds_bucket"
        '{pipeline=~"$pipeline",status="ok"}[$__rate_interval]))) / on (job) group_left up == bool 0'
        " and ignoring(x) other_total offset 5m"
    )

    assert metric_names_in(expression) == {"pipeline_step_duration_seconds_bucket", "up", "other_total"}


# ----- a plugin's span in the run's trace ------------------------------------------------------

SERVER, CLIENT = telemetry_messages.SPAN_KIND_SERVER, telemetry_messages.SPAN_KIND_CLIENT
EXECUTE_STEP = "/ia.plugin.v1.PluginService/ExecuteStep"
RESOLVE = "/ia.pluginhost.v1.PluginHostService/ResolvePlugin"


@pytest.fixture
def greeting_url() -> Iterator[str]:
    with json_server({"greeting": "hello"}, "/greeting") as url:
        yield url


def test_a_plugin_steps_own_span_is_in_the_runs_trace_under_the_executors_call(
    ia_stack: stack.StackStatus, channel, client: Client, endpoint: str, pipeline_name: str, greeting_url: str
) -> None:
    fetch = {"id": "fetch", "plugin": "http_request", "config": {"url": greeting_url}}
    client.create_pipeline({"name": pipeline_name, "steps": [fetch]})
    calls = ("plugin_call_duration_seconds_count", {"plugin": "http_request", "method": "ExecuteStep", "status": "OK"})
    before = value(scrape(metrics_port(ia_stack, "executor")), calls[0], **calls[1])
    run_id, trace_id, _ = traced_run(channel, client, pipeline_name, {})
    telemetry = telemetry_grpc.TelemetryServiceStub(channel)

    step_key = ("executor", "step fetch", telemetry_messages.SPAN_KIND_INTERNAL)
    calling_key, called_key = ("executor", EXECUTE_STEP, CLIENT), ("plugin io", EXECUTE_STEP, SERVER)
    spans = wait_for_spans(telemetry, trace_id, {step_key, calling_key, called_key})
    result = subprocess.run(
        [sys.executable, "-m", "ia_modules.cli", "--endpoint", endpoint, "trace", run_id],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    step, calling, called = spans[step_key], spans[calling_key], spans[called_key]
    assert calling.parent_span_id == step.span_id
    assert called.parent_span_id == calling.span_id
    assert called.status == telemetry_messages.SPAN_STATUS_OK
    assert (called.attributes["plugin"], called.attributes["run_id"], called.attributes["step_id"]) == (
        "http_request", run_id, "fetch"
    )  # fmt: skip
    assert called.attributes["rpc.grpc.status_code"] == 0
    assert result.returncode == 0, result.stderr
    assert re.search(r"[└├]─ /ia\.plugin\.v1\.PluginService/ExecuteStep \([\d.]+m?s\)  plugin io", result.stdout)
    # The executor timed its call; the plugin host reports the plugin's process as running.
    assert value(scrape(metrics_port(ia_stack, "executor")), calls[0], **calls[1]) - before == 1
    assert value(scrape(metrics_port(ia_stack, "plugin_host")), "plugin_processes_running", plugin="io") == 1


def test_the_first_run_of_a_plugin_traces_its_resolution_by_the_plugin_host_and_a_failed_call(
    channel, client: Client, pipeline_name: str
) -> None:
    # No other test of this stack runs sql_query: the executor resolves it in this run.
    query = {"url": "sqlite:////no-such-folder/none.db", "query": "select 1"}
    client.create_pipeline({"name": pipeline_name, "steps": [{"id": "count", "plugin": "sql_query", "config": query}]})
    _, trace_id, _ = traced_run(channel, client, pipeline_name, {})
    telemetry = telemetry_grpc.TelemetryServiceStub(channel)

    step_key = ("executor", "step count", telemetry_messages.SPAN_KIND_INTERNAL)
    resolving_key, resolved_key = ("executor", RESOLVE, CLIENT), ("plugins", RESOLVE, SERVER)
    called_key = ("plugin io", EXECUTE_STEP, SERVER)
    spans = wait_for_spans(telemetry, trace_id, {step_key, resolving_key, resolved_key, called_key})

    assert spans[resolving_key].parent_span_id == spans[step_key].span_id
    assert spans[resolved_key].parent_span_id == spans[resolving_key].span_id
    called = spans[called_key]
    assert called.parent_span_id == spans["executor", EXECUTE_STEP, CLIENT].span_id
    assert called.status == telemetry_messages.SPAN_STATUS_ERROR
    assert called.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNKNOWN.value[0]
