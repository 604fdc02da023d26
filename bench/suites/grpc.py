"""grpc: whole runs through the executor over gRPC on loopback, no Envoy.

- Latency: StartRun of a 10-step pipeline of `pass` steps, then WatchRun until
  the stream ends, one run at a time; p50 and p99. Baseline: a unary
  grpc.health.v1 Check on a bare grpc.aio server process, interleaved with
  our runs. Target: p50 at most 5x the bare round trip. A 1-step run, timed
  alongside, splits the cost into a part per run and a part per step.
- Throughput: runs per second of a 3-step pipeline with 32 concurrent clients,
  with the executor process's CPU use (from /proc), and zero failed runs.
  Baseline: the bare server's calls per second with the same 32 clients. The
  two servers take turns of a few seconds each.

The executor runs as a real process (`python -m ia_executor.server --port 0`)
with its default durable checkpoints: SQLite in a temporary data folder, and
with IA_TELEMETRY=off: the target is about the engine and its checkpoints
against the network, and what tracing and metrics add is the telemetry suite's
measure (issue 5). A second executor with telemetry on (its default: spans
exported to IA_TELEMETRY_ADDRESS, here a telemetry service) runs the same
10-step runs in the same turns, for reference.
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
from measure import median, percentile, progress
from pipelines import pass_chain
from results import Figure, NotMeasurable
from servers import ServerProcess, whole_run

WORKERS = Path(__file__).resolve().parent.parent / "workers"
CLIENTS = 32
# Throughput turns last at least this long, so ramp-up and drain stay small.
TURN_SECONDS = 2.5


def run(quick: bool = False) -> dict:
    for module in ("ia_executor.server", "ia_telemetry.server"):
        if importlib.util.find_spec(module) is None:
            raise NotMeasurable(f"{module.split('.')[0]} not available (no {module} module)")
    runs = 60 if quick else 200
    seconds = 3.0 if quick else 10.0
    with tempfile.TemporaryDirectory(prefix="ia-bench-") as data_dir:
        # The executor's default store: SQLite in its data folder, whatever this
        # shell points IA_DATABASE_URL at.
        env = {k: v for k, v in os.environ.items() if k != "IA_DATABASE_URL"}
        bare_argv = [sys.executable, str(WORKERS / "bare_grpc_server.py"), "--port", "0"]
        executor_argv = [sys.executable, "-m", "ia_executor.server", "--port", "0"]
        telemetry_argv = [sys.executable, "-m", "ia_telemetry.server", "--port", "0"]
        folders = {name: Path(data_dir) / name for name in ("executor", "traced", "telemetry")}
        for folder in folders.values():
            folder.mkdir()
        untraced_env = env | {"IA_DATA_DIR": str(folders["executor"]), "IA_TELEMETRY": "off"}
        with ServerProcess(bare_argv) as bare, \
                ServerProcess(executor_argv, env=untraced_env, cwd=folders["executor"]) as executor, \
                ServerProcess(telemetry_argv, env=env | {"IA_DATA_DIR": str(folders["telemetry"]),
                                                         "IA_TELEMETRY": "off"},
                              cwd=folders["telemetry"]) as telemetry, \
                ServerProcess(executor_argv, env=env | {"IA_DATA_DIR": str(folders["traced"]),
                                                        "IA_TELEMETRY_ADDRESS": telemetry.address},
                              cwd=folders["traced"]) as traced:
            progress(f"executor on {executor.address} (traced: {traced.address}), bare server on {bare.address}")
            figures, notes = asyncio.run(_measure(bare, executor, traced, runs, seconds))
            files = sorted(p.name for p in folders["executor"].rglob("*") if p.is_file())
    if not any(name.endswith((".db", ".sqlite", ".sqlite3")) for name in files):
        notes.append(
            f"no SQLite file appeared in the executor's data folder ({files or 'empty'}): "
            "checkpoints may not have been durable"
        )
    if quick:
        notes.append(f"quick mode: {runs} runs for latency, {seconds:g} s for throughput")
    return {"figures": figures, "notes": notes}


async def _measure(bare: ServerProcess, executor: ServerProcess, traced: ServerProcess, runs: int,
                   seconds: float) -> tuple[list[Figure], list[str]]:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from ia.executor.v1 import service_pb2_grpc

    async with grpc.aio.insecure_channel(bare.address) as bare_channel, \
            grpc.aio.insecure_channel(executor.address) as executor_channel, \
            grpc.aio.insecure_channel(traced.address) as traced_channel:
        health = health_pb2_grpc.HealthStub(bare_channel)
        executor_stub = service_pb2_grpc.ExecutorServiceStub(executor_channel)
        traced_stub = service_pb2_grpc.ExecutorServiceStub(traced_channel)
        check_request = health_pb2.HealthCheckRequest()

        async def bare_call() -> bool:
            await health.Check(check_request, timeout=30)
            return True

        one_step, three_steps, ten_steps = (_start_request(n) for n in (1, 3, 10))

        progress(f"latency: {runs} runs of 10 steps and of 1 step, interleaved with bare calls")
        for _ in range(10):  # warm-up: connections, caches, the first database writes
            await bare_call()
            await whole_run(executor_stub, ten_steps)
            await whole_run(traced_stub, ten_steps)
        bare_times, run_times, short_times, traced_times, failed = [], [], [], [], 0
        for _ in range(runs):
            start = time.perf_counter()
            await bare_call()
            bare_times.append(time.perf_counter() - start)
            for stub, request, times in ((executor_stub, ten_steps, run_times),
                                         (executor_stub, one_step, short_times),
                                         (traced_stub, ten_steps, traced_times)):
                start = time.perf_counter()
                succeeded = await whole_run(stub, request)
                times.append(time.perf_counter() - start)
                failed += not succeeded

        progress(f"throughput: {CLIENTS} clients, {seconds:g} s on each server, in turns")
        bare_load, run_load = _Load(), _Load()
        turns = max(1, int(seconds // TURN_SECONDS))
        for _ in range(turns):
            # Turns of a few seconds each, so that both see the same machine.
            await bare_load.saturate(bare_call, bare, seconds / turns)
            await run_load.saturate(lambda: whole_run(executor_stub, three_steps), executor,
                                    seconds / turns)

    ms = 1000.0
    figures = [
        Figure("10-step run, StartRun + WatchRun to the end, p50", "ms",
               median(run_times) * ms, median(bare_times) * ms, "bare unary round trip p50",
               target_kind="ratio", target=5, samples=runs),
        Figure("10-step run, StartRun + WatchRun to the end, p99", "ms",
               percentile(run_times, 99) * ms, percentile(bare_times, 99) * ms,
               "bare unary round trip p99", samples=runs),
        Figure("1-step run, StartRun + WatchRun to the end, p50", "ms",
               median(short_times) * ms, median(bare_times) * ms, "bare unary round trip p50",
               samples=runs),
        Figure("each step after the first (10-step p50 - 1-step p50) / 9", "ms",
               (median(run_times) - median(short_times)) / 9 * ms, samples=runs),
        Figure("10-step run with telemetry on (spans to a telemetry service), p50", "ms",
               median(traced_times) * ms, median(bare_times) * ms, "bare unary round trip p50",
               samples=runs),
        Figure(f"3-step runs per second, {CLIENTS} concurrent clients", "/s",
               run_load.per_second, bare_load.per_second, "bare calls/s",
               samples=run_load.ok),
        Figure("failed runs (latency and throughput)", "runs",
               failed + run_load.failed, target_kind="value", target=1),
        Figure("server process CPU under the throughput load", "% of a core",
               run_load.cpu * 100, bare_load.cpu * 100, "bare server"),
        Figure("server CPU per run (per call for the baseline)", "ms",
               run_load.cpu_per_item * ms, bare_load.cpu_per_item * ms, "bare server"),
    ]
    notes = [
        "client and servers share the machine's cores; the client is one Python process "
        "for both contenders"
    ]
    if bare_load.failed:
        notes.append(f"{bare_load.failed} bare calls failed under load")
    return figures, notes


def _start_request(steps: int):
    from google.protobuf import json_format
    from ia.executor.v1 import request_response_pb2
    from ia.pipeline.v1 import pipeline_pb2

    definition = json_format.ParseDict(pass_chain(steps), pipeline_pb2.Pipeline())
    request = request_response_pb2.StartRunRequest(definition=definition)
    request.inputs.update({"count": 1})
    return request


class _Load:
    """Calls made back to back by `CLIENTS` coroutines, summed over turns."""

    def __init__(self) -> None:
        self.ok = self.failed = 0
        self.wall = self.cpu_seconds = 0.0

    async def saturate(self, call, server: ServerProcess, seconds: float) -> None:
        """One turn: `CLIENTS` coroutines call `call` until `seconds` have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def client() -> None:
            while loop.time() < deadline:
                try:
                    succeeded = await call()
                except grpc.aio.AioRpcError:
                    succeeded = False
                if succeeded:
                    self.ok += 1
                else:
                    self.failed += 1

        cpu_before, start = server.cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        self.wall += time.perf_counter() - start
        self.cpu_seconds += server.cpu_seconds() - cpu_before

    @property
    def per_second(self) -> float:
        return self.ok / self.wall

    @property
    def cpu(self) -> float:
        """The server's CPU use, in cores."""
        return self.cpu_seconds / self.wall

    @property
    def cpu_per_item(self) -> float:
        return self.cpu_seconds / max(1, self.ok)
