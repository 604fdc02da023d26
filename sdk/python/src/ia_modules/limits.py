"""The limits that keep one request, run or plugin from exhausting a service.

Each limit is read once, when the process starts, from an environment variable;
an unset, empty or malformed value keeps the default (and a malformed one says so
on stderr, since a typo must not silently remove a limit). Refusals name the
variable, so whoever hits a limit knows which knob to turn.

| variable | default | what it bounds | refusal |
|---|---|---|---|
| IA_MAX_MESSAGE_BYTES | 16 MiB | one gRPC message, in and out, every service | RESOURCE_EXHAUSTED |
| IA_MAX_DEFINITION_BYTES | 5 MiB | a definition's JSON text (registry, inline runs) | INVALID_DEFINITION, DOCUMENT_TOO_LARGE |
| IA_MAX_STEPS | 2000 | steps in one definition | INVALID_DEFINITION, TOO_MANY_STEPS |
| IA_MAX_STEP_INPUT_BYTES | 4 MiB | a step's resolved input (JSON) | the step fails: STEP_INPUT_TOO_LARGE |
| IA_MAX_STEP_OUTPUT_BYTES | 4 MiB | a step's output, plugin results included | the step fails: STEP_OUTPUT_TOO_LARGE |
| IA_MAX_CONCURRENT_RUNS | 1000 | runs not ended, per caller, per executor | RESOURCE_EXHAUSTED, CONCURRENT_RUNS_LIMIT |
| IA_MAX_EVENTS_PER_RUN | 10000 | events kept per run; older ones are folded into one summary event | (none: folded) |
| IA_MAX_NESTING_DEPTH | 8 | runs nested in runs (`pipeline` steps, in maps or not) | the step fails: NESTING_TOO_DEEP |
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULTS", "ENV", "Limits", "limit_from_env"]

_MIB = 1024 * 1024


def limit_from_env(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """The positive integer in ``name``, else ``default``."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        print(f"ignoring {name}={raw!r}: not a positive integer; using {default}", file=sys.stderr)
        return default
    return value


@dataclass(frozen=True)
class Limits:
    """Every limit of a service process; `from_env` reads them (see the module table)."""

    message_bytes: int = 16 * _MIB
    definition_bytes: int = 5 * _MIB
    steps: int = 2000
    step_input_bytes: int = 4 * _MIB
    step_output_bytes: int = 4 * _MIB
    concurrent_runs: int = 1000
    events_per_run: int = 10_000
    nesting_depth: int = 8

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The limits the environment sets, defaults for the rest."""
        defaults = cls()
        return cls(**{name: limit_from_env(ENV[name], getattr(defaults, name), environ) for name in ENV})


ENV = {
    "message_bytes": "IA_MAX_MESSAGE_BYTES",
    "definition_bytes": "IA_MAX_DEFINITION_BYTES",
    "steps": "IA_MAX_STEPS",
    "step_input_bytes": "IA_MAX_STEP_INPUT_BYTES",
    "step_output_bytes": "IA_MAX_STEP_OUTPUT_BYTES",
    "concurrent_runs": "IA_MAX_CONCURRENT_RUNS",
    "events_per_run": "IA_MAX_EVENTS_PER_RUN",
    "nesting_depth": "IA_MAX_NESTING_DEPTH",
}
"""The environment variable of each limit."""

DEFAULTS = Limits()
