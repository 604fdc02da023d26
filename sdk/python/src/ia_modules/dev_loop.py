"""Hot reload for `ia-modules dev DIR`: pipeline files go to the registry, plugin folders to the plugin host.

A folder holding a `plugin.yaml` is a plugin: when any file in it changes, the
plugin host installs it again with `replace`, which stops the old process and
starts one on the new code. Any other `*.json` file whose object has `steps` is a
pipeline: when it changes it is validated and, without errors, pushed as a new
revision. A file with errors is not pushed, so the registry keeps the last good
revision, and the findings are reported. Runs already started keep the revision
they started on: the executor stores the definition with each run.

`DevLoop` does the work and reports `DevEvent`s; it prints nothing itself.
"""

from __future__ import annotations

import asyncio
import enum
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ia_modules.client import Client
from ia_modules.definition import Finding, Severity, load_definition, validate
from ia_modules.errors import IAError

MANIFEST = "plugin.yaml"


class Outcome(enum.Enum):
    """What one sync did."""

    PUSHED = "pushed"  # a new revision (or the first) is in the registry
    UNCHANGED = "unchanged"  # the registry already has this definition
    KEPT = "kept"  # the file has errors; the registry keeps what it had
    RESTARTED = "restarted"  # the plugin's process runs the new code
    FAILED = "failed"  # the stack refused (the plugin did not start, a push was refused)


@dataclass(frozen=True)
class DevEvent:
    """One pipeline pushed or kept, or one plugin restarted or failed."""

    outcome: Outcome
    path: Path
    # The pipeline's or plugin's name, when known.
    name: str = ""
    # The registry revision now latest (pipelines), 0 when none is stored.
    revision: int = 0
    findings: list[Finding] = field(default_factory=list)
    message: str = ""


class DevLoop:
    """Keeps a stack in step with the pipeline files and plugin folders under `root`."""

    def __init__(self, root: Path, client: Client, plugin_host_endpoint: str, report: Callable[[DevEvent], None]):
        self.root = root.resolve()
        self._client = client
        self._plugin_host_endpoint = plugin_host_endpoint
        self._report = report
        # The pipeline name each file had when it last loaded, for a file that no longer parses.
        self._names: dict[Path, str] = {}

    def plugin_folders(self) -> list[Path]:
        """Every folder under root holding a plugin.yaml."""
        return sorted(manifest.parent for manifest in self.root.rglob(MANIFEST))

    def pipeline_files(self) -> list[Path]:
        """Every pipeline file under root, outside plugin folders."""
        plugins = self.plugin_folders()
        return [p for p in sorted(self.root.rglob("*.json")) if _owner(p, plugins) is None and _is_pipeline(p)]

    def sync_all(self) -> None:
        """Installs every plugin and pushes every pipeline (plugins first: pipelines use them)."""
        for folder in self.plugin_folders():
            self.restart_plugin(folder)
        for path in self.pipeline_files():
            self.push_pipeline(path)

    def changed(self, paths: Iterable[Path]) -> None:
        """Reacts to changed files: each touched plugin restarts once, then each pipeline file syncs."""
        plugins = self.plugin_folders()
        touched_plugins: set[Path] = set()
        pipelines: set[Path] = set()
        for path in (Path(p).resolve() for p in paths):
            owner = _owner(path, plugins)
            if owner is not None:
                touched_plugins.add(owner)
            elif path.suffix == ".json" and path.is_file() and _is_pipeline(path):
                pipelines.add(path)
        for folder in sorted(touched_plugins):
            self.restart_plugin(folder)
        for path in sorted(pipelines):
            self.push_pipeline(path)

    def push_pipeline(self, path: Path) -> DevEvent:
        """Validates a pipeline file and pushes it when it has no errors."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            return self._emit(DevEvent(Outcome.KEPT, path, message=f"cannot read it: {error}"))
        loaded = load_definition(text, source_name=str(path))
        findings = list(loaded.findings)
        if loaded.pipeline is not None:
            findings += loaded.locate(validate(loaded.pipeline))
        name = loaded.pipeline.name if loaded.pipeline is not None else ""
        name = name or self._names.get(path, "")
        if name:
            self._names[path] = name
        if loaded.pipeline is None or any(f.severity is Severity.ERROR for f in findings):
            return self._emit(DevEvent(Outcome.KEPT, path, name, self._latest_revision(name), findings))
        try:
            action, version, warnings = self._client.push_pipeline(loaded.pipeline)
        except IAError as error:
            revision = self._latest_revision(name)
            return self._emit(DevEvent(Outcome.FAILED, path, name, revision, findings, error.message))
        outcome = Outcome.UNCHANGED if action == "unchanged" else Outcome.PUSHED
        reported = findings or [Finding.from_proto(w) for w in warnings]
        return self._emit(DevEvent(outcome, path, version.name, version.revision, reported))

    def restart_plugin(self, folder: Path) -> DevEvent:
        """Installs the plugin folder again, replacing the running process."""
        from ia_modules.plugin.host import PluginHostClient

        async def install() -> list:
            async with PluginHostClient(self._plugin_host_endpoint) as host:
                return await host.install(str(folder), replace=True)

        try:
            plugins = asyncio.run(install())
        except IAError as error:
            return self._emit(DevEvent(Outcome.FAILED, folder, folder.name, message=error.message))
        names = ", ".join(plugin.name for plugin in plugins)
        return self._emit(DevEvent(Outcome.RESTARTED, folder, names))

    def watch(self, stop: threading.Event | None = None, *, ready: Callable[[], None] | None = None) -> None:
        """Syncs on every change under root until `stop` is set (or Ctrl-C)."""
        from watchfiles import watch

        announced = False
        # yield_on_timeout: the first (empty) batch comes once the watcher is in place,
        # so `ready` never announces a watch that could still miss an edit.
        batches = watch(self.root, stop_event=stop, debounce=300, step=50, yield_on_timeout=True, rust_timeout=500)
        for changes in batches:
            if not announced and ready is not None:
                ready()
            announced = True
            if changes:
                self.changed(Path(path) for _change, path in changes)

    def _latest_revision(self, name: str) -> int:
        if not name:
            return 0
        try:
            return self._client.get_pipeline(name).revision
        except IAError:
            return 0

    def _emit(self, event: DevEvent) -> DevEvent:
        self._report(event)
        return event


def _owner(path: Path, plugin_folders: list[Path]) -> Path | None:
    """The plugin folder `path` is in, if any."""
    for folder in plugin_folders:
        if path == folder or folder in path.parents:
            return folder
    return None


def _is_pipeline(path: Path) -> bool:
    """A JSON object with `steps` (input and mock files have none). A file that does not
    parse counts when it mentions `"steps"`, so that its errors are reported."""
    try:
        raw = path.read_bytes()
    except OSError:
        return False
    try:
        document = json.loads(raw)
    except ValueError:
        return b'"steps"' in raw
    return isinstance(document, dict) and "steps" in document
