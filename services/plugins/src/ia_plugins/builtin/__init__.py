"""The built-in plugins: 24 plugins in four processes, grouped by what they may do.

- `conditions` (no grants): business_hours, time_window, day_of_week, date_range,
  threshold_condition, percentage_rollout;
- `data` (no grants): validators json_schema, email, range, regex,
  required_fields; transforms jmespath, filter, sort, aggregate; the `log` hook;
  reporters json_report and markdown_report;
- `io` (network): conditions http_available, weather, sql_condition; steps
  http_request, sql_query; the `webhook` hook;
- `python_steps` (the folders of IA_STEPS_PATH, read-only): `python_step`, which
  runs step classes written for the original library's Step API.

Database files for the SQL plugins are granted to `io` in the host's config file
(`grants: {io: {paths: [...]}}`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ia_modules.plugin.manifest import Limits, Manifest, PathGrant, Permissions

VERSION = "1.0.0"


def _manifest(name: str, description: str, *args: str, permissions: Permissions = Permissions()) -> Manifest:
    return Manifest(
        name=name,
        version=VERSION,
        entrypoint=("python", "-m", f"ia_plugins.builtin.{name}", *args),
        description=description,
        permissions=permissions,
        limits=Limits(),
    )


def builtin_manifests(steps_path: Sequence[str] = ()) -> list[Manifest]:
    """The manifests of the built-in processes; `steps_path` is IA_STEPS_PATH."""
    return [
        _manifest("conditions", "Time, threshold and rollout conditions."),
        _manifest("data", "Validators, transforms, the log hook and run reporters."),
        _manifest(
            "io",
            "HTTP and SQL steps and conditions, weather, webhooks.",
            permissions=Permissions(network=True),
        ),
        _manifest(
            "python_steps",
            "Runs Python step classes (module + step_class) from IA_STEPS_PATH.",
            *steps_path,
            permissions=Permissions(paths=tuple(PathGrant(path) for path in steps_path)),
        ),
    ]
