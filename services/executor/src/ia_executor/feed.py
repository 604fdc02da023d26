"""Live events for WatchRun: each committed event is handed to the run's watchers."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from ia_executor.store import StoredEvent

__all__ = ["EventFeed", "drain"]


class EventFeed:
    """Per-run fan-out of committed events to subscribers' queues.

    Watchers subscribe before they read the stored history and drop what they have
    already sent by sequence number, so they see every event exactly once.
    """

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[StoredEvent]]] = defaultdict(set)

    def subscribe(self, run_id: str) -> asyncio.Queue[StoredEvent]:
        """A queue that receives the run's events from now on."""
        queue: asyncio.Queue[StoredEvent] = asyncio.Queue()
        self._queues[run_id].add(queue)
        return queue

    def unsubscribe(self, run_id: str, queue: asyncio.Queue[StoredEvent]) -> None:
        """Stop delivering to ``queue``."""
        queues = self._queues.get(run_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[run_id]

    def publish(self, run_id: str, events: list[StoredEvent]) -> None:
        """Deliver committed events to every watcher of the run."""
        for queue in self._queues.get(run_id, ()):
            for event in events:
                queue.put_nowait(event)


def drain(queue: asyncio.Queue[StoredEvent]) -> list[StoredEvent]:
    """The events already in ``queue``, taken without waiting for more."""
    events: list[StoredEvent] = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events
