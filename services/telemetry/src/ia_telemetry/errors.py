"""Why a telemetry request was refused. `service.py` maps each to a gRPC status."""

from __future__ import annotations

from typing import ClassVar


class TelemetryError(Exception):
    """A refused request."""

    reason: ClassVar[str]

    def __init__(self, message: str, **metadata: object) -> None:
        super().__init__(message)
        self.metadata = metadata


class TraceNotFound(TelemetryError):
    reason = "TRACE_NOT_FOUND"

    def __init__(self, trace_id: str) -> None:
        super().__init__(
            f"no span of trace `{trace_id}` is stored (it may be older than the retention limit)", trace_id=trace_id
        )


class BenchmarkNotFound(TelemetryError):
    reason = "BENCHMARK_NOT_FOUND"

    def __init__(self, benchmark_id: str) -> None:
        super().__init__(f"benchmark run `{benchmark_id}` does not exist", benchmark_id=benchmark_id)


class InvalidField(TelemetryError):
    """A request field that is missing or malformed."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
