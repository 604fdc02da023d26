"""How the executor performs a step that names a plugin or a Python step class,
and asks a condition plugin whether a transition fires.

With a plugin host configured, `ia_executor.plugins.PluginRunner` does both;
without one, such a step fails with PLUGIN_UNAVAILABLE and its error policy
applies. Tests and embedders pass their own StepRunner.
"""

from __future__ import annotations

from typing import Any, Protocol

from ia_modules.conditions import Verdict
from ia_modules.engine import EvaluateCondition, ExecuteStep

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

    async def evaluate(self, action: EvaluateCondition) -> Verdict:
        """The verdict of a condition plugin; StepError fails the run (CONDITION_ERROR)."""
        ...


_NO_HOST = "no plugin host configured (set IA_PLUGIN_HOST_ADDRESS)"


class NoPluginHost:
    """The StepRunner when no plugin host is configured: every call fails clearly."""

    async def run(self, action: ExecuteStep) -> dict[str, Any]:
        """Fails with PLUGIN_UNAVAILABLE, naming what could not be run."""
        what = f"plugin {action.plugin!r}" if action.plugin else f"step class {action.module}.{action.step_class}"
        raise StepError("PLUGIN_UNAVAILABLE", f"{_NO_HOST}: cannot run {what} for step {action.step_id!r}")

    async def evaluate(self, action: EvaluateCondition) -> Verdict:
        """Fails with PLUGIN_UNAVAILABLE, naming the condition plugin."""
        raise StepError("PLUGIN_UNAVAILABLE", f"{_NO_HOST}: cannot call condition plugin {action.plugin!r}")
