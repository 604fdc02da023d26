"""Conditions: every form and operator, CEL, and errors that name the expression."""

import pytest
from ia_modules.conditions import OPERATORS, ConditionError, compile_cel, compile_condition

CONTEXT = {
    "parameters": {"enabled": True, "off": False, "threshold": 0.5, "tags": ["a", "b"], "name": "ai"},
    "steps": {"score": {"value": 0.75, "label": "good", "items": ["x", "y"], "count": 3, "meta": {"k": 1}}},
    "result": {"value": 0.75, "label": "good", "items": ["x", "y"], "text": "hello world", "n": "10"},
    "run": {"run_id": "r1", "pipeline": "demo"},
}


def fires(condition) -> bool:
    return compile_condition(condition).evaluate(CONTEXT).fired


def expr(source, operator, *value):
    config = {"source": source, "operator": operator}
    if value:
        config["value"] = value[0]
    return {"type": "expression", "config": config}


def test_operator_set_is_the_documented_one():
    assert OPERATORS == {
        "equals",
        "==",
        "not_equals",
        "!=",
        "gt",
        ">",
        "gte",
        ">=",
        "lt",
        "<",
        "lte",
        "<=",
        "in",
        "not_in",
        "contains",
        "exists",
        "matches",
    }


@pytest.mark.parametrize("condition", [None, "always", "", {"type": "always"}, {}])
def test_always_forms(condition):
    compiled = compile_condition(condition)
    assert compiled.always and compiled.evaluate({}).fired


def test_parameter_forms():
    assert fires("parameter:enabled")
    assert not fires("parameter:off")
    assert not fires("parameter:absent")
    assert fires({"type": "parameter", "parameter": "enabled"})
    verdict = compile_condition("parameter:off").evaluate(CONTEXT)
    assert "not truthy" in verdict.reason


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (expr("result.label", "equals", "good"), True),
        (expr("result.label", "==", "bad"), False),
        (expr("score.label", "not_equals", "bad"), True),
        (expr("result.label", "!=", "good"), False),
        (expr("result.value", "gt", 0.5), True),
        (expr("result.value", ">", 0.75), False),
        (expr("result.value", "gte", 0.75), True),
        (expr("result.value", ">=", 0.8), False),
        (expr("result.value", "lt", 1), True),
        (expr("result.value", "<", 0.1), False),
        (expr("result.value", "lte", 0.75), True),
        (expr("result.value", "<=", 0.7), False),
        (expr("result.n", "gt", "9"), True),
        (expr("result.label", "in", ["good", "fine"]), True),
        (expr("result.label", "in", "goodness"), True),
        (expr("result.label", "not_in", ["bad"]), True),
        (expr("result.label", "not_in", ["good"]), False),
        (expr("result.items", "contains", "x"), True),
        (expr("result.text", "contains", "world"), True),
        (expr("steps.score.output.meta", "contains", "k"), True),
        (expr("result.items", "contains", "z"), False),
        (expr("result.label", "exists"), True),
        (expr("result.missing", "exists"), False),
        (expr("result.missing", "exists", False), True),
        (expr("result.text", "matches", "^hello\\s+w"), True),
        (expr("result.text", "matches", "^world"), False),
        (expr("result.missing", "equals", 1), False),
        (expr("{{ result.value }}", "gt", "{{ parameters.threshold }}"), True),
        (expr("result.label", "in", "{{ parameters.tags }}"), False),
        (expr("parameters.name", "equals", "ai"), True),
    ],
)
def test_expression_operators(condition, expected):
    assert fires(condition) is expected


def test_expression_reason_shows_the_value():
    verdict = compile_condition(expr("result.value", ">", 0.8)).evaluate(CONTEXT)
    assert not verdict.fired
    assert verdict.reason == "result.value > 0.8 was false (result.value = 0.75)"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (expr("result.value", "approximately", 1), "unknown operator"),
        ({"type": "expression", "config": {"operator": "=="}}, "needs a `source`"),
        (expr("result.text", "matches", "(unclosed"), "invalid pattern"),
        (expr("result.text", "matches", "a" * 2000), "at most 1000"),
        ({"type": "parameter"}, "needs `parameter`"),
        ("sometimes", "not understood"),
        ({"type": "cel", "expr": "result.value >"}, "does not compile"),
        ({"type": "cel", "expr": ""}, "empty"),
        ({"type": "plugin"}, "needs `plugin`"),
        (42, "must be a string or an object"),
    ],
)
def test_malformed_conditions_are_refused(condition, message):
    with pytest.raises(ConditionError, match=message):
        compile_condition(condition)


def test_uncomparable_values_raise_with_the_condition():
    with pytest.raises(ConditionError, match="cannot order"):
        fires(expr("result.items", ">", 1))
    with pytest.raises(ConditionError, match="not a list"):
        fires(expr("result.label", "in", 5))
    with pytest.raises(ConditionError, match="missing"):
        fires(expr("result.label", "equals", "{{ parameters.missing }}"))


def test_matches_bounds_the_subject():
    huge = {"result": {"text": "a" * 200_000}}
    with pytest.raises(ConditionError, match="at most 100000"):
        compile_condition(expr("result.text", "matches", "a")).evaluate(huge)
    assert not compile_condition(expr("result.value", "matches", "7")).evaluate(CONTEXT).fired


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("result.value > 0.5 && result.label == 'good'", True),
        ("size(steps.score.items) == 2", True),
        ("parameters.enabled", True),
        ("'a' in parameters.tags", True),
        ("run.pipeline == 'other'", False),
        ("has(result.missing)", False),
        ("result.text.matches('^hello')", True),
        ("steps.score.count + 1 == 4", True),
    ],
)
def test_cel(source, expected):
    assert fires({"type": "cel", "expr": source}) is expected
    assert fires({"expr": source}) is expected


def test_cel_runtime_errors_name_the_expression():
    for source in ("result.nope > 1", "1 / 0 == 1", "result.label + 1 == 2", "ghost == 1"):
        with pytest.raises(ConditionError) as info:
            fires({"type": "cel", "expr": source})
        assert source in str(info.value)
        assert info.value.expression == source


def test_cel_must_give_a_boolean():
    with pytest.raises(ConditionError, match="true or false"):
        fires({"type": "cel", "expr": "result.value"})


def test_cel_is_compiled_once():
    assert compile_cel("1 == 1") is compile_cel("1 == 1")


def test_plugin_conditions_are_left_to_the_executor():
    for condition in ({"type": "plugin", "plugin": "threshold"}, {"type": "threshold"}):
        with pytest.raises(ConditionError, match="only the executor can call it"):
            fires(condition)
    compiled = compile_condition({"type": "plugin", "plugin": "threshold", "config": {"field": "x"}})
    assert (compiled.kind, compiled.plugin, compiled.config) == ("plugin", "threshold", {"field": "x"})


def test_proto_conditions_are_accepted():
    from ia.pipeline.v1 import pipeline_pb2

    condition = pipeline_pb2.Condition(type="cel", expr="result.value > 0.5")
    assert fires(condition)


def test_the_cel_runtime_loads_without_the_cel_command_line_tool() -> None:
    # Every CLI call and service start pays for what the runtime imports.
    import subprocess
    import sys

    probe = (
        "import sys; from ia_modules.conditions import compile_cel; "
        "assert compile_cel('1 + 2').execute({}) == 3; "
        "print('prompt_toolkit' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
