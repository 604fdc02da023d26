"""Testing plugins: run them in this process, or as a real subprocess.

In-process is fastest and shows tracebacks in the test; the subprocess form
starts the folder's entrypoint exactly as the host does (handshake, health,
Describe), without the host's sandbox::

    async with PluginHarness.in_process(big_order) as harness:
        assert (await harness.client.evaluate_condition("big_order", {"min": 10}, {"amount": 12})).result

    async with PluginHarness.subprocess("plugins/weather") as harness:
        print([p.name for p in harness.plugins])
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

from ia.plugin.v1 import message_pb2
from ia_modules.plugin.authoring import Plugin
from ia_modules.plugin.client import PluginClient
from ia_modules.plugin.launch import LaunchedPlugin, LineSink, launch
from ia_modules.plugin.manifest import load_manifest
from ia_modules.plugin.protocol import handshake_env
from ia_modules.plugin.server import start_plugin_server


@contextlib.contextmanager
def socket_folder() -> Iterator[Path]:
    """A private folder for a plugin socket, short enough for the 108-byte socket path limit."""
    folder = Path(tempfile.mkdtemp(prefix="iap-", dir="/tmp" if os.path.isdir("/tmp") else None))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class PluginHarness:
    """A running plugin server and a client connected to it."""

    def __init__(self, client: PluginClient, plugins: list[message_pb2.PluginDescriptor]) -> None:
        self.client = client
        self.plugins = plugins
        self.process: LaunchedPlugin | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def in_process(
        cls, *plugins: Plugin, max_concurrency: int = 0, call_timeout_s: float = 0.0
    ) -> AsyncIterator[PluginHarness]:
        """Serves `plugins` from this process on a temporary Unix socket."""
        with socket_folder() as folder:
            server = await start_plugin_server(
                plugins, str(folder / "plugin.sock"), max_concurrency=max_concurrency, call_timeout_s=call_timeout_s
            )
            try:
                async with PluginClient(server.target) as client:
                    yield cls(client, await client.describe())
            finally:
                await server.stop(0)

    @classmethod
    @contextlib.asynccontextmanager
    async def subprocess(
        cls,
        folder: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        handshake_timeout_s: float = 15.0,
        on_line: LineSink | None = None,
    ) -> AsyncIterator[PluginHarness]:
        """Starts the plugin folder's entrypoint (unsandboxed) the way the host does."""
        manifest = load_manifest(folder)
        limits = manifest.limits
        with socket_folder() as sockets:
            socket_path = str(sockets / f"{manifest.name}.sock")
            launched = await launch(
                manifest.command(sys.executable),
                env={
                    **(os.environ if env is None else env),
                    **handshake_env(
                        socket_path,
                        name=manifest.name,
                        max_concurrency=limits.max_concurrency,
                        call_timeout_s=limits.call_timeout_s,
                    ),
                },
                socket_path=socket_path,
                cwd=str(manifest.folder),
                handshake_timeout_s=handshake_timeout_s,
                on_line=on_line,
            )
            try:
                async with PluginClient(launched.target) as client:
                    harness = cls(client, launched.plugins)
                    harness.process = launched
                    yield harness
            finally:
                await launched.stop(5.0)
