"""Built-in plugins that only reshape and check data: the `data` process.

Validators (json_schema, email, range, regex, required_fields) return issues with
JSON paths into the data; transforms (jmespath, filter, sort, aggregate) return
the input with a result added; the `log` hook writes run events to the host's
log; json_report and markdown_report render a run summary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import jmespath
import jmespath.exceptions
from jsonschema import Draft202012Validator, SchemaError

from ia_modules.conditions import OPERATORS, ConditionError, compile_condition
from ia_modules.plugin import (
    ConfigError,
    InputError,
    Issue,
    PluginContext,
    Report,
    hook_plugin,
    reporter_plugin,
    serve,
    transform_plugin,
    validator_plugin,
)
from ia_plugins.builtin.fields import MISSING, field_value

_PATH = {"type": "string", "minLength": 1}
_PATHS = {"type": "array", "items": _PATH, "minItems": 1}
# Deliberately simple: one @, no spaces, a dot in the domain; RFC 5321's 254-character cap.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _paths(config: dict[str, Any]) -> list[str]:
    return config["fields"] if "fields" in config else [config["field"]]


def _one_or_more(description: str) -> dict[str, Any]:
    return {"field": {**_PATH, "description": description}, "fields": _PATHS}


# --- validators ---------------------------------------------------------------------


@validator_plugin(
    config_schema={
        "type": "object",
        "required": ["schema"],
        "additionalProperties": False,
        "properties": {"schema": {"type": "object"}},
    }
)
def json_schema(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> list[Issue]:
    """Checks the data against a JSON Schema (draft 2020-12)."""
    try:
        Draft202012Validator.check_schema(config["schema"])
    except SchemaError as error:
        raise ConfigError("schema", f"not a valid JSON Schema: {error.message}") from None
    validator = Draft202012Validator(config["schema"])
    return [
        Issue(error.message, error.json_path.removeprefix("$").lstrip("."), f"SCHEMA_{error.validator}".upper())
        for error in sorted(validator.iter_errors(data), key=lambda e: e.json_path)
    ]


@validator_plugin(
    config_schema={
        "type": "object",
        "oneOf": [{"required": ["field"]}, {"required": ["fields"]}],
        "additionalProperties": False,
        "properties": {**_one_or_more("Where the address is, e.g. `contact.email`."), "required": {"type": "boolean"}},
    }
)
def email(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> list[Issue]:
    """Checks that fields hold e-mail addresses (missing ones fail unless `required` is false)."""
    issues = []
    for path in _paths(config):
        value = field_value(data, path, config_field="fields")
        if value is MISSING or value in (None, ""):
            if config.get("required", True):
                issues.append(Issue("an e-mail address is required", path, "REQUIRED"))
        elif not isinstance(value, str) or len(value) > 254 or not _EMAIL.match(value):
            issues.append(Issue(f"{value!r} is not an e-mail address", path, "INVALID_EMAIL"))
    return issues


@validator_plugin(
    "range",
    config_schema={
        "type": "object",
        "oneOf": [{"required": ["field"]}, {"required": ["fields"]}],
        "anyOf": [{"required": ["min"]}, {"required": ["max"]}],
        "additionalProperties": False,
        "properties": {
            **_one_or_more("The number to check, e.g. `order.total`."),
            "min": {"type": "number"},
            "max": {"type": "number"},
            "exclusive": {"type": "boolean", "description": "Exclude the bounds themselves."},
        },
    },
)
def range_validator(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> list[Issue]:
    """Checks that numbers lie within min and max (inclusive unless `exclusive`)."""
    low, high, exclusive = config.get("min"), config.get("max"), config.get("exclusive", False)
    issues = []
    for path in _paths(config):
        value = field_value(data, path, config_field="fields")
        if value is MISSING:
            issues.append(Issue("a number is required", path, "REQUIRED"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            issues.append(Issue(f"{value!r} is not a number", path, "NOT_A_NUMBER"))
        elif low is not None and (value <= low if exclusive else value < low):
            issues.append(Issue(f"{value} is below the minimum {low}", path, "OUT_OF_RANGE"))
        elif high is not None and (value >= high if exclusive else value > high):
            issues.append(Issue(f"{value} is above the maximum {high}", path, "OUT_OF_RANGE"))
    return issues


@validator_plugin(
    config_schema={
        "type": "object",
        "required": ["pattern"],
        "oneOf": [{"required": ["field"]}, {"required": ["fields"]}],
        "additionalProperties": False,
        "properties": {
            **_one_or_more("The text to check."),
            "pattern": {"type": "string", "minLength": 1, "maxLength": 1000},
            "full_match": {"type": "boolean", "description": "The whole text must match (default true)."},
        },
    }
)
def regex(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> list[Issue]:
    """Checks text fields against a regular expression (RE2 syntax, linear time)."""
    pattern = config["pattern"]
    if config.get("full_match", True):
        pattern = f"^(?:{pattern})$"
    issues = []
    for path in _paths(config):
        value = field_value(data, path, config_field="fields")
        if value is MISSING:
            issues.append(Issue("a value is required", path, "REQUIRED"))
            continue
        condition = {"source": "result.value", "operator": "matches", "value": pattern}
        try:
            verdict = compile_condition({"type": "expression", "config": condition}).evaluate(
                {"result": {"value": value}}
            )
        except ConditionError as error:
            raise ConfigError("pattern", str(error).replace("condition 'result.value matches ", "'")) from None
        if not verdict.fired:
            issues.append(Issue(f"{value!r} does not match {config['pattern']!r}", path, "NO_MATCH"))
    return issues


@validator_plugin(
    config_schema={
        "type": "object",
        "required": ["fields"],
        "additionalProperties": False,
        "properties": {
            "fields": _PATHS,
            "allow_empty": {"type": "boolean", "description": 'Accept "", [] and {} (default false).'},
        },
    }
)
def required_fields(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> list[Issue]:
    """Checks that fields are present and (unless `allow_empty`) not null or empty."""
    issues = []
    for path in config["fields"]:
        value = field_value(data, path, config_field="fields")
        if value is MISSING:
            issues.append(Issue("is required", path, "REQUIRED"))
        elif not config.get("allow_empty", False) and value in (None, "", [], {}):
            issues.append(Issue("must not be empty", path, "EMPTY"))
    return issues


# --- transforms ---------------------------------------------------------------------


def _compiled(expression: str, config_field: str) -> Any:
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as error:
        raise ConfigError(config_field, f"not a JMESPath expression: {error}") from None


@transform_plugin(
    "jmespath",
    config_schema={
        "type": "object",
        "oneOf": [{"required": ["expression"]}, {"required": ["mapping"]}],
        "additionalProperties": False,
        "properties": {
            "expression": {"type": "string", "minLength": 1},
            "mapping": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
        },
    },
)
def jmespath_transform(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Reshapes data with JMESPath: one `expression` (its object is the output, anything
    else becomes `result`), or a `mapping` of output field to expression."""
    if "expression" in config:
        value = _compiled(config["expression"], "expression").search(data)
        return value if isinstance(value, dict) else {"result": value}
    return {
        name: _compiled(expression, f"mapping.{name}").search(data) for name, expression in config["mapping"].items()
    }


_ITEMS = {"type": "string", "minLength": 1, "description": "Path of the list in the input (default `items`)."}
_INTO = {"type": "string", "minLength": 1, "description": "Output field for the result (default: `items`)."}


def _items(config: dict[str, Any], data: dict[str, Any]) -> list[Any]:
    path = config.get("items", "items")
    value = field_value(data, path, config_field="items")
    if value is MISSING:
        raise InputError(path, "no list at this path of the input")
    if not isinstance(value, list):
        raise InputError(path, f"expected a list, found {type(value).__name__}")
    return value


def _rule(rule: dict[str, Any]) -> Any:
    expression = {"source": f"result.{rule['field']}", "operator": rule["operator"]}
    if "value" in rule:
        expression["value"] = rule["value"]
    return compile_condition({"type": "expression", "config": expression})


@transform_plugin(
    "filter",
    config_schema={
        "type": "object",
        "required": ["where"],
        "additionalProperties": False,
        "properties": {
            "items": _ITEMS,
            "into": _INTO,
            "where": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["field", "operator"],
                    "additionalProperties": False,
                    "properties": {"field": _PATH, "operator": {"enum": sorted(OPERATORS)}, "value": {}},
                },
            },
        },
    },
)
def filter_transform(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Keeps the list items for which every `where` rule holds (the pipeline's operators)."""
    items = _items(config, data)
    rules = []
    for index, rule in enumerate(config["where"]):
        field_value({}, rule["field"], config_field=f"where[{index}].field")
        try:
            rules.append(_rule(rule))
        except ConditionError as error:
            raise ConfigError(f"where[{index}]", str(error)) from None
    kept = []
    for position, item in enumerate(items):
        try:
            if all(rule.evaluate({"result": item}).fired for rule in rules):
                kept.append(item)
        except ConditionError as error:
            raise InputError(f"{config.get('items', 'items')}[{position}]", str(error)) from None
    return {**data, config.get("into", config.get("items", "items")): kept}


def _sort_key(value: Any) -> tuple[int, Any]:
    # Missing values last; numbers, then text, then anything else (as JSON).
    if value is MISSING or value is None:
        return (3, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True))


@transform_plugin(
    config_schema={
        "type": "object",
        "required": ["by"],
        "additionalProperties": False,
        "properties": {
            "items": _ITEMS,
            "into": _INTO,
            "by": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "oneOf": [
                        _PATH,
                        {
                            "type": "object",
                            "required": ["field"],
                            "additionalProperties": False,
                            "properties": {"field": _PATH, "order": {"enum": ["asc", "desc"]}},
                        },
                    ]
                },
            },
        },
    }
)
def sort(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Sorts list items by one or more fields, each ascending or descending; missing values last."""
    items = list(_items(config, data))
    keys = [key if isinstance(key, dict) else {"field": key} for key in config["by"]]
    for index, key in enumerate(keys):
        field_value({}, key["field"], config_field=f"by[{index}]")
    # Stable sorts, least significant key first, give the multi-key order.
    for key in reversed(keys):
        descending = key.get("order", "asc") == "desc"
        present = [i for i in items if field_value(i, key["field"]) not in (MISSING, None)]
        absent = [i for i in items if field_value(i, key["field"]) in (MISSING, None)]
        present.sort(key=lambda item: _sort_key(field_value(item, key["field"])), reverse=descending)
        items = present + absent
    return {**data, config.get("into", config.get("items", "items")): items}


_METRIC = {
    "type": "object",
    "required": ["op"],
    "additionalProperties": False,
    "properties": {"op": {"enum": ["count", "sum", "avg", "min", "max"]}, "field": _PATH},
    "if": {"properties": {"op": {"not": {"const": "count"}}}},
    "then": {"required": ["field"]},
}


def _metric(op: str, values: Iterable[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if op == "sum":
        return sum(numbers)
    if op == "avg":
        return sum(numbers) / len(numbers) if numbers else None
    if op == "min":
        return min(numbers, default=None)
    return max(numbers, default=None)


def _measure(items: list[Any], metrics: dict[str, Any]) -> dict[str, Any]:
    result = {}
    for name, metric in metrics.items():
        if metric["op"] == "count":
            result[name] = (
                len(items)
                if "field" not in metric
                else sum(1 for i in items if field_value(i, metric["field"]) not in (MISSING, None))
            )
        else:
            result[name] = _metric(metric["op"], (field_value(i, metric["field"]) for i in items))
    return result


@transform_plugin(
    config_schema={
        "type": "object",
        "required": ["metrics"],
        "additionalProperties": False,
        "properties": {
            "items": _ITEMS,
            "into": {**_INTO, "description": "Output field for the result (default: `aggregate`)."},
            "group_by": _PATH,
            "metrics": {"type": "object", "minProperties": 1, "additionalProperties": _METRIC},
        },
    }
)
def aggregate(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Counts, sums, averages, minimums and maximums over list items, optionally per group."""
    items = _items(config, data)
    for name, metric in config["metrics"].items():
        if "field" in metric:
            field_value({}, metric["field"], config_field=f"metrics.{name}.field")
    into = config.get("into", "aggregate")
    if "group_by" not in config:
        return {**data, into: _measure(items, config["metrics"])}
    key_path = config["group_by"]
    groups: dict[str, list[Any]] = {}
    keys: dict[str, Any] = {}
    for item in items:
        key = field_value(item, key_path, config_field="group_by")
        key = None if key is MISSING else key
        text = json.dumps(key, sort_keys=True)
        groups.setdefault(text, []).append(item)
        keys[text] = key
    return {
        **data,
        into: [{key_path: keys[text], **_measure(members, config["metrics"])} for text, members in groups.items()],
    }


# --- hooks and reporters --------------------------------------------------------------


@hook_plugin(
    "log",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "level": {"enum": ["debug", "info", "warning", "error"]},
            "events": {"type": "array", "items": {"type": "string"}, "description": "Only these event types."},
        },
    },
)
def log_event(config: dict[str, Any], event: dict[str, Any], ctx: PluginContext) -> None:
    """Writes run events to the plugin host's log."""
    if config.get("events") and event["type"] not in config["events"]:
        return
    ctx.log(
        f"run event {event['type']}",
        level=config.get("level", "info"),
        run_id=ctx.run_id,
        step_id=ctx.step_id,
        data=event["data"],
    )


def _steps(summary: dict[str, Any]) -> list[dict[str, Any]]:
    steps = summary.get("steps", [])
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def _totals(summary: dict[str, Any]) -> dict[str, Any]:
    steps = _steps(summary)
    by_state: dict[str, int] = {}
    for step in steps:
        state = str(step.get("state", "UNKNOWN")).removeprefix("STEP_STATE_")
        by_state[state] = by_state.get(state, 0) + 1
    cost = sum(s.get("cost_usd", 0) for s in steps if isinstance(s.get("cost_usd", 0), (int, float)))
    calls = sum(s.get("api_calls", 0) for s in steps if isinstance(s.get("api_calls", 0), (int, float)))
    return {"steps": len(steps), "steps_by_state": by_state, "cost_usd": round(cost, 6), "api_calls": calls}


_REPORT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"title": {"type": "string"}, "include_outputs": {"type": "boolean"}},
}


_JSON_REPORT_SCHEMA = {
    **_REPORT_SCHEMA,
    "properties": {**_REPORT_SCHEMA["properties"], "indent": {"type": "integer", "minimum": 0, "maximum": 8}},
}


@reporter_plugin(config_schema=_JSON_REPORT_SCHEMA)
def json_report(config: dict[str, Any], summary: dict[str, Any], ctx: PluginContext) -> Report:
    """The run summary as JSON, with totals: steps by state, cost, API calls."""
    document = {"title": config.get("title", ""), **summary, "totals": _totals(summary)}
    if not config.get("include_outputs", True):
        document.pop("outputs", None)
    run_id = summary.get("run_id") or ctx.run_id or "run"
    content = json.dumps(document, indent=config.get("indent", 2), ensure_ascii=False, sort_keys=True) + "\n"
    return Report(content, "application/json", f"{run_id}.json")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


@reporter_plugin(config_schema=_REPORT_SCHEMA)
def markdown_report(config: dict[str, Any], summary: dict[str, Any], ctx: PluginContext) -> Report:
    """The run summary as Markdown: headline, a table of steps, totals and outputs."""
    run_id = summary.get("run_id") or ctx.run_id or "run"
    title = config.get("title") or f"Run {run_id}"
    state = str(summary.get("state", "UNKNOWN")).removeprefix("RUN_STATE_")
    lines = [f"# {title}", "", f"- Pipeline: {summary.get('pipeline', '') or '-'}", f"- State: **{state}**"]
    if summary.get("duration_s") is not None:
        lines.append(f"- Duration: {summary['duration_s']}s")
    totals = _totals(summary)
    lines += [f"- Cost: ${totals['cost_usd']:.4f} ({totals['api_calls']} API calls)", ""]
    steps = _steps(summary)
    if steps:
        lines += ["| Step | State | Attempts | Duration (s) | Cost (USD) |", "|---|---|---|---|---|"]
        for step in steps:
            row = [
                step.get("id", ""),
                str(step.get("state", "")).removeprefix("STEP_STATE_"),
                step.get("attempts", ""),
                step.get("duration_s", ""),
                step.get("cost_usd", ""),
            ]
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        lines.append("")
    if config.get("include_outputs", True) and summary.get("outputs"):
        lines += ["## Outputs", "", "```json", json.dumps(summary["outputs"], indent=2, sort_keys=True), "```", ""]
    return Report("\n".join(lines), "text/markdown", f"{run_id}.md")


PLUGINS = [
    json_schema,
    email,
    range_validator,
    regex,
    required_fields,
    jmespath_transform,
    filter_transform,
    sort,
    aggregate,
    log_event,
    json_report,
    markdown_report,
]

if __name__ == "__main__":
    serve(*PLUGINS)
