"""Checking a person's answer against the task's ui_schema (a JSON Schema with UI hints)."""

from __future__ import annotations

from typing import Any

from ia_modules.json_schemas import schema_problem, schema_validator
from ia_service_kit.identity import Identity

__all__ = ["check_response", "may_answer"]


def _path(parts: Any) -> str:
    text = "data"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def may_answer(identity: Identity, assignees: list[str]) -> bool:
    """Whether ``identity`` may answer a task assigned to ``assignees``.

    An assignee is a user (the caller's subject: a JWT's `sub`, `key:<id>` for an
    API key) or `role:<role>` (anyone holding that role or one above it). A task
    with no assignees is anyone's; an admin may answer any task, and so may a
    service (or development mode), which answers for someone it has checked.
    """
    if not assignees or identity.is_service or identity.allows("admin"):
        return True
    for assignee in assignees:
        kind, _, name = assignee.partition(":")
        if assignee == identity.subject or (kind == "role" and identity.allows(name)):
            return True
    return False


def check_response(ui_schema: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) for each way ``data`` breaks ``ui_schema``; empty if it fits.

    ``ui:*`` hints are not JSON Schema keywords and are ignored by validation.
    """
    if not ui_schema:
        return []
    problem = schema_problem(ui_schema)
    if problem is not None:
        return [("ui_schema", f"the task's ui_schema is not a valid JSON Schema: {problem}")]
    errors = sorted(schema_validator(ui_schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [(_path(error.absolute_path), error.message) for error in errors]
