"""A benchmark result: what was run, how, and each measured run. Stored as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ia_modules.benchmark.statistics import summarize

__all__ = ["unit_of", "BenchmarkError", "BenchmarkResult", "RunSample", "LATENCY", "THROUGHPUT", "OPS"]

FORMAT_VERSION = 1
LATENCY = "latency_s"
THROUGHPUT = "throughput_items_s"
OPS = "ops_s"
STEP_PREFIX = "step:"
# Metrics where a bigger number is better; every other metric is a cost.
HIGHER_IS_BETTER = frozenset({THROUGHPUT})


def unit_of(metric: str) -> str:
    """The unit a metric's values are in."""
    if metric == THROUGHPUT:
        return "items/s"
    if metric.startswith("rss_peak_mb"):
        return "MB"
    return "s"


class BenchmarkError(Exception):
    """A benchmark could not be run, read or compared; the message says why and what to do."""


@dataclass
class RunSample:
    """One measured run of the pipeline."""

    latency_s: float
    state: str
    # Seconds per step id (summed over the step's iterations and map items).
    steps: dict[str, float] = field(default_factory=dict)
    # Length of the list at the throughput path, when one was configured.
    items: int | None = None
    cost_usd: float = 0.0
    api_calls: int = 0
    # Per process name, when profiling memory: peak RSS and RSS after minus before.
    rss_peak_bytes: dict[str, int] = field(default_factory=dict)
    rss_growth_bytes: dict[str, int] = field(default_factory=dict)
    # Per process name, when profiling CPU: user + system seconds used during the run.
    cpu_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSample:
        """The sample from its JSON form."""
        return cls(**data)


@dataclass
class BenchmarkResult:
    """Everything one `ia-benchmark run` measured."""

    pipeline: str
    mode: str  # "local" (engine in this process) or "remote" (the executor)
    iterations: int
    warmup: int
    concurrency: int
    started_at: str
    wall_s: float
    runs: list[RunSample]
    pipeline_hash: str = ""
    throughput_path: str = ""
    profile: str = ""
    name: str = ""
    profile_report: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ops_per_s(self) -> float:
        """Measured runs per second of wall time, all concurrency included."""
        return len(self.runs) / self.wall_s if self.wall_s > 0 else 0.0

    def metrics(self) -> dict[str, list[float]]:
        """Samples per metric name: latency, each step, throughput, profiled figures."""
        runs = [r for r in self.runs if r.state == "SUCCEEDED"] or self.runs
        metrics: dict[str, list[float]] = {LATENCY: [r.latency_s for r in runs]}
        step_ids = sorted({step for r in runs for step in r.steps})
        for step in step_ids:
            metrics[f"{STEP_PREFIX}{step}"] = [r.steps.get(step, 0.0) for r in runs]
        if self.throughput_path:
            metrics[THROUGHPUT] = [(r.items or 0) / r.latency_s for r in runs if r.latency_s > 0]
        for process in sorted({p for r in runs for p in r.rss_peak_bytes}):
            metrics[f"rss_peak_mb:{process}"] = [r.rss_peak_bytes.get(process, 0) / 2**20 for r in runs]
        for process in sorted({p for r in runs for p in r.cpu_s}):
            metrics[f"cpu_s:{process}"] = [r.cpu_s.get(process, 0.0) for r in runs]
        return {name: values for name, values in metrics.items() if values}

    def summary(self) -> dict[str, Any]:
        """Per-metric summaries plus run-level totals, for reports."""
        return {
            "pipeline": self.pipeline,
            "mode": self.mode,
            "iterations": len(self.runs),
            "failed_runs": sum(r.state != "SUCCEEDED" for r in self.runs),
            "ops_s": self.ops_per_s,
            "cost_usd": sum(r.cost_usd for r in self.runs),
            "api_calls": sum(r.api_calls for r in self.runs),
            "metrics": {name: summarize(values).to_dict() for name, values in self.metrics().items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as written by `--output`."""
        return {"format_version": FORMAT_VERSION, **asdict(self), "summary": self.summary()}

    def save(self, path: Path) -> Path:
        """Writes the JSON form to `path`, creating its folder."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Any, origin: str = "result") -> BenchmarkResult:
        """The result from its JSON form; a BenchmarkError names what is wrong."""
        if not isinstance(data, dict):
            raise BenchmarkError(f"{origin}: expected a JSON object, got {type(data).__name__}")
        if data.get("format_version") != FORMAT_VERSION:
            raise BenchmarkError(
                f"{origin}: not an ia-benchmark result (format_version {data.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}); write one with `ia-benchmark run ... --output FILE`"
            )
        fields = {k: v for k, v in data.items() if k not in ("format_version", "summary")}
        try:
            runs = [RunSample.from_dict(r) for r in fields.pop("runs")]
            result = cls(runs=runs, **fields)
        except (KeyError, TypeError) as error:
            raise BenchmarkError(f"{origin}: a field is missing or unknown: {error}") from None
        if not result.runs:
            raise BenchmarkError(f"{origin}: holds no measured runs")
        return result

    @classmethod
    def load(cls, path: Path) -> BenchmarkResult:
        """Reads a result file written by `save`."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BenchmarkError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise BenchmarkError(f"{path}: is a directory, not a result file") from None
        except UnicodeDecodeError:
            raise BenchmarkError(f"{path}: is not UTF-8 text") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise BenchmarkError(f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}") from None
        return cls.from_dict(data, str(path))
