"""Finding plugin processes: built-ins, IA_PLUGINS_DIR folders, Python entry points.

An entry point in the group `ia_modules.plugins` names a `Manifest` or a dict in
the plugin.yaml format; without an `entrypoint` it runs `python -m <its module>`::

    [project.entry-points."ia_modules.plugins"]
    weather = "acme_weather.plugin:MANIFEST"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ia_modules.plugin.manifest import (
    MANIFEST_FILE,
    Manifest,
    ManifestError,
    load_manifest,
    parse_manifest,
)
from ia_plugins.builtin import builtin_manifests
from ia_plugins.model import Source
from ia_plugins.settings import HostSettings

ENTRY_POINT_GROUP = "ia_modules.plugins"


@dataclass(frozen=True)
class Found:
    """A plugin process to start."""

    manifest: Manifest
    source: Source
    location: str


@dataclass(frozen=True)
class Unusable:
    """A plugin source the host cannot use, and why."""

    name: str
    source: Source
    location: str
    problem: str
    folder: Path | None = None


def discover(settings: HostSettings) -> tuple[list[Found], list[Unusable]]:
    """Every plugin process the settings point at, built-ins first."""
    found: list[Found] = []
    unusable: list[Unusable] = []
    if settings.builtins:
        found += [
            Found(manifest, Source.BUILTIN, f"ia_plugins.builtin.{manifest.name}")
            for manifest in builtin_manifests(settings.steps_path)
        ]
    folders = sorted(settings.plugins_dir.iterdir()) if settings.plugins_dir.is_dir() else []
    for folder in folders:
        if not (folder / MANIFEST_FILE).is_file():
            continue
        try:
            found.append(Found(load_manifest(folder), Source.DIRECTORY, str(folder)))
        except (ManifestError, OSError) as error:
            unusable.append(Unusable(folder.name, Source.DIRECTORY, str(folder), str(error), folder))
    if settings.entry_points:
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                found.append(Found(entry_point_manifest(entry), Source.ENTRY_POINT, entry.value))
            except ManifestError as error:
                unusable.append(Unusable(entry.name, Source.ENTRY_POINT, entry.value, str(error)))
            except Exception as error:  # a third-party package failing to import
                unusable.append(
                    Unusable(entry.name, Source.ENTRY_POINT, entry.value, f"{type(error).__name__}: {error}")
                )
    return found, unusable


def entry_point_manifest(entry: metadata.EntryPoint) -> Manifest:
    """The manifest an entry point names; raises ManifestError or the import's error."""
    value = entry.load()
    if isinstance(value, Manifest):
        return value
    if not isinstance(value, Mapping):
        raise ManifestError(entry.value, [("", f"must be a Manifest or a mapping, not {type(value).__name__}")])
    data = {"entrypoint": ["python", "-m", entry.module], **value}
    return parse_manifest(data, source=f"entry point {entry.value}")
