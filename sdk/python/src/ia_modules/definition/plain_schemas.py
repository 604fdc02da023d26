"""Plain JSON Schemas, and values that surely match them, without importing jsonschema.

Most schemas in a definition are a type and a bound (`{"type": "integer",
"minimum": 0}`). Checking those against the draft 2020-12 metaschema, and a
parameter's default against them, needs jsonschema, whose import is most of the
time of `ia-modules validate`. A schema built only from the keywords below, each
with a value the metaschema accepts, is valid under it; anything else (another
keyword, a `$schema`, a value of an unexpected kind) goes to jsonschema as
before. Likewise a value is only ever declared a match here, never a mismatch:
a value that may not match goes to jsonschema, which writes the message. So the
answers never change; only the import is saved.
"""

from __future__ import annotations

from typing import Any

_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_NUMBERS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_COUNTS = frozenset({"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"})
_TEXTS = frozenset({"title", "description"})
_ANY = frozenset({"default", "const", "examples"})


def is_plainly_valid(schema: Any) -> bool:
    """True when `schema` is surely a valid draft 2020-12 schema; False means "ask jsonschema"."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    return all(_keyword_ok(key, value) for key, value in schema.items())


def _keyword_ok(key: str, value: Any) -> bool:
    if key == "type":
        if isinstance(value, str):
            return value in _TYPES
        return (
            isinstance(value, list)
            and bool(value)
            and all(isinstance(t, str) and t in _TYPES for t in value)
            and len(set(value)) == len(value)
        )
    if key in _NUMBERS:
        return _is_number(value)
    if key in _COUNTS:
        return type(value) is int and value >= 0
    if key in _TEXTS:
        return isinstance(value, str)
    if key in _ANY:
        return key != "examples" or isinstance(value, list)
    if key == "enum":
        return isinstance(value, list)
    if key == "required":
        return (
            isinstance(value, list)
            and all(isinstance(name, str) for name in value)
            and len(set(value)) == len(value)
        )
    if key == "properties":
        return isinstance(value, dict) and all(is_plainly_valid(s) for s in value.values())
    if key in ("items", "additionalProperties"):
        return is_plainly_valid(value)
    return False


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and value == value and value not in (float("inf"), float("-inf"))


def surely_matches(value: Any, schema: Any) -> bool:
    """True when `value` matches the plain `schema`; False means "ask jsonschema".

    `schema` must be one `is_plainly_valid` accepted.
    """
    if schema is True:
        return True
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if kind is not None and not any(_is_type(value, k) for k in ([kind] if isinstance(kind, str) else kind)):
        return False
    if "enum" in schema or "const" in schema:
        # JSON equality is not Python's (1 == True): left to jsonschema.
        return False
    if _is_number(value) and not _within_bounds(value, schema):
        return False
    size = len(value) if isinstance(value, (str, list, dict)) else None
    for low, high, kind_ in (("minLength", "maxLength", str), ("minItems", "maxItems", list),
                             ("minProperties", "maxProperties", dict)):
        if isinstance(value, kind_) and not (schema.get(low, 0) <= size <= schema.get(high, size)):
            return False
    if isinstance(value, list) and "items" in schema:
        return all(surely_matches(item, schema["items"]) for item in value)
    if isinstance(value, dict):
        return _object_matches(value, schema)
    return True


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return type(value) is int or (type(value) is float and value.is_integer())
    if kind == "number":
        return type(value) in (int, float)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _within_bounds(value: float, schema: dict) -> bool:
    return (
        value >= schema.get("minimum", value)
        and value <= schema.get("maximum", value)
        and ("exclusiveMinimum" not in schema or value > schema["exclusiveMinimum"])
        and ("exclusiveMaximum" not in schema or value < schema["exclusiveMaximum"])
    )


def _object_matches(value: dict, schema: dict) -> bool:
    if any(name not in value for name in schema.get("required", ())):
        return False
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if not surely_matches(item, properties[key] if key in properties else extra):
            return False
    return True
