"""Real plugin processes under the real sandbox: what they cannot do, and how the host
recovers when they crash, run out of memory, hang or never start properly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from plugin_host_testing import FIXTURES, host_settings, needs_sandbox, start_host, with_supervision
from prometheus_client import REGISTRY

from ia_modules.errors import IAError
from ia_modules.plugin import PluginClient
from ia_modules.plugin.host import PluginHostClient
from ia_plugins.host import PluginHost
from ia_plugins.model import Health, Isolation
from ia_plugins.process import PluginProcess
from ia_service_kit.server import RunningServer

pytestmark = [needs_sandbox, pytest.mark.xdist_group("plugins"), pytest.mark.asyncio(loop_scope="module")]


class Probe:
    """The `probe` plugin process running in a host, and ways to call it."""

    def __init__(self, server: RunningServer, host: PluginHost, client: PluginClient, data_dir: Path) -> None:
        self.server = server
        self.host = host
        self.client = client
        self.data_dir = data_dir

    @property
    def process(self) -> PluginProcess:
        process = self.host.process("probe")
        assert process is not None
        return process

    async def step(self, name: str, **data: object) -> dict:
        return (await self.client.execute_step(name, {}, data, timeout_s=20)).output

    async def restarted(self, after: int) -> None:
        """Waits until the process has restarted past `after` restarts and serves again."""
        assert await self.process.wait_for(
            lambda p: p.restarts > after and p.health is Health.SERVING, timeout_s=30
        ), f"probe did not come back: {self.process.health} {self.process.last_error}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def probe(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Probe]:
    folder = tmp_path_factory.mktemp("probe-host")
    server, host = await start_host(host_settings(folder))
    async with PluginHostClient(server.address) as hosts:
        await hosts.install(str(FIXTURES / "probe"))
        where = await hosts.resolve("connect")
    async with PluginClient(where.endpoint) as client:
        yield Probe(server, host, client, folder)
    await server.stop(1)


async def test_the_plugin_runs_as_an_unprivileged_user_with_a_cleared_environment(probe: Probe) -> None:
    seen = await probe.step("whoami")

    assert probe.process.isolation is Isolation.BUBBLEWRAP
    assert seen["uid"] != 0
    assert seen["pid"] == 2  # its own pid namespace: bubblewrap's init is 1
    assert not [name for name in seen["env"] if name not in _ALLOWED_ENV]
    assert "IA_PLUGIN_SOCKET" in seen["env"]


_ALLOWED_ENV = {
    "HOME", "TMPDIR", "LANG", "PATH", "PWD", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "MALLOC_ARENA_MAX",
    "IA_PLUGIN_MAGIC_COOKIE", "IA_PLUGIN_PROTOCOL_VERSIONS", "IA_PLUGIN_SOCKET", "IA_PLUGIN_NAME",
    "IA_PLUGIN_MAX_CONCURRENCY", "IA_PLUGIN_CALL_TIMEOUT_S",
}  # fmt: skip


async def test_a_plugin_without_the_network_grant_cannot_reach_a_port_on_loopback(probe: Probe) -> None:
    # The host's own port is open on the host's 127.0.0.1; the plugin has a loopback of its own.
    result = await probe.step("connect", host="127.0.0.1", port=probe.server.port)

    assert result["connected"] is False
    assert "ConnectionRefusedError" in result["error"]


async def test_a_plugin_cannot_read_files_outside_its_binds(probe: Probe) -> None:
    secret = probe.data_dir / "secret.txt"
    secret.write_text("host secret")

    for path in (str(secret), "/etc/passwd", str(Path(__file__))):
        result = await probe.step("read_file", path=path)
        assert result["read"] is False, path
        assert "No such file or directory" in result["error"]
    own = await probe.step("read_file", path="plugin.yaml")
    assert own["read"] is True and "name: probe" in own["content"]


async def test_a_plugin_can_write_only_to_its_private_tmp(probe: Probe) -> None:
    assert (await probe.step("write_file", path="/tmp/scratch"))["written"] is True
    assert not Path("/tmp/scratch").exists() or Path("/tmp/scratch").read_text() != "written by the probe"

    for path in (str(probe.data_dir / "planted"), "/usr/lib/planted", "plugin.py"):
        result = await probe.step("write_file", path=path)
        assert result["written"] is False, path
        # Read-only binds, or folders the sandbox made (root's) to hold the socket bind.
        assert "Read-only file system" in result["error"] or "Permission denied" in result["error"], path
    assert not (probe.data_dir / "planted").exists()


async def test_a_fork_bomb_is_bounded_by_the_process_limit(probe: Probe) -> None:
    result = await probe.step("fork_bomb", max=500)

    assert result["forked"] < 32  # the manifest's `processes`, threads included
    assert "Resource temporarily unavailable" in result["error"]


async def test_config_that_breaks_the_schema_is_refused_naming_the_field(probe: Probe) -> None:
    with pytest.raises(IAError) as refused:
        await probe.client.evaluate_condition("strict", {"threshold": "high"}, {"value": 3})

    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.field_violations == [("config.threshold", "'high' is not of type 'number'")]


async def test_past_its_memory_limit_the_call_fails_and_the_plugin_is_restarted(probe: Probe) -> None:
    before = probe.process.restarts

    with pytest.raises(IAError) as exhausted:
        await probe.step("allocate", mb=600)  # the manifest allows 400 MiB of address space

    assert exhausted.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert exhausted.value.reason == "OUT_OF_MEMORY"
    await probe.restarted(before)
    assert "ran out of memory" in probe.process.last_error
    assert await probe.step("allocate", mb=20) == {"allocated_mb": 20}


async def test_an_infinite_loop_hits_the_deadline_and_the_plugin_is_restarted(probe: Probe) -> None:
    before = probe.process.restarts

    with pytest.raises(IAError) as late:
        await probe.client.execute_step("spin", timeout_s=1)

    assert late.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    await probe.restarted(before)
    assert "overran its deadline" in probe.process.last_error
    assert (await probe.step("whoami"))["pid"] == 2


async def test_a_crash_mid_call_is_followed_by_a_restart_and_the_next_call_succeeds(probe: Probe) -> None:
    before = probe.process.restarts

    with pytest.raises(IAError) as crashed:
        await probe.step("crash")

    assert crashed.value.code is grpc.StatusCode.UNAVAILABLE
    await probe.restarted(before)
    assert probe.process.last_error == "process ended (exit code 3)"
    assert (await probe.step("read_file", path="plugin.yaml"))["read"] is True


@pytest.mark.parametrize(
    ("fixture", "handshake_timeout_s", "words"),
    [
        ("stale_cookie", 30, "IA_PLUGIN_MAGIC_COOKIE is missing or wrong"),
        ("garbage", 30, "invalid handshake line 'hello from a program that never learned the protocol'"),
        ("silent", 2, "printed no handshake line within 2s"),
        ("unhealthy", 30, "did not answer health checks on"),
    ],
)
async def test_a_plugin_that_fails_the_handshake_is_refused_with_a_clear_message(
    tmp_path: Path, fixture: str, handshake_timeout_s: float, words: str
) -> None:
    settings = with_supervision(host_settings(tmp_path), handshake_timeout_s=handshake_timeout_s, health_timeout_s=1)
    server, host = await start_host(settings)
    try:
        async with PluginHostClient(server.address) as hosts:
            with pytest.raises(IAError) as refused:
                await hosts.install(str(FIXTURES / fixture))
            assert refused.value.code is grpc.StatusCode.FAILED_PRECONDITION
            assert refused.value.reason == "PLUGIN_START_FAILED"
            assert words in refused.value.message
            assert not (settings.plugins_dir / fixture).exists()
            assert await hosts.list_plugins() == []
    finally:
        await server.stop(1)


async def test_the_circuit_breaker_stops_restarting_a_plugin_that_keeps_crashing(tmp_path: Path) -> None:
    settings = with_supervision(host_settings(tmp_path), breaker_crashes=2)
    server, host = await start_host(settings)
    try:
        async with PluginHostClient(server.address) as hosts:
            await hosts.install(str(FIXTURES / "probe"))
            where = await hosts.resolve("crash")
            process = host.process("probe")
            assert process is not None
            async with PluginClient(where.endpoint) as client:
                with pytest.raises(IAError):
                    await client.execute_step("crash", timeout_s=20)
                assert await process.wait_for(lambda p: p.restarts == 1 and p.health is Health.SERVING, 30)
                with pytest.raises(IAError):
                    await client.execute_step("crash", timeout_s=20)
            assert await process.wait_for(lambda p: p.health is Health.FAILED, 30)
            assert process.last_error.startswith("circuit breaker open: crashed 2 times within 60s")
            assert REGISTRY.get_sample_value("plugin_processes_running", {"plugin": "probe"}) == 0
            with pytest.raises(IAError) as unavailable:
                await hosts.resolve("crash")
            assert unavailable.value.code is grpc.StatusCode.UNAVAILABLE
            assert unavailable.value.reason == "PLUGIN_UNAVAILABLE"
            assert (await hosts.get_plugin("crash")).last_error.startswith("circuit breaker open")
    finally:
        await server.stop(1)


async def test_a_plugin_that_stops_answering_health_checks_is_restarted(tmp_path: Path) -> None:
    settings = with_supervision(host_settings(tmp_path), health_interval_s=0.2, health_failures=2, health_timeout_s=0.5)
    server, host = await start_host(settings)
    try:
        async with PluginHostClient(server.address) as hosts:
            await hosts.install(str(FIXTURES / "probe"))
            where = await hosts.resolve("spin")
        process = host.process("probe")
        assert process is not None
        unhealthy = {"plugin": "probe", "reason": "unhealthy"}
        restarts = REGISTRY.get_sample_value("plugin_restarts_total", unhealthy) or 0.0
        async with PluginClient(where.endpoint) as client:
            # Its call deadline (10 s) is far off: the missed health checks end it first.
            with pytest.raises(IAError) as lost:
                await client.execute_step("spin", timeout_s=60)
            assert lost.value.code is grpc.StatusCode.UNAVAILABLE
            assert await process.wait_for(lambda p: p.restarts == 1 and p.health is Health.SERVING, 30)
            assert process.last_error.startswith("stopped answering health checks (2 in a row")
            assert REGISTRY.get_sample_value("plugin_restarts_total", unhealthy) - restarts == 1
            assert (await client.execute_step("whoami", timeout_s=20)).output["pid"] == 2
    finally:
        await server.stop(1)
