"""The type check against the proto: wrong types and unknown fields, with JSON paths and hints."""

import math

import pytest

from ia_modules.definition import Code, Severity, canonical_dict, load_definition


def _findings(doc):
    result = load_definition(doc)
    return result, [(f.code, f.path) for f in result.findings]


def _step(**fields):
    return {"name": "demo", "steps": [{"id": "a", "type": "pass", **fields}]}


@pytest.mark.parametrize(
    ("doc", "path", "expected"),
    [
        ({"name": 3}, "name", "expected text, got a number"),
        ({"name": "x", "steps": "a"}, "steps", "expected a list, got text"),
        ({"name": "x", "steps": ["a"]}, "steps[0]", "expected an object, got text"),
        (_step(timeout_s=True), "steps[0].timeout_s", "expected a number, got a boolean"),
        (_step(continue_on_error="yes"), "steps[0].continue_on_error", "expected true or false, got text"),
        (_step(retry={"max_attempts": 2.5}), "steps[0].retry.max_attempts", "expected a whole number, got a number"),
        (_step(retry={"max_attempts": "3"}), "steps[0].retry.max_attempts", "expected a whole number, got text"),
        (_step(retry={"retry_on": "UNAVAILABLE"}), "steps[0].retry.retry_on", "expected a list, got text"),
        (_step(retry={"retry_on": ["A", 3]}), "steps[0].retry.retry_on[1]", "expected text, got a number"),
        (_step(config=[1]), "steps[0].config", "expected an object, got a list"),
        (_step(inputs="x"), "steps[0].inputs", "expected an object, got text"),
        ({"name": "x", "labels": {"a": 1}}, "labels.a", "expected text, got a number"),
        ({"name": "x", "labels": []}, "labels", "expected an object, got a list"),
        ({"name": "x", "labels": {"a": None}}, "labels.a", "expected text, got null"),
        (
            {"name": "x", "flow": {"transitions": [{"from": "a", "to": "b", "condition": 5}]}},
            "flow.transitions[0].condition",
            "expected an object, got a number",
        ),
    ],
)
def test_wrong_types_are_findings_with_json_paths(doc, path, expected):
    result = load_definition(doc)
    wrong = [f for f in result.findings if f.code == Code.INVALID_TYPE]
    assert [(f.path, f.message) for f in wrong] == [(path, expected)]
    assert wrong[0].severity is Severity.ERROR
    assert result.pipeline is not None
    assert not result.ok


@pytest.mark.parametrize(
    ("doc", "path", "hint"),
    [
        ({"name": "x", "descriptoin": "d"}, "descriptoin", "did you mean `description`?"),
        ({"name": "x", "step": []}, "step", "did you mean `steps`?"),
        (_step(timeout=3), "steps[0].timeout", "did you mean `timeout_s`?"),
        (_step(retry={"max_attempt": 3}), "steps[0].retry.max_attempt", "did you mean `max_attempts`?"),
        ({"name": "x", "flow": {"startAt": "a"}}, "flow.startAt", "did you mean `start_at`?"),
        (
            {"name": "x", "flow": {"transitions": [{"form": "a", "to": "b"}]}},
            "flow.transitions[0].form",
            "did you mean `from`?",
        ),
        (_step(human_input={"promt": "?"}), "steps[0].human_input.promt", "did you mean `prompt`?"),
    ],
)
def test_unknown_fields_are_errors_with_a_hint(doc, path, hint):
    result = load_definition(doc)
    unknown = [f for f in result.findings if f.code == Code.UNKNOWN_FIELD]
    assert [(f.path, f.hint) for f in unknown] == [(path, hint)]


def test_unknown_field_without_a_close_match_lists_the_known_fields():
    result = load_definition({"name": "x", "flow": {"zzzz": 1}})
    assert result.findings[0].hint == "known fields here: start_at, transitions"


def test_unknown_fields_are_dropped_and_the_rest_is_kept():
    result = load_definition({"name": "x", "whatever": {"deep": 1}, "steps": [{"id": "a", "type": "pass"}]})
    assert canonical_dict(result.pipeline) == {"name": "x", "steps": [{"id": "a", "type": "pass"}]}


def test_numbers_out_of_range_are_invalid_values():
    result = load_definition(_step(retry={"max_attempts": 2**31}))
    assert [(f.code, f.path) for f in result.findings] == [(Code.INVALID_VALUE, "steps[0].retry.max_attempts")]
    result = load_definition(_step(pipeline={"revision": 2**63}))
    assert [(f.code, f.path) for f in result.findings] == [(Code.INVALID_VALUE, "steps[0].pipeline.revision")]


def test_integral_floats_are_whole_numbers():
    result = load_definition(_step(retry={"max_attempts": 3.0}))
    assert result.findings == []
    assert result.pipeline.steps[0].retry.max_attempts == 3


def test_null_means_unset_except_for_free_form_values():
    result = load_definition(
        {
            "name": "x",
            "description": None,
            "steps": [{"id": "a", "type": "pass", "timeout_s": None, "fallback": None, "inputs": {"x": None}}],
        }
    )
    assert result.findings == []
    step = result.pipeline.steps[0]
    assert not step.HasField("timeout_s")
    assert step.HasField("fallback")
    assert canonical_dict(result.pipeline)["steps"][0]["inputs"] == {"x": None}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "numbers must be finite"),
        ({1: "a"}, "object keys must be text, got a number"),
        ({1, 2}, "a set is not a JSON value"),
        (object(), "a object is not a JSON value"),
    ],
)
def test_dict_sources_with_non_json_values_are_findings(value, message):
    result = load_definition({"name": "x", "parameters": {"p": value}})
    assert [(f.code, f.path, f.message) for f in result.findings] == [(Code.INVALID_VALUE, "parameters.p", message)]


def test_non_finite_doubles_from_a_dict_are_findings():
    result = load_definition(_step(timeout_s=math.inf))
    assert [(f.code, f.path) for f in result.findings] == [(Code.INVALID_VALUE, "steps[0].timeout_s")]


def test_tuples_are_accepted_as_lists_in_dict_sources():
    result = load_definition({"name": "x", "parameters": {"p": (1, "a")}, "labels": {"k": "v"}})
    assert result.findings == []
    assert canonical_dict(result.pipeline)["parameters"] == {"p": [1, "a"]}


def test_non_text_keys_in_a_message_are_unknown_fields():
    result = load_definition({"name": "x", 3: "y"})
    assert [(f.code, f.path) for f in result.findings] == [(Code.UNKNOWN_FIELD, '["3"]')]


def test_the_source_dict_is_not_modified():
    doc = {
        "name": "Demo",
        "parameters": [{"name": "a", "default": 1}],
        "steps": [{"name": "s", "class": "C", "module": "m", "config": {"error_handling": {"timeout": 1}}}],
        "flow": {"paths": [{"from_step": "s", "to_step": "end"}]},
    }
    before = repr(doc)
    load_definition(doc)
    assert repr(doc) == before
