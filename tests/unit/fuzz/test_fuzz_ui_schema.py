"""ui_schema checks, fed random schemas and answers: a bad schema is a finding or a
field violation, never an exception, and a schema cannot make the check fetch
anything or run away."""

from __future__ import annotations

from fuzz_strategies import JSON, KEYS
from hypothesis import given, settings
from hypothesis import strategies as st

from ia_executor.human_tasks import check_response
from ia_modules.definition import load_definition, validate

FUZZ = settings(max_examples=100, deadline=None, database=None)

SCHEMA_KEYS = st.sampled_from(
    ["type", "properties", "required", "items", "enum", "const", "pattern", "format", "$ref", "$defs", "minimum",
     "maxLength", "allOf", "anyOf", "not", "if", "then", "additionalProperties", "$schema", "$id", "ui:widget"]
)
SCHEMA = st.recursive(
    st.dictionaries(SCHEMA_KEYS, JSON, max_size=4),
    lambda inner: st.dictionaries(SCHEMA_KEYS | KEYS, inner | JSON, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(SCHEMA, JSON)
def test_answers_are_checked_or_the_schema_is_named_as_invalid(schema, answer):
    violations = check_response(schema, answer if isinstance(answer, dict) else {"value": answer})
    for field, message in violations:
        assert isinstance(field, str) and isinstance(message, str)


@FUZZ
@given(SCHEMA)
def test_definitions_with_random_ui_schemas_give_findings(schema):
    loaded = load_definition(
        {"name": "ask", "steps": [{"id": "ask", "type": "human_input", "human_input": {"ui_schema": schema}}]}
    )
    if loaded.pipeline is not None:
        validate(loaded.pipeline)


def test_a_remote_ref_is_not_fetched_and_is_reported():
    violations = check_response({"$ref": "http://127.0.0.1:9/schema.json"}, {"a": 1})
    assert violations and violations[0][0] == "ui_schema"


def test_a_catastrophic_pattern_is_matched_in_linear_time():
    # With Python's re, this one search takes longer than the test's timeout.
    pattern = {"type": "string", "pattern": "^(a+)+$"}
    schema = {"type": "object", "properties": {"a": pattern}, "patternProperties": {"^(b+)+$": pattern}}
    violations = check_response(schema, {"a": "a" * 40 + "!", "b" * 40 + "!": "x", "bbb": "a!"})
    assert violations == [("data.a", f"{'a' * 40 + '!'!r} does not match '^(a+)+$'"), ("data.bbb", "'a!' does not match '^(a+)+$'")]


def test_a_pattern_outside_the_linear_time_syntax_is_a_schema_problem():
    violations = check_response({"properties": {"a": {"pattern": "(a)\\1"}}}, {"a": "aa"})
    assert violations[0][0] == "ui_schema" and "not supported" in violations[0][1]
