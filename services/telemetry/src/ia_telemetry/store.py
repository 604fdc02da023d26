"""Persistence of spans, trace summaries, metric points and benchmark runs.

Tables (prefixed, so the service can share a PostgreSQL database with others):
- `telemetry_spans`: every stored span, keyed by (trace_id, span_id); a span sent
  twice is kept once.
- `telemetry_traces`: one summary row per trace (root, pipeline, run, status,
  time range, span count), updated as its spans arrive, for listing.
- `telemetry_metric_points`: metric points by name and time, for charts.
- `telemetry_benchmarks` and `telemetry_benchmark_labels`: recorded benchmark
  runs, with their labels for filtering.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from ia.telemetry.v1 import message_pb2
from ia_service_kit.database import Database, Migration, RowsStatement, dump_json
from ia_service_kit.identity import DEFAULT_TENANT, current_tenant
from ia_telemetry.points import MetricPoint
from ia_telemetry.spans import SpanRecord

metadata = sa.MetaData()

spans_table = sa.Table(
    "telemetry_spans",
    metadata,
    sa.Column("trace_id", sa.String(32), primary_key=True),
    sa.Column("span_id", sa.String(16), primary_key=True),
    sa.Column("parent_span_id", sa.String(16), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("kind", sa.Integer, nullable=False),
    sa.Column("start_ns", sa.BigInteger, nullable=False),
    sa.Column("end_ns", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("status_message", sa.Text, nullable=False),
    sa.Column("attributes_json", sa.Text, nullable=False),
    sa.Column("events_json", sa.Text, nullable=False),
)

traces_table = sa.Table(
    "telemetry_traces",
    metadata,
    sa.Column("trace_id", sa.String(32), primary_key=True),
    sa.Column("root_name", sa.Text, nullable=False),
    sa.Column("root_service", sa.Text, nullable=False),
    # False while only spans with parents have arrived: the root is a guess.
    sa.Column("root_known", sa.Boolean, nullable=False),
    sa.Column("pipeline", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("start_ns", sa.BigInteger, nullable=False),
    sa.Column("end_ns", sa.BigInteger, nullable=False),
    sa.Column("span_count", sa.Integer, nullable=False),
    # The tenant named by the trace's spans (the `tenant` attribute the kit puts on
    # each call's span and the executor on each run's); "" until one names it.
    sa.Column("tenant", sa.String(63), nullable=False, default=""),
    sa.Index("telemetry_traces_by_start", "start_ns", "trace_id"),
    sa.Index("telemetry_traces_by_run", "run_id"),
    sa.Index("telemetry_traces_by_pipeline", "pipeline", "start_ns"),
)

points_table = sa.Table(
    "telemetry_metric_points",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("labels_json", sa.Text, nullable=False),
    sa.Column("time_ns", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("sum", sa.Float, nullable=False),
    sa.Column("min", sa.Float, nullable=False),
    sa.Column("max", sa.Float, nullable=False),
    sa.Index("telemetry_metric_points_by_name", "name", "time_ns"),
)

benchmarks_table = sa.Table(
    "telemetry_benchmarks",
    metadata,
    sa.Column("benchmark_id", sa.String(36), primary_key=True),
    sa.Column("suite", sa.Text, nullable=False),
    sa.Column("start_ns", sa.BigInteger, nullable=False),
    sa.Column("tenant", sa.String(63), nullable=False, default=DEFAULT_TENANT),
    sa.Column("request_id", sa.Text, nullable=True),
    sa.UniqueConstraint("tenant", "request_id", name="telemetry_benchmarks_by_tenant_request"),
    # The BenchmarkRun as proto3 JSON: figures and notes are only ever read whole.
    sa.Column("body_json", sa.Text, nullable=False),
    sa.Index("telemetry_benchmarks_by_start", "start_ns", "benchmark_id"),
)

benchmark_labels_table = sa.Table(
    "telemetry_benchmark_labels",
    metadata,
    sa.Column(
        "benchmark_id",
        sa.String(36),
        sa.ForeignKey("telemetry_benchmarks.benchmark_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def _create_tables(connection: Connection) -> None:
    metadata.create_all(connection)


MIGRATIONS: list[Migration] = [(1, _create_tables)]


@dataclass(frozen=True)
class TraceRow:
    """A trace summary as stored."""

    trace_id: str
    root_name: str
    root_service: str
    pipeline: str
    run_id: str
    status: int
    start_ns: int
    end_ns: int
    span_count: int


def _trace_row(row: RowMapping) -> TraceRow:
    return TraceRow(
        trace_id=row["trace_id"],
        root_name=row["root_name"],
        root_service=row["root_service"],
        pipeline=row["pipeline"],
        run_id=row["run_id"],
        status=row["status"],
        start_ns=row["start_ns"],
        end_ns=row["end_ns"],
        span_count=row["span_count"],
    )


def _span(row: RowMapping) -> SpanRecord:
    return SpanRecord(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"],
        name=row["name"],
        service=row["service"],
        kind=row["kind"],
        start_ns=row["start_ns"],
        end_ns=row["end_ns"],
        status=row["status"],
        status_message=row["status_message"],
        attributes=json.loads(row["attributes_json"]),
        events=json.loads(row["events_json"]),
    )


def _merge(summary: dict[str, Any] | None, spans: Sequence[SpanRecord]) -> dict[str, Any]:
    """The trace summary once `spans` (all of one trace, new) are added to `summary`."""
    first = min(spans, key=lambda s: s.start_ns)
    merged = summary or {
        "trace_id": first.trace_id,
        "root_name": first.name,
        "root_service": first.service,
        "root_known": False,
        "root_start_ns": first.start_ns,
        "pipeline": "",
        "run_id": "",
        "tenant": "",
        "status": message_pb2.SPAN_STATUS_OK,
        "start_ns": first.start_ns,
        "end_ns": first.end_ns,
        "span_count": 0,
    }
    roots = [s for s in spans if not s.parent_span_id]
    if roots:
        root = min(roots, key=lambda s: s.start_ns)
        if not merged["root_known"] or root.start_ns < merged["root_start_ns"]:
            merged.update(root_name=root.name, root_service=root.service, root_known=True, root_start_ns=root.start_ns)
    elif not merged["root_known"] and first.start_ns < merged["root_start_ns"]:
        merged.update(root_name=first.name, root_service=first.service, root_start_ns=first.start_ns)
    for span in spans:
        if not merged["pipeline"] and isinstance(span.attributes.get("pipeline"), str):
            merged["pipeline"] = span.attributes["pipeline"]
        if not merged["run_id"] and isinstance(span.attributes.get("run_id"), str):
            merged["run_id"] = span.attributes["run_id"]
        if not merged.get("tenant") and isinstance(span.attributes.get("tenant"), str):
            merged["tenant"] = span.attributes["tenant"]
        if span.failed:
            merged["status"] = message_pb2.SPAN_STATUS_ERROR
    merged["start_ns"] = min(merged["start_ns"], first.start_ns)
    merged["end_ns"] = max(merged["end_ns"], max(s.end_ns for s in spans))
    merged["span_count"] += len(spans)
    return merged


_update_trace = (
    traces_table.update()
    .where(traces_table.c.trace_id == sa.bindparam("where_trace_id"))
    .values({column.name: sa.bindparam(column.name) for column in traces_table.columns})
)


# Spans and points arrive by the hundred with each export: sent to the driver in one call.
_insert_spans = RowsStatement(spans_table.insert())
_insert_points = RowsStatement(points_table.insert())


class TelemetryStore:
    """Reads and writes the service's tables; every write is one transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # ----- spans and traces --------------------------------------------------------------

    def add(self, spans: Sequence[SpanRecord], points: Sequence[MetricPoint]) -> int:
        """Stores new spans (ignoring ones already stored), their traces' summaries, and points.

        Returns how many spans were new.
        """
        with self._database.write() as connection:
            new = self._new_spans(connection, spans)
            if new:
                _insert_spans.execute(connection, [_span_values(span) for span in new])
                self._summarize(connection, new)
            if points:
                _insert_points.execute(connection, [_point_values(point) for point in points])
        return len(new)

    @staticmethod
    def _new_spans(connection: Connection, spans: Sequence[SpanRecord]) -> list[SpanRecord]:
        trace_ids = sorted({span.trace_id for span in spans})
        known = set()
        for chunk in _chunks(trace_ids, 500):
            query = sa.select(spans_table.c.trace_id, spans_table.c.span_id).where(spans_table.c.trace_id.in_(chunk))
            known.update((row.trace_id, row.span_id) for row in connection.execute(query))
        new: dict[tuple[str, str], SpanRecord] = {}
        for span in spans:
            key = (span.trace_id, span.span_id)
            if key not in known:
                new.setdefault(key, span)
        return list(new.values())

    @staticmethod
    def _summarize(connection: Connection, spans: Sequence[SpanRecord]) -> None:
        by_trace: dict[str, list[SpanRecord]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        existing = {}
        for chunk in _chunks(sorted(by_trace), 500):
            query = sa.select(traces_table).where(traces_table.c.trace_id.in_(chunk))
            for row in connection.execute(query).mappings():
                summary = dict(row)
                # Where the current root starts is not stored; the trace start bounds it.
                summary["root_start_ns"] = row["start_ns"]
                existing[row["trace_id"]] = summary
        inserts, updates = [], []
        for trace_id, trace_spans in by_trace.items():
            merged = _merge(existing.get(trace_id), trace_spans)
            merged.pop("root_start_ns")
            if trace_id in existing:
                updates.append({"where_trace_id": trace_id, **merged})
            else:
                inserts.append(merged)
        # One statement for each kind, many rows: an export carries several traces.
        if inserts:
            connection.execute(traces_table.insert(), inserts)
        if updates:
            connection.execute(_update_trace, updates)

    def list_traces(
        self,
        *,
        after: tuple[int, str] | None,
        limit: int,
        pipeline: str = "",
        run_id: str = "",
        status: int = 0,
        start_from_ns: int = 0,
        start_to_ns: int = 0,
    ) -> list[TraceRow]:
        """Trace summaries newest first, after the key `(start_ns, trace_id)`, filtered."""
        table = traces_table
        query = sa.select(table).where(_visible_trace())
        if after is not None:
            start_ns, trace_id = after
            query = query.where(
                (table.c.start_ns < start_ns) | ((table.c.start_ns == start_ns) & (table.c.trace_id < trace_id))
            )
        if pipeline:
            query = query.where(table.c.pipeline == pipeline)
        if run_id:
            query = query.where(table.c.run_id == run_id)
        if status:
            query = query.where(table.c.status == status)
        if start_from_ns:
            query = query.where(table.c.start_ns >= start_from_ns)
        if start_to_ns:
            query = query.where(table.c.start_ns < start_to_ns)
        query = query.order_by(table.c.start_ns.desc(), table.c.trace_id.desc()).limit(limit)
        with self._database.read() as connection:
            return [_trace_row(row) for row in connection.execute(query).mappings()]

    def trace(self, trace_id: str) -> tuple[TraceRow, list[SpanRecord]] | None:
        """A trace's summary and spans (by start time), or None."""
        with self._database.read() as connection:
            row = (
                connection.execute(
                    sa.select(traces_table).where((traces_table.c.trace_id == trace_id) & _visible_trace())
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            query = (
                sa.select(spans_table)
                .where(spans_table.c.trace_id == trace_id)
                .order_by(spans_table.c.start_ns, spans_table.c.span_id)
            )
            return _trace_row(row), [_span(span) for span in connection.execute(query).mappings()]

    def prune_traces(self, *, keep: int, older_than_ns: int) -> int:
        """Deletes traces that started before `older_than_ns`, then the oldest beyond `keep`.

        Returns how many traces were deleted.
        """
        with self._database.write() as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(traces_table)).scalar_one()
            cutoff = older_than_ns
            if total > keep:
                oldest_kept = connection.execute(
                    sa.select(traces_table.c.start_ns).order_by(traces_table.c.start_ns.desc()).offset(keep).limit(1)
                ).scalar_one()
                cutoff = max(cutoff, oldest_kept + 1)
            doomed = sa.select(traces_table.c.trace_id).where(traces_table.c.start_ns < cutoff)
            connection.execute(spans_table.delete().where(spans_table.c.trace_id.in_(doomed)))
            return connection.execute(traces_table.delete().where(traces_table.c.start_ns < cutoff)).rowcount

    # ----- metric points -----------------------------------------------------------------

    def points(self, name: str, start_ns: int, end_ns: int) -> list[MetricPoint]:
        """The points of `name` with start_ns <= time < end_ns, by time."""
        query = (
            sa.select(points_table)
            .where(
                (points_table.c.name == name) & (points_table.c.time_ns >= start_ns) & (points_table.c.time_ns < end_ns)
            )
            .order_by(points_table.c.time_ns, points_table.c.id)
        )
        with self._database.read() as connection:
            return [
                MetricPoint(
                    name=row["name"],
                    labels=json.loads(row["labels_json"]),
                    time_ns=row["time_ns"],
                    kind=row["kind"],
                    count=row["count"],
                    sum=row["sum"],
                    min=row["min"],
                    max=row["max"],
                )
                for row in connection.execute(query).mappings()
            ]

    def prune_points(self, *, older_than_ns: int) -> int:
        """Deletes points older than `older_than_ns`; returns how many."""
        with self._database.write() as connection:
            return connection.execute(points_table.delete().where(points_table.c.time_ns < older_than_ns)).rowcount

    # ----- benchmarks ---------------------------------------------------------------------

    def add_benchmark(
        self, body: dict[str, Any], *, suite: str, start_ns: int, labels: Mapping[str, str], request_id: str
    ) -> tuple[dict[str, Any], bool]:
        """Stores a benchmark run (its id set here); returns it and whether it is new.

        A repeated `request_id` returns the run that request stored.
        """
        try:
            with self._database.write() as connection:
                earlier = self._by_request(connection, request_id)
                if earlier is not None:
                    return earlier, False
                benchmark_id = str(uuid.uuid4())
                body = {**body, "benchmark_id": benchmark_id}
                connection.execute(
                    benchmarks_table.insert().values(
                        benchmark_id=benchmark_id,
                        tenant=current_tenant(),
                        suite=suite,
                        start_ns=start_ns,
                        request_id=request_id or None,
                        body_json=json.dumps(body),
                    )
                )
                if labels:
                    connection.execute(
                        benchmark_labels_table.insert(),
                        [{"benchmark_id": benchmark_id, "key": k, "value": v} for k, v in labels.items()],
                    )
                return body, True
        except sa.exc.IntegrityError:
            # A concurrent call with the same request id won (PostgreSQL).
            with self._database.read() as connection:
                earlier = self._by_request(connection, request_id)
            if earlier is None:
                raise
            return earlier, False

    @staticmethod
    def _by_request(connection: Connection, request_id: str) -> dict[str, Any] | None:
        if not request_id:
            return None
        query = sa.select(benchmarks_table.c.body_json).where(
            (benchmarks_table.c.request_id == request_id) & (benchmarks_table.c.tenant == current_tenant())
        )
        found = connection.execute(query).scalar_one_or_none()
        return json.loads(found) if found is not None else None

    def benchmark(self, benchmark_id: str) -> dict[str, Any] | None:
        """One benchmark run as stored, or None."""
        query = sa.select(benchmarks_table.c.body_json).where(
            (benchmarks_table.c.benchmark_id == benchmark_id) & (benchmarks_table.c.tenant == current_tenant())
        )
        with self._database.read() as connection:
            found = connection.execute(query).scalar_one_or_none()
        return json.loads(found) if found is not None else None

    def list_benchmarks(
        self, *, after: tuple[int, str] | None, limit: int, suite: str = "", labels: Mapping[str, str] | None = None
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """(start_ns, benchmark_id, run) newest first, after the key `after`, filtered."""
        table = benchmarks_table
        query = sa.select(table.c.start_ns, table.c.benchmark_id, table.c.body_json).where(
            table.c.tenant == current_tenant()
        )
        if after is not None:
            start_ns, benchmark_id = after
            query = query.where(
                (table.c.start_ns < start_ns) | ((table.c.start_ns == start_ns) & (table.c.benchmark_id < benchmark_id))
            )
        if suite:
            query = query.where(table.c.suite == suite)
        for key, value in sorted((labels or {}).items()):
            query = query.where(
                sa.exists().where(
                    (benchmark_labels_table.c.benchmark_id == table.c.benchmark_id)
                    & (benchmark_labels_table.c.key == key)
                    & (benchmark_labels_table.c.value == value)
                )
            )
        query = query.order_by(table.c.start_ns.desc(), table.c.benchmark_id.desc()).limit(limit)
        with self._database.read() as connection:
            return [(row.start_ns, row.benchmark_id, json.loads(row.body_json)) for row in connection.execute(query)]


def _visible_trace() -> sa.ColumnElement[bool]:
    """Traces of the caller's tenant; those no span named a tenant for count as the default tenant's."""
    tenant = current_tenant()
    if tenant == DEFAULT_TENANT:
        return traces_table.c.tenant.in_([tenant, ""])
    return traces_table.c.tenant == tenant


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _span_values(span: SpanRecord) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "service": span.service,
        "kind": span.kind,
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "status": span.status,
        "status_message": span.status_message,
        "attributes_json": dump_json(span.attributes, default=str),
        "events_json": dump_json(span.events, default=str),
    }


def _point_values(point: MetricPoint) -> dict[str, Any]:
    return {
        "name": point.name,
        "labels_json": json.dumps(point.labels, sort_keys=True),
        "time_ns": point.time_ns,
        "kind": point.kind,
        "count": point.count,
        "sum": point.sum,
        "min": point.min,
        "max": point.max,
    }
