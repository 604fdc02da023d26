"""Transitions out of one step whose conditions cannot both hold: the two arms of an if/else.

Validation uses this to find a join that reads both arms, which can never have both
outputs. Only forms that are plainly exclusive count: a comparison and its opposite
(`x == 1` / `x != 1`, `n > 5` / `n <= 5`), one value against two constants, and a CEL
expression and its negation (`e` / `!(e)`). Nothing is evaluated.
"""

from __future__ import annotations

import json
import re

from google.protobuf import json_format

from ia.pipeline.v1 import pipeline_pb2

from .proto_json import plain


def _config(condition: pipeline_pb2.Condition) -> dict:
    return plain(json_format.MessageToDict(condition.config))


# Bounds that keep the join check cheap on huge definitions: a step with more
# conditional transitions than MAX_FORK is not compared pairwise, and beyond
# MAX_BRANCHES exclusive transitions in all the check is skipped.
MAX_FORK = 32
MAX_BRANCHES = 256

_OPERATOR_NAMES = {
    "==": "equals",
    "!=": "not_equals",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
}
# Comparisons of one value with the same operand that cannot both hold.
_EXCLUSIVE_OPERATORS = {
    frozenset({"equals", "not_equals"}),
    frozenset({"gt", "lte"}),
    frozenset({"gte", "lt"}),
    frozenset({"gt", "lt"}),
    frozenset({"in", "not_in"}),
}
_CEL_COMPARISON = re.compile(r"(?P<left>[^=!<>&|]+?)(?P<op>==|!=|>=|<=|>|<)(?P<right>[^=!<>&|]+)")
_CEL_LITERAL = re.compile(r'-?\d+(\.\d+)?|true|false|null|"[^"\\]*"|\'[^\'\\]*\'')


def _exclusive_comparisons(first: tuple, second: tuple) -> bool:
    """Whether `(operand, operator, value)` comparisons of the same operand cannot both hold."""
    (operand_a, op_a, value_a, literal_a), (operand_b, op_b, value_b, literal_b) = first, second
    if operand_a != operand_b:
        return False
    if op_a == op_b == "equals":
        return literal_a and literal_b and value_a != value_b
    return value_a == value_b and frozenset({op_a, op_b}) in _EXCLUSIVE_OPERATORS


def _comparison(condition: pipeline_pb2.Condition) -> tuple | None:
    """A condition as `(operand, operator, value, value is a constant)`, when it is one comparison."""
    if condition.type == "expression":
        config = _config(condition)
        source = config.get("source")
        if not isinstance(source, str) or "value" not in config:
            return None
        value = config["value"]
        operator = config.get("operator", "equals")
        operator = _OPERATOR_NAMES.get(operator, operator)
        constant = not (isinstance(value, str) and "{" in value)
        return source.strip("{} \t"), operator, json.dumps(value, sort_keys=True), constant
    if condition.type == "cel":
        text = "".join(condition.expr.split())
        match = _CEL_COMPARISON.fullmatch(text)
        if match is None:
            return None
        right = match.group("right")
        return match.group("left"), _OPERATOR_NAMES[match.group("op")], right, bool(_CEL_LITERAL.fullmatch(right))
    return None


def condition_form(condition: pipeline_pb2.Condition) -> tuple[str | None, tuple | None]:
    """What `exclusive_forms` compares: the CEL text without spaces, and the condition as one comparison."""
    text = "".join(condition.expr.split()) if condition.type == "cel" else None
    return text, _comparison(condition)


def exclusive_forms(first: tuple[str | None, tuple | None], second: tuple[str | None, tuple | None]) -> bool:
    """Whether two conditions (as `condition_form`s) on transitions out of one step can never both hold."""
    (a, comparison_a), (b, comparison_b) = first, second
    if a is not None and b is not None and (a in (f"!({b})", f"!{b}") or b in (f"!({a})", f"!{a}")):
        return True
    return comparison_a is not None and comparison_b is not None and _exclusive_comparisons(comparison_a, comparison_b)


def shown(condition: pipeline_pb2.Condition) -> str:
    """A condition as people write it, for messages."""
    if condition.type == "cel":
        return f"`{condition.expr}`"
    config = _config(condition)
    return f"`{config.get('source')} {config.get('operator', 'equals')} {json.dumps(config.get('value'))}`"


def reach(start: int, successors: list[list[int]]) -> set[int]:
    """The nodes reachable from `start` along `successors`, itself included."""
    seen = {start}
    stack = [start]
    while stack:
        for target in successors[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen
