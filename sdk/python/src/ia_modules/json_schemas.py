"""JSON Schemas that users write (parameter schemas, a human task's ui_schema),
checked and applied without trusting them.

A schema is data from a definition, so applying one must not:
- fetch anything: only references inside the schema (`#...`) are allowed, and the
  validator is given an empty registry, so a remote `$ref` is a problem, not a
  request to a URL;
- run away: `pattern` and `patternProperties` are matched by the CEL runtime's
  regular expressions (the RE2 family: linear time, no backtracking), not by
  Python's `re`, where `^(a+)+$` takes exponential time;
- raise on a malformed schema (`{"$schema": []}`, say): every problem is a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["schema_problem", "schema_validator"]


def _references(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in ("$ref", "$dynamicRef"):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _patterns(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "pattern" and isinstance(item, str):
                yield item
            elif key == "patternProperties" and isinstance(item, Mapping):
                yield from item
            if key not in ("enum", "const", "default", "examples"):
                yield from _patterns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _patterns(item)


def _search(pattern: str, text: str) -> bool:
    from ia_modules.conditions import compile_cel

    return bool(compile_cel("subject.matches(pattern)").execute({"subject": text, "pattern": pattern}))


def _pattern_problem(pattern: str) -> str | None:
    try:
        _search(pattern, "")
    except BaseException as error:  # the CEL runtime raises several types, panics included
        if not isinstance(error, Exception) and type(error).__name__ != "PanicException":
            raise
        return f"the pattern {pattern!r} is not supported (RE2 syntax, no backreferences or lookaround)"
    return None


def _validator_class(schema: Any) -> Any:
    import jsonschema

    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return _safe(base)


@lru_cache(maxsize=8)
def _safe(base: Any) -> Any:
    import jsonschema
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, expected: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not _search(expected, instance):
            yield ValidationError(f"{instance!r} does not match {expected!r}")

    def matched(schema: Mapping[str, Any], name: str) -> list[str]:
        return [p for p in schema.get("patternProperties", {}) if _search(p, name)]

    def pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        for name, value in instance.items():
            for expected in matched(schema, name):
                yield from validator.descend(value, patterns[expected], path=name, schema_path=expected)

    def additional_properties(validator: Any, allowed: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        known = schema.get("properties", {})
        extras = sorted(name for name in instance if name not in known and not matched(schema, name))
        if validator.is_type(allowed, "object"):
            for name in extras:
                yield from validator.descend(instance[name], allowed, path=name)
        elif allowed is False and extras:
            yield ValidationError(f"additional properties are not allowed ({', '.join(map(repr, extras))})")

    return jsonschema.validators.extend(
        base,
        {"pattern": pattern, "patternProperties": pattern_properties, "additionalProperties": additional_properties},
    )


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a JSON Schema this project applies (draft 2020-12 unless it
    says otherwise), in words; None when it is one."""
    import jsonschema

    if isinstance(schema, bool):
        return None
    if not isinstance(schema, Mapping):
        return "a JSON Schema is an object"
    if "$schema" in schema and not isinstance(schema["$schema"], str):
        return "`$schema` must be a string: the URI of a JSON Schema dialect"
    for reference in _references(schema):
        if not isinstance(reference, str) or not reference.startswith("#"):
            return f"only references inside the schema (#/...) are allowed, not {reference!r}"
    cls = _validator_class(schema)
    problem = jsonschema.exceptions.best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if problem is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.absolute_path)
        return f"{where.lstrip('.') + ': ' if where else ''}{problem.message}"
    for pattern in _patterns(schema):
        found = _pattern_problem(pattern)
        if found is not None:
            return found
    return None


def schema_validator(schema: Any) -> Any:
    """A validator for a schema that `schema_problem` accepts: no remote references,
    regular expressions in linear time."""
    import referencing

    return _validator_class(schema)(schema, registry=referencing.Registry())
