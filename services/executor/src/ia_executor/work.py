"""How the executor performs a step that names a plugin or a Python step class.

Plugins run in the plugin host, which does not exist yet: until it does, such a
step fails with PLUGIN_UNAVAILABLE and its error policy applies. Tests and
embedders pass their own StepRunner.
"""

from __future__ import annotations

from typing import Any, Protocol

from ia_modules.engine import ExecuteStep

__all__ = ["NoPluginHost", "StepError", "StepRunner"]


class StepError(Exception):
    """A step failed; ``kind`` is a stable UPPER_SNAKE error kind."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class StepRunner(Protocol):
    """Runs one attempt of a plugin or module step and returns its output."""

    async def run(self, action: ExecuteStep) -> dict[str, Any]:
        """Raise StepError to fail the attempt; the executor enforces the deadline."""
        ...


class NoPluginHost:
    """The StepRunner used until the plugin host lands: every call fails clearly."""

    async def run(self, action: ExecuteStep) -> dict[str, Any]:
        """Fails with PLUGIN_UNAVAILABLE, naming what could not be run."""
        what = f"plugin {action.plugin!r}" if action.plugin else f"step class {action.module}.{action.step_class}"
        raise StepError("PLUGIN_UNAVAILABLE", f"no plugin host yet: cannot run {what} for step {action.step_id!r}")
