"""Pipeline definitions the CLI tests write to files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def hello(name: str = "hello", *, value: int = 1) -> dict[str, Any]:
    """A valid canonical definition: two `pass` steps."""
    return {
        "name": name,
        "labels": {"team": "data"},
        "steps": [
            {"id": "a", "type": "pass", "config": {"values": {"x": value}}},
            {"id": "b", "type": "pass", "inputs": {"y": "{{ a.x }}"}},
        ],
        "flow": {"start_at": "a", "transitions": [{"from": "a", "to": "b"}]},
        "outputs": {"y": "{{ b.y }}"},
    }


def legacy(name: str = "legacy") -> dict[str, Any]:
    """A valid definition in the original library's dialect (flow.paths, from_step/to_step)."""
    return {
        "name": name,
        "steps": [{"id": "a", "type": "pass"}, {"id": "b", "type": "pass"}],
        "flow": {"start_at": "a", "paths": [{"from_step": "a", "to_step": "b"}]},
    }


def broken(name: str = "broken") -> dict[str, Any]:
    """Parses, but names a step that does not exist in a transition and a template."""
    return {
        "name": name,
        "steps": [
            {"id": "a", "type": "pass"},
            {"id": "b", "type": "pass", "inputs": {"y": "{{ nope.x }}"}},
        ],
        "flow": {"start_at": "a", "transitions": [{"from": "a", "to": "c"}, {"from": "a", "to": "b"}]},
    }


def write(path: Path, definition: dict[str, Any], *, indent: int | None = 2) -> Path:
    """Writes a definition as JSON and returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(definition, indent=indent) + "\n", encoding="utf-8")
    return path
