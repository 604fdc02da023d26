"""A plugin's stdout and stderr lines, forwarded to the host's log with their level.

A line keeps the level it states, in any of the usual forms: a JSON object with
`level` (what `ia_modules.plugin.serve` writes), logfmt `level=warn`, or a prefix
such as `ERROR:`, `[warning]` or `WARN `. Other lines are logged at info.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ia_service_kit.logging import get_logger

log = get_logger("ia_plugins.plugin_output")

_LEVELS = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "notice": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "err": "error",
    "critical": "error",
    "fatal": "error",
    "panic": "error",
}
_LOGFMT_LEVEL = re.compile(r"(?:^|\s)level=\"?(\w+)\"?")
_LOGFMT_MESSAGE = re.compile(r"(?:^|\s)(?:msg|message)=(\"(?:[^\"\\]|\\.)*\"|\S+)")
_HOST_KEYS = frozenset({"plugin", "stream", "event", "logger", "level", "service", "time", "traceback"})
_PREFIX = re.compile(
    r"^\s*\[?(trace|debug|info|notice|warn(?:ing)?|err(?:or)?|critical|fatal|panic)\]?(?::|\s|$)", re.I
)


@dataclass(frozen=True)
class OutputLine:
    """One parsed line: its level, its message, and any structured fields."""

    level: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


def parse_line(line: str) -> OutputLine:
    """The level, message and fields a plugin's output line carries."""
    text = line.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            raw_level = str(document.pop("level", document.pop("severity", document.pop("levelname", "info"))))
            message = document.pop("message", document.pop("msg", document.pop("event", "")))
            document.pop("time", None)
            return OutputLine(_LEVELS.get(raw_level.lower(), "info"), str(message), document)
    level_match = _LOGFMT_LEVEL.search(text)
    if level_match and level_match.group(1).lower() in _LEVELS:
        message_match = _LOGFMT_MESSAGE.search(text)
        message = message_match.group(1).strip('"') if message_match else text
        return OutputLine(_LEVELS[level_match.group(1).lower()], message)
    prefix = _PREFIX.match(text)
    if prefix:
        return OutputLine(_LEVELS[prefix.group(1).lower()], text[prefix.end() :].strip() or text)
    return OutputLine("info", text)


def forward(process: str, stream: str, line: str) -> None:
    """Logs one output line of plugin process `process` on the host's log."""
    if not line.strip():
        return
    parsed = parse_line(line)
    # The plugin's own keys must not overwrite the host's (service, logger, …).
    fields = {f"plugin_{k}" if k in _HOST_KEYS else k: v for k, v in parsed.fields.items()}
    getattr(log, parsed.level)(parsed.message, plugin=process, stream=stream, **fields)
