"""How the plugin host is configured: the environment, and an optional YAML file.

Environment:

- `IA_PLUGINS_DIR`: folder of plugin folders, each with a plugin.yaml (default
  `<data dir>/plugins`); `ia-plugin install` copies plugins there;
- `IA_REMOTE_PLUGINS`: remote plugin processes, `name=address,…` (an address is
  `host:port` or `unix:///path`), for example sidecar containers;
- `IA_PLUGINS_CONFIG`: a YAML file with `remote: {name: address}` and `grants:
  {process: {network, paths, env}}` (extra permissions for a process, built-in
  ones included, e.g. a database folder for `io`);
- `IA_STEPS_PATH`: folders (`:`-separated) holding the Python step classes the
  `python_steps` built-in runs; bound read-only into its sandbox;
- `IA_PLUGINS_UNSANDBOXED=1`: where bubblewrap cannot run, start plugins anyway,
  without isolation (logged as a warning at every start);
- `IA_PLUGINS_BUILTINS=0`, `IA_PLUGINS_ENTRY_POINTS=0`: skip those sources;
- `IA_PLUGIN_UID_BASE`: first uid given to sandboxed plugins when the host is root.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ia_modules.plugin.manifest import Permissions, parse_manifest
from ia_modules.plugin.schema import violations
from ia_plugins.sandbox import DEFAULT_UID_BASE

# sun_path is 108 bytes; leave room for "<process>/plugin.sock".
_MAX_SOCKET_ROOT = 60

_CONFIG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "remote": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        "grants": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}


class SettingsError(ValueError):
    """A configuration the host cannot start with."""


@dataclass(frozen=True)
class Supervision:
    """Timings of starting, watching and restarting plugin processes."""

    handshake_timeout_s: float = 15.0
    health_timeout_s: float = 5.0
    health_interval_s: float = 5.0
    # Consecutive failed health checks before a process is restarted.
    health_failures: int = 3
    restart_backoff_s: float = 0.5
    max_restart_backoff_s: float = 30.0
    # The circuit breaker opens after this many crashes within the window.
    breaker_crashes: int = 5
    breaker_window_s: float = 120.0
    stop_grace_s: float = 5.0
    # How long ResolvePlugin waits for a starting or restarting process.
    resolve_wait_s: float = 15.0


@dataclass(frozen=True)
class HostSettings:
    """Everything the host reads at start."""

    plugins_dir: Path
    socket_root: Path
    remote: Mapping[str, str] = field(default_factory=dict)
    grants: Mapping[str, Permissions] = field(default_factory=dict)
    steps_path: tuple[str, ...] = ()
    unsandboxed: bool = False
    builtins: bool = True
    entry_points: bool = True
    uid_base: int = DEFAULT_UID_BASE
    supervision: Supervision = Supervision()

    @classmethod
    def from_env(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> HostSettings:
        """Reads the variables above; raises SettingsError naming the bad one."""
        env = os.environ if environ is None else environ
        data = data_dir.resolve()
        config = _config_file(env)
        remote = dict(config.get("remote", {}))
        remote.update(_remote_list(env.get("IA_REMOTE_PLUGINS", "")))
        grants = {name: _grants(name, value) for name, value in config.get("grants", {}).items()}
        return cls(
            plugins_dir=Path(env.get("IA_PLUGINS_DIR") or data / "plugins").resolve(),
            socket_root=socket_root(data / "sockets"),
            remote=remote,
            grants=grants,
            steps_path=tuple(p for p in env.get("IA_STEPS_PATH", "").split(os.pathsep) if p),
            unsandboxed=env.get("IA_PLUGINS_UNSANDBOXED", "") == "1",
            builtins=env.get("IA_PLUGINS_BUILTINS", "1") != "0",
            entry_points=env.get("IA_PLUGINS_ENTRY_POINTS", "1") != "0",
            uid_base=_integer(env, "IA_PLUGIN_UID_BASE", DEFAULT_UID_BASE),
        )


def socket_root(preferred: Path) -> Path:
    """`preferred`, or a short folder under /tmp when its path is too long for sockets."""
    text = str(preferred)
    if len(text) <= _MAX_SOCKET_ROOT:
        return preferred
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"ia-plugins-{digest}"


def _integer(env: Mapping[str, str], key: str, default: int) -> int:
    text = env.get(key, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise SettingsError(f"{key}={text!r} is not a whole number") from None


def _remote_list(text: str) -> dict[str, str]:
    found = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, address = item.partition("=")
        if not sep or not name.strip() or not address.strip():
            raise SettingsError(f"IA_REMOTE_PLUGINS: {item!r} is not name=address")
        found[name.strip()] = address.strip()
    return found


def _config_file(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("IA_PLUGINS_CONFIG", "")
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise SettingsError(f"IA_PLUGINS_CONFIG: cannot read {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"IA_PLUGINS_CONFIG: {path} is not valid YAML: {error}") from None
    problems = violations(_CONFIG_SCHEMA, data, root="")
    if problems:
        where, description = problems[0]
        raise SettingsError(f"IA_PLUGINS_CONFIG: {path}: {where.lstrip('.')}: {description}")
    return data


def _grants(process: str, value: Mapping[str, Any]) -> Permissions:
    # The manifest's own rules check a grant: the same fields, the same meaning.
    try:
        return parse_manifest(
            {"name": "grant", "version": "0", "entrypoint": "grant", "permissions": dict(value)},
            source=f"IA_PLUGINS_CONFIG grants.{process}",
        ).permissions
    except ValueError as error:
        raise SettingsError(str(error).replace("permissions.", "")) from None
