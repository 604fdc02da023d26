"""Checking data against a JSON Schema, with errors that name the field.

A violation's field is a path like `config.operator` or `config.rules[2].value`:
for a missing required property, or one the schema does not allow, the path ends
at that property rather than at the object holding it.

Schemas themselves are checked with `ia_modules.definition.validation.schema_problem`,
imported only where needed: the definition model loads a CEL runtime, which a
plugin process should not pay for at every start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError


def _field(root: str, error: ValidationError) -> str:
    path = root + error.json_path.removeprefix("$")
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        # jsonschema reports each missing property as its own error.
        missing = [name for name in error.validator_value if name not in instance and repr(name) in error.message]
        if missing:
            path += f".{missing[0]}"
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        extra = sorted(
            name for name in instance if name not in allowed and not any(re.search(p, name) for p in patterns)
        )
        if extra:
            path += f".{extra[0]}"
    return path


def violations(schema: Mapping[str, Any], value: Any, *, root: str) -> list[tuple[str, str]]:
    """(field, description) for every way `value` breaks `schema`, in path order."""
    if not schema:
        return []
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [(_field(root, error), error.message) for error in errors]
