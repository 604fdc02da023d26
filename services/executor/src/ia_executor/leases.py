"""Run ownership among executor replicas that share one PostgreSQL database.

Each unfinished run is owned by one replica under a lease: `runs.owner`, until
`runs.lease_expires`, with `runs.epoch` counting the times it changed hands. Every
replica keeps a heartbeat that renews the leases of the runs it owns (one UPDATE),
and looks for runs whose lease lapsed, which it claims with
`SELECT … FOR UPDATE SKIP LOCKED` (replicas claiming at once never wait on each
other, and never claim the same run) while raising the epoch. It then resumes them
from their journal, like after a restart.

The epoch is the fencing token: the store writes a run's decision only while the
run's epoch is the one this replica claimed it with (`RunStore.own`), so a replica
that stalled past its lease (a long pause, a lost network) cannot change a run that
another replica took over. Timers and human-input deadlines are decisions too, so
they fire once across replicas.

Lease times are wall-clock seconds: replicas' clocks must agree to well within a
lease (NTP does). On SQLite (one node) there are no leases.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from ia_service_kit.config import SettingsError
from ia_service_kit.logging import get_logger
from sqlalchemy.engine import Connection

from ia_executor.store import LEASE_COLUMNS, Lease, RunRow, RunStore, runs

__all__ = ["DEFAULT_LEASE_S", "Claim", "RunOwnership", "lease_from_env", "new_owner_id"]

log = get_logger(__name__)

DEFAULT_LEASE_S = 10.0
"""How long a run stays with a replica that stopped renewing (IA_EXECUTOR_LEASE_S)."""
_CLAIM_BATCH = 100


def new_owner_id() -> str:
    """A replica's owner id: host, process and a random part (a restarted process is a new owner)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def lease_from_env() -> Lease:
    """This process's lease: a new owner id, and IA_EXECUTOR_LEASE_S (default 10 s).

    Raises SettingsError when IA_EXECUTOR_LEASE_S is not a positive number.
    """
    raw = os.environ.get("IA_EXECUTOR_LEASE_S", "")
    try:
        lease_s = float(raw) if raw else DEFAULT_LEASE_S
    except ValueError:
        lease_s = -1.0
    if not lease_s > 0:
        raise SettingsError(f"IA_EXECUTOR_LEASE_S={raw!r} is not a positive number of seconds")
    return Lease(new_owner_id(), lease_s)


@dataclass(frozen=True)
class Claim:
    """A run this replica just took over: the run, its definition, its new epoch and who had it."""

    row: RunRow
    definition: dict[str, Any]
    epoch: int
    previous_owner: str | None


def _renew(connection: Connection, lease: Lease, final_states: Sequence[str], running: set[str]) -> set[str]:
    """Extends the leases of this owner's unfinished runs; returns those of ``running``
    that another owner has now.

    Only a row naming another owner counts as lost: a run started a moment ago may
    not be stored yet.
    """
    statement = (
        runs.update()
        .where((runs.c.owner == lease.owner) & runs.c.state.not_in(list(final_states)))
        .values(lease_expires=time.time() + lease.lease_s)
        .returning(runs.c.run_id)
    )
    unconfirmed = running - set(connection.execute(statement).scalars())
    if not unconfirmed:
        return set()
    others = sa.select(runs.c.run_id).where(runs.c.run_id.in_(sorted(unconfirmed)) & (runs.c.owner != lease.owner))
    return set(connection.execute(others).scalars())


def _release(connection: Connection, lease: Lease, final_states: Sequence[str]) -> int:
    """Ends this owner's leases now (a graceful stop), so another replica need not wait them out."""
    statement = (
        runs.update()
        .where((runs.c.owner == lease.owner) & runs.c.state.not_in(list(final_states)))
        .values(lease_expires=None)
    )
    return connection.execute(statement).rowcount


def _claim(connection: Connection, lease: Lease, final_states: Sequence[str], limit: int) -> list[Claim]:
    """Claims up to ``limit`` unfinished runs whose lease lapsed, oldest first."""
    now = time.time()
    lapsed = (
        sa.select(runs.c.run_id, runs.c.owner)
        .where(
            runs.c.state.not_in(list(final_states))
            & (runs.c.lease_expires.is_(None) | (runs.c.lease_expires < now))
        )
        .order_by(runs.c.create_time)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    previous = {run_id: owner for run_id, owner in connection.execute(lapsed)}
    if not previous:
        return []
    columns = [column for column in runs.c if column.name not in LEASE_COLUMNS]
    statement = (
        runs.update()
        .where(runs.c.run_id.in_(sorted(previous)))
        .values(owner=lease.owner, lease_expires=now + lease.lease_s, epoch=runs.c.epoch + 1)
        .returning(runs.c.epoch, *columns)
    )
    claims = []
    for found in connection.execute(statement).mappings():
        fields = dict(found)
        epoch = fields.pop("epoch")
        definition = fields.pop("definition")
        claims.append(Claim(RunRow(**fields), definition, epoch, previous[fields["run_id"]]))
    return sorted(claims, key=lambda claim: claim.row.create_time)


class RunOwnership:
    """This replica's heartbeat: renews its leases, lets go of runs it lost, takes over lapsed ones.

    ``take_over`` resumes a claimed run here; ``let_go`` stops a run this replica
    no longer owns (without touching it).
    """

    def __init__(
        self,
        store: RunStore,
        lease: Lease,
        final_states: Sequence[str],
        *,
        take_over: Callable[[Claim], Awaitable[None]],
        let_go: Callable[[str], Awaitable[None]],
        running: Callable[[], set[str]],
    ) -> None:
        self.lease = lease
        self._store = store
        self._final_states = list(final_states)
        self._take_over = take_over
        self._let_go = let_go
        self._running = running
        self._task: asyncio.Task[None] | None = None

    @property
    def beat_s(self) -> float:
        """Time between heartbeats: a third of the lease, so two may be missed."""
        return self.lease.lease_s / 3

    def start(self) -> None:
        """Starts the heartbeat (its first beat claims the runs lapsed so far)."""
        self._task = asyncio.get_running_loop().create_task(self._beat_forever())

    async def stop(self) -> None:
        """Stops the heartbeat; the leases then lapse unless the runs end first."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def release(self) -> None:
        """Hands this replica's runs back at once (call once it stopped working on them)."""
        released = await self._store.in_writer(lambda c: _release(c, self.lease, self._final_states))
        log.info("run leases released", owner=self.lease.owner, runs=released)

    async def beat(self) -> int:
        """One heartbeat: renew, let go of lost runs, take over lapsed ones; returns how many were taken over."""
        running = self._running()
        lost = await self._store.in_writer(lambda c: _renew(c, self.lease, self._final_states, running))
        for run_id in lost:
            log.warning("run lost to another executor", run_id=run_id, owner=self.lease.owner)
            await self._let_go(run_id)
        claims = await self._store.in_writer(lambda c: _claim(c, self.lease, self._final_states, _CLAIM_BATCH))
        for claim in claims:
            await self._take_over(claim)
        return len(claims)

    async def _beat_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away for a moment; try again next beat
                log.error("executor heartbeat failed", owner=self.lease.owner, error=repr(error))
            await asyncio.sleep(max(self.beat_s - (time.monotonic() - started), 0.0))
