"""The jsonschema-free shortcut for plain schemas never disagrees with jsonschema."""

import jsonschema
import pytest

from ia_modules.definition.plain_schemas import is_plainly_valid, surely_matches

PLAIN = [
    True,
    False,
    {},
    {"type": "string"},
    {"type": ["object", "null"]},
    {"type": "integer", "minimum": 0, "maximum": 10.5},
    {"type": "string", "minLength": 1, "maxLength": 80, "title": "Topic", "description": "what to research"},
    {"enum": ["a", 1, None], "default": "a"},
    {"const": {"x": 1}, "examples": [1, 2]},
    {
        "type": "object",
        "required": ["ok"],
        "properties": {"ok": {"type": "boolean"}, "items": {"type": "array", "items": {"type": "number"}}},
        "additionalProperties": False,
    },
]

NOT_PLAIN = [
    {"type": 5},
    {"type": "text"},
    {"type": []},
    {"type": ["string", "string"]},
    {"minimum": "0"},
    {"minimum": True},
    {"minLength": -1},
    {"minLength": 1.5},
    {"title": 3},
    {"enum": "a"},
    {"examples": "a"},
    {"required": ["a", "a"]},
    {"required": [1]},
    {"properties": {"a": {"type": "nope"}}},
    {"properties": []},
    {"items": {"maxItems": -2}},
    {"additionalProperties": 3},
    {"pattern": "^a"},
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"},
    [],
    "string",
]


VALUES = [None, True, False, 0, 1, -1, 1.0, 1.5, 10.5, 11, "", "ai", "x" * 81, [], [1, 2.5], ["a"],
          {}, {"ok": True}, {"ok": 1}, {"ok": True, "items": [1, 2]}, {"ok": True, "other": 1}, {"a": None}]


def _jsonschema_accepts(schema) -> bool:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return not list(cls(cls.META_SCHEMA).iter_errors(schema))


def _jsonschema_matches(value, schema) -> bool:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema).is_valid(value)


@pytest.mark.parametrize("schema", PLAIN, ids=repr)
def test_plain_schemas_are_valid_without_jsonschema_and_with_it(schema):
    assert is_plainly_valid(schema)
    assert _jsonschema_accepts(schema)


@pytest.mark.parametrize("schema", NOT_PLAIN, ids=repr)
def test_anything_else_is_left_to_jsonschema(schema):
    assert not is_plainly_valid(schema)


@pytest.mark.parametrize("schema", PLAIN, ids=repr)
def test_a_value_is_declared_a_match_only_when_jsonschema_agrees(schema):
    for value in VALUES:
        if surely_matches(value, schema):
            assert _jsonschema_matches(value, schema), (value, schema)


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        (0, {"type": "integer", "minimum": 0}),
        (1.0, {"type": "integer"}),
        ("ai", {"type": "string", "minLength": 1}),
        (None, {"type": ["object", "null"]}),
        ({"ok": True}, {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}),
        ([1, 2.5], {"type": "array", "items": {"type": "number"}}),
    ],
)
def test_common_defaults_match_without_jsonschema(value, schema):
    assert surely_matches(value, schema)


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        (-1, {"type": "integer", "minimum": 0}),
        (True, {"type": "integer"}),
        (1.5, {"type": "integer"}),
        ("", {"type": "string", "minLength": 1}),
        ({}, {"type": "object", "required": ["ok"]}),
        ({"x": 1}, {"additionalProperties": False}),
        (1, {"enum": [1]}),
    ],
)
def test_anything_doubtful_is_left_to_jsonschema(value, schema):
    assert not surely_matches(value, schema)
