"""JSON paths into a definition, written the way people read them: `steps[3].inputs.topic`."""

from __future__ import annotations

import json
import re

ROOT = "$"

_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")
_SEGMENT = re.compile(r'\.([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def key(path: str, name: str) -> str:
    """The path of member `name` of the object at `path`."""
    name = str(name)
    if _PLAIN_KEY.match(name):
        return name if path == ROOT else f"{path}.{name}"
    quoted = f"[{json.dumps(name)}]"
    return quoted if path == ROOT else f"{path}{quoted}"


def index(path: str, position: int) -> str:
    """The path of item `position` of the list at `path`."""
    return f"{path}[{position}]" if path != ROOT else f"[{position}]"


def segments(path: str) -> list[str | int]:
    """Split a path made by `key`/`index` back into its keys (str) and indexes (int)."""
    if path == ROOT:
        return []
    text = path if path.startswith("[") else "." + path
    out: list[str | int] = []
    for match in _SEGMENT.finditer(text):
        plain, position, quoted = match.groups()
        if plain is not None:
            out.append(plain)
        elif position is not None:
            out.append(int(position))
        else:
            out.append(json.loads(quoted))
    return out


def join(path: str, parts: list[str | int]) -> str:
    """Extend `path` by `parts` (keys and indexes)."""
    for part in parts:
        path = index(path, part) if isinstance(part, int) else key(path, part)
    return path
