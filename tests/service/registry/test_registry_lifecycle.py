"""The registry process: health, reflection, restarts and a clean exit on SIGTERM."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ia.registry.v1 import request_response_pb2 as rr
from ia.registry.v1 import service_pb2_grpc
from ia_registry.server import main
from registry_testing import create, pipeline

LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


async def test_health_is_serving_overall_and_for_the_registry(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ["", "ia.registry.v1.RegistryService"]:
        response = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_whole_public_api(channel: grpc.aio.Channel) -> None:
    async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        yield reflection_pb2.ServerReflectionRequest(file_containing_symbol="ia.executor.v1.ExecutorService")

    responses = [r async for r in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(ask())]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"ia.registry.v1.RegistryService", "ia.executor.v1.ExecutorService", "grpc.health.v1.Health"} <= names
    # `describe` works for a service this process does not serve itself.
    assert responses[1].file_descriptor_response.file_descriptor_proto


async def test_every_version_survives_a_restart(start_registry, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = await start_registry(data_dir)
    async with grpc.aio.insecure_channel(first.address) as ch:
        registry = service_pb2_grpc.RegistryServiceStub(ch)
        for name in ["alpha", "beta"]:
            await create(registry, name, labels={"team": "x"})
        await registry.UpdatePipeline(
            rr.UpdatePipelineRequest(pipeline=pipeline("alpha", description="v2", labels={"team": "x"}))
        )
        token = (await registry.ListPipelines(rr.ListPipelinesRequest(page_size=1))).next_page_token
        before = await registry.ListPipelineVersions(rr.ListPipelineVersionsRequest(name="alpha"))
    await first.stop()

    second = await start_registry(data_dir)
    async with grpc.aio.insecure_channel(second.address) as ch:
        registry = service_pb2_grpc.RegistryServiceStub(ch)
        after = await registry.ListPipelineVersions(rr.ListPipelineVersionsRequest(name="alpha"))
        assert list(after.versions) == list(before.versions)
        # Page tokens are signed with a secret kept in the database, so they outlive a restart.
        next_page = await registry.ListPipelines(rr.ListPipelinesRequest(page_size=1, page_token=token))
        assert [p.name for p in next_page.pipelines] == ["beta"]
        labelled = await registry.ListPipelines(rr.ListPipelinesRequest(labels={"team": "x"}))
        assert [p.name for p in labelled.pipelines] == ["alpha", "beta"]
        assert (await create(registry, "gamma")).pipeline.revision == 1


def test_sigterm_shuts_the_process_down_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "IA_DATA_DIR": str(tmp_path / "data"), "IA_LOG_LEVEL": "info"}
    env.pop("IA_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "ia_registry.server", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        seen: list[str] = []
        for line in process.stderr:  # blocks until the server reports its port
            seen.append(line)
            if match := LISTENING.search(line):
                break
        else:
            raise AssertionError("the registry never reported its port:\n" + "".join(seen))
        port = int(match.group(1))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert status.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "signal=SIGTERM" in rest
    assert 'event="shutting down"' in rest
    assert "event=stopped" in rest
    assert "Traceback" not in rest
    assert (tmp_path / "data" / "registry.db").exists()


def test_main_reports_a_port_it_cannot_bind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IA_DATA_DIR", str(tmp_path))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # main() installs its own
    monkeypatch.setattr(root, "level", root.level)
    assert main(["--host", "203.0.113.7", "--port", "0"]) == 1
    assert "cannot bind 203.0.113.7:0" in capsys.readouterr().err
