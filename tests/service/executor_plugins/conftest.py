"""An in-process plugin host (built-ins plus a test plugin, sandboxed) and an executor using it."""

from __future__ import annotations

import functools
import shutil
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from executor_plugins_testing import FIXTURES
from ia.executor.v1 import service_pb2_grpc
from ia_executor import server as executor_server
from ia_plugins.server import DEFAULT_PORT, NAME, build_host, wiring_for
from ia_plugins.settings import HostSettings, Supervision, socket_root
from ia_service_kit.server import ServiceConfig, start

# Restarts within a fraction of a second; the circuit breaker stays out of the way.
FAST = Supervision(
    handshake_timeout_s=20,
    health_timeout_s=3,
    health_interval_s=1,
    restart_backoff_s=0.05,
    max_restart_backoff_s=0.2,
    breaker_crashes=20,
    breaker_window_s=60,
    stop_grace_s=2,
    resolve_wait_s=30,
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[service_pb2_grpc.ExecutorServiceStub]:
    """An executor whose plugin steps run in a plugin host on port 0."""
    folder = tmp_path_factory.mktemp("stack")
    shutil.copytree(FIXTURES / "testkit", folder / "plugins" / "testkit")
    shutil.copytree(FIXTURES / "unruly", folder / "plugins" / "unruly")
    settings = HostSettings(
        plugins_dir=folder / "plugins",
        socket_root=socket_root(folder / "sockets"),
        builtins=True,
        entry_points=False,
        supervision=FAST,
        steps_path=(str(FIXTURES / "steps"),),
    )
    host_config = ServiceConfig(name=NAME, default_port=DEFAULT_PORT, port=0, data_dir=folder, grace_period_s=1)
    host = await start(host_config, lambda _config: wiring_for(build_host(settings)))
    executor_config = ServiceConfig(
        name=executor_server.NAME, default_port=0, port=0, data_dir=folder / "executor", grace_period_s=0
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IA_PLUGIN_HOST_ADDRESS", host.address)
        running = await start(executor_config, functools.partial(executor_server.wire, registry="127.0.0.1:9"))
    async with grpc.aio.insecure_channel(running.address) as channel:
        yield service_pb2_grpc.ExecutorServiceStub(channel)
    await running.stop(0)
    await host.stop(1)
