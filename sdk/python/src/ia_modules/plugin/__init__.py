"""The plugin authoring kit: write, serve, call and test IA Modules plugins.

A plugin is a process that serves `ia.plugin.v1.PluginService` on the Unix socket
the plugin host gives it. With this kit, a Python plugin is a few decorated
functions and one call to `serve`::

    from ia_modules.plugin import condition_plugin, serve

    @condition_plugin(config_schema={"type": "object", "properties": {"min": {"type": "number"}}})
    def big_order(config, data, ctx):
        return data.get("amount", 0) >= config.get("min", 100)

    if __name__ == "__main__":
        serve(big_order)

- decorators: `condition_plugin`, `step_plugin`, `validator_plugin`,
  `transform_plugin`, `hook_plugin`, `reporter_plugin`;
- results and errors: `ConditionResult`, `Issue`, `Report`, `PluginError`, `InputError`,
  `ConfigError`;
- `PluginContext`: the call (run, step, attempt, idempotency key), logs, progress, cost;
- `PluginClient`, `CallInfo`: call a plugin endpoint;
- `PluginHarness`: run plugins in-process or as a subprocess, for tests;
- `Manifest`, `load_manifest`: the plugin.yaml of a plugin folder.
"""

from ia_modules.plugin.authoring import (
    ConditionResult,
    ConfigError,
    InputError,
    Issue,
    Kind,
    Plugin,
    PluginError,
    Report,
    condition_plugin,
    hook_plugin,
    reporter_plugin,
    step_plugin,
    transform_plugin,
    validator_plugin,
)
from ia_modules.plugin.client import CallInfo, PluginClient, StepOutcome, Validation
from ia_modules.plugin.context import PluginContext
from ia_modules.plugin.harness import PluginHarness
from ia_modules.plugin.manifest import (
    Limits,
    Manifest,
    ManifestError,
    Permissions,
    load_manifest,
)
from ia_modules.plugin.server import serve

__all__ = [
    "CallInfo",
    "ConditionResult",
    "ConfigError",
    "InputError",
    "Issue",
    "Kind",
    "Limits",
    "Manifest",
    "ManifestError",
    "Permissions",
    "Plugin",
    "PluginClient",
    "PluginContext",
    "PluginError",
    "PluginHarness",
    "Report",
    "StepOutcome",
    "Validation",
    "condition_plugin",
    "hook_plugin",
    "load_manifest",
    "reporter_plugin",
    "serve",
    "step_plugin",
    "transform_plugin",
    "validator_plugin",
]
