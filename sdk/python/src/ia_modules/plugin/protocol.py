"""The start-up handshake between the plugin host and a plugin process.

It follows HashiCorp go-plugin. The host starts the plugin with three variables
in its environment:

- `IA_PLUGIN_MAGIC_COOKIE` = `MAGIC_COOKIE`: tells the program it was started by
  a plugin host, not by a person (it is a fixed, public value, not a secret);
- `IA_PLUGIN_PROTOCOL_VERSIONS`: the protocol versions the host accepts, e.g. `1`;
- `IA_PLUGIN_SOCKET`: the Unix socket path to serve on.

The plugin serves `ia.plugin.v1.PluginService` and `grpc.health.v1.Health` on the
socket, then prints exactly one line on stdout::

    IA-PLUGIN|1|unix|/path/to/plugin.sock|grpc

Later stdout and stderr lines are forwarded to the host's log. The host may also
pass the plugin's limits: `IA_PLUGIN_MAX_CONCURRENCY`, `IA_PLUGIN_CALL_TIMEOUT_S`,
and its process name, `IA_PLUGIN_NAME`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAGIC_COOKIE_KEY = "IA_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE = "6c1b0a4e3f2d49e8a7b5c9d0e1f2a3b4-ia-modules-plugin"
PROTOCOL_VERSIONS_KEY = "IA_PLUGIN_PROTOCOL_VERSIONS"
SOCKET_KEY = "IA_PLUGIN_SOCKET"
MAX_CONCURRENCY_KEY = "IA_PLUGIN_MAX_CONCURRENCY"
CALL_TIMEOUT_KEY = "IA_PLUGIN_CALL_TIMEOUT_S"
NAME_KEY = "IA_PLUGIN_NAME"

PROTOCOL_VERSION = 1
HANDSHAKE_PREFIX = "IA-PLUGIN"

# The variables a host sets; everything else in a sandboxed plugin's environment
# is granted by its manifest.
HANDSHAKE_KEYS = (MAGIC_COOKIE_KEY, PROTOCOL_VERSIONS_KEY, SOCKET_KEY, MAX_CONCURRENCY_KEY, CALL_TIMEOUT_KEY, NAME_KEY)


class HandshakeError(Exception):
    """A plugin's handshake line (or start-up environment) is not acceptable."""


@dataclass(frozen=True)
class Handshake:
    """What a plugin announced: `IA-PLUGIN|<version>|<network>|<address>|<protocol>`."""

    protocol_version: int
    network: str
    address: str
    protocol: str

    @property
    def target(self) -> str:
        """The gRPC target to dial."""
        return f"unix://{self.address}" if self.network == "unix" else self.address


def handshake_line(socket_path: str) -> str:
    """The line a plugin prints once it serves on `socket_path`."""
    return f"{HANDSHAKE_PREFIX}|{PROTOCOL_VERSION}|unix|{socket_path}|grpc"


def handshake_env(
    socket_path: str, *, name: str = "", max_concurrency: int = 0, call_timeout_s: float = 0
) -> dict[str, str]:
    """The variables a host sets for a plugin it starts."""
    env = {
        MAGIC_COOKIE_KEY: MAGIC_COOKIE,
        PROTOCOL_VERSIONS_KEY: str(PROTOCOL_VERSION),
        SOCKET_KEY: socket_path,
    }
    if name:
        env[NAME_KEY] = name
    if max_concurrency:
        env[MAX_CONCURRENCY_KEY] = str(max_concurrency)
    if call_timeout_s:
        env[CALL_TIMEOUT_KEY] = f"{call_timeout_s:g}"
    return env


def parse_handshake(line: str, *, expected_socket: str | None = None) -> Handshake:
    """Checks a plugin's handshake line.

    Raises HandshakeError naming what is wrong: not a handshake line at all, a
    protocol version the host does not speak, a network other than `unix`, a
    socket other than the one the host gave, or a protocol other than `grpc`.
    """
    text = line.strip()
    shown = text if len(text) <= 120 else text[:117] + "..."
    expected_form = f"expected `{HANDSHAKE_PREFIX}|{PROTOCOL_VERSION}|unix|<socket path>|grpc`"
    parts = text.split("|")
    if len(parts) != 5 or parts[0] != HANDSHAKE_PREFIX:
        raise HandshakeError(f"invalid handshake line {shown!r}: {expected_form}")
    _, version_text, network, address, protocol = parts
    try:
        version = int(version_text)
    except ValueError:
        raise HandshakeError(
            f"invalid handshake line {shown!r}: protocol version {version_text!r} is not a number"
        ) from None
    if version != PROTOCOL_VERSION:
        raise HandshakeError(f"plugin speaks protocol version {version}; this host accepts {PROTOCOL_VERSION}")
    if network != "unix":
        raise HandshakeError(f"plugin announced network {network!r}; local plugins must serve on a Unix socket")
    if expected_socket is not None and address != expected_socket:
        raise HandshakeError(f"plugin announced socket {address!r}, but the host gave {expected_socket!r}")
    if protocol != "grpc":
        raise HandshakeError(f"plugin announced protocol {protocol!r}; only `grpc` is supported")
    return Handshake(version, network, address, protocol)


def check_environment(environ: Mapping[str, str]) -> str:
    """The socket path a plugin must serve on, after checking the host's variables.

    Raises HandshakeError with a message for a person who ran the plugin by hand
    (go-plugin does the same): plugins are started by the plugin host.
    """
    if environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE:
        raise HandshakeError(
            f"{MAGIC_COOKIE_KEY} is missing or wrong: this program is an IA Modules plugin and is "
            "started by the plugin host (ia-plugin-host), not run directly. To try it, use "
            "`ia-plugin test <folder>` or `ia-plugin validate <folder>`."
        )
    accepted = {v.strip() for v in environ.get(PROTOCOL_VERSIONS_KEY, "").split(",") if v.strip()}
    if str(PROTOCOL_VERSION) not in accepted:
        raise HandshakeError(
            f"the host accepts plugin protocol versions {sorted(accepted) or 'none'}; "
            f"this plugin speaks {PROTOCOL_VERSION}"
        )
    socket_path = environ.get(SOCKET_KEY, "")
    if not socket_path:
        raise HandshakeError(f"{SOCKET_KEY} is not set: the host must say where to serve")
    return socket_path
