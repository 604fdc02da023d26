"""Traces: taking in OTLP spans, keeping recent traces within the retention limit, and
answering ListTraces and GetTrace."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ia_service_kit.logging import get_logger
from ia_service_kit.pagination import PageTokens, page_size
from ia_telemetry.errors import InvalidField, TraceNotFound
from ia_telemetry.points import MetricPoint, from_spans
from ia_telemetry.spans import Decoded, Limits, SpanRecord, decode
from ia_telemetry.store import TelemetryStore, TraceRow

log = get_logger(__name__)

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_HOUR_NS = 3600 * 10**9


@dataclass(frozen=True)
class Retention:
    """How much is kept: at most `max_traces` traces, none older than `trace_hours`,
    and metric points for `point_hours`. Pruning runs at most every `every_s` seconds."""

    max_traces: int = 10_000
    trace_hours: float = 72
    point_hours: float = 24 * 7
    every_s: float = 10


@dataclass(frozen=True)
class TracePage:
    traces: list[TraceRow]
    next_page_token: str


class Traces:
    """The trace side of the service."""

    def __init__(
        self,
        store: TelemetryStore,
        tokens: PageTokens,
        *,
        limits: Limits = Limits(),
        retention: Retention = Retention(),
        on_points: Callable[[Sequence[MetricPoint]], None] = lambda points: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._limits = limits
        self._retention = retention
        self._on_points = on_points
        self._clock = clock
        self._last_prune = 0.0

    def ingest(self, request: ExportTraceServiceRequest) -> Decoded:
        """Stores the acceptable spans of an OTLP request and the pipeline points they stand for."""
        decoded = decode(request, self._limits)
        if decoded.spans:
            points = from_spans(decoded.spans)
            self._store.add(decoded.spans, points)
            if points:
                self._on_points(points)
        if decoded.rejected:
            log.warning("spans refused", count=decoded.rejected, first=decoded.problems[0])
        self.prune_if_due()
        return decoded

    def prune_if_due(self) -> None:
        """Applies the retention limits, at most every `Retention.every_s` seconds."""
        now = self._clock()
        if now - self._last_prune < self._retention.every_s:
            return
        self._last_prune = now
        now_ns = int(now * 1e9)
        traces = self._store.prune_traces(
            keep=self._retention.max_traces, older_than_ns=now_ns - int(self._retention.trace_hours * _HOUR_NS)
        )
        points = self._store.prune_points(older_than_ns=now_ns - int(self._retention.point_hours * _HOUR_NS))
        if traces or points:
            log.info("retention applied", traces_deleted=traces, points_deleted=points)

    def list(
        self,
        *,
        size: int,
        token: str,
        pipeline: str = "",
        run_id: str = "",
        status: int = 0,
        start_from_ns: int = 0,
        start_to_ns: int = 0,
    ) -> TracePage:
        """A page of trace summaries, newest first."""
        limit = page_size(size)
        query = {
            "pipeline": pipeline,
            "run_id": run_id,
            "status": status,
            "from": start_from_ns,
            "to": start_to_ns,
        }
        after = self._tokens.decode(token, query=query)
        rows = self._store.list_traces(
            after=(after[0], after[1]) if after else None,
            limit=limit + 1,
            pipeline=pipeline,
            run_id=run_id,
            status=status,
            start_from_ns=start_from_ns,
            start_to_ns=start_to_ns,
        )
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = self._tokens.encode([rows[-1].start_ns, rows[-1].trace_id], query=query)
        return TracePage(rows, next_token)

    def get(self, trace_id: str) -> tuple[TraceRow, list[SpanRecord]]:
        """A trace and its spans; raises InvalidField or TraceNotFound."""
        trace_id = trace_id.strip().lower()
        if not _TRACE_ID.match(trace_id):
            raise InvalidField("trace_id", f"`{trace_id[:64]}` is not a trace id: give 32 hex digits")
        found = self._store.trace(trace_id)
        if found is None:
            raise TraceNotFound(trace_id)
        return found
