"""Reading a field of a plugin's input by path (`order.total`, `items[0].price`).

Paths are the engine's template paths, so a field means the same in a plugin's
config as in a pipeline's `{{ result.<path> }}`.
"""

from __future__ import annotations

from typing import Any

from ia_modules.plugin import ConfigError
from ia_modules.templates import TemplateError, lookup, parse_reference

MISSING: Any = object()


def field_value(data: Any, path: str, *, config_field: str = "field") -> Any:
    """The value at `path` in `data`, or MISSING; ConfigError (naming `config_field`) for a bad path."""
    try:
        reference = parse_reference(f"result.{path}")
    except TemplateError:
        raise ConfigError(config_field, f"{path!r} is not a field path such as `total` or `items[0].price`") from None
    try:
        return lookup(reference, {"result": data})
    except TemplateError:
        return MISSING


def weekday_number(day: str | int, *, config_field: str) -> int:
    """0 for Monday … 6 for Sunday, from a number or a (short) English day name."""
    if isinstance(day, int):
        return day
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    text = day.strip().lower()
    for number, name in enumerate(names):
        if text in (name, name[:3]):
            return number
    raise ConfigError(config_field, f"{day!r} is not a day of the week")
