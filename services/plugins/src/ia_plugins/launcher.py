"""Starting one local plugin process: its socket folder, environment and sandbox."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

from ia_modules.plugin.launch import LaunchedPlugin, LaunchError, launch
from ia_modules.plugin.manifest import Manifest
from ia_modules.plugin.protocol import handshake_env
from ia_plugins.model import Isolation
from ia_plugins.sandbox import BASE_ENV, Sandbox
from ia_plugins.settings import HostSettings
from ia_service_kit.logging import get_logger

log = get_logger(__name__)

LineSink = Callable[[str, str], None]


class Launcher:
    """Starts plugin processes under `sandbox`, or refuses to when there is none.

    Without a sandbox (`sandbox_problem` says why), a plugin whose manifest asks
    for isolation (the default) is refused unless the settings allow running
    unsandboxed; then every start logs a warning.
    """

    def __init__(self, settings: HostSettings, sandbox: Sandbox | None, sandbox_problem: str = "") -> None:
        self.settings = settings
        self.sandbox = sandbox
        self.sandbox_problem = sandbox_problem

    def isolation_for(self, manifest: Manifest) -> Isolation:
        """How `manifest`'s process will run (or would, were it allowed)."""
        return Isolation.BUBBLEWRAP if self.sandbox is not None else Isolation.UNSANDBOXED

    async def launch(self, manifest: Manifest, on_line: LineSink) -> LaunchedPlugin:
        """Starts `manifest`'s process and checks it; raises LaunchError with the reason."""
        socket_dir = self.settings.socket_root / manifest.name
        shutil.rmtree(socket_dir, ignore_errors=True)
        socket_dir.mkdir(parents=True, mode=0o700)
        socket_path = str(socket_dir / "plugin.sock")
        env = {
            **{name: os.environ[name] for name in manifest.permissions.env if name in os.environ},
            **handshake_env(
                socket_path,
                name=manifest.name,
                max_concurrency=manifest.limits.max_concurrency,
                call_timeout_s=manifest.limits.call_timeout_s,
            ),
        }
        command = manifest.command(sys.executable)
        supervision = self.settings.supervision
        timeouts = {
            "handshake_timeout_s": supervision.handshake_timeout_s,
            "health_timeout_s": supervision.health_timeout_s,
        }
        if self.sandbox is not None:
            uid = self.sandbox.new_uid()
            if uid is not None:
                os.chown(socket_dir, uid, uid)
            read_end, write_end = os.pipe()
            argv = self.sandbox.command(
                manifest,
                command,
                socket_dir=socket_dir,
                env=env,
                workdir=str(manifest.folder) if manifest.folder else "/tmp",
                info_fd=write_end,
                uid=uid,
            )
            return await launch(
                argv,
                env={"PATH": os.environ.get("PATH", BASE_ENV["PATH"])},
                socket_path=socket_path,
                on_line=on_line,
                info_pipe=(read_end, write_end),
                **timeouts,
            )
        if manifest.sandbox and not self.settings.unsandboxed:
            raise LaunchError(
                f"bubblewrap is unavailable ({self.sandbox_problem}); refusing to start plugin "
                f"{manifest.name!r} without isolation. Install bubblewrap, or set "
                "IA_PLUGINS_UNSANDBOXED=1 to run plugins unsandboxed."
            )
        log.warning(
            "starting plugin WITHOUT a sandbox: it can read, write and reach whatever the host can",
            plugin=manifest.name,
            reason=self.sandbox_problem or "bubblewrap unavailable",
        )
        return await launch(
            command,
            env={**BASE_ENV, "PATH": os.environ.get("PATH", BASE_ENV["PATH"]), "HOME": str(socket_dir), **env},
            socket_path=socket_path,
            cwd=str(manifest.folder or socket_dir),
            on_line=on_line,
            **timeouts,
        )
