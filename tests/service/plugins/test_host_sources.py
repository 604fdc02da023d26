"""Where plugin processes come from besides the built-ins: remote addresses, broken
folders, and hosts where bubblewrap is unavailable."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import grpc
import pytest
from plugin_host_testing import FIXTURES, host_settings, with_supervision

from ia.pluginhost.v1 import message_pb2
from ia_modules.errors import IAError
from ia_modules.plugin import PluginClient, condition_plugin
from ia_modules.plugin.harness import socket_folder
from ia_modules.plugin.host import PluginHostClient
from ia_modules.plugin.server import start_plugin_server
from ia_plugins.host import PluginHost
from ia_plugins.launcher import Launcher
from ia_plugins.model import Health
from ia_plugins.server import NAME, wiring_for
from ia_service_kit.server import RunningServer, ServiceConfig, start


@condition_plugin
def always_yes(config: dict, data: dict, ctx: object) -> bool:
    return True


async def _serve(host: PluginHost) -> RunningServer:
    config = ServiceConfig(name=NAME, default_port=0, port=0, data_dir=host.settings.plugins_dir.parent)
    return await start(config, lambda _config: wiring_for(host))


async def test_a_remote_plugin_is_watched_and_resolved_to_its_address(tmp_path: Path) -> None:
    with socket_folder() as sockets:
        sidecar = await start_plugin_server([always_yes], str(sockets / "sidecar.sock"))
        settings = with_supervision(
            host_settings(tmp_path, remote={"sidecar": sidecar.target}), health_interval_s=0.2, resolve_wait_s=1
        )
        host = PluginHost(settings, Launcher(settings, None, "not needed"))
        server = await _serve(host)
        try:
            async with PluginHostClient(server.address) as hosts:
                [plugin] = await hosts.list_plugins()
                assert (plugin.name, plugin.process) == ("always_yes", "sidecar")
                assert plugin.source == message_pb2.PLUGIN_SOURCE_REMOTE
                assert plugin.sandbox == message_pb2.SANDBOX_MODE_REMOTE
                where = await hosts.resolve("always_yes")
                assert where.endpoint == sidecar.target
                async with PluginClient(where.endpoint) as client:
                    assert (await client.evaluate_condition("always_yes")).result is True

                await sidecar.stop(0)
                remote = host.process("sidecar")
                assert remote is not None
                assert await remote.wait_for(lambda p: p.health is Health.RESTARTING, 10)
                with pytest.raises(IAError) as gone:
                    await hosts.resolve("always_yes")
                assert gone.value.code is grpc.StatusCode.UNAVAILABLE
                assert "not answering health checks" in gone.value.message
        finally:
            await server.stop(0)


async def test_a_folder_with_a_broken_manifest_is_listed_as_failed_and_can_be_removed(tmp_path: Path) -> None:
    settings = host_settings(tmp_path)
    broken = settings.plugins_dir / "half_done"
    broken.mkdir(parents=True)
    (broken / "plugin.yaml").write_text("name: half_done\nversion: 1\n")
    (settings.plugins_dir / "not_a_plugin").mkdir()
    host = PluginHost(settings, Launcher(settings, None, "not needed"))
    server = await _serve(host)
    try:
        async with PluginHostClient(server.address) as hosts:
            [plugin] = await hosts.list_plugins()
            assert (plugin.name, plugin.health) == ("half_done", message_pb2.PLUGIN_HEALTH_FAILED)
            assert "entrypoint: 'entrypoint' is a required property" in plugin.last_error
            assert await hosts.uninstall("half_done") == ["half_done"]
            assert not broken.exists()
    finally:
        await server.stop(0)


async def test_without_bubblewrap_a_plugin_asking_for_isolation_is_refused(tmp_path: Path) -> None:
    settings = host_settings(tmp_path)
    host = PluginHost(settings, Launcher(settings, None, "bwrap: no permission to create namespaces"))
    server = await _serve(host)
    try:
        async with PluginHostClient(server.address) as hosts:
            with pytest.raises(IAError) as refused:
                await hosts.install(str(FIXTURES / "probe"))
        assert refused.value.reason == "PLUGIN_START_FAILED"
        assert (
            "bubblewrap is unavailable (bwrap: no permission to create namespaces); refusing to start plugin "
            "'probe' without isolation" in refused.value.message
        )
        assert "IA_PLUGINS_UNSANDBOXED=1" in refused.value.message
    finally:
        await server.stop(0)


async def test_unsandboxed_when_allowed_and_said_loudly_at_every_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = host_settings(tmp_path, unsandboxed=True)
    host = PluginHost(settings, Launcher(settings, None, "bwrap missing"))
    server = await _serve(host)
    caplog.set_level(logging.WARNING, logger="ia_plugins.launcher")
    try:
        async with PluginHostClient(server.address) as hosts:
            [plugin, *_] = await hosts.install(str(FIXTURES / "probe"))
            assert plugin.sandbox == message_pb2.SANDBOX_MODE_UNSANDBOXED
            where = await hosts.resolve("whoami")
            async with PluginClient(where.endpoint) as client:
                seen = await client.execute_step("whoami")
        assert seen.output["cwd"] == str(settings.plugins_dir / "probe")
        warnings = [r for r in caplog.records if "WITHOUT a sandbox" in r.getMessage()]
        assert len(warnings) == 1
        assert warnings[0].ia_fields == {"plugin": "probe", "reason": "bwrap missing"}  # type: ignore[attr-defined]
    finally:
        await server.stop(0)


async def test_an_installed_folder_is_found_again_when_the_host_starts(tmp_path: Path) -> None:
    settings = host_settings(tmp_path, unsandboxed=True)
    shutil.copytree(FIXTURES / "probe", settings.plugins_dir / "probe")
    host = PluginHost(settings, Launcher(settings, None, "bwrap missing"))
    server = await _serve(host)
    try:
        async with PluginHostClient(server.address) as hosts:
            plugin = await hosts.get_plugin("strict")
        assert plugin.source == message_pb2.PLUGIN_SOURCE_DIRECTORY
        assert plugin.location == str(settings.plugins_dir / "probe")
        assert plugin.health == message_pb2.PLUGIN_HEALTH_SERVING
    finally:
        await server.stop(0)


async def test_stopping_the_host_while_a_plugin_starts_leaves_no_process_behind(tmp_path: Path) -> None:
    settings = host_settings(tmp_path, unsandboxed=True)
    shutil.copytree(FIXTURES / "silent", settings.plugins_dir / "silent")
    host = PluginHost(settings, Launcher(settings, None, "bwrap missing"))
    server = await _serve(host)
    process = host.process("silent")
    assert process is not None and process.health is Health.STARTING

    await server.stop(0)

    assert process.health is Health.STOPPED
    assert _processes_in(settings.plugins_dir / "silent") == []


def _processes_in(folder: Path) -> list[int]:
    """Pids of the processes whose working folder is `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == folder:
                found.append(int(entry.name))
        except OSError:
            continue
    return found
