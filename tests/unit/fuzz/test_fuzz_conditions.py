"""CEL and expression conditions, fed random text and data: every failure is a
ConditionError, and expressions that could run away are refused before they run."""

from __future__ import annotations

import pytest
from fuzz_strategies import CEL_TEXT, JSON
from hypothesis import given, settings

from ia_modules.conditions import ConditionError, compile_condition

FUZZ = settings(max_examples=200, deadline=None, database=None)


def _context(data):
    return {"parameters": {"p": data}, "steps": {"s": {"output": data}}, "result": data, "run": {"id": "r"}}


@FUZZ
@given(CEL_TEXT, JSON)
def test_cel_compiles_and_evaluates_or_fails_with_condition_error(expr, data):
    try:
        condition = compile_condition({"type": "cel", "expr": expr})
        verdict = condition.evaluate(_context(data))
    except ConditionError as error:
        assert str(error)
        return
    assert isinstance(verdict.fired, bool)


@FUZZ
@given(JSON, JSON, JSON)
def test_expression_conditions_give_a_verdict_or_a_condition_error(operator, value, data):
    for op in (operator, "matches", "gt", "in", "contains", "exists"):
        try:
            condition = compile_condition(
                {"type": "expression", "config": {"source": "result.x", "operator": op, "value": value}}
            )
            verdict = condition.evaluate(_context({"x": data}))
        except ConditionError:
            continue
        assert isinstance(verdict.fired, bool)


@pytest.mark.parametrize(
    "expr",
    [
        "(" * 100_000 + "1" + ")" * 100_000,
        "[" * 5000 + "]" * 5000,
        "1 + " * 50_000 + "1",
        "[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, "
        "[0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, [0,1,2,3,4,5,6,7,8,9].map(f, 1)))))).size() > 0",
    ],
    ids=["deep-parens", "deep-lists", "long", "nested-comprehensions"],
)
def test_runaway_cel_is_refused_before_it_runs(expr):
    with pytest.raises(ConditionError) as caught:
        compile_condition({"type": "cel", "expr": expr})
    assert "too" in str(caught.value)
