"""`ia-benchmark` end to end: run, compare, regression, report, ci, and bad input."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ia_modules.benchmark_cli.main import app


def _pipeline(path: Path, seconds: float, name: str = "bench-wait") -> Path:
    path.write_text(
        json.dumps(
            {
                "name": name,
                "steps": [
                    {"id": "shape", "type": "pass", "config": {"values": {"items": [1, 2, 3]}}},
                    {"id": "pause", "type": "wait", "config": {"seconds": seconds}},
                ],
                "flow": {"start_at": "shape", "transitions": [{"from": "shape", "to": "pause"}]},
                "outputs": {"items": "{{ steps.shape.output.items }}"},
            }
        )
    )
    return path


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """History under tmp_path, and an endpoint where nothing answers."""
    monkeypatch.setenv("IA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IA_ENDPOINT", f"127.0.0.1:{_closed_port()}")


def _ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.stderr


def _refused(result, message: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr + result.stdout
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: ")
    assert message in last


@pytest.fixture
def baseline(runner: CliRunner, tmp_path: Path) -> Path:
    """Baseline `main`: a 20 ms wait, measured locally."""
    output = tmp_path / "baseline.json"
    result = runner.invoke(
        app,
        ["run", str(_pipeline(tmp_path / "p.json", 0.02)), "-n", "8", "--warmup", "1", "--local",
         "--save-baseline", "main", "--throughput-path", "outputs.items", "--output", str(output)],
    )
    _ok(result)
    assert "latency_s" in result.stdout and "throughput_items_s" in result.stdout
    return output


def test_run_writes_a_result_and_stores_it(baseline: Path, tmp_path: Path) -> None:
    document = json.loads(baseline.read_text())
    assert document["pipeline"] == "bench-wait" and len(document["runs"]) == 8
    assert set(document["runs"][0]["steps"]) == {"shape", "pause"}
    assert (tmp_path / "data" / "benchmarks" / "baselines" / "main.json").is_file()


def test_ci_passes_when_nothing_changed(runner: CliRunner, baseline: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ci", str(tmp_path / "p.json"), "--baseline", "main", "--threshold", "10%", "--local", "-n", "8",
              "--format", "markdown"]
    )
    _ok(result)
    assert "no significant regression past 10%" in result.stdout


def test_ci_fails_on_a_pipeline_made_slower(runner: CliRunner, baseline: Path, tmp_path: Path) -> None:
    slow = _pipeline(tmp_path / "slow.json", 0.08)
    result = runner.invoke(app, ["ci", str(slow), "--baseline", "main", "--local", "-n", "6", "--warmup", "0"])
    _refused(result, "bench-wait: significant regression past 10%: latency_s +")
    assert "REGRESSION past 10%" in result.stdout
    # The slow result is now the latest in the history: `regression` sees it too.
    again = runner.invoke(app, ["regression", "--baseline", "main", "--format", "json"])
    assert again.exit_code == 1
    assert json.loads(again.stdout)["comparison"]["regressions"][0] == "latency_s"


def test_compare_prints_ratio_interval_and_verdict(runner: CliRunner, baseline: Path) -> None:
    result = runner.invoke(app, ["compare", str(baseline), "main", "--format", "json"])
    _ok(result)
    latency = json.loads(result.stdout)["comparison"]["metrics"][0]
    assert latency["metric"] == "latency_s"
    assert latency["ratio"] == 1.0 and latency["verdict"] == "no significant change"


def test_the_html_report_renders_in_chromium(runner: CliRunner, baseline: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    _ok(runner.invoke(app, ["report", str(baseline), "--baseline", "main", "--format", "html", "--output", str(page)]))
    text = page.read_text()
    for chart in ("latency-histogram", "step-breakdown", "latency-trend"):
        assert f'<svg id="{chart}"' in text
    assert len(re.findall(r'<rect class="bar"', text)) >= 20
    assert "<polyline" in text
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed")
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'chrome'}",
         "--window-size=900,1400", f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True, timeout=60,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def test_a_corrupt_result_file_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    _refused(runner.invoke(app, ["compare", str(broken), str(broken)]), "broken.json:1:2: invalid JSON")


def test_compare_refuses_mismatched_pipelines(runner: CliRunner, baseline: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    _ok(runner.invoke(app, ["run", str(_pipeline(tmp_path / "o.json", 0, name="other")), "-n", "2", "--local",
                            "--output", str(other)]))
    _refused(runner.invoke(app, ["compare", str(baseline), str(other)]), "cannot compare different pipelines")


def test_zero_iterations_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    _refused(
        runner.invoke(app, ["run", str(_pipeline(tmp_path / "p.json", 0)), "-n", "0", "--local"]),
        "--iterations must be at least 1, got 0",
    )


def test_an_unreachable_executor_is_explained(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(_pipeline(tmp_path / "p.json", 0)), "-n", "2"])
    _refused(result, "cannot reach the IA Modules endpoint")
    assert "--local" in result.stderr


def test_an_unknown_baseline_is_explained(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ci", str(_pipeline(tmp_path / "p.json", 0)), "--baseline", "nope", "--local"])
    _refused(result, "no baseline 'nope'")


def test_report_without_results_says_what_to_do(runner: CliRunner) -> None:
    _refused(runner.invoke(app, ["report"]), "no stored results")


def test_run_through_the_executor(runner: CliRunner, executor_endpoint: str, tmp_path: Path) -> None:
    output = tmp_path / "remote.json"
    result = runner.invoke(
        app, ["run", str(_pipeline(tmp_path / "p.json", 0.01)), "-n", "2", "--output", str(output), "--format", "json"]
    )
    _ok(result)
    document = json.loads(output.read_text())
    assert document["mode"] == "remote"
    assert [r["state"] for r in document["runs"]] == ["SUCCEEDED", "SUCCEEDED"]
    assert document["runs"][0]["steps"]["pause"] >= 0.01
    assert "not recorded in telemetry" in result.stderr
