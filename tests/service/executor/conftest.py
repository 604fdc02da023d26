"""In-process executors (and registries) on port 0, each over its own data folder."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from executor_testing import ScriptedRunner
from ia.executor.v1 import service_pb2_grpc
from ia.registry.v1 import service_pb2_grpc as registry_grpc
from ia_executor import server as executor_server
from ia_registry import server as registry_server
from ia_service_kit.server import RunningServer, ServiceConfig, start


@pytest.fixture
async def servers(database_url: str | None) -> AsyncIterator[list[RunningServer]]:
    # Set up after the test's database, so the servers stop before it is dropped.
    started: list[RunningServer] = []
    yield started
    for running in reversed(started):
        await running.stop(0)


@pytest.fixture
def start_executor(
    servers: list[RunningServer], tmp_path: Path, database_url: str | None
) -> Callable[..., Awaitable[RunningServer]]:
    """Starts executors on port 0 over the test's backend (SQLite in the data folder, or PostgreSQL)."""

    async def _start(data_dir: Path | None = None, **options: Any) -> RunningServer:
        config = ServiceConfig(
            name=executor_server.NAME,
            default_port=0,
            port=0,
            data_dir=data_dir or tmp_path / "executor",
            database_url=database_url,
            grace_period_s=0,
        )
        options.setdefault("registry", "127.0.0.1:9")
        running = await start(config, functools.partial(executor_server.wire, **options))
        servers.append(running)
        return running

    return _start


@pytest.fixture
async def registry_address(servers: list[RunningServer], tmp_path: Path) -> str:
    # Always SQLite: the registry's own backends are tested in tests/service/registry.
    config = ServiceConfig(name=registry_server.NAME, default_port=0, port=0, data_dir=tmp_path / "registry")
    running = await start(config, registry_server.wire)
    servers.append(running)
    return running.address


@pytest.fixture
async def registry(registry_address: str) -> AsyncIterator[registry_grpc.RegistryServiceStub]:
    async with grpc.aio.insecure_channel(registry_address) as channel:
        yield registry_grpc.RegistryServiceStub(channel)


@pytest.fixture
def runner() -> ScriptedRunner:
    return ScriptedRunner()


@pytest.fixture
async def executor_server_(start_executor, runner: ScriptedRunner) -> RunningServer:
    return await start_executor(runner=runner)


@pytest.fixture
async def executor(executor_server_: RunningServer) -> AsyncIterator[service_pb2_grpc.ExecutorServiceStub]:
    async with grpc.aio.insecure_channel(executor_server_.address) as channel:
        yield service_pb2_grpc.ExecutorServiceStub(channel)
