"""The Python step runner: the `python_steps` process, serving the `python_step` plugin.

It runs step classes written for the original library's Step API, unchanged: a
step names `module` and `step_class`, the runner imports the module from the
folders given on its command line (the host passes IA_STEPS_PATH, bound
read-only into the sandbox), builds `StepClass(name, config)`, sets
`step.services`, and awaits `step.run(data)` (whose default calls `execute`).

Its config: `{"module": "steps.fetch", "step_class": "Fetch", "config": {…}}`;
`config` is what the class sees as `self.config`. The step's log lines
(`self.logger`) stream back to the run. A module is imported once per process:
after changing one, restart the plugin.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from typing import Any

from ia_modules.pipeline.services import ServiceRegistry
from ia_modules.plugin import (
    ConfigError,
    PluginContext,
    PluginError,
    serve,
    step_plugin,
)

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _StepLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The step's `self.logger`: records go to the process log and stream to the run."""

    def __init__(self, logger: logging.Logger, ctx: PluginContext) -> None:
        super().__init__(logger, {})
        self._ctx = ctx

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        # The run sees info and above whatever this process's log level; debug only when enabled.
        if level >= logging.INFO or self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            self._ctx.log(text, level=logging.getLevelName(level).lower())


def _step_class(module_name: str, class_name: str) -> type:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise ConfigError(
                "module", f"no module {module_name!r} on the step path ({':'.join(sys.path[:3])}…); set IA_STEPS_PATH"
            ) from None
        raise PluginError(f"importing {module_name!r} failed: {error}", reason="STEP_IMPORT_FAILED") from None
    except Exception as error:  # the user's module failing at import
        raise PluginError(
            f"importing {module_name!r} failed: {type(error).__name__}: {error}", reason="STEP_IMPORT_FAILED"
        ) from None
    found = getattr(module, class_name, None)
    if not inspect.isclass(found):
        raise ConfigError("step_class", f"module {module_name!r} has no class {class_name!r}")
    if not callable(getattr(found, "run", None)) and not callable(getattr(found, "execute", None)):
        raise ConfigError("step_class", f"{class_name} has neither `run` nor `execute`; is it a Step?")
    return found


@step_plugin(
    config_schema={
        "type": "object",
        "required": ["module", "step_class"],
        "additionalProperties": False,
        "properties": {
            "module": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"},
            "step_class": {"type": "string", "pattern": _NAME},
            "config": {"type": "object", "description": "What the step sees as self.config."},
            "name": {"type": "string", "description": "The step's name (default: the step id)."},
        },
    }
)
async def python_step(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Runs a Python step class (module + step_class) written for the Step API."""
    cls = _step_class(config["module"], config["step_class"])
    name = config.get("name") or ctx.step_id or config["step_class"]
    step = cls(name, dict(config.get("config", {})))
    services = ServiceRegistry()
    services.register("plugin_context", ctx)
    step.services = services
    step.logger = _StepLogger(logging.getLogger(f"Step.{name}"), ctx)
    runner = step.run if callable(getattr(step, "run", None)) else step.execute
    result = runner(data)
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise PluginError(
            f"{config['step_class']}.run returned {type(result).__name__}; a step returns a dict", reason="BAD_OUTPUT"
        )
    return result


PLUGINS = [python_step]

if __name__ == "__main__":
    # The host passes the step folders as arguments; they come first on the import path.
    sys.path[:0] = [folder for folder in sys.argv[1:] if folder]
    serve(*PLUGINS)
