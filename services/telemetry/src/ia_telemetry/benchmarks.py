"""Benchmarks: the history of benchmark suite runs (RecordBenchmark, ListBenchmarks, GetBenchmark)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from google.protobuf import json_format

from ia.telemetry.v1 import message_pb2
from ia_service_kit.pagination import PageTokens, page_size
from ia_telemetry.errors import BenchmarkNotFound, InvalidField
from ia_telemetry.store import TelemetryStore


@dataclass(frozen=True)
class BenchmarkPage:
    benchmarks: list[message_pb2.BenchmarkRun]
    next_page_token: str


def _message(body: dict) -> message_pb2.BenchmarkRun:
    return json_format.ParseDict(body, message_pb2.BenchmarkRun())


class Benchmarks:
    """The benchmark side of the service."""

    def __init__(self, store: TelemetryStore, tokens: PageTokens, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._tokens = tokens
        self._clock = clock

    def record(self, run: message_pb2.BenchmarkRun, request_id: str) -> message_pb2.BenchmarkRun:
        """Stores a run (the service sets its id and create time); raises InvalidField."""
        if not run.suite.strip():
            raise InvalidField("benchmark.suite", "name the suite that ran, for example `engine`")
        for index, figure in enumerate(run.figures):
            if not figure.metric.strip():
                raise InvalidField(f"benchmark.figures[{index}].metric", "every figure needs a metric name")
        if run.HasField("start_time"):
            try:
                run.start_time.ToJsonString()  # checks the seconds' range and the nanos
            except ValueError as error:
                raise InvalidField("benchmark.start_time", f"not a valid timestamp: {error}") from None
            # Start times are stored as int64 nanoseconds since the epoch.
            if not 0 <= run.start_time.ToNanoseconds() < 2**63:
                raise InvalidField("benchmark.start_time", "the start time must be between 1970 and 2262")
        stored = message_pb2.BenchmarkRun()
        stored.CopyFrom(run)
        stored.benchmark_id = ""
        stored.create_time.FromNanoseconds(int(self._clock() * 1e9))
        if not stored.HasField("start_time"):
            stored.start_time.CopyFrom(stored.create_time)
        try:
            body = json_format.MessageToDict(stored, preserving_proto_field_name=True)
        except json_format.SerializeToJsonError as error:  # a timestamp or duration out of range
            raise InvalidField("benchmark", str(error)) from None
        saved, _created = self._store.add_benchmark(
            body,
            suite=stored.suite,
            start_ns=stored.start_time.ToNanoseconds(),
            labels=dict(stored.labels),
            request_id=request_id,
        )
        return _message(saved)

    def get(self, benchmark_id: str) -> message_pb2.BenchmarkRun:
        """One recorded run; raises BenchmarkNotFound."""
        found = self._store.benchmark(benchmark_id)
        if found is None:
            raise BenchmarkNotFound(benchmark_id)
        return _message(found)

    def list(self, *, size: int, token: str, suite: str = "", labels: Mapping[str, str] | None = None) -> BenchmarkPage:
        """A page of recorded runs, newest first."""
        limit = page_size(size)
        query = {"suite": suite, "labels": dict(sorted((labels or {}).items()))}
        after = self._tokens.decode(token, query=query)
        rows = self._store.list_benchmarks(
            after=(after[0], after[1]) if after else None, limit=limit + 1, suite=suite, labels=labels
        )
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = self._tokens.encode([rows[-1][0], rows[-1][1]], query=query)
        return BenchmarkPage([_message(body) for _, _, body in rows], next_token)
