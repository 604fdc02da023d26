"""Runs that ended here a moment ago, with their events, for the watch that follows.

Clients start a run and then watch it, and a short run has often ended before
the watch arrives. Its events are still in this process: for the last
`RECENT_RUNS` runs that ended here, a watch is answered from memory instead of
a read of the store (a worker thread, a query, a JSON decode per event).

Only complete histories are kept: every event of the run committed by this
process, none folded (IA_MAX_EVENTS_PER_RUN), at most `KEPT_EVENTS` of them and
at most `KEPT_BYTES` as JSON. A final run's history no longer changes, so a kept
one stays true. Memory is bounded by `RECENT_RUNS` and `RECENT_BYTES` together.
"""

from __future__ import annotations

from collections import OrderedDict

from ia_service_kit.database import dump_json

from ia_executor.store import StoredEvent

__all__ = ["KEPT_BYTES", "KEPT_EVENTS", "RECENT_BYTES", "RECENT_RUNS", "RecentRuns"]

RECENT_RUNS = 64
RECENT_BYTES = 16 * 1024 * 1024
KEPT_EVENTS = 1000
KEPT_BYTES = 256 * 1024


class RecentRuns:
    """The histories of the last runs that ended here, by run id."""

    def __init__(self, size: int = RECENT_RUNS, total_bytes: int = RECENT_BYTES, run_bytes: int = KEPT_BYTES) -> None:
        self._size = size
        self._total_bytes = total_bytes
        self._run_bytes = run_bytes
        self._bytes = 0
        # run id -> (tenant, events, their size as JSON)
        self._runs: OrderedDict[str, tuple[str, list[StoredEvent], int]] = OrderedDict()

    def add(self, run_id: str, tenant: str, events: list[StoredEvent]) -> None:
        """Keeps the whole history of a run that just ended, unless it is over
        `KEPT_BYTES`; drops the oldest kept beyond the bounds."""
        size = len(dump_json([event.event for event in events]))
        if size > self._run_bytes:
            return
        self._runs[run_id] = (tenant, events, size)
        self._bytes += size
        while len(self._runs) > self._size or self._bytes > self._total_bytes:
            self._bytes -= self._runs.popitem(last=False)[1][2]

    def events(self, run_id: str, tenant: str) -> list[StoredEvent] | None:
        """The run's whole history, or None when it is not kept here for ``tenant``
        (the store then answers, or says the run does not exist)."""
        kept = self._runs.get(run_id)
        if kept is None or kept[0] != tenant:
            return None
        return kept[1]
