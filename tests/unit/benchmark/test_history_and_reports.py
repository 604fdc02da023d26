"""Stored results, named baselines, and the four report formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import normal, synthetic, wait_pipeline

from ia_modules.benchmark import (
    Benchmark,
    BenchmarkError,
    BenchmarkResult,
    History,
    RegressionError,
    Report,
    ReportFormat,
    compare,
)


def test_results_round_trip_through_json(tmp_path: Path) -> None:
    result = synthetic([0.1, 0.2, 0.3])
    loaded = BenchmarkResult.load(result.save(tmp_path / "r.json"))
    assert loaded.metrics() == result.metrics()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{oops", r":1:2: invalid JSON"),
        ("[1]", "expected a JSON object, got list"),
        ('{"format_version": 1}', "a field is missing or unknown"),
        ('{"pipeline": "x"}', "not an ia-benchmark result"),
    ],
)
def test_corrupt_result_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(BenchmarkError, match=message):
        BenchmarkResult.load(path)


def test_history_keeps_results_and_named_baselines(tmp_path: Path) -> None:
    history = History(tmp_path)
    first, second = synthetic([0.1]), synthetic([0.2])
    second.started_at = "2026-01-02T00:00:00+00:00"
    history.save(second)
    history.save(first)
    history.save(first)
    history.save_baseline(first, "main")
    assert [r.started_at for r in history.results("demo")][-1] == second.started_at
    assert len(history.results("demo")) == 3
    assert history.find("main").name == "main"
    assert history.baseline_names() == ["main"]
    with pytest.raises(BenchmarkError, match=r"no baseline 'nope'.*stored: main"):
        history.find("nope")


def _comparison_report() -> Report:
    baseline = synthetic(normal(0.1, 0.005, 20, 1))
    current = synthetic(normal(0.2, 0.005, 20, 2))
    return Report(current, compare(baseline, current), [baseline], 0.10)


def test_markdown_suits_a_ci_comment() -> None:
    text = _comparison_report().render(ReportFormat.markdown)
    assert "**REGRESSION past 10%: latency_s" in text
    assert "| latency_s |" in text and "| slower |" in text


def test_json_report_holds_the_comparison_and_the_gate() -> None:
    document = json.loads(_comparison_report().render(ReportFormat.json))
    assert document["comparison"]["regressions"] == ["latency_s"]
    assert document["result"]["metrics"]["latency_s"]["count"] == 20


def test_console_report_is_plain_text() -> None:
    text = _comparison_report().render(ReportFormat.console)
    assert "against the baseline" in text and "REGRESSION past 10%" in text


def test_html_report_has_its_three_charts_inline() -> None:
    page = _comparison_report().render(ReportFormat.html)
    for chart in ("latency-histogram", "step-breakdown", "latency-trend"):
        assert f'<svg id="{chart}"' in page
    assert page.count('<rect class="bar"') == 20 + 1
    assert '<polyline class="trend"' in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_the_api_chains_run_compare_and_gate(tmp_path: Path) -> None:
    history = History(tmp_path / "history")
    fast = wait_pipeline(tmp_path / "fast.json", 0.005)
    slow = wait_pipeline(tmp_path / "slow.json", 0.05)
    Benchmark(fast, history=history).iterations(5).warmup(1).local().run().save_baseline("main")
    measured = Benchmark(slow, history=history).iterations(5).local().throughput("outputs.items").run()
    with pytest.raises(RegressionError, match="latency_s"):
        measured.compare("main").assert_no_regression(threshold=0.10)
    assert measured.compare(measured).regressions(0.10) == []
    assert len(history.results("bench-wait")) == 2
