"""Builders of synthetic results and small pipelines for the benchmark tests."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from ia_modules.benchmark import BenchmarkResult, RunSample


def synthetic(latencies: list[float], *, pipeline: str = "demo", items: int | None = None) -> BenchmarkResult:
    """A result with the given latencies; one step takes 80% of each run."""
    return BenchmarkResult(
        pipeline=pipeline,
        mode="local",
        iterations=len(latencies),
        warmup=0,
        concurrency=1,
        started_at="2026-01-01T00:00:00+00:00",
        wall_s=sum(latencies),
        runs=[RunSample(latency_s=v, state="SUCCEEDED", steps={"work": v * 0.8}, items=items) for v in latencies],
        throughput_path="outputs.items" if items is not None else "",
    )


def normal(mean: float, spread: float, count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [abs(rng.gauss(mean, spread)) for _ in range(count)]


def wait_pipeline(path: Path, seconds: float, *, name: str = "bench-wait", extra: dict[str, Any] | None = None) -> Path:
    """A pass step giving three items, then a wait step of `seconds`."""
    definition = {
        "name": name,
        "steps": [
            {"id": "shape", "type": "pass", "config": {"values": {"items": [1, 2, 3], **(extra or {})}}},
            {"id": "pause", "type": "wait", "config": {"seconds": seconds}},
        ],
        "flow": {"start_at": "shape", "transitions": [{"from": "shape", "to": "pause"}]},
        "outputs": {"items": "{{ steps.shape.output.items }}"},
    }
    path.write_text(json.dumps(definition))
    return path
