"""An in-process registry on port 0 with its own data folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from ia.registry.v1 import service_pb2_grpc
from ia_registry.server import DEFAULT_PORT, NAME, wire
from ia_service_kit.server import RunningServer, ServiceConfig, start

StartRegistry = Callable[[Path], Awaitable[RunningServer]]


@pytest.fixture
async def start_registry(database_url: str | None) -> AsyncIterator[StartRegistry]:
    """Starts registries on port 0 over a data folder, or the test's PostgreSQL database;
    all are stopped at the end."""
    started: list[RunningServer] = []

    async def _start(data_dir: Path) -> RunningServer:
        config = ServiceConfig(
            name=NAME,
            default_port=DEFAULT_PORT,
            port=0,
            data_dir=data_dir,
            database_url=database_url,
            grace_period_s=1,
        )
        server = await start(config, wire)
        started.append(server)
        return server

    yield _start
    for server in started:
        await server.stop()


@pytest.fixture
async def registry_server(start_registry: StartRegistry, tmp_path: Path) -> RunningServer:
    return await start_registry(tmp_path / "data")


@pytest.fixture
async def channel(registry_server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(registry_server.address) as ch:
        yield ch


@pytest.fixture
def registry(channel: grpc.aio.Channel) -> service_pb2_grpc.RegistryServiceStub:
    return service_pb2_grpc.RegistryServiceStub(channel)
