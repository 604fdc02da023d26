"""StatsD and DogStatsD over UDP.

Durations are sent as timers in milliseconds (`|ms`), counts as counters (`|c`)
and levels as gauges (`|g`). Labels become tags: DogStatsD `|#key:value,...`;
plain StatsD in the Graphite tag form `name;key=value:...`, which StatsD 0.9+
and Graphite 1.1+ read. Lines are packed into datagrams of at most 1,432 bytes,
so no datagram is fragmented on an ordinary network.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence

from ia_telemetry.points import COUNT, DURATION, MetricPoint

MAX_DATAGRAM_BYTES = 1432
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_TAG_UNSAFE = re.compile(r"[\s,|#:;=@]")


def _value(point: MetricPoint) -> str:
    if point.kind == DURATION:
        return f"{point.value * 1000:.6g}|ms"
    if point.kind == COUNT:
        return f"{point.value:.6g}|c"
    return f"{point.value:.6g}|g"


def dogstatsd_line(point: MetricPoint) -> str:
    """`name:value|type|#key:value,...`."""
    line = f"{_NAME_UNSAFE.sub('_', point.name)}:{_value(point)}"
    if point.labels:
        tags = ",".join(f"{_TAG_UNSAFE.sub('_', k)}:{_TAG_UNSAFE.sub('_', v)}" for k, v in sorted(point.labels.items()))
        line += f"|#{tags}"
    return line


def statsd_line(point: MetricPoint) -> str:
    """`name;key=value;...:value|type`."""
    name = _NAME_UNSAFE.sub("_", point.name)
    tags = "".join(
        f";{_TAG_UNSAFE.sub('_', k)}={_TAG_UNSAFE.sub('_', v)}" for k, v in sorted(point.labels.items()) if v
    )
    return f"{name}{tags}:{_value(point)}"


def datagrams(lines: Sequence[str]) -> list[bytes]:
    """Lines joined by newlines into datagrams that stay under the size limit."""
    packets: list[bytes] = []
    current = b""
    for line in lines:
        encoded = line.encode()
        if current and len(current) + 1 + len(encoded) > MAX_DATAGRAM_BYTES:
            packets.append(current)
            current = b""
        current = current + b"\n" + encoded if current else encoded
    if current:
        packets.append(current)
    return packets


def _address(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"`{target}` is not host:port")
    return host.strip("[]"), int(port)


class StatsdSink:
    """Sends points to a StatsD (`dogstatsd=False`) or DogStatsD agent at `host:port`."""

    def __init__(self, target: str, *, dogstatsd: bool) -> None:
        self.name = "dogstatsd" if dogstatsd else "statsd"
        self._format = dogstatsd_line if dogstatsd else statsd_line
        host, port = _address(target)
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self._address = address
        self._socket = socket.socket(family, socket.SOCK_DGRAM)

    def send(self, points: Sequence[MetricPoint]) -> None:
        for packet in datagrams([self._format(point) for point in points]):
            self._socket.sendto(packet, self._address)

    def close(self) -> None:
        self._socket.close()
