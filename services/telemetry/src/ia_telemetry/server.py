"""Starts the telemetry service: `ia-telemetry --port N` or `python -m ia_telemetry.server --port N`.

One port serves TelemetryService and the OTLP/gRPC receiver. Besides the kit's
variables (and IA_EXPORT_* for the exporters, see `ia_telemetry.exporters`):

- IA_TRACE_RETENTION_COUNT: traces kept at most (default 10000, oldest go first);
- IA_TRACE_RETENTION_HOURS: traces older than this are deleted (default 72);
- IA_METRIC_RETENTION_HOURS: metric points older than this are deleted (default 168);
- IA_TELEMETRY_MAX_ATTRIBUTE_CHARS: longer attribute values are cut (default 4096).

The service does not trace itself: its spans would come back to it as more spans.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from ia.telemetry.v1 import service_pb2_grpc
from ia_service_kit.database import Database
from ia_service_kit.pagination import PageTokens
from ia_service_kit.server import ServiceConfig, Wiring, run
from ia_service_kit.telemetry import positive_number
from ia_telemetry.benchmarks import Benchmarks
from ia_telemetry.exporters import Exporters, ExportSettings
from ia_telemetry.metrics import Metrics
from ia_telemetry.receiver import MetricsReceiver, TraceReceiver
from ia_telemetry.service import TelemetryService
from ia_telemetry.spans import Limits
from ia_telemetry.store import MIGRATIONS, TelemetryStore
from ia_telemetry.traces import Retention, Traces

NAME = "telemetry"
DEFAULT_PORT = 50054


def retention_from_env(environ: Mapping[str, str] | None = None) -> tuple[Retention, Limits]:
    """The retention and size limits the environment asks for."""
    env = os.environ if environ is None else environ
    retention = Retention(
        max_traces=positive_number(env, "IA_TRACE_RETENTION_COUNT", Retention.max_traces, int),
        trace_hours=positive_number(env, "IA_TRACE_RETENTION_HOURS", Retention.trace_hours),
        point_hours=positive_number(env, "IA_METRIC_RETENTION_HOURS", Retention.point_hours),
    )
    limits = Limits(
        max_attribute_chars=positive_number(env, "IA_TELEMETRY_MAX_ATTRIBUTE_CHARS", Limits.max_attribute_chars, int)
    )
    return retention, limits


def wire(
    config: ServiceConfig,
    *,
    exports: ExportSettings | None = None,
    retention: Retention | None = None,
    limits: Limits | None = None,
    clock: Callable[[], float] = time.time,
) -> Wiring:
    """The telemetry service's parts: database, store, domain, exporters, receiver and service.

    The keyword arguments replace what the environment says (tests pass their own).
    """
    env_retention, env_limits = retention_from_env()
    retention = retention or env_retention
    limits = limits or env_limits
    exporters = Exporters(exports or ExportSettings.from_env())
    database = Database.for_service(config, MIGRATIONS)
    store = TelemetryStore(database)
    tokens = PageTokens.for_database(database)
    traces = Traces(store, tokens, limits=limits, retention=retention, on_points=exporters.offer_points, clock=clock)
    metrics = Metrics(store, limits=limits, on_points=exporters.offer_points, clock=clock)
    benchmarks = Benchmarks(store, tokens, clock=clock)
    return Wiring(
        servicers=[
            (service_pb2_grpc.add_TelemetryServiceServicer_to_server, TelemetryService(traces, metrics, benchmarks)),
            (trace_service_pb2_grpc.add_TraceServiceServicer_to_server, TraceReceiver(traces, exporters)),
            (metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server, MetricsReceiver(metrics, exporters)),
        ],
        database=database,
        on_start=[exporters.start],
        on_stop=[exporters.stop],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serves until SIGTERM or SIGINT; exit code 0 after a clean shutdown."""
    return run(ServiceConfig.from_args(NAME, DEFAULT_PORT, argv), wire, tracing=False)


if __name__ == "__main__":
    sys.exit(main())
