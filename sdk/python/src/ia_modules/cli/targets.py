"""Definitions named on the command line: a file, or a pipeline registered as `NAME[@REVISION]`."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ia_modules.cli.console import connect
from ia_modules.cli.definitions import load_parsed
from ia_modules.cli.sources import pipeline_reference, read_text

if TYPE_CHECKING:
    from ia.pipeline.v1 import pipeline_pb2


@dataclass
class Definition:
    """A definition and where it came from, for messages and headers."""

    pipeline: "pipeline_pb2.Pipeline"
    label: str
    """The file as given, or `name@revision` as stored."""
    path: Path | None = None
    """The file, when the definition came from one."""


def is_file(target: str) -> bool:
    """Whether `target` names a file (it exists, or looks like one) rather than a registered pipeline."""
    return Path(target).exists() or target.endswith(".json") or "/" in target


def load(target: str) -> Definition:
    """The definition `target` names: read from a file, or fetched from the registry.

    Problems (no such file, invalid JSON, an unknown pipeline, no stack) surface as
    one-line errors through the command's error handling.
    """
    if is_file(target):
        path = Path(target)
        return Definition(load_parsed(path, read_text(path)).pipeline, target, path)
    name, revision = pipeline_reference(target)
    with connect() as client:
        version = client.get_pipeline(name, revision)
    return Definition(version.definition, f"{version.name}@{version.revision}")
