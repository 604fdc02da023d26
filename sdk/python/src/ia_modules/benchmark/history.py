"""Where benchmark results are kept: a folder of JSON files, mirrored to telemetry.

The folder (IA_DATA_DIR/benchmarks/) keeps every sample, which comparisons
need. When the telemetry service answers, each result's summary figures are
also recorded there (RecordBenchmark), so the dashboard shows the trend.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ia_modules.benchmark.result import BenchmarkError, BenchmarkResult, unit_of

__all__ = ["History", "default_history_dir", "record_in_telemetry"]

_BASELINES = "baselines"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_TELEMETRY_TIMEOUT_S = 2.0
TELEMETRY_SUITE_PREFIX = "pipeline:"


def default_history_dir() -> Path:
    """IA_DATA_DIR/benchmarks, with IA_DATA_DIR defaulting to ./.ia."""
    return Path(os.environ.get("IA_DATA_DIR", ".ia")) / "benchmarks"


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("_") or "unnamed"


@dataclass(frozen=True)
class History:
    """Stored results, by pipeline, and named baselines."""

    root: Path

    def save_baseline(self, result: BenchmarkResult, name: str) -> Path:
        """Stores `result` as the baseline `name`, replacing an older one."""
        result.name = name
        return result.save(self.root / _BASELINES / f"{_safe(name)}.json")

    def save(self, result: BenchmarkResult) -> Path:
        """Stores `result` in the history of its pipeline."""
        stamp = _safe(result.started_at.replace(":", ""))
        folder = self.root / _safe(result.pipeline)
        path = folder / f"{stamp}.json"
        suffix = 1
        while path.exists():
            suffix += 1
            path = folder / f"{stamp}-{suffix}.json"
        return result.save(path)

    def baseline_names(self) -> list[str]:
        """Names of the stored baselines."""
        return sorted(p.stem for p in (self.root / _BASELINES).glob("*.json"))

    def find(self, reference: str) -> BenchmarkResult:
        """A baseline by file path or by name."""
        path = Path(reference)
        if path.is_file():
            return BenchmarkResult.load(path)
        named = self.root / _BASELINES / f"{_safe(reference)}.json"
        if named.is_file():
            return BenchmarkResult.load(named)
        known = ", ".join(self.baseline_names()) or "none yet"
        raise BenchmarkError(
            f"no baseline {reference!r}: not a file, nor a baseline stored in {self.root / _BASELINES} "
            f"(stored: {known}); store one with `ia-benchmark run PIPELINE --save-baseline NAME`"
        )

    def results(self, pipeline: str) -> list[BenchmarkResult]:
        """Every stored result of `pipeline`, oldest first; unreadable files are skipped."""
        found = []
        for path in sorted((self.root / _safe(pipeline)).glob("*.json")):
            try:
                found.append(BenchmarkResult.load(path))
            except BenchmarkError:
                continue
        return sorted(found, key=lambda r: r.started_at)


def record_in_telemetry(result: BenchmarkResult, endpoint: str | None = None) -> str:
    """Records `result`'s summary in the telemetry service; returns a note on what happened."""
    import grpc
    from google.protobuf import timestamp_pb2

    from ia.telemetry.v1 import message_pb2, request_response_pb2, service_pb2_grpc
    from ia_modules import tls
    from ia_modules.call_metadata import bearer, resolve_token, sync_interceptors
    from ia_modules.client import resolve_endpoint

    address = resolve_endpoint(endpoint)
    start = timestamp_pb2.Timestamp()
    start.FromJsonString(result.started_at.replace("+00:00", "Z"))
    figures = [
        message_pb2.BenchmarkFigure(
            metric=f"{metric} p50", unit=unit_of(metric), value=summary["median"], samples=summary["count"]
        )
        for metric, summary in result.summary()["metrics"].items()
    ]
    benchmark = message_pb2.BenchmarkRun(
        suite=f"{TELEMETRY_SUITE_PREFIX}{result.pipeline}",
        start_time=start,
        mode=result.mode,
        labels={"pipeline": result.pipeline, "name": result.name, "pipeline_hash": result.pipeline_hash},
        figures=figures,
        notes=result.notes,
    )
    request = request_response_pb2.RecordBenchmarkRequest(
        benchmark=benchmark, request_id=f"{result.pipeline}/{result.started_at}/{result.wall_s}"
    )
    token = resolve_token()
    with tls.channel(address) as plain:
        channel = grpc.intercept_channel(plain, *sync_interceptors(bearer(token) if token else None))
        try:
            recorded = service_pb2_grpc.TelemetryServiceStub(channel).RecordBenchmark(
                request, timeout=_TELEMETRY_TIMEOUT_S
            )
        except grpc.RpcError as error:
            return f"not recorded in telemetry at {address} ({error.code().name}); kept in the local history only"
    return f"recorded in telemetry as {recorded.benchmark.benchmark_id}"
