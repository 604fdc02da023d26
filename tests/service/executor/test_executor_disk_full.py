"""A full disk under the executor: starting a run is refused with RESOURCE_EXHAUSTED
(STORAGE_FULL) and a message, the executor stays up and serves what it stored, runs
start again once there is space, and the database passes SQLite's integrity check.

The data folder is a small tmpfs (this needs root and mount permission; elsewhere
the test skips, and fails under CI)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import grpc
import pytest
from executor_testing import finished, linear, refused, start, state
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ia.executor.v1 import request_response_pb2 as rr
from ia.executor.v1 import service_pb2_grpc

_SIZE = "4m"


@pytest.fixture
def database_url() -> None:
    """SQLite only: the database must live in the small data folder to fill it."""
    return None


@pytest.fixture
def small_disk(tmp_path: Path):
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={_SIZE}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path, leave_bytes: int) -> Path:
    """A file taking all but about ``leave_bytes`` of the folder's filesystem."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as out:
        with contextlib.suppress(OSError):
            out.write(b"\0" * max(free - leave_bytes, 0))
    return filler


async def test_a_full_disk_refuses_new_runs_clearly_and_keeps_what_was_committed(start_executor, runner, small_disk):
    server = await start_executor(data_dir=small_disk, runner=runner)
    definition = linear({"id": "a", "type": "pass", "inputs": {"blob": "{{ parameters.blob }}"}})
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        before = await finished(executor, (await executor.StartRun(start(definition, {"blob": "x"}))).run.run_id)
        assert state(before) == "SUCCEEDED"
        filler = _fill(small_disk, 64 * 1024)
        refusal = None
        for _ in range(200):
            try:
                await executor.StartRun(start(definition, {"blob": "y" * 20_000}))
            except grpc.aio.AioRpcError as first:
                assert first.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, first
                refusal = await refused(executor.StartRun(start(definition, {"blob": "y" * 20_000})))
                break
        assert refusal is not None, "the disk never filled up"
        assert refusal.code == grpc.StatusCode.RESOURCE_EXHAUSTED and refusal.reason == "STORAGE_FULL"
        assert "storage is full" in refusal.message
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        again = (await executor.GetRun(rr.GetRunRequest(run_id=before.run_id))).run
        assert state(again) == "SUCCEEDED"
        filler.unlink()
        after = await finished(executor, (await executor.StartRun(start(definition, {"blob": "z"}))).run.run_id)
        assert state(after) == "SUCCEEDED"
    await server.stop(0)
    with sqlite3.connect(small_disk / "executor.db") as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
