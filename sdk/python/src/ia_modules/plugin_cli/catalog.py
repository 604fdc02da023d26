"""Commands that ask the plugin host: list, info, install, uninstall."""

from __future__ import annotations

import asyncio
import os
import tarfile
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ia_modules.cli.console import (
    CLIError,
    FormatOption,
    Listing,
    OutputFormat,
    emit_json,
    handles_errors,
    line,
    note,
    settings,
    stdout,
)

if TYPE_CHECKING:
    from ia.pluginhost.v1 import message_pb2
    from ia_modules.plugin.host import PluginHostClient

T = TypeVar("T")

KINDS = ("condition", "step", "validator", "transform", "hook", "reporter")
_HEALTH_STYLE = {"SERVING": "green", "STARTING": "cyan", "RESTARTING": "yellow", "FAILED": "bold red", "STOPPED": "dim"}


def _ask(work: Callable[[PluginHostClient], Awaitable[T]]) -> T:
    """Runs `work` against the plugin host the global options name."""
    from ia_modules.client import resolve_endpoint
    from ia_modules.plugin.host import PluginHostClient

    async def run() -> T:
        async with PluginHostClient(resolve_endpoint(settings.endpoint), timeout_s=settings.timeout_s or 30) as host:
            return await work(host)

    return asyncio.run(run())


def plugin_document(plugin: message_pb2.Plugin) -> dict[str, Any]:
    """A plugin as JSON: enum names without their prefixes, every field present."""
    from google.protobuf import json_format

    document = json_format.MessageToDict(
        plugin, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    document["kinds"] = [kind.removeprefix("PLUGIN_KIND_").lower() for kind in document.get("kinds", [])]
    document["health"] = document["health"].removeprefix("PLUGIN_HEALTH_")
    document["source"] = document["source"].removeprefix("PLUGIN_SOURCE_").lower()
    document["sandbox"] = document["sandbox"].removeprefix("SANDBOX_MODE_").lower()
    return document


def grants_text(permissions: dict[str, Any]) -> str:
    """`network, ro:/srv/data, rw:/srv/out, env:API_KEY`, or `none`."""
    parts = ["network"] if permissions.get("network") else []
    parts += [f"{'rw' if g.get('writable') else 'ro'}:{g['path']}" for g in permissions.get("paths", [])]
    parts += [f"env:{name}" for name in permissions.get("env", [])]
    return ", ".join(parts) or "none"


def _health(text: str) -> Any:
    return line((text, _HEALTH_STYLE.get(text, "")))


@handles_errors
def list_command(
    kind: Annotated[
        str | None, typer.Option("--kind", metavar="KIND", help=f"Only plugins of this kind: {', '.join(KINDS)}.")
    ] = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List the plugins the host knows: kinds, version, health, restarts, sandbox grants."""
    from ia_modules.plugin.authoring import Kind

    if kind is not None and kind not in KINDS:
        raise CLIError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    plugins = _ask(lambda host: host.list_plugins(Kind(kind) if kind else None))
    documents = [plugin_document(p) for p in plugins]
    if output is OutputFormat.json:
        emit_json({"plugins": documents})
        return
    rows = Listing("NAME", "KINDS", "VERSION", "HEALTH", "RESTARTS", "PROCESS", "SANDBOX", "GRANTS")
    for doc in documents:
        rows.add(
            doc["name"],
            ",".join(doc["kinds"]) or "-",
            doc["version"] or "-",
            _health(doc["health"]),
            str(doc["restarts"]),
            doc["process"],
            doc["sandbox"],
            grants_text(doc["permissions"]),
        )
    stdout().print(rows)
    if not documents:
        note("no plugins")


@handles_errors
def info_command(
    name: Annotated[str, typer.Argument(help="The plugin's name.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Show one plugin: where it comes from, its health, sandbox grants, limits and config schema."""
    import json

    document = plugin_document(_ask(lambda host: host.get_plugin(name)))
    if output is OutputFormat.json:
        emit_json(document)
        return
    console = stdout()
    console.print(line((document["name"], "bold"), f" {document['version']}"))
    if document["description"]:
        console.print(document["description"], markup=False)
    limits = document["limits"]
    facts = [
        ("kinds", ", ".join(document["kinds"]) or "-"),
        ("health", document["health"] + (f" ({document['last_error']})" if document["last_error"] else "")),
        ("restarts", str(document["restarts"])),
        ("process", f"{document['process']} ({document['source']}: {document['location']})"),
        ("endpoint", document["endpoint"] or "-"),
        ("sandbox", document["sandbox"]),
        ("grants", grants_text(document["permissions"])),
        (
            "limits",
            f"memory {limits['memory_mb']} MiB, cpu {limits['cpu_seconds']} s, processes {limits['processes']}, "
            f"open files {limits['open_files']}, call timeout {limits['call_timeout_s']:g} s, "
            f"concurrency {limits['max_concurrency']}",
        ),
    ]
    rows = Listing("", "")
    for label, value in facts:
        rows.add(label, value)
    console.print(rows)
    console.print("config schema:", style="bold")
    console.print(json.dumps(document["config_schema"] or {}, indent=2), markup=False)


@contextmanager
def _plugin_folder(path: Path) -> Iterator[Path]:
    """`path` itself, or the folder inside a published `.tar.gz`, unpacked for the moment."""
    if path.is_dir():
        yield path.resolve()
        return
    if not path.is_file() or not tarfile.is_tarfile(path):
        raise CLIError(f"{path} is neither a plugin folder nor a plugin archive (.tar.gz)")
    with tempfile.TemporaryDirectory(prefix="ia-plugin-") as scratch:
        with tarfile.open(path) as archive:
            archive.extractall(scratch, filter="data")
        folders = [p for p in Path(scratch).iterdir() if (p / "plugin.yaml").is_file()]
        if len(folders) != 1:
            raise CLIError(f"{path} must hold exactly one plugin folder with a plugin.yaml")
        yield folders[0]


@handles_errors
def install_command(
    path: Annotated[Path, typer.Argument(help="A plugin folder, or an archive made by `ia-plugin publish`.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace an installed plugin of the same name.")] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Install a plugin: copy it into IA_PLUGINS_DIR (when set) and ask the host to start it.

    The host checks the manifest, starts the plugin in its sandbox and refuses it
    (with the reason) if it does not pass the handshake, health check and Describe.
    """
    from ia_modules.errors import IAError
    from ia_modules.plugin.manifest import (
        ManifestError,
        copy_plugin_folder,
        load_manifest,
    )

    with _plugin_folder(path) as folder:
        try:
            manifest = load_manifest(folder)
        except ManifestError as error:
            raise CLIError(manifest_message(error)) from None
        source = folder
        plugins_dir = os.environ.get("IA_PLUGINS_DIR")
        if plugins_dir:
            target = Path(plugins_dir).resolve() / manifest.name
            if target != folder:
                if target.exists() and not replace:
                    raise CLIError(f"{target} already exists; pass --replace to overwrite it")
                copy_plugin_folder(folder, target)
            source = target
        try:
            plugins = _ask(lambda host: host.install(str(source), replace=replace))
        except IAError as error:
            if error.unreachable and plugins_dir:
                note(
                    f"copied {manifest.name} to {source}; the plugin host was not reachable: it loads it when it starts"
                )
                return
            raise
    documents = [plugin_document(p) for p in plugins]
    if output is OutputFormat.json:
        emit_json({"plugins": documents})
        return
    for doc in documents:
        stdout().print(
            line(f"installed {doc['name']} {doc['version']} (", ",".join(doc["kinds"]), ") ", _health(doc["health"]))
        )


@handles_errors
def uninstall_command(
    name: Annotated[str, typer.Argument(help="A plugin, or the process serving it: its whole folder is removed.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Stop an installed plugin and remove its folder from the plugins folder."""
    removed = _ask(lambda host: host.uninstall(name))
    if output is OutputFormat.json:
        emit_json({"removed_plugins": removed})
        return
    stdout().print(f"removed {', '.join(removed)}", markup=False)


def manifest_message(error: Any) -> str:
    """A ManifestError as lines for people: one per bad field."""
    lines = [f"invalid manifest {error.source}:"]
    lines += [f"  {field or '(top level)'}: {description}" for field, description in error.problems]
    return "\n".join(lines)
