"""The plugin host: which plugin processes exist, their state, and where to call them.

It holds one `PluginProcess` per process, keyed by process name, and answers
questions about plugins (each process serves one or more). It never calls the
plugins itself on behalf of others: `resolve` returns the endpoint and the caller
calls the plugin directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from ia.plugin.v1 import message_pb2
from ia_modules.plugin.authoring import Kind
from ia_modules.plugin.manifest import (
    Manifest,
    ManifestError,
    Permissions,
    copy_plugin_folder,
    load_manifest,
)
from ia_plugins.discovery import Unusable, discover
from ia_plugins.errors import (
    InvalidField,
    InvalidManifest,
    KindNotSupported,
    PluginAlreadyExists,
    PluginNotFound,
    PluginNotRemovable,
    PluginStartFailed,
    PluginUnavailable,
)
from ia_plugins.launcher import Launcher
from ia_plugins.model import Health, Isolation, PluginView, Source
from ia_plugins.process import LocalProcess, PluginProcess, RemoteProcess
from ia_plugins.settings import HostSettings
from ia_service_kit.logging import get_logger

log = get_logger(__name__)


class UnusableProcess(PluginProcess):
    """A plugin source that could not be used (a bad manifest): listed, never started."""

    isolation = Isolation.UNSANDBOXED

    def __init__(self, unusable: Unusable, host: PluginHost) -> None:
        super().__init__(unusable.name, unusable.location, host.settings.supervision)
        self.source = unusable.source
        self.folder = unusable.folder
        self.health = Health.FAILED
        self.last_error = unusable.problem

    def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""


def _kinds_of(process: PluginProcess) -> dict[str, tuple[Kind, ...]]:
    if process.descriptors:
        return {d.name: tuple(Kind.from_proto(k) for k in d.kinds) for d in process.descriptors}
    if isinstance(process, LocalProcess):
        return {entry.name: entry.kinds for entry in process.manifest.declared_plugins()}
    return {}


class PluginHost:
    """Discovers, starts, watches and stops plugin processes; answers where plugins are."""

    def __init__(self, settings: HostSettings, launcher: Launcher) -> None:
        self.settings = settings
        self.launcher = launcher
        self._processes: dict[str, PluginProcess] = {}
        self._lock = asyncio.Lock()
        self._installs: dict[str, list[str]] = {}

    def process(self, name: str) -> PluginProcess | None:
        """The process named `name` (a manifest name)."""
        return self._processes.get(name)

    async def start(self) -> None:
        """Discovers every source and starts its process in the background."""
        found, unusable = discover(self.settings)
        for item in found:
            manifest = item.manifest.with_permissions(self.settings.grants.get(item.manifest.name, Permissions()))
            self._add(LocalProcess(manifest, item.source, item.location, self.launcher, self.settings.supervision))
        for name, address in sorted(self.settings.remote.items()):
            self._add(RemoteProcess(name, address, self.settings.supervision))
        for problem in unusable:
            log.error("plugin source unusable", plugin=problem.name, location=problem.location, reason=problem.problem)
            self._add(UnusableProcess(problem, self))
        log.info("plugin processes starting", count=len(self._processes), plugins_dir=str(self.settings.plugins_dir))

    def _add(self, process: PluginProcess) -> None:
        if process.name in self._processes:
            log.warning("duplicate plugin process ignored", plugin=process.name, location=process.location)
            return
        self._processes[process.name] = process
        process.start()

    async def stop(self) -> None:
        """Stops every process (SIGTERM, then SIGKILL after the grace period)."""
        await asyncio.gather(*(process.stop() for process in self._processes.values()))
        for process in list(self._processes.values()):
            self._forget(process)
        with contextlib.suppress(OSError):  # still holds something not ours
            self.settings.socket_root.rmdir()

    async def started(self) -> None:
        """Waits (up to `resolve_wait_s`) for processes still on their first start, so that
        what they serve is known; a process that is restarting is not waited for."""
        starting = [p for p in self._processes.values() if p.health is Health.STARTING]
        await asyncio.gather(*(p.settled(self.settings.supervision.resolve_wait_s) for p in starting))

    def _forget(self, process: PluginProcess) -> None:
        """Drops a stopped process, and its socket folder."""
        self._processes.pop(process.name, None)
        if isinstance(process, LocalProcess):
            shutil.rmtree(self.settings.socket_root / process.name, ignore_errors=True)

    def views(self) -> list[PluginView]:
        """Every plugin, one per name (the first process to serve a name wins), by name."""
        seen: dict[str, PluginView] = {}
        for process in self._processes.values():
            for view in self._views_of(process):
                if view.name in seen:
                    if seen[view.name].process != view.process:
                        log.warning("plugin name served twice", plugin=view.name, ignored=view.process)
                    continue
                seen[view.name] = view
        return [seen[name] for name in sorted(seen)]

    def _views_of(self, process: PluginProcess) -> list[PluginView]:
        described = {d.name: d for d in process.descriptors}
        kinds = _kinds_of(process) or {process.name: ()}
        views = []
        for name, plugin_kinds in kinds.items():
            descriptor = described.get(name)
            manifest = process.manifest if isinstance(process, LocalProcess) else None
            views.append(
                PluginView(
                    name=name,
                    version=descriptor.version if descriptor else (manifest.version if manifest else ""),
                    kinds=plugin_kinds,
                    description=descriptor.description if descriptor else (manifest.description if manifest else ""),
                    config_schema=_schema(descriptor, manifest, name),
                    process=process.name,
                    source=process.source,
                    health=process.health,
                    restarts=process.restarts,
                    permissions=process.permissions,
                    limits=process.limits,
                    isolation=process.isolation,
                    endpoint=process.endpoint,
                    location=process.location,
                    last_error=process.last_error,
                    protocol_version=process.protocol_version,
                    start_time=process.start_time,
                )
            )
        return views

    def _owner(self, name: str) -> PluginProcess | None:
        for process in self._processes.values():
            if name in _kinds_of(process):
                return process
        return None

    def view(self, name: str) -> PluginView:
        """The plugin `name`; raises PluginNotFound."""
        for view in self.views():
            if view.name == name:
                return view
        raise PluginNotFound(name)

    async def resolve(self, name: str, kind: Kind | None = None) -> PluginView:
        """The plugin `name`, once its process is SERVING (waiting up to `resolve_wait_s`).

        Raises PluginNotFound, KindNotSupported or PluginUnavailable.
        """
        if not name:
            raise InvalidField("name", "give the plugin's name")
        deadline = time.monotonic() + self.settings.supervision.resolve_wait_s
        owner = self._owner(name)
        if owner is None:
            # A process still starting may turn out to serve it.
            pending = [p for p in self._processes.values() if p.health in (Health.STARTING, Health.RESTARTING)]
            await asyncio.gather(*(p.settled(max(0.0, deadline - time.monotonic())) for p in pending))
            owner = self._owner(name)
        if owner is None:
            raise PluginNotFound(name)
        if owner.health is not Health.SERVING:
            await owner.settled(max(0.0, deadline - time.monotonic()))
        view = next(v for v in self._views_of(owner) if v.name == name)
        if owner.health is not Health.SERVING:
            raise PluginUnavailable(name, owner.health.value, owner.last_error)
        if kind is not None and kind not in view.kinds:
            raise KindNotSupported(name, kind.value, [k.value for k in view.kinds])
        return view

    async def install(self, source_dir: str, *, replace: bool = False, request_id: str = "") -> list[PluginView]:
        """Copies a plugin folder into the plugins folder (unless it is there) and starts it.

        Raises InvalidField, InvalidManifest, PluginAlreadyExists, PluginNotRemovable
        (replacing a built-in) or PluginStartFailed (and then removes the copy).
        """
        await self.started()
        async with self._lock:
            if request_id and request_id in self._installs:
                return [self.view(name) for name in self._installs[request_id]]
            if not source_dir:
                raise InvalidField("source_dir", "give the folder holding the plugin's plugin.yaml")
            try:
                folder = Path(source_dir).expanduser().resolve()
                is_folder = folder.is_dir()
            except (OSError, ValueError, RuntimeError) as error:  # a NUL byte, a name too long, a loop
                raise InvalidField("source_dir", f"{source_dir[:200]!r} is not a usable path: {error}") from None
            if not is_folder:
                raise InvalidField("source_dir", f"{source_dir} is not a folder on the plugin host")
            manifest = _checked_manifest(folder)
            existing = self._processes.get(manifest.name)
            for entry in manifest.declared_plugins():
                owner = self._owner(entry.name)
                if owner is not None and owner is not existing:
                    raise PluginAlreadyExists(entry.name, owner.name)
            if existing is not None:
                if not replace:
                    raise PluginAlreadyExists(manifest.name, existing.name)
                if existing.source is not Source.DIRECTORY:
                    raise PluginNotRemovable(manifest.name, existing.source.value)
                await existing.stop()
                self._forget(existing)
            target = self.settings.plugins_dir / manifest.name
            copied = folder != target
            if copied:
                copy_plugin_folder(folder, target)
            manifest = _checked_manifest(target).with_permissions(
                self.settings.grants.get(manifest.name, Permissions())
            )
            process = LocalProcess(manifest, Source.DIRECTORY, str(target), self.launcher, self.settings.supervision)
            self._add(process)
            supervision = self.settings.supervision
            health = await process.settled(supervision.handshake_timeout_s + supervision.health_timeout_s + 5)
            if health is not Health.SERVING:
                await process.stop()
                self._forget(process)
                if copied:
                    shutil.rmtree(target, ignore_errors=True)
                raise PluginStartFailed(manifest.name, process.last_error or health.value)
            log.info("plugin installed", plugin=manifest.name, folder=str(target))
            views = self._views_of(process)
            if request_id:
                self._installs[request_id] = [view.name for view in views]
            return views

    async def uninstall(self, name: str) -> list[str]:
        """Stops the process serving `name` (a plugin or process name) and removes its folder.

        Raises PluginNotFound or PluginNotRemovable.
        """
        async with self._lock:
            owner = self._owner(name) or self._processes.get(name)
            if owner is None:
                raise PluginNotFound(name)
            if owner.source is not Source.DIRECTORY:
                raise PluginNotRemovable(name, owner.source.value)
            removed = sorted(_kinds_of(owner)) or [owner.name]
            await owner.stop()
            self._forget(owner)
            folder = owner.manifest.folder if isinstance(owner, LocalProcess) else getattr(owner, "folder", None)
            if folder is not None and folder.parent == self.settings.plugins_dir:
                shutil.rmtree(folder, ignore_errors=True)
            log.info("plugin uninstalled", plugin=owner.name, removed=",".join(removed))
            return removed


def _schema(descriptor: message_pb2.PluginDescriptor | None, manifest: Manifest | None, name: str) -> dict[str, Any]:
    if descriptor is not None:
        return json_format.MessageToDict(descriptor.config_schema)
    if manifest is not None:
        for entry in manifest.declared_plugins():
            if entry.name == name:
                return dict(entry.config_schema)
    return {}


def _checked_manifest(folder: Path) -> Manifest:
    try:
        return load_manifest(folder)
    except ManifestError as error:
        raise InvalidManifest(str(error), error.problems) from None
