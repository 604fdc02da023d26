"""Plugin processes the host keeps track of: its own (local) and others' (remote).

A `LocalProcess` is started by the host and kept running:

- start: launch (sandboxed), handshake, health check, Describe; a plugin refused
  there (bad handshake, never healthy, …) is FAILED with the reason, and not
  retried: starting it again would fail the same way;
- watch: health is checked every `health_interval_s`; `health_failures` misses in
  a row count as a crash (the process is stopped);
- crash: a restart after an exponential backoff (`restart_backoff_s`, doubling
  with each crash in the window, up to `max_restart_backoff_s`); once it has
  crashed `breaker_crashes` times within `breaker_window_s` the circuit breaker
  opens: FAILED, no more restarts;
- stop: SIGTERM, then SIGKILL after `stop_grace_s`.

Metrics: `plugin_processes_running{plugin}` is 1 while a process serves and 0
otherwise; `plugin_restarts_total{plugin,reason}` counts restarts by why the
process went away (`exited`, or `unhealthy`: it stopped answering health checks).

A `RemoteProcess` runs elsewhere (a sidecar); the host only checks its health
and asks it what it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from ia.plugin.v1 import message_pb2
from ia_modules.errors import IAError
from ia_modules.plugin.client import PluginClient
from ia_modules.plugin.launch import LaunchedPlugin, LaunchError, describe_exit
from ia_modules.plugin.manifest import Limits, Manifest, Permissions
from ia_modules.plugin.protocol import PROTOCOL_VERSION
from ia_plugins import output
from ia_plugins.launcher import Launcher
from ia_plugins.model import Health, Isolation, Source
from ia_plugins.settings import Supervision
from ia_service_kit.logging import get_logger
from ia_service_kit.telemetry import PLUGIN_PROCESSES_RUNNING, PLUGIN_RESTARTS

log = get_logger(__name__)

_SETTLED = (Health.SERVING, Health.FAILED, Health.STOPPED)


class PluginProcess:
    """State shared by local and remote plugin processes; changes can be awaited."""

    source: Source
    isolation: Isolation

    def __init__(self, name: str, location: str, supervision: Supervision) -> None:
        self.name = name
        self.location = location
        self.supervision = supervision
        self.health = Health.STOPPED
        self.restarts = 0
        self.last_error = ""
        self.endpoint = ""
        self.descriptors: list[message_pb2.PluginDescriptor] = []
        self.protocol_version = PROTOCOL_VERSION
        self.start_time: datetime | None = None
        self._changed = asyncio.Condition()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._launching = False

    @property
    def permissions(self) -> Permissions:
        return Permissions()

    @property
    def limits(self) -> Limits:
        return Limits()

    def start(self) -> None:
        """Starts supervising in the background; see `settled` and `wait_for`."""
        if self._task is None:
            self.health = Health.STARTING
            self._task = asyncio.create_task(self._supervise(), name=f"plugin {self.name}")

    async def stop(self) -> None:
        """Stops the process (or stops watching a remote one)."""
        self._stop.set()
        if self._task is not None:
            if self._launching:
                # A start can take the whole handshake timeout; shutting down need not wait for it.
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._set(Health.STOPPED)

    async def wait_for(self, predicate: Callable[[PluginProcess], bool], timeout_s: float) -> bool:
        """Waits until `predicate(self)` holds; False when `timeout_s` passes first."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout_s)
            except TimeoutError:
                return False
        return True

    async def settled(self, timeout_s: float) -> Health:
        """Waits (up to `timeout_s`) until SERVING, FAILED or STOPPED; the health then."""
        await self.wait_for(lambda process: process.health in _SETTLED, timeout_s)
        return self.health

    async def _set(self, health: Health, *, error: str | None = None) -> None:
        async with self._changed:
            self.health = health
            if error is not None:
                self.last_error = error
            if health is not Health.SERVING:
                self.endpoint = ""
            PLUGIN_PROCESSES_RUNNING.labels(self.name).set(1 if health is Health.SERVING else 0)
            self._changed.notify_all()

    async def _serving(self, endpoint: str, descriptors: list[message_pb2.PluginDescriptor]) -> None:
        async with self._changed:
            self.endpoint = endpoint
            self.descriptors = descriptors
            self.start_time = datetime.now(UTC)
            self.health = Health.SERVING
            PLUGIN_PROCESSES_RUNNING.labels(self.name).set(1)
            self._changed.notify_all()

    async def _pause(self, seconds: float) -> bool:
        """Sleeps unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _supervise(self) -> None:
        raise NotImplementedError


class LocalProcess(PluginProcess):
    """A plugin process the host starts from a manifest, sandboxed, and restarts."""

    def __init__(
        self, manifest: Manifest, source: Source, location: str, launcher: Launcher, supervision: Supervision
    ) -> None:
        super().__init__(manifest.name, location, supervision)
        self.manifest = manifest
        self.source = source
        self.launcher = launcher
        self.isolation = launcher.isolation_for(manifest)
        self._crashes: deque[float] = deque()

    @property
    def permissions(self) -> Permissions:
        return self.manifest.permissions

    @property
    def limits(self) -> Limits:
        return self.manifest.limits

    def _forward(self, stream: str, line: str) -> None:
        output.forward(self.name, stream, line)

    async def _supervise(self) -> None:
        while not self._stop.is_set():
            self._launching = True
            try:
                launched = await self.launcher.launch(self.manifest, self._forward)
            except LaunchError as error:
                log.error("plugin refused", plugin=self.name, reason=str(error))
                await self._set(Health.FAILED, error=f"refused: {error}")
                return
            finally:
                self._launching = False
            await self._serving(launched.target, launched.plugins)
            log.info("plugin serving", plugin=self.name, endpoint=launched.target, restarts=self.restarts)
            why, ended = await self._watch(launched)
            if self._stop.is_set():
                return
            now = time.monotonic()
            self._crashes.append(now)
            while self._crashes and now - self._crashes[0] > self.supervision.breaker_window_s:
                self._crashes.popleft()
            if len(self._crashes) >= self.supervision.breaker_crashes:
                message = (
                    f"circuit breaker open: crashed {len(self._crashes)} times within "
                    f"{self.supervision.breaker_window_s:g}s; last: {ended}"
                )
                log.error("plugin keeps crashing; not restarting it", plugin=self.name, reason=message)
                await self._set(Health.FAILED, error=message)
                return
            delay = min(
                self.supervision.restart_backoff_s * 2 ** (len(self._crashes) - 1),
                self.supervision.max_restart_backoff_s,
            )
            log.warning("plugin crashed; restarting", plugin=self.name, reason=ended, restart_in_s=delay)
            await self._set(Health.RESTARTING, error=ended)
            if await self._pause(delay):
                return
            self.restarts += 1
            PLUGIN_RESTARTS.labels(self.name, why).inc()

    async def _watch(self, launched: LaunchedPlugin) -> tuple[str, str]:
        """Why the process ended (`exited`, `unhealthy` or `stopped`), and how, in words."""
        exited = asyncio.ensure_future(launched.wait())
        stopping = asyncio.ensure_future(self._stop.wait())
        misses = 0
        async with PluginClient(launched.target, wait_for_ready=False) as client:
            try:
                while True:
                    await asyncio.wait(
                        {exited, stopping},
                        timeout=self.supervision.health_interval_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if exited.done():
                        return "exited", f"process ended ({describe_exit(exited.result())})"
                    if stopping.done():
                        code = await launched.stop(self.supervision.stop_grace_s)
                        log.info("plugin stopped", plugin=self.name, exit=describe_exit(code))
                        return "stopped", "stopped"
                    if await client.health(timeout_s=self.supervision.health_timeout_s):
                        misses = 0
                        continue
                    misses += 1
                    if misses >= self.supervision.health_failures:
                        code = await launched.stop(self.supervision.stop_grace_s)
                        how = f"stopped answering health checks ({misses} in a row; {describe_exit(code)})"
                        return "unhealthy", how
            finally:
                for task in (exited, stopping):
                    task.cancel()
                await asyncio.gather(exited, stopping, return_exceptions=True)


class RemoteProcess(PluginProcess):
    """A plugin process running elsewhere, at `address` (a gRPC target)."""

    source = Source.REMOTE
    isolation = Isolation.REMOTE

    def __init__(self, name: str, address: str, supervision: Supervision) -> None:
        super().__init__(name, address, supervision)
        self.address = address

    async def _supervise(self) -> None:
        async with PluginClient(self.address, wait_for_ready=False) as client:
            while not self._stop.is_set():
                healthy = await client.health(timeout_s=self.supervision.health_timeout_s)
                if healthy and self.health is not Health.SERVING:
                    try:
                        descriptors = await client.describe(timeout_s=self.supervision.health_timeout_s)
                    except IAError as error:
                        await self._set(Health.RESTARTING, error=f"Describe failed: {error}")
                    else:
                        await self._serving(self.address, descriptors)
                        log.info("remote plugin serving", plugin=self.name, endpoint=self.address)
                elif not healthy and self.health is not Health.RESTARTING:
                    log.warning("remote plugin not answering", plugin=self.name, endpoint=self.address)
                    await self._set(Health.RESTARTING, error=f"not answering health checks at {self.address}")
                if await self._pause(self.supervision.health_interval_s):
                    return
