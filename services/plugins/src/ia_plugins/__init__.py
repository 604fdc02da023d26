"""The IA Modules plugin host: discovers, sandboxes, starts, watches and restarts
plugin processes, and tells callers where each plugin is served.

- `server`: wiring and `main` (`ia-plugin-host`);
- `service`: PluginHostService, RPC by RPC;
- `host`: `PluginHost`, the processes and where plugins are;
- `process`, `launcher`, `sandbox`: one process's life, its start, its bubblewrap;
- `discovery`, `settings`: where plugins come from and how the host is configured;
- `builtin`: the built-in plugins, in four processes.
"""
