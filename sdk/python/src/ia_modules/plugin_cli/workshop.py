"""Commands for writing plugins: init, validate, test, publish."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ia_modules.cli.console import (
    CLIError,
    ExitCode,
    FormatOption,
    OutputFormat,
    emit_json,
    handles_errors,
    line,
    note,
    stdout,
)
from ia_modules.plugin_cli.catalog import KINDS

if TYPE_CHECKING:
    from ia_modules.plugin.manifest import Manifest

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@handles_errors
def init_command(
    name: Annotated[str, typer.Argument(help="The plugin's name: lowercase letters, digits and `_`.")],
    kind: Annotated[str, typer.Option("--type", metavar="KIND", help=f"One of {', '.join(KINDS)}.")] = "condition",
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the plugin folder.")] = Path("."),
) -> None:
    """Create a Python plugin folder: plugin.yaml, plugin.py and a test that passes."""
    from ia_modules.plugin_cli.scaffold import (
        manifest_source,
        plugin_source,
        test_source,
    )

    if not _IDENTIFIER.match(name):
        raise CLIError(f"plugin name {name!r}: use lowercase letters, digits and `_`, starting with a letter")
    if kind not in KINDS:
        raise CLIError(f"--type must be one of {', '.join(KINDS)}, not {kind!r}")
    folder = directory / name
    if folder.exists():
        raise CLIError(f"{folder} already exists")
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(manifest_source(name, kind))
    (folder / "plugin.py").write_text(plugin_source(name, kind))
    (folder / "test_plugin.py").write_text(test_source(name, kind))
    stdout().print(f"created {folder}/ (plugin.yaml, plugin.py, test_plugin.py)", markup=False)
    note(f"next: ia-plugin validate {folder} && ia-plugin test {folder}")


def _check(folder: Path, timeout_s: float) -> tuple[Manifest | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """Manifest, what Describe said, and the problems found (each with `check` and `message`)."""
    from google.protobuf import json_format

    from ia_modules.definition.validation import schema_problem
    from ia_modules.plugin.harness import PluginHarness
    from ia_modules.plugin.launch import LaunchError
    from ia_modules.plugin.manifest import ManifestError, load_manifest

    problems: list[dict[str, Any]] = []
    try:
        manifest = load_manifest(folder)
    except ManifestError as error:
        problems += [{"check": "manifest", "message": f"{f or '(top level)'}: {d}"} for f, d in error.problems]
        return None, [], problems
    for entry in manifest.declared_plugins():
        problem = schema_problem(dict(entry.config_schema)) if entry.config_schema else None
        if problem:
            problems.append({"check": "schema", "message": f"config_schema of {entry.name}: {problem}"})

    async def describe() -> list[dict[str, Any]]:
        async with PluginHarness.subprocess(folder, handshake_timeout_s=timeout_s) as harness:
            return [json_format.MessageToDict(p, preserving_proto_field_name=True) for p in harness.plugins]

    try:
        described = asyncio.run(describe())
    except LaunchError as error:
        problems.append({"check": "handshake", "message": str(error)})
        return manifest, [], problems
    for plugin in described:
        plugin["kinds"] = [k.removeprefix("PLUGIN_KIND_").lower() for k in plugin.get("kinds", [])]
        problem = schema_problem(plugin.get("config_schema", {})) if plugin.get("config_schema") else None
        if problem:
            problems.append(
                {"check": "schema", "message": f"{plugin['name']} describes an invalid config schema: {problem}"}
            )
    served = {p["name"]: set(p["kinds"]) for p in described}
    for entry in manifest.declared_plugins():
        kinds = {kind.value for kind in entry.kinds}
        if entry.name not in served:
            problems.append(
                {"check": "describe", "message": f"the manifest declares {entry.name!r}, Describe does not"}
            )
        elif served[entry.name] != kinds:
            problems.append(
                {
                    "check": "describe",
                    "message": f"{entry.name}: the manifest says {sorted(kinds)}, "
                    f"Describe says {sorted(served[entry.name])}",
                }
            )
    declared = {entry.name for entry in manifest.declared_plugins()}
    for name in sorted(set(served) - declared if declared else ()):
        problems.append(
            {"check": "describe", "message": f"Describe names {name!r}, which the manifest does not declare"}
        )
    return manifest, described, problems


@handles_errors
def validate_command(
    folder: Annotated[Path, typer.Argument(help="The plugin folder.")],
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="Time to wait for the handshake.")
    ] = 20,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Check a plugin folder: its manifest, the handshake, health, Describe and config schemas.

    The plugin is started as the host starts it, but outside the sandbox.
    """
    if not folder.is_dir():
        raise CLIError(f"{folder} is not a folder")
    manifest, described, problems = _check(folder, timeout)
    if output is OutputFormat.json:
        emit_json(
            {
                "valid": not problems,
                "name": manifest.name if manifest else None,
                "version": manifest.version if manifest else None,
                "plugins": described,
                "problems": problems,
            }
        )
    else:
        console = stdout()
        if manifest is not None:
            console.print(line(("manifest", "bold"), f" {manifest.name} {manifest.version}: ok"))
        for plugin in described:
            console.print(
                f"  {plugin['name']} ({', '.join(plugin['kinds'])}) {plugin.get('version', '')}", markup=False
            )
        for problem in problems:
            console.print(line((f"{problem['check']}: ", "bold red"), problem["message"]))
        if not problems:
            console.print(line(("valid", "green")))
    if problems:
        raise typer.Exit(ExitCode.FAILED)


@handles_errors
def test_command(
    folder: Annotated[Path, typer.Argument(help="The plugin folder; its test_*.py files run under pytest.")],
    pytest_args: Annotated[list[str] | None, typer.Argument(help="More pytest arguments, after --.")] = None,
) -> None:
    """Run a plugin folder's tests (pytest, with the plugin harness importable)."""
    if not folder.is_dir():
        raise CLIError(f"{folder} is not a folder")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder.resolve()), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(folder.resolve()),
        *(pytest_args or []),
    ]
    result = subprocess.run(command, cwd=folder, env=env, check=False)
    if result.returncode == 5:
        raise CLIError(f"no tests in {folder} (name them test_*.py)")
    if result.returncode != 0:
        raise typer.Exit(ExitCode.FAILED)


@handles_errors
def publish_command(
    folder: Annotated[Path, typer.Argument(help="The plugin folder.")],
    index: Annotated[
        Path, typer.Option("--index", envvar="IA_PLUGIN_INDEX", help="The index folder to publish into.")
    ] = Path("plugin-index"),
    output: FormatOption = OutputFormat.text,
) -> None:
    """Package a plugin folder as <name>-<version>.tar.gz into an index folder and list it in index.json.

    `ia-plugin install <archive>` installs it.
    """
    from ia_modules.plugin.manifest import ManifestError, load_manifest
    from ia_modules.plugin_cli.catalog import manifest_message

    try:
        manifest = load_manifest(folder)
    except ManifestError as error:
        raise CLIError(manifest_message(error)) from None
    index.mkdir(parents=True, exist_ok=True)
    archive = index / f"{manifest.name}-{manifest.version}.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(folder, arcname=manifest.name, filter=_without_clutter)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    entry = {
        "name": manifest.name,
        "version": manifest.version,
        "description": manifest.description,
        "kinds": sorted({kind.value for p in manifest.declared_plugins() for kind in p.kinds}),
        "file": archive.name,
        "sha256": digest,
    }
    listing_path = index / "index.json"
    listing = json.loads(listing_path.read_text()) if listing_path.is_file() else {"plugins": {}}
    listing["plugins"].setdefault(manifest.name, {})[manifest.version] = entry
    listing_path.write_text(json.dumps(listing, indent=2, sort_keys=True) + "\n")
    if output is OutputFormat.json:
        emit_json({**entry, "path": str(archive)})
        return
    stdout().print(f"published {archive} (sha256 {digest[:12]}…)", markup=False)


def _without_clutter(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    parts = Path(member.name).parts
    if any(part in ("__pycache__", ".git", ".pytest_cache", ".venv") for part in parts) or member.name.endswith(".pyc"):
        return None
    return member
