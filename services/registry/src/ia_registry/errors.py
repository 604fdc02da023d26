"""Why a registry operation was refused. `service.py` maps each to a gRPC status.

Each carries the stable ErrorInfo reason and the metadata to send with it. Invalid
definitions are `ia_modules.definition.DefinitionError`, not one of these.
"""

from __future__ import annotations

from typing import ClassVar


class RegistryError(Exception):
    """A refused registry operation."""

    reason: ClassVar[str]

    def __init__(self, message: str, **metadata: object) -> None:
        super().__init__(message)
        self.metadata = metadata


class PipelineNotFound(RegistryError):
    reason = "PIPELINE_NOT_FOUND"

    def __init__(self, name: str, revision: int = 0) -> None:
        if revision:
            super().__init__(f"pipeline `{name}` has no revision {revision}", name=name, revision=revision)
        else:
            super().__init__(f"pipeline `{name}` does not exist", name=name)


class PipelineAlreadyExists(RegistryError):
    reason = "PIPELINE_ALREADY_EXISTS"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"pipeline `{name}` already exists; use UpdatePipeline to store a new revision", name=name
        )


class EtagMismatch(RegistryError):
    reason = "ETAG_MISMATCH"

    def __init__(self, name: str, etag: str) -> None:
        super().__init__(
            f"pipeline `{name}` changed since etag `{etag}` was read; get it again and retry",
            name=name,
            etag=etag,
        )


class ConcurrentModification(RegistryError):
    """The latest revision kept changing under an update that gave no etag."""

    reason = "CONCURRENT_MODIFICATION"

    def __init__(self, name: str) -> None:
        super().__init__(f"pipeline `{name}` is being changed by others; retry", name=name)


class InvalidField(RegistryError):
    """A request field that is missing or malformed (not a definition finding)."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
