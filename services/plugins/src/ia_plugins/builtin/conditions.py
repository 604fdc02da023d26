"""Built-in conditions that need nothing but the clock and the data: the `conditions` process.

The time-based ones read the moment to judge from the input's `now` (or
`current_time`, as the original library did), an ISO 8601 date-time, and use the
clock otherwise; so a pipeline can test them with a fixed time.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ia_modules.conditions import OPERATORS, ConditionError, compile_condition
from ia_modules.plugin import (
    ConditionResult,
    ConfigError,
    InputError,
    PluginContext,
    condition_plugin,
    serve,
)
from ia_plugins.builtin.fields import MISSING, field_value, weekday_number

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_CLOCK = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$"}
_DAY = {
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": 6},
        {"type": "string", "pattern": "(?i)^(mon|tue|wed|thu|fri|sat|sun)"},
    ]
}
_TIMEZONE = {"type": "string", "minLength": 1, "description": "An IANA time zone, e.g. Europe/Paris; default UTC."}


def _zone(config: dict[str, Any]) -> ZoneInfo:
    name = config.get("timezone", "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "timezone", f"{name!r} is not a known time zone (use an IANA name such as Europe/Paris)"
        ) from None


def _now(data: dict[str, Any], zone: ZoneInfo) -> datetime:
    """The moment to judge, in `zone`: the input's `now`/`current_time`, else the clock."""
    for key in ("now", "current_time"):
        if key in data:
            text = data[key]
            try:
                moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            except ValueError:
                raise InputError(key, f"{text!r} is not an ISO 8601 date-time") from None
            # A time without an offset is read as local time in the zone.
            return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    return datetime.now(zone)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _within(moment: time, start: time, end: time) -> bool:
    """Start inclusive, end exclusive; a window whose end is before its start spans midnight."""
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


@condition_plugin(
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "timezone": _TIMEZONE,
            "start": _CLOCK,
            "end": _CLOCK,
            "weekdays": {"type": "array", "items": _DAY, "minItems": 1},
            "holidays": {"type": "array", "items": {"type": "string"}},
        },
    }
)
def business_hours(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True during business hours: start-end (default 09:00-17:00) on working days, in a time zone."""
    zone = _zone(config)
    moment = _now(data, zone)
    start, end = _clock(config.get("start", "09:00")), _clock(config.get("end", "17:00"))
    days = {weekday_number(d, config_field="weekdays") for d in config.get("weekdays", [0, 1, 2, 3, 4])}
    holidays = set()
    for index, text in enumerate(config.get("holidays", [])):
        try:
            holidays.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(f"holidays[{index}]", f"{text!r} is not a date (YYYY-MM-DD)") from None
    when = f"{_DAYS[moment.weekday()]} {moment:%Y-%m-%d %H:%M} {zone.key}"
    if moment.date() in holidays:
        return ConditionResult(False, f"{when} is a holiday")
    if moment.weekday() not in days:
        return ConditionResult(False, f"{when} is not a working day")
    inside = _within(moment.time(), start, end)
    verb = "is within" if inside else "is outside"
    return ConditionResult(inside, f"{when} {verb} {start:%H:%M}-{end:%H:%M}")


@condition_plugin(
    config_schema={
        "type": "object",
        "required": ["start", "end"],
        "additionalProperties": False,
        "properties": {"start": _CLOCK, "end": _CLOCK, "timezone": _TIMEZONE},
    }
)
def time_window(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True between two times of day (HH:MM); a window like 22:00-06:00 spans midnight."""
    zone = _zone(config)
    moment = _now(data, zone)
    start, end = _clock(config["start"]), _clock(config["end"])
    inside = _within(moment.time(), start, end)
    verb = "is within" if inside else "is outside"
    return ConditionResult(inside, f"{moment:%H:%M} {zone.key} {verb} {start:%H:%M}-{end:%H:%M}")


@condition_plugin(
    config_schema={
        "type": "object",
        "required": ["days"],
        "additionalProperties": False,
        "properties": {"days": {"type": "array", "items": _DAY, "minItems": 1}, "timezone": _TIMEZONE},
    }
)
def day_of_week(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True on the listed days (0-6 from Monday, or names such as `mon`, `Friday`)."""
    zone = _zone(config)
    moment = _now(data, zone)
    days = {weekday_number(d, config_field="days") for d in config["days"]}
    today = _DAYS[moment.weekday()]
    listed = moment.weekday() in days
    return ConditionResult(listed, f"{today} is {'one' if listed else 'not one'} of the listed days")


def _bound(config: dict[str, Any], key: str, zone: ZoneInfo) -> datetime | None:
    text = config.get(key)
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            # A bare end date includes that whole day.
            moment = datetime.combine(day + timedelta(days=1) if key == "end" else day, time(), zone)
            return moment
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(key, f"{text!r} is not a date (YYYY-MM-DD) or ISO 8601 date-time") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


@condition_plugin(
    config_schema={
        "type": "object",
        "anyOf": [{"required": ["start"]}, {"required": ["end"]}],
        "additionalProperties": False,
        "properties": {
            "start": {"type": "string", "minLength": 10},
            "end": {"type": "string", "minLength": 10},
            "timezone": _TIMEZONE,
        },
    }
)
def date_range(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True from `start` to `end` (dates include their whole day); either may be left open."""
    zone = _zone(config)
    moment = _now(data, zone)
    start, end = _bound(config, "start", zone), _bound(config, "end", zone)
    if start is not None and moment < start:
        return ConditionResult(False, f"{moment.isoformat()} is before {config['start']}")
    if end is not None and moment >= end:
        return ConditionResult(False, f"{moment.isoformat()} is after {config['end']}")
    return ConditionResult(True, f"{moment.isoformat()} is within the range")


@condition_plugin(
    config_schema={
        "type": "object",
        "required": ["field", "operator"],
        "additionalProperties": False,
        "properties": {
            "field": {"type": "string", "minLength": 1, "description": "A path into the input, e.g. `score`."},
            "operator": {"enum": sorted(OPERATORS)},
            "value": {},
        },
    }
)
def threshold_condition(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """Compares an input field with a value, with the pipeline's expression operators."""
    field_value(data, config["field"])  # checks the path, naming `field` when it is not one
    expression = {"source": f"result.{config['field']}", "operator": config["operator"]}
    if "value" in config:
        expression["value"] = config["value"]
    try:
        verdict = compile_condition({"type": "expression", "config": expression}).evaluate({"result": data})
    except ConditionError as error:
        raise InputError(config["field"], str(error)) from None
    return ConditionResult(verdict.fired, verdict.reason)


@condition_plugin(
    config_schema={
        "type": "object",
        "required": ["percentage"],
        "additionalProperties": False,
        "properties": {
            "percentage": {"type": "number", "minimum": 0, "maximum": 100},
            "key": {
                "type": "string",
                "minLength": 1,
                "description": "An input field to bucket by; default the run id.",
            },
            "salt": {"type": "string", "description": "Changes which runs fall inside, per rollout."},
        },
    }
)
def percentage_rollout(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True for a stable share of runs: the same run (or key) always gets the same answer."""
    if "key" in config:
        value = field_value(data, config["key"], config_field="key")
        if value is MISSING:
            raise InputError(config["key"], "the rollout key is missing from the input")
        subject = str(value)
    elif ctx.run_id:
        subject = ctx.run_id
    else:
        raise InputError("", "the call carries no run id; set `key` to bucket by an input field")
    digest = hashlib.sha256(f"{config.get('salt', '')}:{subject}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    inside = bucket < round(config["percentage"] * 100)
    return ConditionResult(inside, f"bucket {bucket / 100:.2f} {'<' if inside else '>='} {config['percentage']}%")


PLUGINS = [business_hours, time_window, day_of_week, date_range, threshold_condition, percentage_rollout]

if __name__ == "__main__":
    serve(*PLUGINS)
