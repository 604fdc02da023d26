"""The names a definition uses: pipeline names, step ids, and the built-in types."""

from __future__ import annotations

import re

PIPELINE_NAME = re.compile(r"[a-z][a-z0-9._-]*\Z")
"""A registry name: lowercase letters, digits, `-`, `_` and `.`, starting with a letter."""
STEP_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
"""A step id: letters, digits and `_`, starting with a letter (so templates can name it)."""

BUILTIN_STEP_TYPES = ("pass", "wait", "map", "pipeline", "human_input")
BUILTIN_CONDITION_TYPES = ("always", "parameter", "expression", "cel", "plugin")


def pipeline_name_for(text: str) -> str:
    """The registry name closest to a free-form title ("Content Review" -> "content-review"); may be empty."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return re.sub(r"^[^a-z]+", "", slug)


def step_id_for(text: str) -> str:
    """The step id closest to `text` ("fetch-data" -> "fetch_data"); may be invalid."""
    return re.sub(r"\W+", "_", text).strip("_")
