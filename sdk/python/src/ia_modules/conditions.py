"""Transition conditions: when an edge of the graph fires (DESIGN.md §4).

Forms understood:

- unset, ``"always"`` or ``{"type": "always"}``;
- ``"parameter:<name>"`` or ``{"type": "parameter", "parameter": "<name>"}``: the
  parameter is truthy;
- ``{"type": "expression", "config": {"source", "operator", "value"}}``: ``source``
  is a reference (``result.score``, ``<step>.<path>``, ``parameters.x``), ``value``
  may itself be a template;
- ``{"type": "cel", "expr": "..."}``: a CEL expression over ``parameters``,
  ``steps`` (step id -> output), ``result`` (the source step's output) and ``run``;
- ``{"type": "plugin", "plugin": ...}`` or a ``type`` naming a condition plugin.

Nothing here is evaluated with Python ``eval``. ``matches`` and CEL use the CEL
runtime's regular expressions, which run in linear time.
"""

from __future__ import annotations

import functools
import json
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ia_modules.cel_bounds import cel_bound_problem
from ia_modules.templates import Reference, TemplateError, compile_template, lookup, parse_reference

if TYPE_CHECKING:
    import cel

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_SUBJECT_LENGTH",
    "OPERATORS",
    "Condition",
    "ConditionError",
    "Verdict",
    "compile_cel",
    "compile_condition",
]

_CANONICAL = {
    "equals": "equals",
    "==": "equals",
    "not_equals": "not_equals",
    "!=": "not_equals",
    "gt": "gt",
    ">": "gt",
    "gte": "gte",
    ">=": "gte",
    "lt": "lt",
    "<": "lt",
    "lte": "lte",
    "<=": "lte",
    "in": "in",
    "not_in": "not_in",
    "contains": "contains",
    "exists": "exists",
    "matches": "matches",
}
OPERATORS: frozenset[str] = frozenset(_CANONICAL)
_SYMBOL = {"equals": "==", "not_equals": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

MAX_PATTERN_LENGTH = 1000
"""Longest regular expression ``matches`` accepts."""
MAX_SUBJECT_LENGTH = 100_000
"""Longest string ``matches`` tests."""

# The CEL runtime is imported on first use: it pulls in a terminal UI library
# that would slow every CLI start, and most definitions have no CEL in them.
_MATCHES = "subject.matches(pattern)"


class ConditionError(ValueError):
    """A condition is malformed, or failed while being evaluated.

    ``expression`` is the condition as written (CEL text or ``source op value``).
    """

    def __init__(self, message: str, expression: str | None = None) -> None:
        super().__init__(message)
        self.expression = expression


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a condition held, and in words why (for dry runs and events)."""

    fired: bool
    reason: str


_FIRED = Verdict(True, "the condition held")


def _is_panic(exc: BaseException) -> bool:
    # pyo3 reports a panic of the native runtime as PanicException, a BaseException
    # (so that `except Exception` lets it through); it is a failed expression all the same.
    return type(exc).__name__ == "PanicException"


def _cel_message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no such key {exc}"
    if _is_panic(exc):
        return f"the CEL runtime failed ({exc})"
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."


@functools.lru_cache(maxsize=2048)
def compile_cel(expr: str) -> cel.Program:
    """Compile a CEL expression once; raise ConditionError if it does not parse."""
    if not expr or not expr.strip():
        raise ConditionError("CEL expression is empty", expr)
    problem = cel_bound_problem(expr)
    if problem is not None:
        raise ConditionError(f"CEL expression {_show(expr)} {problem}", expr)
    cel = _cel_runtime()
    try:
        return cel.compile(expr)
    except BaseException as exc:  # the runtime raises several types for parse errors
        if not isinstance(exc, Exception) and not _is_panic(exc):
            raise
        raise ConditionError(f"CEL expression {_show(expr)} does not compile: {_cel_message(exc)}", expr) from exc


def _cel_runtime() -> types.ModuleType:
    # The `cel` package imports its own command-line tool, and prompt_toolkit with
    # it, when imported: about a second that every CLI call and service start would
    # pay for a runtime that needs none of it. A placeholder stands in for the tool.
    if "cel" not in sys.modules:
        sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))
    import cel

    return cel


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Condition:
    """A compiled condition. ``evaluate`` returns a Verdict or raises ConditionError.

    ``kind`` is "always", "parameter", "expression", "cel" or "plugin".
    """

    __slots__ = ("always", "text")
    kind = "always"

    def __init__(self, text: str, *, always: bool = False) -> None:
        self.text = text
        self.always = always

    def evaluate(self, context: Mapping[str, Any]) -> Verdict:
        """Evaluate against ``parameters``, ``steps``, ``result`` and ``run``."""
        return Verdict(True, "always")

    def reads(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The values this condition looks at in ``context``, by name (for a debugger)."""
        return {}


class _Parameter(Condition):
    __slots__ = ("name",)
    kind = "parameter"

    def __init__(self, name: str) -> None:
        super().__init__(f"parameter:{name}")
        self.name = name

    def evaluate(self, context: Mapping[str, Any]) -> Verdict:
        value = (context.get("parameters") or {}).get(self.name)
        if value:
            return Verdict(True, f"parameter {self.name} is {_show(value)}")
        return Verdict(False, f"parameter {self.name} is {_show(value)}, not truthy")

    def reads(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return {f"parameters.{self.name}": (context.get("parameters") or {}).get(self.name)}


class _Cel(Condition):
    __slots__ = ("program", "variables")
    kind = "cel"

    def __init__(self, expr: str) -> None:
        super().__init__(expr)
        self.program = compile_cel(expr)
        # The runtime converts every variable it is given on each call: hand it only
        # the ones the expression reads, not every step's output.
        self.variables = tuple(self.program.variables())

    def evaluate(self, context: Mapping[str, Any]) -> Verdict:
        variables = {name: context[name] for name in self.variables if name in context}
        try:
            value = self.program.execute(variables)
        except BaseException as exc:  # every CEL runtime failure becomes one error type
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise
            raise ConditionError(f"CEL expression {self.text!r} failed: {_cel_message(exc)}", self.text) from exc
        if not isinstance(value, bool):
            raise ConditionError(
                f"CEL expression {self.text!r} must give true or false, got {_show(value)}",
                self.text,
            )
        return Verdict(value, f"{self.text} was {'true' if value else 'false'}")

    def reads(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return {name: context[name] for name in self.variables if name in context}


class _Plugin(Condition):
    """Decided by a condition plugin: the engine asks the executor (EvaluateCondition)."""

    __slots__ = ("config", "plugin")
    kind = "plugin"

    def __init__(self, plugin: str, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"plugin:{plugin}")
        self.plugin = plugin
        self.config = dict(config or {})

    def evaluate(self, context: Mapping[str, Any]) -> Verdict:
        raise ConditionError(
            f"condition plugin {self.plugin!r} cannot be evaluated here: only the executor can call it, "
            "on a forward transition (not on a loop's back edge)",
            self.text,
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _ordered(actual: Any, expected: Any, text: str) -> tuple[Any, Any]:
    if isinstance(actual, str) and isinstance(expected, str):
        a, b = _number(actual), _number(expected)
        return (a, b) if a is not None and b is not None else (actual, expected)
    a, b = _number(actual), _number(expected)
    if a is None or b is None:
        raise ConditionError(f"condition {text!r} cannot order {_show(actual)} against {_show(expected)}", text)
    return a, b


def _contains(container: Any, item: Any, text: str) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, Mapping):
        # An object holds string keys: anything else (a list, say) is not among them.
        return isinstance(item, str) and item in container
    if isinstance(container, (list, tuple)):
        return item in container
    raise ConditionError(f"condition {text!r}: {_show(container)} is not a list, object or string", text)


def _matches(subject: Any, pattern: Any, text: str) -> bool:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
        raise ConditionError(
            f"condition {text!r}: the pattern must be a string of at most {MAX_PATTERN_LENGTH} characters",
            text,
        )
    if not isinstance(subject, str):
        return False
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise ConditionError(
            f"condition {text!r}: the value is {len(subject)} characters long; "
            f"matches tests at most {MAX_SUBJECT_LENGTH}",
            text,
        )
    try:
        return bool(compile_cel(_MATCHES).execute({"subject": subject, "pattern": pattern}))
    except Exception as exc:  # an invalid pattern
        raise ConditionError(f"condition {text!r}: invalid pattern: {exc}", text) from exc


class _Expression(Condition):
    __slots__ = ("source", "operator", "value", "has_value")
    kind = "expression"

    def __init__(self, source: Reference, operator: str, value: Any, has_value: bool, text: str):
        super().__init__(text)
        self.source = source
        self.operator = operator
        self.value = compile_template(value)
        self.has_value = has_value

    def evaluate(self, context: Mapping[str, Any]) -> Verdict:
        where = self.source.text
        try:
            actual = lookup(self.source, context)
            present = actual is not None
        except TemplateError:
            actual, present = None, False
        try:
            expected = self.value.render(context)
        except TemplateError as exc:
            raise ConditionError(f"condition {self.text!r}: {exc}", self.text) from exc
        op = self.operator
        if op == "exists":
            want = bool(expected) if self.has_value else True
            fired = present == want
            state = "exists" if present else "is missing"
            return Verdict(fired, f"{where} {state}")
        if not present:
            return Verdict(False, f"{self.text} was false ({where} is missing)")
        if op == "equals":
            fired = actual == expected
        elif op == "not_equals":
            fired = actual != expected
        elif op in ("gt", "gte", "lt", "lte"):
            a, b = _ordered(actual, expected, self.text)
            try:
                fired = {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
            except TypeError as exc:
                raise ConditionError(f"condition {self.text!r}: {exc}", self.text) from exc
        elif op == "in":
            fired = _contains(expected, actual, self.text)
        elif op == "not_in":
            fired = not _contains(expected, actual, self.text)
        elif op == "contains":
            fired = _contains(actual, expected, self.text)
        else:
            fired = _matches(actual, expected, self.text)
        if fired:
            return _FIRED
        return Verdict(False, f"{self.text} was false ({where} = {_show(actual)})")

    def reads(self, context: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return {self.source.text: lookup(self.source, context)}
        except TemplateError:
            return {self.source.text: None}


def _source_reference(source: Any) -> Reference:
    if not isinstance(source, str) or not source.strip():
        raise ConditionError("expression condition needs a `source`, for example result.score")
    text = source.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text.strip("{} \t")
    try:
        return parse_reference(text)
    except TemplateError as exc:
        raise ConditionError(f"expression condition source {source!r}: {exc}", source) from exc


def _expression(config: Mapping[str, Any]) -> _Expression:
    source = _source_reference(config.get("source"))
    raw_op = config.get("operator", "equals")
    operator = _CANONICAL.get(raw_op) if isinstance(raw_op, str) else None
    if operator is None:
        raise ConditionError(
            f"unknown operator {raw_op!r}; use one of {', '.join(sorted(OPERATORS))}",
            str(raw_op),
        )
    has_value = "value" in config
    value = config.get("value")
    shown = _SYMBOL.get(operator, operator)
    text = f"{source.text} {shown}" + (f" {_show(value)}" if has_value else "")
    try:
        condition = _Expression(source, operator, value, has_value, text)
    except TemplateError as exc:
        raise ConditionError(f"condition {text!r}: {exc}", text) from exc
    if operator == "matches" and condition.value.is_constant:
        _matches("", value, text)
    return condition


_ALWAYS = Condition("always", always=True)


def compile_condition(condition: Any) -> Condition:
    """Compile a condition in any accepted form (None, str, mapping or proto).

    Raises ConditionError for a malformed condition or a CEL parse error.
    """
    if condition is None:
        return _ALWAYS
    if hasattr(condition, "DESCRIPTOR"):
        from google.protobuf import json_format

        condition = json_format.MessageToDict(condition, preserving_proto_field_name=True)
    if isinstance(condition, str):
        text = condition.strip()
        if text in ("", "always"):
            return _ALWAYS
        if text.startswith("parameter:"):
            return _Parameter(text.removeprefix("parameter:").strip())
        raise ConditionError(
            f"condition {condition!r} is not understood; use 'always', 'parameter:<name>' or an object with a type",
            condition,
        )
    if not isinstance(condition, Mapping):
        raise ConditionError(f"condition must be a string or an object, got {_show(condition)}")
    kind = condition.get("type") or ""
    if kind in ("", "always"):
        if kind == "" and condition.get("expr"):
            return _Cel(condition["expr"])
        return _ALWAYS
    if kind == "parameter":
        name = condition.get("parameter") or (condition.get("config") or {}).get("parameter")
        if not name:
            raise ConditionError("parameter condition needs `parameter`, the name to test")
        return _Parameter(name)
    if kind == "expression":
        return _expression(condition.get("config") or {})
    if kind == "cel":
        return _Cel(condition.get("expr") or "")
    if kind == "plugin":
        name = condition.get("plugin")
        if not name:
            raise ConditionError("plugin condition needs `plugin`, the plugin's name")
        return _Plugin(name, condition.get("config"))
    return _Plugin(kind, condition.get("config"))
