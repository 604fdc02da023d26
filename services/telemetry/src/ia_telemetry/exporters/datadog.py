"""Datadog's metrics API: POST /api/v1/series with the API key in DD-API-KEY.

Durations and levels are sent as gauges, counts as counts (with the flush
interval), labels as `key:value` tags.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from ia_telemetry.points import COUNT, MetricPoint


def series(points: Sequence[MetricPoint], interval_s: float) -> dict[str, Any]:
    """The request body for `points`."""
    body = []
    for point in points:
        entry: dict[str, Any] = {
            "metric": point.name,
            "points": [[point.time_ns // 10**9, point.value]],
            "type": "count" if point.kind == COUNT else "gauge",
            "tags": [f"{key}:{value}" for key, value in sorted(point.labels.items())],
        }
        if point.kind == COUNT:
            entry["interval"] = max(int(interval_s), 1)
        body.append(entry)
    return {"series": body}


class DatadogSink:
    """Sends points to the series API at `url` (for example https://api.datadoghq.com)."""

    name = "datadog"

    def __init__(self, url: str, api_key: str, *, interval_s: float, timeout_s: float = 10.0) -> None:
        self._endpoint = url.rstrip("/") + "/api/v1/series"
        self._api_key = api_key
        self._interval_s = interval_s
        self._timeout_s = timeout_s

    def send(self, points: Sequence[MetricPoint]) -> None:
        request = urllib.request.Request(
            self._endpoint,
            data=json.dumps(series(points, self._interval_s)).encode(),
            headers={"Content-Type": "application/json", "DD-API-KEY": self._api_key},
            method="POST",
        )
        # urlopen raises HTTPError for any status over 399, which the outbox counts.
        with urllib.request.urlopen(request, timeout=self._timeout_s) as reply:
            reply.read()

    def close(self) -> None:
        """Nothing stays open between sends."""
