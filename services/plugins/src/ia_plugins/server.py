"""Starts the plugin host: `ia-plugin-host --port N` or `python -m ia_plugins.server`."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping, Sequence

from ia.pluginhost.v1 import service_pb2_grpc
from ia_plugins.host import PluginHost
from ia_plugins.launcher import Launcher
from ia_plugins.sandbox import Sandbox, SandboxUnavailable
from ia_plugins.service import PluginHostService
from ia_plugins.settings import HostSettings, SettingsError
from ia_service_kit.logging import get_logger
from ia_service_kit.pagination import PageTokens
from ia_service_kit.server import ServiceConfig, Wiring, run

NAME = "plugins"
DEFAULT_PORT = 50053

log = get_logger(__name__)


def detect_sandbox(settings: HostSettings) -> Launcher:
    """A launcher with bubblewrap when it works here; otherwise one that says why not."""
    try:
        sandbox = Sandbox.detect(uid_base=settings.uid_base)
    except SandboxUnavailable as error:
        if settings.unsandboxed:
            log.warning("bubblewrap unavailable; plugins will run WITHOUT a sandbox", reason=str(error))
        else:
            log.error("bubblewrap unavailable; plugins that ask for isolation will be refused", reason=str(error))
        return Launcher(settings, None, str(error))
    log.info("sandbox ready", bwrap=sandbox.bwrap, privileged=sandbox.privileged)
    return Launcher(settings, sandbox)


def build_host(settings: HostSettings) -> PluginHost:
    """A plugin host for `settings`, with bubblewrap if it works here."""
    return PluginHost(settings, detect_sandbox(settings))


def wiring_for(host: PluginHost) -> Wiring:
    """The service around `host`: its gRPC face, started and stopped with the server."""
    # The host keeps no database: page tokens need only outlive a listing, not a restart.
    tokens = PageTokens(secrets.token_bytes(32))
    return Wiring(
        servicers=[(service_pb2_grpc.add_PluginHostServiceServicer_to_server, PluginHostService(host, tokens))],
        on_start=[host.start],
        on_stop=[host.stop],
    )


def wire(config: ServiceConfig, environ: Mapping[str, str] | None = None) -> Wiring:
    """The plugin host's parts, configured from the environment (see `ia_plugins.settings`)."""
    return wiring_for(build_host(HostSettings.from_env(config.data_dir, environ)))


def main(argv: Sequence[str] | None = None) -> int:
    """Serves until SIGTERM or SIGINT; exit code 0 after a clean shutdown, 1 when the
    configuration is unusable."""
    config = ServiceConfig.from_args(NAME, DEFAULT_PORT, argv)
    try:
        HostSettings.from_env(config.data_dir)
    except SettingsError as error:
        sys.stderr.write(f"ia-plugin-host: {error}\n")
        return 1
    return run(config, wire)


if __name__ == "__main__":
    sys.exit(main())
