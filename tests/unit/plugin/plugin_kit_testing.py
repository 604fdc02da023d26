"""Writing throwaway plugin folders for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml


def write_plugin(folder: Path, source: str, **manifest: Any) -> Path:
    """A plugin folder: plugin.py holding `source`, and a plugin.yaml running it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.py").write_text(textwrap.dedent(source))
    document = {"name": folder.name, "version": "0.1.0", "entrypoint": ["python", "plugin.py"], **manifest}
    (folder / "plugin.yaml").write_text(yaml.safe_dump(document))
    return folder
