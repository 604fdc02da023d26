"""`plugin.yaml`: what a plugin folder declares to the host.

    name: weather                 # the process; also the plugin, unless `plugins` lists several
    version: 1.0.0
    protocol_version: 1
    description: Is the weather good enough?
    kinds: [condition]
    entrypoint: [python, plugin.py] # a list, or one string split like a shell; `python`
                                    # means the host's own interpreter; relative paths are
                                    # relative to the folder
    sandbox: true                 # run under bubblewrap (the default); false asks for none
    permissions:                  # what the sandbox grants beyond computing
      network: true
      paths: [/srv/reference, {path: /srv/out, writable: true}]
      env: [WEATHER_API_KEY]      # passed through from the host's environment
    limits:                       # 0 or absent: the defaults below
      memory_mb: 1024             # address space (RLIMIT_AS)
      cpu_seconds: 3600           # CPU time over the process's life (RLIMIT_CPU)
      processes: 64               # processes and threads (RLIMIT_NPROC)
      open_files: 256             # RLIMIT_NOFILE
      call_timeout_s: 60          # deadline of one call
      max_concurrency: 16         # calls in flight at once
    config_schema: {type: object} # JSON Schema of the plugin's config
    plugins:                      # for a process serving several plugins
      - {name: a, kinds: [validator], description: ..., config_schema: {...}}

The host trusts Describe for what a running process serves; the manifest says
what it may do and how to start it.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ia_modules.plugin.authoring import NAME_PATTERN, Kind
from ia_modules.plugin.protocol import PROTOCOL_VERSION
from ia_modules.plugin.schema import violations

MANIFEST_FILE = "plugin.yaml"

_KINDS = [kind.value for kind in Kind]
_PLUGIN_NAME = {"type": "string", "pattern": NAME_PATTERN.pattern}
_ENTRY = {
    "type": "object",
    "required": ["name", "kinds"],
    "additionalProperties": False,
    "properties": {
        "name": _PLUGIN_NAME,
        "kinds": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": _KINDS}},
        "description": {"type": "string"},
        "config_schema": {"type": "object"},
    },
}
_LIMIT = {"type": "integer", "minimum": 0}

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "version", "entrypoint"],
    "additionalProperties": False,
    "properties": {
        "name": _PLUGIN_NAME,
        # YAML reads `version: 1.0` as a number; it is kept as written.
        "version": {"type": ["string", "number"], "minLength": 1},
        "protocol_version": {"type": "integer", "const": PROTOCOL_VERSION},
        "description": {"type": "string"},
        "kinds": _ENTRY["properties"]["kinds"],
        "entrypoint": {
            "oneOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
            ]
        },
        "sandbox": {"type": "boolean"},
        "permissions": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "network": {"type": "boolean"},
                "paths": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {"type": "string", "pattern": "^/"},
                            {
                                "type": "object",
                                "required": ["path"],
                                "additionalProperties": False,
                                "properties": {
                                    "path": {"type": "string", "pattern": "^/"},
                                    "writable": {"type": "boolean"},
                                },
                            },
                        ]
                    },
                },
                "env": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^(?!IA_PLUGIN_)[A-Za-z_][A-Za-z0-9_]*$"},
                },
            },
        },
        "limits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "memory_mb": _LIMIT,
                "cpu_seconds": _LIMIT,
                "processes": _LIMIT,
                "open_files": _LIMIT,
                "call_timeout_s": {"type": "number", "minimum": 0},
                "max_concurrency": _LIMIT,
            },
        },
        "config_schema": {"type": "object"},
        "plugins": {"type": "array", "minItems": 1, "items": _ENTRY},
    },
}


class ManifestError(ValueError):
    """A manifest that cannot be used; `problems` are (field, description) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        first_field, first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{source}: {first_field + ': ' if first_field else ''}{first}{more}")


@dataclass(frozen=True)
class PathGrant:
    """A host path the sandbox shows at the same place, read-only unless `writable`."""

    path: str
    writable: bool = False


@dataclass(frozen=True)
class Permissions:
    """What a plugin may do beyond computing."""

    network: bool = False
    paths: tuple[PathGrant, ...] = ()
    env: tuple[str, ...] = ()

    def merged(self, other: Permissions) -> Permissions:
        """Both sets of grants (the host's configuration may add to a manifest's)."""
        paths = {grant.path: grant for grant in self.paths}
        for grant in other.paths:
            known = paths.get(grant.path)
            paths[grant.path] = PathGrant(grant.path, grant.writable or (known is not None and known.writable))
        return Permissions(
            network=self.network or other.network,
            paths=tuple(paths.values()),
            env=tuple(dict.fromkeys([*self.env, *other.env])),
        )


@dataclass(frozen=True)
class Limits:
    """Resource limits of a plugin process."""

    memory_mb: int = 1024
    cpu_seconds: int = 3600
    processes: int = 64
    open_files: int = 256
    call_timeout_s: float = 60.0
    max_concurrency: int = 16


@dataclass(frozen=True)
class PluginEntry:
    """A plugin a manifest says its process serves."""

    name: str
    kinds: tuple[Kind, ...]
    description: str = ""
    config_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """A parsed, checked plugin.yaml."""

    name: str
    version: str
    entrypoint: tuple[str, ...]
    protocol_version: int = PROTOCOL_VERSION
    description: str = ""
    kinds: tuple[Kind, ...] = ()
    sandbox: bool = True
    permissions: Permissions = Permissions()
    limits: Limits = Limits()
    config_schema: Mapping[str, Any] = field(default_factory=dict)
    plugins: tuple[PluginEntry, ...] = ()
    # The folder the manifest came from; None for one built in code.
    folder: Path | None = None

    def declared_plugins(self) -> list[PluginEntry]:
        """`plugins`, or the one plugin named like the process when `kinds` is given."""
        if self.plugins:
            return list(self.plugins)
        if self.kinds:
            return [PluginEntry(self.name, self.kinds, self.description, self.config_schema)]
        return []

    def command(self, python: str) -> list[str]:
        """The entrypoint to run: `python` is the given interpreter; relative paths are in the folder."""
        first, *rest = self.entrypoint
        if first in ("python", "python3"):
            return [python, *rest]
        if self.folder is not None and ("/" in first and not first.startswith("/")):
            return [str((self.folder / first).resolve()), *rest]
        return [first, *rest]

    def with_permissions(self, extra: Permissions) -> Manifest:
        """The manifest with `extra` grants added."""
        return replace(self, permissions=self.permissions.merged(extra))


def _limits(data: Mapping[str, Any]) -> Limits:
    defaults = Limits()
    values = {name: data.get(name) or getattr(defaults, name) for name in Limits.__dataclass_fields__}
    return Limits(**values)


def _permissions(data: Mapping[str, Any]) -> Permissions:
    grants = []
    for item in data.get("paths", []):
        if isinstance(item, str):
            grants.append(PathGrant(item))
        else:
            grants.append(PathGrant(item["path"], bool(item.get("writable", False))))
    return Permissions(network=bool(data.get("network", False)), paths=tuple(grants), env=tuple(data.get("env", [])))


def parse_manifest(data: Any, *, source: str = MANIFEST_FILE, folder: Path | None = None) -> Manifest:
    """A Manifest from already-parsed YAML/JSON data; raises ManifestError naming each bad field."""
    if not isinstance(data, Mapping):
        raise ManifestError(source, [("", "a manifest must be a mapping of fields (name, version, entrypoint, …)")])
    problems = violations(MANIFEST_SCHEMA, dict(data), root="")
    if problems:
        raise ManifestError(source, [(f.lstrip("."), d) for f, d in problems])
    entrypoint = data["entrypoint"]
    command = tuple(shlex.split(entrypoint) if isinstance(entrypoint, str) else entrypoint)
    if not command:
        raise ManifestError(source, [("entrypoint", "the command is empty")])
    plugins = tuple(
        PluginEntry(
            name=entry["name"],
            kinds=tuple(Kind(kind) for kind in entry["kinds"]),
            description=entry.get("description", ""),
            config_schema=entry.get("config_schema", {}),
        )
        for entry in data.get("plugins", [])
    )
    names = [entry.name for entry in plugins]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ManifestError(source, [("plugins", f"plugin names must be unique: {', '.join(duplicates)}")])
    return Manifest(
        name=data["name"],
        version=str(data["version"]),
        entrypoint=command,
        protocol_version=int(data.get("protocol_version", PROTOCOL_VERSION)),
        description=data.get("description", ""),
        kinds=tuple(Kind(kind) for kind in data.get("kinds", [])),
        sandbox=bool(data.get("sandbox", True)),
        permissions=_permissions(data.get("permissions", {})),
        limits=_limits(data.get("limits", {})),
        config_schema=data.get("config_schema", {}),
        plugins=plugins,
        folder=folder,
    )


def load_manifest(folder: str | Path) -> Manifest:
    """Reads `<folder>/plugin.yaml`; raises ManifestError (or OSError if the folder is unreadable)."""
    path = Path(folder) / MANIFEST_FILE
    source = str(path)
    if not path.is_file():
        raise ManifestError(source, [("", f"no {MANIFEST_FILE} in {folder}")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ManifestError(source, [("", f"{where}not valid YAML: {getattr(error, 'problem', error)}")]) from None
    return parse_manifest(data, source=source, folder=Path(folder).resolve())


def copy_plugin_folder(source: Path, target: Path) -> None:
    """Copies a plugin folder to `target` (replacing it) through a temporary sibling.

    Caches and version-control folders are left out. The copy is made readable by
    all: a host running as root runs each plugin as a uid of its own, which could
    not read a copy of, say, a private temporary folder.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.installing")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__", ".git", ".pytest_cache", "*.pyc"))
    for path in [staging, *staging.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | (0o555 if path.is_dir() or mode & 0o100 else 0o444))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
