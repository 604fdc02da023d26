"""Why a plugin host operation was refused. `service.py` maps each to a gRPC status.

Each carries the stable ErrorInfo reason and the metadata to send with it.
"""

from __future__ import annotations

from typing import ClassVar

import grpc


class HostError(Exception):
    """A refused plugin host operation."""

    reason: ClassVar[str]
    code: ClassVar[grpc.StatusCode]

    def __init__(self, message: str, **metadata: object) -> None:
        super().__init__(message)
        self.metadata = {key: str(value) for key, value in metadata.items()}


class PluginNotFound(HostError):
    reason = "PLUGIN_NOT_FOUND"
    code = grpc.StatusCode.NOT_FOUND

    def __init__(self, name: str) -> None:
        super().__init__(f"no plugin named {name!r}; `ia-plugin list` shows the installed ones", plugin=name)


class PluginAlreadyExists(HostError):
    reason = "PLUGIN_ALREADY_EXISTS"
    code = grpc.StatusCode.ALREADY_EXISTS

    def __init__(self, name: str, process: str) -> None:
        super().__init__(
            f"plugin {name!r} is already served by {process!r}; uninstall it first, or install with replace",
            plugin=name,
            process=process,
        )


class PluginNotRemovable(HostError):
    reason = "PLUGIN_NOT_REMOVABLE"
    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, name: str, source: str) -> None:
        super().__init__(
            f"plugin {name!r} comes from {source}, not the plugins folder; only installed folders can be removed",
            plugin=name,
            source=source,
        )


class KindNotSupported(HostError):
    reason = "KIND_NOT_SUPPORTED"
    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, name: str, kind: str, kinds: list[str]) -> None:
        super().__init__(
            f"plugin {name!r} is not a {kind} plugin (it is: {', '.join(kinds) or 'nothing yet'})",
            plugin=name,
            kind=kind,
        )


class PluginUnavailable(HostError):
    reason = "PLUGIN_UNAVAILABLE"
    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, name: str, health: str, last_error: str) -> None:
        why = f": {last_error}" if last_error else ""
        super().__init__(f"plugin {name!r} is not serving ({health}){why}", plugin=name, health=health)


class InvalidManifest(HostError):
    reason = "INVALID_MANIFEST"
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class PluginStartFailed(HostError):
    reason = "PLUGIN_START_FAILED"
    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"plugin {name!r} did not start: {why}", plugin=name)


class InvalidField(HostError):
    """A request field that is missing or malformed."""

    reason = "INVALID_ARGUMENT"
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
