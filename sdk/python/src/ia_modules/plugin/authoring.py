"""Writing a plugin: six decorators, one per kind, over plain functions.

Every plugin function takes `(config, data, ctx)`: its validated configuration,
the data of the call, and a `PluginContext`. It may be `async def` or a plain
`def` (run in a worker thread, so a slow one does not block health checks)::

    from ia_modules.plugin import condition_plugin, serve

    @condition_plugin(config_schema={"type": "object", "required": ["min"],
                                     "properties": {"min": {"type": "number"}}})
    def big_order(config, data, ctx):
        return data.get("amount", 0) >= config["min"]

    if __name__ == "__main__":
        serve(big_order)

What each kind returns:

- condition: a bool, or `ConditionResult(result, reason)`;
- step: a dict (the step's output); `ctx.log`, `ctx.progress` and
  `ctx.record_cost` report along the way;
- validator: a list of `Issue` (empty or None when the data is valid);
- transform: a dict;
- hook: nothing (`data` is the event: `type`, `time`, `data`);
- reporter: a `Report`, or a str (`data` is the run summary).

Raise `PluginError` for a failure with a stable reason, `InputError` for bad
input data, `ConfigError` for a config its JSON Schema could not rule out.
Anything else becomes PLUGIN_FAILED with the exception's message.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ia.plugin.v1 import message_pb2
from ia_modules.client import to_struct

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")


class Kind(str, enum.Enum):
    """What a plugin does; each kind is one PluginService method."""

    CONDITION = "condition"
    STEP = "step"
    VALIDATOR = "validator"
    TRANSFORM = "transform"
    HOOK = "hook"
    REPORTER = "reporter"

    @property
    def proto(self) -> message_pb2.PluginKind.ValueType:
        """The `ia.plugin.v1.PluginKind` value."""
        return message_pb2.PluginKind.Value(f"PLUGIN_KIND_{self.name}")

    @classmethod
    def from_proto(cls, value: int) -> Kind:
        """The kind of an `ia.plugin.v1.PluginKind` value; ValueError for UNSPECIFIED."""
        name = message_pb2.PluginKind.Name(value).removeprefix("PLUGIN_KIND_")
        if name not in cls.__members__:
            raise ValueError(f"plugin kind {value} is not a kind")
        return cls[name]


@dataclass(frozen=True)
class ConditionResult:
    """A condition's answer, with the reason people see in the run."""

    result: bool
    reason: str = ""


@dataclass(frozen=True)
class Issue:
    """One problem a validator found. `path` is a JSON path into the data ("" for all of it)."""

    message: str
    path: str = ""
    code: str = "INVALID"


@dataclass(frozen=True)
class Report:
    """A rendered run report."""

    content: str
    media_type: str = "text/plain"
    file_name: str = ""


class PluginError(Exception):
    """A failure a plugin reports on purpose, with a stable UPPER_SNAKE reason.

    `retryable=True` says a later attempt may succeed (sent as UNAVAILABLE, which
    callers retry); otherwise it is sent as UNKNOWN with `reason`.
    """

    def __init__(
        self, message: str, *, reason: str = "PLUGIN_FAILED", retryable: bool = False, **metadata: object
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.retryable = retryable
        self.metadata = metadata


class InputError(PluginError):
    """The call's data is not what the plugin needs; `field` is a path into it, e.g. `amount`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, reason="INVALID_INPUT")
        self.field = field


class ConfigError(PluginError):
    """The config passed its JSON Schema but still cannot work (an unknown time zone, a
    query that does not compile); `field` is a path into it, e.g. `timezone`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, reason="INVALID_CONFIG")
        self.field = field


PluginFunction = Callable[[dict[str, Any], dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Plugin:
    """One plugin function of one kind, with what `Describe` says about it."""

    name: str
    kind: Kind
    function: PluginFunction = field(repr=False)
    version: str = "1.0.0"
    description: str = ""
    config_schema: Mapping[str, Any] = field(default_factory=dict)

    def descriptor(self, kinds: list[Kind] | None = None) -> message_pb2.PluginDescriptor:
        """The `PluginDescriptor` for Describe; `kinds` when several functions share the name."""
        return message_pb2.PluginDescriptor(
            name=self.name,
            version=self.version,
            kinds=[kind.proto for kind in (kinds or [self.kind])],
            description=self.description,
            config_schema=to_struct(dict(self.config_schema)),
        )


def _decorator(kind: Kind) -> Callable[..., Any]:
    def plugin_decorator(
        name: str | PluginFunction | None = None,
        *,
        version: str = "1.0.0",
        description: str | None = None,
        config_schema: Mapping[str, Any] | None = None,
    ) -> Any:
        def wrap(function: PluginFunction) -> Plugin:
            plugin_name = name if isinstance(name, str) else function.__name__
            if not NAME_PATTERN.match(plugin_name):
                raise ValueError(
                    f"plugin name {plugin_name!r} must start with a letter and hold only letters, "
                    "digits, `_`, `.` and `-`"
                )
            doc = (function.__doc__ or "").strip().splitlines()
            return Plugin(
                name=plugin_name,
                kind=kind,
                function=function,
                version=version,
                description=description if description is not None else (doc[0] if doc else ""),
                config_schema=dict(config_schema or {}),
            )

        # Both `@condition_plugin` and `@condition_plugin("name", ...)` work.
        if callable(name):
            return wrap(name)
        return wrap

    plugin_decorator.__name__ = f"{kind.value}_plugin"
    plugin_decorator.__doc__ = (
        f"Makes a function `(config, data, ctx)` a {kind.value} plugin. The name defaults to the "
        "function's, the description to its docstring's first line; `config_schema` is the JSON "
        "Schema each call's config is checked against."
    )
    return plugin_decorator


condition_plugin = _decorator(Kind.CONDITION)
step_plugin = _decorator(Kind.STEP)
validator_plugin = _decorator(Kind.VALIDATOR)
transform_plugin = _decorator(Kind.TRANSFORM)
hook_plugin = _decorator(Kind.HOOK)
reporter_plugin = _decorator(Kind.REPORTER)
