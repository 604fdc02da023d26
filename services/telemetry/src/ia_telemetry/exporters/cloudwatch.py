"""Amazon CloudWatch: PutMetricData through boto3, and Embedded Metric Format log lines.

PutMetricData gets each point's statistics (count, sum, min, max) with a unit
(Seconds for durations, Count for counts), and its labels as dimensions
(CloudWatch allows 30, and no empty values). Credentials and region come from
the usual AWS chain (AWS_REGION, AWS_ACCESS_KEY_ID, ...); an endpoint URL points
it elsewhere (a local stand-in in tests).

The EMF form writes one JSON line per point that CloudWatch Logs turns into
metrics, for where the service's output is shipped to CloudWatch Logs anyway.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from ia_telemetry.points import COUNT, DURATION, MetricPoint

MAX_DIMENSIONS = 30
# PutMetricData takes up to 1,000 items; smaller calls keep each request well under 1 MB.
BATCH = 150


def unit(point: MetricPoint) -> str:
    """The CloudWatch unit of a point."""
    return {DURATION: "Seconds", COUNT: "Count"}.get(point.kind, "None")


def metric_datum(point: MetricPoint) -> dict[str, Any]:
    """One PutMetricData item."""
    dimensions = [{"Name": key, "Value": value} for key, value in sorted(point.labels.items()) if value]
    return {
        "MetricName": point.name,
        "Dimensions": dimensions[:MAX_DIMENSIONS],
        "Timestamp": datetime.fromtimestamp(point.time_ns / 1e9, UTC),
        "StatisticValues": {"SampleCount": point.count, "Sum": point.sum, "Minimum": point.min, "Maximum": point.max},
        "Unit": unit(point),
    }


class CloudWatchSink:
    """Sends points to CloudWatch under `namespace`."""

    name = "cloudwatch"

    def __init__(self, namespace: str, *, region: str, endpoint_url: str | None = None) -> None:
        import boto3

        self._namespace = namespace
        self._client = boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url)

    def send(self, points: Sequence[MetricPoint]) -> None:
        data = [metric_datum(point) for point in points]
        for start in range(0, len(data), BATCH):
            self._client.put_metric_data(Namespace=self._namespace, MetricData=data[start : start + BATCH])

    def close(self) -> None:
        self._client.close()


def emf_line(point: MetricPoint, namespace: str) -> str:
    """One Embedded Metric Format document for a point."""
    dimensions = sorted(key for key, value in point.labels.items() if value)[:MAX_DIMENSIONS]
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": point.time_ns // 10**6,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [dimensions],
                    "Metrics": [{"Name": point.name, "Unit": unit(point)}],
                }
            ],
        },
        **{key: point.labels[key] for key in dimensions},
        point.name: point.value,
    }
    return json.dumps(document, separators=(",", ":"))


class EmfSink:
    """Appends EMF lines to a file, or writes them to stdout for `-`."""

    name = "emf"

    def __init__(self, target: str, namespace: str) -> None:
        self._namespace = namespace
        self._stream: TextIO = sys.stdout if target == "-" else Path(target).open("a", encoding="utf-8")
        self._owned = target != "-"

    def send(self, points: Sequence[MetricPoint]) -> None:
        self._stream.write("".join(emf_line(point, self._namespace) + "\n" for point in points))
        self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()
