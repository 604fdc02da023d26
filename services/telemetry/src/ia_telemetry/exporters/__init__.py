"""Where the telemetry service sends what it receives, each enabled by the environment.

| variable | exporter |
|---|---|
| IA_EXPORT_STATSD=host:port | StatsD over UDP, Graphite-style tags |
| IA_EXPORT_DOGSTATSD=host:port | DogStatsD over UDP, `#key:value` tags |
| IA_EXPORT_DATADOG_URL (+ IA_EXPORT_DATADOG_API_KEY or DD_API_KEY) | Datadog series API |
| IA_EXPORT_CLOUDWATCH_NAMESPACE (+ IA_EXPORT_CLOUDWATCH_ENDPOINT, AWS_REGION) | CloudWatch PutMetricData |
| IA_EXPORT_EMF=path, or `-` for stdout (+ IA_EXPORT_EMF_NAMESPACE) | CloudWatch Embedded Metric Format lines |
| IA_EXPORT_OTLP=host:port or https://host:port | every OTLP request forwarded upstream |

IA_EXPORT_INTERVAL_MS (default 1000) is how often queued points are sent, and
IA_EXPORT_QUEUE_SIZE (default 10000) how many may wait per exporter before new
ones are dropped (counted in `ia_telemetry_export_dropped_total`). Prometheus
needs no exporter: every service, this one included, serves `/metrics`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from ia_service_kit.telemetry import TelemetrySettingsError, positive_number
from ia_telemetry.exporters.outbox import Outbox
from ia_telemetry.points import MetricPoint

__all__ = ["ExportSettings", "Exporters"]


@dataclass(frozen=True)
class ExportSettings:
    """Which exporters are on, and where they send."""

    statsd: str = ""
    dogstatsd: str = ""
    datadog_url: str = ""
    datadog_api_key: str = ""
    cloudwatch_namespace: str = ""
    cloudwatch_endpoint: str = ""
    aws_region: str = "us-east-1"
    emf: str = ""
    emf_namespace: str = "IAModules"
    otlp: str = ""
    interval_s: float = 1.0
    queue_size: int = 10_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ExportSettings:
        """Reads the IA_EXPORT_* variables; raises TelemetrySettingsError naming a malformed one."""
        env = os.environ if environ is None else environ
        get = lambda name: env.get(name, "").strip()  # noqa: E731
        settings = cls(
            statsd=get("IA_EXPORT_STATSD"),
            dogstatsd=get("IA_EXPORT_DOGSTATSD"),
            datadog_url=get("IA_EXPORT_DATADOG_URL"),
            datadog_api_key=get("IA_EXPORT_DATADOG_API_KEY") or get("DD_API_KEY"),
            cloudwatch_namespace=get("IA_EXPORT_CLOUDWATCH_NAMESPACE"),
            cloudwatch_endpoint=get("IA_EXPORT_CLOUDWATCH_ENDPOINT"),
            aws_region=get("AWS_REGION") or get("AWS_DEFAULT_REGION") or "us-east-1",
            emf=get("IA_EXPORT_EMF"),
            emf_namespace=get("IA_EXPORT_EMF_NAMESPACE") or "IAModules",
            otlp=get("IA_EXPORT_OTLP"),
            interval_s=positive_number(env, "IA_EXPORT_INTERVAL_MS", 1000) / 1000,
            queue_size=positive_number(env, "IA_EXPORT_QUEUE_SIZE", 10_000, int),
        )
        if settings.datadog_url and not settings.datadog_api_key:
            raise TelemetrySettingsError(
                "IA_EXPORT_DATADOG_URL is set but no API key: set IA_EXPORT_DATADOG_API_KEY or DD_API_KEY"
            )
        return settings


class Exporters:
    """The enabled exporters, each behind its own outbox."""

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self.metric_outboxes: list[Outbox[MetricPoint]] = [
            Outbox(sink, max_items=settings.queue_size, interval_s=settings.interval_s)
            for sink in _metric_sinks(settings)
        ]
        self.otlp_outbox: Outbox[Message] | None = None
        if settings.otlp:
            from ia_telemetry.exporters.otlp import OtlpForwarder

            self.otlp_outbox = Outbox(
                OtlpForwarder(settings.otlp), max_items=1000, batch_size=50, interval_s=settings.interval_s
            )

    @property
    def names(self) -> list[str]:
        """The enabled exporters' names."""
        return [outbox.sink.name for outbox in self._outboxes()]

    def offer_points(self, points: Sequence[MetricPoint]) -> None:
        """Queues points for every metric exporter. Safe from any thread."""
        for outbox in self.metric_outboxes:
            outbox.offer(points)

    def offer_request(self, request: Message) -> None:
        """Queues an OTLP request for forwarding upstream, if that is on. Safe from any thread."""
        if self.otlp_outbox is not None:
            self.otlp_outbox.offer([request])

    def _outboxes(self) -> list[Outbox[Any]]:
        return [*self.metric_outboxes, *([self.otlp_outbox] if self.otlp_outbox else [])]

    async def start(self) -> None:
        """Starts every exporter's background sending."""
        for outbox in self._outboxes():
            await outbox.start()

    async def flush(self) -> None:
        """Sends everything queued now (tests and shutdown)."""
        for outbox in self._outboxes():
            await outbox.flush()

    async def stop(self) -> None:
        """Sends what is queued, then closes every exporter."""
        for outbox in self._outboxes():
            await outbox.stop()


def _metric_sinks(settings: ExportSettings) -> list[Any]:
    sinks: list[Any] = []
    if settings.statsd:
        from ia_telemetry.exporters.statsd import StatsdSink

        sinks.append(StatsdSink(settings.statsd, dogstatsd=False))
    if settings.dogstatsd:
        from ia_telemetry.exporters.statsd import StatsdSink

        sinks.append(StatsdSink(settings.dogstatsd, dogstatsd=True))
    if settings.datadog_url:
        from ia_telemetry.exporters.datadog import DatadogSink

        sinks.append(DatadogSink(settings.datadog_url, settings.datadog_api_key, interval_s=settings.interval_s))
    if settings.cloudwatch_namespace:
        from ia_telemetry.exporters.cloudwatch import CloudWatchSink

        sinks.append(
            CloudWatchSink(
                settings.cloudwatch_namespace,
                region=settings.aws_region,
                endpoint_url=settings.cloudwatch_endpoint or None,
            )
        )
    if settings.emf:
        from ia_telemetry.exporters.cloudwatch import EmfSink

        sinks.append(EmfSink(settings.emf, settings.emf_namespace))
    return sinks
