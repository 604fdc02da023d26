"""`ia-modules trace`: a run's spans from the telemetry service, as a tree or as JSON."""

from __future__ import annotations

import asyncio
import json

from telemetry_testing import NOW_NS, new_span_id, new_trace_id, span, traces_request
from typer.testing import CliRunner

from ia_modules.cli.main import app
from ia_modules.cli.trace import duration_text

MS = 1_000_000


def run_trace(run_id: str) -> tuple[str, object]:
    trace_id, call, run, greet, store = new_trace_id(), new_span_id(), new_span_id(), new_span_id(), new_span_id()
    run_attributes = {"ia_kind": "run", "pipeline": "hello", "run_id": run_id, "status": "succeeded"}
    greet_attributes = {"ia_kind": "step", "step_id": "greet", "attempt": 1, "iteration": 0, "status": "succeeded"}
    store_attributes = {"ia_kind": "step", "step_id": "store", "attempt": 2, "iteration": 0, "status": "failed"}
    condition_attributes = {
        "condition.expression": "parameters.times >= 2",
        "fired": False,
        "reason": "parameters.times >= 2 was false",
    }
    request = traces_request(
        span("/ia.executor.v1.ExecutorService/StartRun", trace_id, span_id=call, duration_ns=4 * MS),
        span(
            "run hello", trace_id, span_id=run, parent=call, start_ns=NOW_NS + MS, duration_ns=342 * MS,
            **run_attributes,
        ),
        span(
            "step greet", trace_id, span_id=greet, parent=run, start_ns=NOW_NS + 2 * MS, duration_ns=120 * MS,
            **greet_attributes,
        ),
        span(
            "condition greet -> cheer", trace_id, parent=greet, start_ns=NOW_NS + 122 * MS, duration_ns=0,
            **condition_attributes,
        ),
        span(
            "step store", trace_id, span_id=store, parent=run, start_ns=NOW_NS + 130 * MS, duration_ns=42 * MS,
            error=True, **store_attributes,
        ),
    )  # fmt: skip
    return trace_id.hex(), request


async def invoke(*args: str) -> object:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_the_tree_shows_each_span_under_its_parent_with_durations(telemetry_server_, otlp_traces) -> None:
    trace_id, request = run_trace("run-tree")
    await otlp_traces.Export(request)

    result = await invoke("--endpoint", telemetry_server_.address, "trace", "run-tree")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Trace {trace_id} (343ms, 5 spans, run run-tree of hello)"
    assert lines[1].startswith("/ia.executor.v1.ExecutorService/StartRun (4ms)  executor")
    assert lines[2].startswith("└─ run hello (342ms)  executor  succeeded")
    assert lines[3].startswith("   ├─ step greet (120ms)  executor  succeeded")
    assert lines[4].startswith(
        "   │  └─ condition greet -> cheer (0.00ms)  executor  not taken: parameters.times >= 2 was false"
    )
    assert lines[5].startswith("   └─ step store (42ms)  executor  failed, attempt 2  error")


async def test_json_nests_the_spans_for_scripts(telemetry_server_, otlp_traces) -> None:
    trace_id, request = run_trace("run-json")
    await otlp_traces.Export(request)

    result = await invoke("--endpoint", telemetry_server_.address, "trace", trace_id, "--format", "json")

    (trace,) = json.loads(result.output)["traces"]
    (root,) = trace["spans"]
    (run,) = root["children"]
    assert (trace["trace_id"], trace["run_id"], trace["span_count"]) == (trace_id, "run-json", 5)
    assert [child["name"] for child in run["children"]] == ["step greet", "step store"]
    assert run["children"][1]["status"] == "ERROR"
    assert run["duration_ms"] == 342.0


async def test_an_unknown_run_is_one_clear_line(telemetry_server_) -> None:
    result = await invoke("--endpoint", telemetry_server_.address, "trace", "no-such-run")

    assert result.exit_code == 1
    assert "no trace of run no-such-run is stored" in result.output


def test_durations_read_naturally() -> None:
    assert [duration_text(s) for s in (0.0004, 0.342, 1.25, 123)] == ["0.40ms", "342ms", "1.25s", "2m03s"]
