"""The Python API of `ia-benchmark`, with method chaining.

    (Benchmark("pipeline.json").iterations(50).warmup(5).local()
        .run()
        .compare("main")
        .assert_no_regression(threshold=0.10))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ia_modules.benchmark.comparison import Comparison, compare
from ia_modules.benchmark.history import History, default_history_dir
from ia_modules.benchmark.result import BenchmarkResult
from ia_modules.benchmark.runner import Progress, RunSettings, load_target, run_benchmark

__all__ = ["Benchmark", "Measured"]


class Benchmark:
    """Settings for benchmarking one pipeline (a definition file or a registered name)."""

    def __init__(self, pipeline: str | Path, *, history: History | None = None) -> None:
        self._pipeline = str(pipeline)
        self._settings = RunSettings(iterations=10)
        self._history = history or History(default_history_dir())

    def iterations(self, count: int) -> Benchmark:
        """How many measured runs."""
        self._settings.iterations = count
        return self

    def warmup(self, count: int) -> Benchmark:
        """How many runs first, not measured."""
        self._settings.warmup = count
        return self

    def concurrency(self, count: int) -> Benchmark:
        """How many runs at a time."""
        self._settings.concurrency = count
        return self

    def inputs(self, values: dict[str, Any]) -> Benchmark:
        """The run inputs."""
        self._settings.inputs = dict(values)
        return self

    def local(self, enabled: bool = True) -> Benchmark:
        """Run in this process with the engine (pass and wait steps only)."""
        self._settings.local = enabled
        return self

    def endpoint(self, address: str) -> Benchmark:
        """The stack to run on, instead of IA_ENDPOINT."""
        self._settings.endpoint = address
        return self

    def profile(self, kind: str, *, output: Path | None = None) -> Benchmark:
        """`memory` or `cpu`; `output` is where a local CPU profile is written."""
        self._settings.profile = kind
        self._settings.profile_output = output
        return self

    def throughput(self, path: str) -> Benchmark:
        """Count items per second as the length of the list at `path`, e.g. `outputs.items`."""
        self._settings.throughput_path = path
        return self

    def run(self, on_progress: Progress | None = None) -> Measured:
        """Runs the benchmark and stores the result in the history."""
        result = run_benchmark(load_target(self._pipeline), self._settings, on_progress)
        self._history.save(result)
        return Measured(result, self._history)


class Measured:
    """A finished benchmark: compare it, save it as a baseline, or read its result."""

    def __init__(self, result: BenchmarkResult, history: History) -> None:
        self.result = result
        self._history = history

    def save_baseline(self, name: str) -> Measured:
        """Stores this result as the baseline `name`."""
        self._history.save_baseline(self.result, name)
        return self

    def compare(self, baseline: str | Path | BenchmarkResult | Measured) -> Comparison:
        """Compares against a result, a result file or a stored baseline's name."""
        if isinstance(baseline, Measured):
            baseline = baseline.result
        if not isinstance(baseline, BenchmarkResult):
            baseline = self._history.find(str(baseline))
        return compare(baseline, self.result)
