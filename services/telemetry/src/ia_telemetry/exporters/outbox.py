"""The bounded queue between the receiver and one exporter.

Receiving never waits for an exporter: points are offered to each exporter's
outbox, a full outbox drops them (counted), and a background task sends what is
queued in batches, one batch at a time, from a worker thread (the sends block).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from prometheus_client import Counter

from ia_service_kit.logging import get_logger

log = get_logger(__name__)

EXPORT_SENT = Counter(
    "ia_telemetry_export_sent", "Items an exporter sent (metric points, or OTLP requests).", ["exporter"]
)
EXPORT_DROPPED = Counter(
    "ia_telemetry_export_dropped",
    "Items an exporter dropped: queue_full when it fell behind, send_failed when the destination refused.",
    ["exporter", "reason"],
)

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class Sink(Protocol[T_contra]):
    """Where an exporter sends; `send` may block and raise."""

    name: str

    def send(self, items: Sequence[T_contra]) -> None: ...

    def close(self) -> None: ...


class Outbox(Generic[T]):
    """Queues items for a sink and sends them every `interval_s` or when a batch is full."""

    def __init__(
        self, sink: Sink[T], *, max_items: int = 10_000, batch_size: int = 500, interval_s: float = 1.0
    ) -> None:
        self.sink = sink
        self._queue: deque[T] = deque()
        self._max_items = max_items
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def offer(self, items: Sequence[T]) -> None:
        """Queues what fits and drops (counting) the rest. Safe from any thread."""
        room = self._max_items - len(self._queue)
        taken = items[: max(room, 0)]
        self._queue.extend(taken)
        if len(taken) < len(items):
            EXPORT_DROPPED.labels(self.sink.name, "queue_full").inc(len(items) - len(taken))
        if len(self._queue) >= self._batch_size and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        """Starts sending in the background."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"export-{self.sink.name}")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Sends everything queued now."""
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            try:
                await asyncio.to_thread(self.sink.send, batch)
            except Exception as error:  # a destination's failure must not stop the exporter
                EXPORT_DROPPED.labels(self.sink.name, "send_failed").inc(len(batch))
                log.warning("export failed", exporter=self.sink.name, items=len(batch), error=str(error)[:300])
            else:
                EXPORT_SENT.labels(self.sink.name).inc(len(batch))

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Sends what is queued (within `timeout_s`), then stops and closes the sink."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout_s)
        self.sink.close()
