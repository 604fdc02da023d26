"""`Step`: the base class of step classes written for the original library.

A step class overrides `async def execute(self, data) -> dict`, or (as released
versions of the library do) `async def run(self, data) -> dict`. It reads
`self.name`, `self.config`, `self.services` and `self.logger`::

    from ia_modules.pipeline.core import Step

    class Greet(Step):
        async def run(self, data):
            return {"greeting": f"hello {data['name']}{self.config.get('suffix', '')}"}

Such a class runs unchanged in the Python step-runner plugin (`python_step`):
the step names it with `module` and `step_class`.
"""

from __future__ import annotations

import logging
from typing import Any

from ia_modules.pipeline.services import ServiceRegistry


class Step:
    """A pipeline step: `Step(name, config)`, then `await step.run(data)`."""

    def __init__(self, name: str, config: dict[str, Any] | None = None) -> None:
        self.name = name
        self.config: dict[str, Any] = dict(config or {})
        self.logger = logging.getLogger(f"Step.{name}")
        # Set by whatever runs the step (the step-runner plugin), as in the original library.
        self.services: ServiceRegistry | None = None

    async def run(self, data: dict[str, Any]) -> dict[str, Any]:
        """Runs the step on `data` and returns its output; by default, `execute`."""
        return await self.execute(data)

    async def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        """The step's work. Override this, or `run`."""
        raise NotImplementedError(f"{type(self).__name__} must override `execute` or `run`")

    def get_db(self) -> Any | None:
        """The `database` service, if one is registered."""
        return self.services.get("database") if self.services else None

    def get_http(self) -> Any | None:
        """The `http` service, if one is registered."""
        return self.services.get("http") if self.services else None
