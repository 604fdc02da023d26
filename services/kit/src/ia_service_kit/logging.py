"""Structured logs: one line per event on stderr, as logfmt (default) or JSON.

Usage::

    log = get_logger(__name__)
    log.info("pipeline version stored", name="hello", revision=2)

renders (logfmt)::

    time=2025-01-01T12:00:00.000Z level=info service=registry logger=ia_registry.registry event="pipeline version stored" name=hello revision=2

IA_LOG_LEVEL sets the level (debug, info, warning, error; default info) and
IA_LOG_FORMAT the format (logfmt or json).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

_FIELDS_ATTR = "ia_fields"
_LEVEL_NAMES = {"WARNING": "warning", "CRITICAL": "critical"}


class EventLogger:
    """Logs an event (a short, stable sentence) with key/value fields."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Logs at error level with the current exception's traceback (for the server log only)."""
        self._log(logging.ERROR, event, fields, exc_info=True)

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, extra={_FIELDS_ATTR: fields}, exc_info=exc_info, stacklevel=3)


def get_logger(name: str) -> EventLogger:
    """An event logger for a module; pass `__name__`."""
    return EventLogger(logging.getLogger(name))


def _record_fields(record: logging.LogRecord, service: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": _LEVEL_NAMES.get(record.levelname, record.levelname.lower()),
        "service": service,
        "logger": record.name,
        "event": record.getMessage(),
    }
    fields.update(getattr(record, _FIELDS_ATTR, {}))
    if record.exc_info:
        fields["traceback"] = logging.Formatter().formatException(record.exc_info)
    return fields


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text and not any(c in text for c in ' ="\\\n\t'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """`key=value` pairs on one line; values with spaces or quotes are quoted and escaped."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in _record_fields(record, self._service).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_record_fields(record, self._service), default=str)


class _KitHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so configuring twice replaces it."""


def configure_logging(
    service: str,
    *,
    level: str | None = None,
    log_format: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Sends every log record of the process to `stream` (stderr) as structured lines."""
    level_name = (level or os.environ.get("IA_LOG_LEVEL") or "info").upper()
    numeric_level = logging.getLevelName(level_name)
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    chosen_format = (log_format or os.environ.get("IA_LOG_FORMAT") or "logfmt").lower()
    handler = _KitHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service) if chosen_format == "json" else LogfmtFormatter(service))
    root = logging.getLogger()
    for existing in [h for h in root.handlers if isinstance(h, _KitHandler)]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric_level)
