"""The dashboard in a real browser against a real stack.

One stack of its own (its executor is restarted mid-test), the built app in
web/dist served through Envoy, and Chromium driven by web/e2e/dashboard.mjs
(playwright-core). The script reports what it saw, one JSON line per scenario;
each test here asserts on one scenario. Screenshots of every page, desktop and
narrow, go to build/screenshots/.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from google.protobuf.timestamp_pb2 import Timestamp

from ia.telemetry.v1 import message_pb2 as telemetry_messages
from ia.telemetry.v1 import request_response_pb2 as telemetry_requests
from ia.telemetry.v1 import service_pb2_grpc as telemetry_service
from ia_modules import stack
from ia_modules.client import Client

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "web"
SCRIPT = WEB / "e2e" / "dashboard.mjs"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCRIPT_TIMEOUT_S = 240

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web"), pytest.mark.timeout(400)]


def _newest(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)


@pytest.fixture(scope="module")
def built_app() -> Path:
    """web/dist, built again when a source is newer than it (`make` builds it first)."""
    # `make test` installs all of these, so under CI their absence is a failure.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if shutil.which("node") is None or not Path(CHROMIUM).is_file():
        missing(f"node and {CHROMIUM} are needed: `make tools` installs them")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        missing("web/node_modules is missing: `make web` runs npm ci")
    index = WEB / "dist" / "index.html"
    sources = max(_newest(WEB / "src"), (WEB / "index.html").stat().st_mtime, _newest(ROOT / "sdk" / "typescript" / "dist"))
    if not index.is_file() or index.stat().st_mtime < sources:
        subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, capture_output=True, timeout=300)
    return WEB / "dist"


@pytest.fixture(scope="module")
def web_stack(built_app: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.StackStatus]:
    data_dir = tmp_path_factory.mktemp("ia-web")
    ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
    status = stack.up(data_dir, ports=ports)
    yield status
    stack.down(data_dir)


def _register(client: Client, prefix: str) -> None:
    client.create_pipeline(
        {
            "name": f"{prefix}-approval",
            "parameters": {"title": "Team lunch", "amount": 120},
            "steps": [
                {"id": "draft", "type": "pass", "inputs": {"title": "{{ parameters.title }}", "amount": "{{ parameters.amount }}"}},
                {
                    "id": "review",
                    "type": "human_input",
                    "inputs": {"title": "{{ draft.title }}", "amount": "{{ draft.amount }}"},
                    "human_input": {
                        "prompt": "Approve this expense?",
                        "ui_schema": {
                            "type": "object",
                            "required": ["approved", "amount_approved"],
                            "properties": {
                                "approved": {"type": "boolean", "title": "Approve", "ui:widget": "radio"},
                                "amount_approved": {"type": "number", "title": "Amount approved", "minimum": 0, "maximum": 120},
                                "channel": {"title": "Channel", "enum": ["mail", "chat"], "enumNames": ["Mail", "Chat"]},
                                "comment": {"type": "string", "title": "Comment", "ui:widget": "textarea"},
                            },
                        },
                    },
                },
                {"id": "approved", "type": "pass", "config": {"values": {"decision": "approved"}}},
                {"id": "rejected", "type": "pass", "config": {"values": {"decision": "rejected"}}},
            ],
            "flow": {
                "start_at": "draft",
                "transitions": [
                    {"from": "draft", "to": "review"},
                    {"from": "review", "to": "approved", "condition": {"type": "cel", "expr": "result.approved == true"}},
                    {"from": "review", "to": "rejected", "condition": {"type": "cel", "expr": "result.approved == false"}},
                ],
            },
            "outputs": {"approved": "{{ review.approved }}", "amount": "{{ review.amount_approved }}"},
        }
    )
    client.create_pipeline(
        {
            "name": f"{prefix}-failing",
            "steps": [
                {"id": "prepare", "type": "pass"},
                # No plugin of this name exists: every attempt fails.
                {"id": "boom", "plugin": "no_such_plugin", "retry": {"max_attempts": 3, "initial_delay_s": 0.05}},
            ],
            "flow": {"start_at": "prepare", "transitions": [{"from": "prepare", "to": "boom"}]},
        }
    )
    client.create_pipeline(
        {
            "name": f"{prefix}-debug",
            "parameters": {"n": 40},
            "steps": [
                {"id": "fetch", "type": "pass", "inputs": {"n": "{{ parameters.n }}"}},
                {"id": "big", "type": "pass", "inputs": {"label": "big"}},
                {"id": "small", "type": "pass", "inputs": {"n": "{{ fetch.n }}", "label": "small"}},
                {"id": "report", "type": "pass", "inputs": {"label": "{{ small.label }}", "n": "{{ small.n }}"}},
            ],
            "flow": {
                "start_at": "fetch",
                "transitions": [
                    {"from": "fetch", "to": "big", "condition": {"type": "cel", "expr": "result.n > 10"}},
                    {"from": "fetch", "to": "small", "condition": {"type": "cel", "expr": "result.n <= 10"}},
                    {"from": "small", "to": "report"},
                ],
            },
            "outputs": {"label": "{{ report.label }}", "n": "{{ report.n }}"},
        }
    )
    client.create_pipeline(
        {
            "name": f"{prefix}-slow",
            "steps": [
                {"id": "first", "type": "pass"},
                {"id": "hold", "type": "wait", "wait": {"seconds": 2}},
                {"id": "last", "type": "pass"},
            ],
            "flow": {"start_at": "first", "transitions": [{"from": "first", "to": "hold"}, {"from": "hold", "to": "last"}]},
        }
    )


def _record_benchmarks(endpoint: str) -> None:
    """Two runs of one suite through the telemetry API: p50 went from 20 to 15 ms, a rate from 100 to 110."""
    with grpc.insecure_channel(endpoint) as channel:
        telemetry = telemetry_service.TelemetryServiceStub(channel)
        for day, (p50, rate) in enumerate([(20.0, 100.0), (15.0, 110.0)]):
            start = Timestamp()
            start.FromSeconds(1_767_225_600 + day * 86_400)
            figures = [
                telemetry_messages.BenchmarkFigure(
                    metric="step to browser, p50", unit="ms", value=p50, baseline=100.0, target=1.0, target_kind="value", met=True
                ),
                telemetry_messages.BenchmarkFigure(metric="runs per second", unit="runs/s", value=rate),
            ]
            benchmark = telemetry_messages.BenchmarkRun(
                suite="dashboard-e2e", start_time=start, machine="test", mode="quick", figures=figures
            )
            telemetry.RecordBenchmark(telemetry_requests.RecordBenchmarkRequest(benchmark=benchmark), timeout=30)


def _restart_executor(web_stack: stack.StackStatus) -> None:
    """SIGKILL the executor, wait until it is gone, and let `up` start it again."""
    pid = stack.status(web_stack.data_dir).services["executor"].pid
    descriptor = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        readable, _, _ = select.select([descriptor], [], [], 30)
        assert readable, "the executor survived SIGKILL"
    finally:
        os.close(descriptor)
    assert stack.up(web_stack.data_dir).started == ("executor",)


@pytest.fixture(scope="module")
def seen(web_stack: stack.StackStatus, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Runs the browser script once; returns what it saw, by scenario."""
    prefix = f"web-{uuid.uuid4().hex[:8]}"
    endpoint = f"127.0.0.1:{web_stack.services[stack.ENVOY].port}"
    with Client(endpoint) as client:
        _register(client, prefix)
    _record_benchmarks(endpoint)
    env = {
        **os.environ,
        "IA_WEB_URL": f"http://{endpoint}",
        "IA_WEB_PREFIX": prefix,
        "IA_WEB_SCREENSHOTS": str(SCREENSHOTS),
        "IA_WEB_USER_DATA": str(tmp_path_factory.mktemp("chromium-profile")),
        "CHROMIUM": CHROMIUM,
    }
    process = subprocess.Popen(
        ["node", str(SCRIPT)], cwd=WEB, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    results: dict[str, dict] = {"prefix": {"name": prefix}}
    try:
        for line in process.stdout:
            report = json.loads(line)
            if "restart" in report:
                _restart_executor(web_stack)
                process.stdin.write("restarted\n")
                process.stdin.flush()
            elif "check" in report:
                results[report.pop("check")] = report
            elif report.get("done"):
                results["done"] = report
        process.wait(timeout=SCRIPT_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, process.stderr.read()
    return results


def scenario(seen: dict[str, dict], name: str) -> dict:
    assert name in seen, f"the browser script never reported {name!r}: {seen}"
    report = seen[name]
    assert "failed" not in report, report["failed"]
    return report


def test_a_pipeline_created_in_the_editor_is_listed(seen: dict[str, dict]) -> None:
    report = scenario(seen, "create")

    assert any("nowhere" in finding and "line" in finding for finding in report["findings"]), report["findings"]
    assert report["listed"] == [f"{seen['prefix']['name']}-steps"]
    assert "ALREADY_EXISTS" in report["refusal"]
    assert "PIPELINE_ALREADY_EXISTS" in report["refusal"]


def test_a_run_started_with_parameters_turns_every_step_green_live(seen: dict[str, dict]) -> None:
    report = scenario(seen, "run_live")
    steps = ["greet", "pause", "second_pause", "sign"]

    assert report["refused"] == ["who is required"]
    assert report["finalStates"] == dict.fromkeys(steps, "SUCCEEDED")
    assert report["outputs"] == {"greeting": "Hello, Playwright!"}
    # The steps turned green in order, live: each timed step was seen running, and
    # when one finished the steps after it had not. (A pass step right after a
    # timed one may finish in the same render, so the check is made when `pause` finished.)
    log = report["stateLog"]
    green_at = [next(i for i, e in enumerate(log) if e["step"] == step and e["state"] == "SUCCEEDED") for step in steps]
    assert green_at == sorted(green_at)
    for timed in ("pause", "second_pause"):
        assert any(e["step"] == timed and e["state"] == "RUNNING" for e in log)
    when_pause_finished = log[green_at[1]]["all"]
    assert when_pause_finished["second_pause"] != "SUCCEEDED", when_pause_finished
    assert when_pause_finished["sign"] != "SUCCEEDED", when_pause_finished


def test_a_human_task_refuses_a_bad_answer_then_resumes_the_run(seen: dict[str, dict]) -> None:
    report = scenario(seen, "human")

    assert report["missing"] == ["Approve: choose one", "Amount approved is required"]
    assert report["invalid"] == ["Amount approved: must be a number"]
    assert report["stillOpen"]
    assert report["approved"] == "SUCCEEDED"
    assert report["rejected"] == "SKIPPED"


def test_a_failing_step_shows_its_error_and_attempts(seen: dict[str, dict]) -> None:
    report = scenario(seen, "failure")

    assert report["attempts"] == 3
    assert "no_such_plugin" in report["error"]
    assert "boom" in report["runError"]


def test_the_monitor_survives_an_executor_restart(seen: dict[str, dict]) -> None:
    report = scenario(seen, "restart")

    assert report["finalStates"] == {"first": "SUCCEEDED", "hold": "SUCCEEDED", "last": "SUCCEEDED"}
    assert report["connection"] == "finished"


def test_dark_mode_toggles_and_the_keyboard_reaches_the_navigation(seen: dict[str, dict]) -> None:
    report = scenario(seen, "theme_keyboard")

    assert report["theme"] in {"dark", "light"}
    assert report["focused"] == "Pipelines"
    assert seen["done"]["consoleErrors"] == []


def test_the_visual_editor_adds_a_step_and_its_transition_to_the_json(seen: dict[str, dict]) -> None:
    report = scenario(seen, "graph_editor")

    assert report["steps"] == ["greet", "shout"]
    assert report["transitions"] == [{"from": "greet", "to": "shout"}]
    assert report["refused"] == "there is already a step “shout”"


def test_the_plugins_page_lists_the_plugin_host_s_plugins(seen: dict[str, dict]) -> None:
    report = scenario(seen, "plugins")

    assert report["error"] is None
    assert report["names"], "the plugin host lists no plugin, not even its built-in ones"
    assert report["health"] == "serving"
    assert report["fields"] == ["end", "start", "timezone"]
    assert "PLUGIN_NOT_FOUND" in report["missing"]


def test_the_metrics_page_charts_the_runs_and_opens_a_run_s_trace(seen: dict[str, dict]) -> None:
    report = scenario(seen, "metrics")

    assert report["finished"] >= 1
    assert {"greet", "pause", "second_pause", "sign"} <= set(report["steps"])
    assert report["bars"] >= 1
    assert report["latencyLines"] >= 1
    spans = {span["name"]: span["depth"] for span in report["spans"]}
    # The run span holds the step spans: each step sits one level below it.
    run_span = next(name for name in spans if name.startswith("run "))
    for step in ("greet", "pause", "second_pause", "sign"):
        assert spans[f"step {step}"] == spans[run_span] + 1, report["spans"]
    assert "pause" in report["details"]
    # A malformed trace id reads as the service's words, with the field at fault.
    assert "INVALID_ARGUMENT" in report["malformed"]
    assert "trace_id" in report["malformed"]


def test_the_benchmarks_page_shows_history_and_compares_two_runs(seen: dict[str, dict]) -> None:
    report = scenario(seen, "benchmarks")

    assert report["rows"] == 2
    assert report["points"] >= 1
    assert report["changes"] == {"step to browser, p50": "−25 %", "runs per second": "+10 %"}
    assert "NOT_FOUND" in report["missing"]
    assert "BENCHMARK_NOT_FOUND" in report["missing"]


def test_the_graph_editor_sets_conditions_and_step_config_in_forms(seen: dict[str, dict]) -> None:
    report = scenario(seen, "conditions")

    assert report["noSource"].startswith("give what to test")
    assert report["closedByEscape"]
    assert report["dashed"] == 1
    assert report["pluginErrors"] == ["start is required", "end is required"]
    by_edge = {(t["from"], t["to"]): t.get("condition") for t in report["transitions"]}
    assert by_edge[("greet", "pause")] == {"type": "expression", "config": {"source": "parameters.pause", "operator": "gt", "value": 0}}
    assert by_edge[("pause", "second_pause")] == {
        "type": "plugin",
        "plugin": "time_window",
        "config": {"start": "00:00", "end": "23:59"},
    }
    assert by_edge[("second_pause", "sign")] is None
    assert report["greet"]["config"] == {"values": {"source": "dashboard"}}


def test_the_debugger_pauses_explains_a_branch_takes_an_edit_and_steps(seen: dict[str, dict]) -> None:
    report = scenario(seen, "debugger")

    # Bad breakpoints and mocks are refused next to their step, in the service's words.
    assert report["badMock"] == 'The mock output of fetch is not a JSON object; write one, e.g. {"score": 0.9}'
    assert "INVALID_ARGUMENT" in report["refusal"]
    assert "breakpoints[0].condition" in report["refusal"]
    assert report["badCondition"]
    # The mock (n = 3, not the parameter's 40) sent the run down the small branch.
    assert report["pausedAt"].startswith("Paused before small")
    assert "breakpoint" in report["pausedAt"]
    assert report["branch"]["fired"] == "false"
    assert "result.n > 10" in report["branch"]["reason"]
    assert report["original"] == {"n": 3, "label": "small"}
    assert report["invalidEdit"].startswith("The input is not JSON")
    assert report["stepBlocked"]
    # Step ran the edited step and paused before the next one.
    assert report["steppedTo"].startswith("Paused before report")
    assert report["nextInput"] == {"label": "edited", "n": 3}
    assert report["outputs"] == {"label": "edited", "n": 3}
    assert "small input edited: label" in report["events"]


def test_the_new_pages_render_in_the_other_theme(seen: dict[str, dict]) -> None:
    report = scenario(seen, "other_theme")

    assert report["theme"] in {"dark", "light"}
