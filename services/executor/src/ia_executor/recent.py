"""Runs that ended here a moment ago, with their events, for the watch that follows.

Clients start a run and then watch it, and a short run has often ended before
the watch arrives. Its events are still in this process: for the last
`RECENT_RUNS` runs that ended here, a watch is answered from memory instead of
a read of the store (a worker thread, a query, a JSON decode per event).

Only complete histories are kept: every event of the run committed by this
process, none folded (IA_MAX_EVENTS_PER_RUN), at most `KEPT_EVENTS` of them. A
final run's history no longer changes, so a kept one stays true; and since the
runs and events are bounded, so is the memory.
"""

from __future__ import annotations

from collections import OrderedDict

from ia_executor.store import StoredEvent

__all__ = ["KEPT_EVENTS", "RECENT_RUNS", "RecentRuns"]

RECENT_RUNS = 64
KEPT_EVENTS = 1000


class RecentRuns:
    """The histories of the last runs that ended here, by run id."""

    def __init__(self, size: int = RECENT_RUNS) -> None:
        self._size = size
        self._runs: OrderedDict[str, tuple[str, list[StoredEvent]]] = OrderedDict()

    def add(self, run_id: str, tenant: str, events: list[StoredEvent]) -> None:
        """Keeps the whole history of a run that just ended, dropping the oldest kept."""
        self._runs[run_id] = (tenant, events)
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)

    def events(self, run_id: str, tenant: str) -> list[StoredEvent] | None:
        """The run's whole history, or None when it is not kept here for ``tenant``
        (the store then answers, or says the run does not exist)."""
        kept = self._runs.get(run_id)
        if kept is None or kept[0] != tenant:
            return None
        return kept[1]
