"""What the host knows about plugins, in its own terms (service.py maps these to protos)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ia_modules.plugin.authoring import Kind
from ia_modules.plugin.manifest import Limits, Permissions


class Health(str, enum.Enum):
    """Whether a plugin process can be called (see ia.pluginhost.v1.PluginHealth)."""

    STARTING = "starting"
    SERVING = "serving"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


class Source(str, enum.Enum):
    """Where the host found a plugin process."""

    BUILTIN = "builtin"
    DIRECTORY = "directory"
    ENTRY_POINT = "entry_point"
    REMOTE = "remote"


class Isolation(str, enum.Enum):
    """How a plugin process runs."""

    BUBBLEWRAP = "bubblewrap"
    UNSANDBOXED = "unsandboxed"
    REMOTE = "remote"


@dataclass(frozen=True)
class PluginView:
    """One plugin and the state of the process serving it."""

    name: str
    version: str
    kinds: tuple[Kind, ...]
    description: str
    config_schema: Mapping[str, Any]
    process: str
    source: Source
    health: Health
    restarts: int
    permissions: Permissions
    limits: Limits
    isolation: Isolation
    endpoint: str
    location: str
    last_error: str
    protocol_version: int
    start_time: datetime | None = None
