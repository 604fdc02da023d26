"""Running pipelines in this process with the engine, and what a run records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import wait_pipeline

from ia_modules.benchmark import BenchmarkError, RunSettings, load_target, run_benchmark
from ia_modules.benchmark.processes import (
    ProcessSampler,
    cpu_seconds,
    descendants,
    rss_bytes,
    stack_processes,
    tree_cpu_seconds,
)


def test_a_local_run_records_latency_steps_throughput_and_progress(tmp_path: Path) -> None:
    target = load_target(str(wait_pipeline(tmp_path / "p.json", 0.01)))
    progress: list[tuple[int, int]] = []
    result = run_benchmark(
        target,
        RunSettings(iterations=3, warmup=1, concurrency=2, local=True, throughput_path="outputs.items"),
        lambda done, total: progress.append((done, total)),
    )
    assert (result.pipeline, result.mode, len(result.runs)) == ("bench-wait", "local", 3)
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert result.pipeline_hash
    for run in result.runs:
        assert run.state == "SUCCEEDED"
        assert set(run.steps) == {"shape", "pause"}
        # A wait step really sleeps, at least its configured time.
        assert run.steps["pause"] >= 0.01
        assert run.items == 3
    assert result.ops_per_s > 0
    assert set(result.metrics()) == {"latency_s", "step:shape", "step:pause", "throughput_items_s"}
    assert any("cost_usd" in note for note in result.notes)


def test_costs_reported_by_steps_are_summed(tmp_path: Path) -> None:
    path = wait_pipeline(tmp_path / "p.json", 0, extra={"cost_usd": 0.25, "api_calls": 2})
    result = run_benchmark(load_target(str(path)), RunSettings(iterations=2, local=True))
    assert [(r.cost_usd, r.api_calls) for r in result.runs] == [(0.25, 2), (0.25, 2)]
    assert result.summary()["cost_usd"] == 0.5
    assert not any("cost_usd" in note for note in result.notes)


def test_steps_the_local_engine_cannot_run_are_named(tmp_path: Path) -> None:
    path = tmp_path / "plugin.json"
    path.write_text(json.dumps({"name": "p", "steps": [{"id": "call", "plugin": "http"}]}))
    with pytest.raises(BenchmarkError, match=r"runs only pass and wait steps, not call \(plugin\).*drop --local"):
        run_benchmark(load_target(str(path)), RunSettings(iterations=1, local=True))


def test_a_registered_name_cannot_run_locally() -> None:
    with pytest.raises(BenchmarkError, match="registered pipeline"):
        run_benchmark(load_target("some-registered-name"), RunSettings(iterations=1, local=True))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (RunSettings(iterations=0), "--iterations must be at least 1, got 0"),
        (RunSettings(iterations=1, warmup=-1), "--warmup"),
        (RunSettings(iterations=1, concurrency=0), "--concurrency"),
        (RunSettings(iterations=1, profile="disk"), "--profile must be memory or cpu"),
    ],
)
def test_settings_that_cannot_measure_are_refused(settings: RunSettings, message: str) -> None:
    with pytest.raises(BenchmarkError, match=message):
        settings.check()


@pytest.mark.parametrize(
    ("path", "message"), [("outputs.missing", "has no 'missing'"), ("outputs", "expected a list, found dict")]
)
def test_a_bad_throughput_path_is_explained(tmp_path: Path, path: str, message: str) -> None:
    target = load_target(str(wait_pipeline(tmp_path / "p.json", 0)))
    with pytest.raises(BenchmarkError, match=message):
        run_benchmark(target, RunSettings(iterations=1, local=True, throughput_path=path))


def test_invalid_definitions_and_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="no such file"):
        load_target(str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(BenchmarkError, match="not a valid pipeline definition"):
        load_target(str(broken))


def test_local_memory_and_cpu_profiles(tmp_path: Path) -> None:
    target = load_target(str(wait_pipeline(tmp_path / "p.json", 0.01)))
    memory = run_benchmark(target, RunSettings(iterations=2, local=True, profile="memory"))
    assert all(r.rss_peak_bytes["benchmark"] > 0 and "benchmark" in r.rss_growth_bytes for r in memory.runs)
    assert "rss_peak_mb:benchmark" in memory.metrics()
    profile_file = tmp_path / "out.prof"
    cpu = run_benchmark(target, RunSettings(iterations=2, local=True, profile="cpu", profile_output=profile_file))
    assert profile_file.stat().st_size > 0
    assert cpu.profile_report["top_functions"]
    assert all("benchmark" in r.cpu_s for r in cpu.runs)


def test_stack_processes_come_from_stack_json(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({"processes": {"executor": {"pid": os.getpid(), "port": 1}}}))
    assert stack_processes(tmp_path)["executor"] == os.getpid()
    assert stack_processes(tmp_path / "elsewhere") == {}
    with ProcessSampler({"me": os.getpid()}) as sampler:
        pass
    assert sampler.peaks["me"] >= sampler.before["me"] > 0
    assert rss_bytes(os.getpid()) and cpu_seconds(os.getpid()) is not None
    assert rss_bytes(2**22 + 12345) is None


def test_a_threads_cpu_is_its_own_not_the_processes() -> None:
    me = os.getpid()
    main_before, process_before = cpu_seconds(me, thread=me), cpu_seconds(me)

    def spin() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    main_after, process_after = cpu_seconds(me, thread=me), cpu_seconds(me)
    assert main_before is not None and main_after is not None
    assert process_before is not None and process_after is not None
    # The process counts the worker's 0.3 s (in 10 ms ticks); the main thread, which only waited, does not.
    assert process_after - process_before >= 0.25
    assert main_after - main_before < 0.1
    assert cpu_seconds(me, thread=2**22 + 12345) is None


def test_a_process_trees_cpu_counts_its_grandchildren(tmp_path: Path) -> None:
    # A shell that starts a busy Python and stays its parent: the Python is the test's grandchild,
    # as a sandboxed plugin is its host's (bubblewrap sits between).
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    (tmp_path / "busy.py").write_text(busy)
    shell = subprocess.Popen(["sh", "-c", f"{sys.executable} {tmp_path / 'busy.py'}; true"])
    try:
        deadline = time.monotonic() + 30
        while not (under := descendants(shell.pid)) or (cpu_seconds(under[0]) or 0) < 0.3:
            assert time.monotonic() < deadline, "the busy grandchild never used its CPU"
            time.sleep(0.05)
        # The shell itself used next to nothing: the tree's CPU is the grandchild's.
        assert tree_cpu_seconds(shell.pid) >= 0.3 > (cpu_seconds(shell.pid) or 0)
        (grandchild,) = under
        assert descendants(grandchild) == []
    finally:
        for pid in descendants(shell.pid):
            os.kill(pid, signal.SIGKILL)
        shell.kill()
        shell.wait()
    assert tree_cpu_seconds(shell.pid) is None


def test_remote_profiling_without_a_stack_says_so(tmp_path: Path) -> None:
    from ia_modules.benchmark.runner import _profiled_processes

    pids, notes = _profiled_processes(RunSettings(iterations=1, profile="memory", data_dir=tmp_path))
    assert pids == {}
    assert "no executor or plugin host found" in notes[0]
