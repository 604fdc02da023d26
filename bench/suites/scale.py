"""scale: executor replicas on PostgreSQL, one against two, with SQLite beside them.

- Throughput: runs per second of a 3-step `pass` pipeline (StartRun, then WatchRun
  to the end) with 64 concurrent clients, for one executor replica on PostgreSQL
  and for two replicas sharing one PostgreSQL database (half the clients on each:
  a run is watched on the replica that started it, as Envoy's round robin would
  spread them). The scaling ratio is two replicas' throughput over one's.
- CPU of each replica (from /proc) under that load.
- Beside them: the same load on one executor with its default store, SQLite in
  WAL mode (the single-node figure).

PostgreSQL is a throwaway cluster (Debian's `postgresql` package, as in the tests),
with the durability of a default install: fsync on, synchronous_commit on. Every
executor, the cluster and the client share the machine's cores, so two replicas
scale only as far as idle cores allow: the report gives the core count.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import grpc
from measure import progress
from pipelines import pass_chain
from results import Figure, NotMeasurable
from servers import ServerProcess, whole_run

# The throwaway cluster of the tests (initdb + pg_ctl on a free loopback port).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from postgres_testing import Cluster, postgres_bin  # noqa: E402

CLIENTS = 64
WARM_UP_RUNS = 20


def run(quick: bool = False) -> dict:
    if importlib.util.find_spec("ia_executor.server") is None:
        raise NotMeasurable("executor not available (no ia_executor.server module yet)")
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise NotMeasurable("PostgreSQL is not installed (scripts/install-system-packages.sh installs it)")
    seconds = 3.0 if quick else 10.0
    cluster = Cluster(bin_dir, durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="ia-bench-scale-") as data_dir:
            sqlite = _measure_executors(Path(data_dir) / "sqlite", None, 1, seconds)
            one = _measure_executors(Path(data_dir) / "one", cluster.create_database(), 1, seconds)
            two = _measure_executors(Path(data_dir) / "two", cluster.create_database(), 2, seconds)
    finally:
        cluster.stop()
    figures = [
        Figure(f"3-step runs/s, {CLIENTS} clients, 2 replicas on PostgreSQL (scaling ratio)", "/s",
               two.per_second, one.per_second, "1 replica on PostgreSQL", samples=two.ok),
        Figure(f"3-step runs/s, {CLIENTS} clients, 1 replica on PostgreSQL", "/s",
               one.per_second, sqlite.per_second, "1 executor on SQLite (single node)", samples=one.ok),
        *[
            Figure(f"replica {number} CPU, 2 replicas on PostgreSQL", "% of a core", cpu * 100,
                   one.cpu[0] * 100, "the 1 replica on PostgreSQL")
            for number, cpu in enumerate(two.cpu, start=1)
        ],
        Figure("executor CPU per run, 2 replicas on PostgreSQL", "ms", two.cpu_per_run * 1000,
               one.cpu_per_run * 1000, "1 replica on PostgreSQL"),
        Figure("executor CPU, 1 executor on SQLite", "% of a core", sqlite.cpu[0] * 100),
        Figure("failed runs", "runs", sqlite.failed + one.failed + two.failed, target_kind="value", target=1),
    ]
    notes = [
        f"{os.cpu_count()} cores shared by the client, PostgreSQL and every executor",
        "two replicas: half the clients on each, each run watched on the replica that started it",
    ]
    if quick:
        notes.append(f"quick mode: {seconds:g} s per configuration")
    return {"figures": figures, "notes": notes}


class _Throughput:
    """What one configuration did under the load."""

    def __init__(self, ok: int, failed: int, wall: float, cpu_seconds: list[float]) -> None:
        self.ok, self.failed, self.wall = ok, failed, wall
        self.cpu = [seconds / wall for seconds in cpu_seconds]  # cores, per replica
        self.per_second = ok / wall
        self.cpu_per_run = sum(cpu_seconds) / max(1, ok)


def _measure_executors(data_dir: Path, database_url: str | None, replicas: int, seconds: float) -> _Throughput:
    data_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "IA_DATABASE_URL"}
    env["IA_DATA_DIR"] = str(data_dir)
    if database_url:
        env["IA_DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", "ia_executor.server", "--port", "0"]
    servers = [ServerProcess(argv, env=env, cwd=data_dir) for _ in range(replicas)]
    started: list[ServerProcess] = []
    try:
        for server in servers:
            started.append(server.__enter__())
        where = "SQLite" if database_url is None else "PostgreSQL"
        progress(f"{replicas} executor(s) on {where}: {CLIENTS} clients for {seconds:g} s")
        return asyncio.run(_load(started, seconds))
    finally:
        for server in reversed(started):
            server.__exit__(None, None, None)


async def _load(servers: list[ServerProcess], seconds: float) -> _Throughput:
    from google.protobuf import json_format
    from ia.executor.v1 import request_response_pb2, service_pb2_grpc
    from ia.pipeline.v1 import pipeline_pb2

    request = request_response_pb2.StartRunRequest(
        definition=json_format.ParseDict(pass_chain(3), pipeline_pb2.Pipeline())
    )
    request.inputs.update({"count": 1})
    channels = [grpc.aio.insecure_channel(server.address) for server in servers]
    stubs = [service_pb2_grpc.ExecutorServiceStub(channel) for channel in channels]
    try:
        for stub in stubs:
            for _ in range(WARM_UP_RUNS):
                await whole_run(stub, request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        counts = {"ok": 0, "failed": 0}

        async def client(stub) -> None:
            while loop.time() < deadline:
                try:
                    succeeded = await whole_run(stub, request)
                except grpc.aio.AioRpcError:
                    succeeded = False
                counts["ok" if succeeded else "failed"] += 1

        cpu_before = [server.cpu_seconds() for server in servers]
        start = time.perf_counter()
        await asyncio.gather(*(client(stubs[number % len(stubs)]) for number in range(CLIENTS)))
        wall = time.perf_counter() - start
        cpu = [server.cpu_seconds() - before for server, before in zip(servers, cpu_before, strict=True)]
    finally:
        for channel in channels:
            await channel.close()
    return _Throughput(counts["ok"], counts["failed"], wall, cpu)
