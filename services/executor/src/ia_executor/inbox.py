"""Answers, cancellations and child runs' ends for runs that another executor replica owns.

Only the replica that owns a run changes it (leases.py). A SubmitHumanInput or
CancelRun that Envoy hands to another replica is stored in `run_requests`; the
owner reads the requests of the runs it executes a few times a second, applies
each through the run's own lock, and then deletes it. A request outlives its
sender and the owner: if the owner dies before deleting it, the replica that takes
the run over applies it again, which changes nothing (the task is no longer open,
the run has already ended).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from ia_service_kit.logging import get_logger

from ia_executor.store import RunStore, run_requests

__all__ = ["POLL_S", "RunInbox"]

log = get_logger(__name__)

POLL_S = 0.1
"""How often the owner reads the requests for its runs (only while it executes some)."""

Deliver = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class RunInbox:
    """Sends requests to the owners of runs, and delivers this replica's own.

    ``deliver(run_id, kind, body)`` applies one request to a run this replica
    executes; ``running()`` names those runs.
    """

    def __init__(self, store: RunStore, *, deliver: Deliver, running: Callable[[], set[str]]) -> None:
        self._store = store
        self._deliver = deliver
        self._running = running
        self._task: asyncio.Task[None] | None = None

    async def send(self, run_id: str, kind: str, body: dict[str, Any]) -> None:
        """Stores a request for the run's owner: "submit" (an answer), "cancel", or
        "signal" (a child run's end, for its parent)."""
        values = {"run_id": run_id, "kind": kind, "body": body, "create_time": time.time()}
        await self._store.in_writer(lambda connection: connection.execute(run_requests.insert().values(values)))

    def start(self) -> None:
        """Starts delivering the requests for the runs this replica executes."""
        self._task = asyncio.get_running_loop().create_task(self._poll_forever())

    async def stop(self) -> None:
        """Stops delivering (requests not delivered wait for the next owner)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def deliver_waiting(self) -> int:
        """Applies the stored requests of the runs this replica executes; returns how many."""
        running = self._running()
        if not running:
            return 0
        query = (
            sa.select(run_requests.c.request_id, run_requests.c.run_id, run_requests.c.kind, run_requests.c.body)
            .where(run_requests.c.run_id.in_(sorted(running)))
            .order_by(run_requests.c.request_id)
        )
        found = await asyncio.to_thread(self._store.read_rows, query)
        for request_id, run_id, kind, body in found:
            try:
                await self._deliver(run_id, kind, body)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # one bad request must not block the others
                log.error("run request failed", run_id=run_id, kind=kind, error=repr(error))
        if found:
            done = [row[0] for row in found]
            await self._store.in_writer(
                lambda connection: connection.execute(run_requests.delete().where(run_requests.c.request_id.in_(done)))
            )
        return len(found)

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.deliver_waiting()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away for a moment; try again
                log.error("run requests could not be read", error=repr(error))
            await asyncio.sleep(POLL_S)
