"""engines: whole runs of two small pipelines, ours against other engines.

The shapes: a 10-step linear chain, and a fan-out and join (`start` -> `a`,
`b`, `c` -> `join`). Ours are built-in `pass` steps; the baselines' steps add 1
to a counter. Every figure is a per-run latency p50, ours over the baseline's.

- LangGraph, in one process with our engine (the `langgraph` environment),
  taking turns run by run: workers/engines_inprocess.py.
- our full path: StartRun + WatchRun to the end through the executor process
  (gRPC on loopback, no Envoy, durable SQLite checkpoints), the same two
  definitions.
- the original library (PyPI ia-modules 0.2.0, telemetry on) through its JSON
  runner, in its own environment: workers/original_library_engines.py. It has
  no join: it runs the branches one after the other and `join` once, after the
  last branch.
- Prefect, the 10-task chain as a flow in its ephemeral mode (its own API server
  and SQLite database under a temporary PREFECT_HOME): workers/prefect_flow.py.
  Its first flow run, which starts that server, is reported on its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from environments import LANGGRAPH, ORIGINAL_LIBRARY, BaselineUnavailable, Environment
from measure import median, progress
from pipelines import fan_out_join, pass_chain
from results import Figure
from servers import ServerProcess, whole_run

WORKERS = Path(__file__).resolve().parent.parent / "workers"
PREFECT = Environment("prefect")
CHAIN_STEPS = 10
SHAPES = {"chain": "10-step linear run", "fan_out": "fan-out a,b,c and join"}
# The ephemeral server runs its migrations on a fresh database: tens of seconds.
PREFECT_START_TIMEOUT_S = 240


def run(quick: bool = False) -> dict:
    langgraph_python = LANGGRAPH.ensure()
    original_python = ORIGINAL_LIBRARY.ensure()
    prefect_python = PREFECT.ensure()
    inprocess_runs, grpc_runs, original_runs = (500, 30, 100) if quick else (3000, 200, 500)
    prefect_runs = 3 if quick else 12

    progress(f"ours and LangGraph in one process, {inprocess_runs} runs of each shape")
    together = _worker(langgraph_python, "engines_inprocess.py", "--runs", str(inprocess_runs))
    progress(f"ours through the executor process, {grpc_runs} runs of each shape")
    over_grpc = _grpc_runs(grpc_runs)
    progress(f"original library, {original_runs} runs of each shape")
    original = _worker(original_python, "original_library_engines.py",
                       "--runs", str(original_runs))
    progress(f"Prefect, ephemeral mode: server start, then {prefect_runs} flow runs")
    prefect = _prefect(prefect_python, prefect_runs)

    ms = 1000.0
    ours = {shape: median(together["samples"][shape]["ours"]) * ms for shape in SHAPES}
    langgraph = {shape: median(together["samples"][shape]["langgraph"]) * ms for shape in SHAPES}
    full = {shape: median(over_grpc[shape]) * ms for shape in SHAPES}
    old = {shape: median(original["samples"][shape]) * ms for shape in SHAPES}
    figures = []
    for shape, what in SHAPES.items():
        n_in, n_grpc = len(together["samples"][shape]["ours"]), len(over_grpc[shape])
        figures += [
            Figure(f"{what}, engine in process, p50, vs LangGraph", "ms", ours[shape],
                   langgraph[shape], "LangGraph invoke, same process", samples=n_in),
            Figure(f"{what}, StartRun + WatchRun via executor, p50, vs LangGraph", "ms",
                   full[shape], langgraph[shape], "LangGraph invoke, in process",
                   samples=n_grpc),
            Figure(f"{what}, engine in process, p50, vs original library", "ms", ours[shape],
                   old[shape], "ia-modules 0.2.0 JSON runner, telemetry on",
                   samples=len(original["samples"][shape])),
            Figure(f"{what}, StartRun + WatchRun via executor, p50, vs original library",
                   "ms", full[shape], old[shape], "ia-modules 0.2.0, in process",
                   samples=n_grpc),
        ]
    prefect_p50 = median(prefect["runs"]) * ms
    figures += [
        Figure(f"{SHAPES['chain']}, StartRun + WatchRun via executor, p50, vs Prefect", "ms",
               full["chain"], prefect_p50, "Prefect flow run, ephemeral mode",
               samples=len(prefect["runs"])),
        Figure(f"{SHAPES['chain']}, engine in process, p50, vs Prefect", "ms",
               ours["chain"], prefect_p50, "Prefect flow run, ephemeral mode",
               samples=len(prefect["runs"])),
        Figure("Prefect first flow run, ephemeral server start included (reference)", "s",
               prefect["first_run"]),
    ]
    notes = [
        "ours in process: compile_plan once, a new Scheduler fed Start per run (no I/O). "
        "Via executor: a real executor process, SQLite checkpoints in a temporary folder, "
        "one run at a time. LangGraph: app.invoke, no checkpointer. Original library: "
        "pipeline.run of a prebuilt JSON pipeline; it runs fan-out branches one after "
        "another and has no join (join runs once, after the last branch). Prefect: "
        f"prefect {_pinned('prefect')}, a @flow calling {CHAIN_STEPS} @task in a line, "
        "ephemeral API server with SQLite under a temporary PREFECT_HOME, fan-out not measured",
    ]
    if quick:
        notes.append(f"quick mode: {inprocess_runs} in-process runs, {grpc_runs} executor runs, "
                     f"{original_runs} original-library runs, {prefect_runs} Prefect runs "
                     "per shape")
    return {"figures": figures, "notes": notes}


def _grpc_runs(runs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="ia-bench-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k != "IA_DATABASE_URL"}
        env["IA_DATA_DIR"] = data_dir
        argv = [sys.executable, "-m", "ia_executor.server", "--port", "0"]
        with ServerProcess(argv, env=env, cwd=Path(data_dir)) as executor:
            return asyncio.run(_timed_runs(executor.address, runs))


async def _timed_runs(address: str, runs: int) -> dict[str, list[float]]:
    from ia.executor.v1 import service_pb2_grpc

    requests = {"chain": _start_request(pass_chain(CHAIN_STEPS)),
                "fan_out": _start_request(fan_out_join())}
    samples: dict[str, list[float]] = {shape: [] for shape in requests}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = service_pb2_grpc.ExecutorServiceStub(channel)
        for request in requests.values():
            for _ in range(10):  # warm-up: connection, caches, the first database writes
                await whole_run(stub, request)
        for _ in range(runs):
            for shape, request in requests.items():
                start = time.perf_counter()
                succeeded = await whole_run(stub, request)
                samples[shape].append(time.perf_counter() - start)
                if not succeeded:
                    raise RuntimeError(f"a {SHAPES[shape]} failed through the executor")
    return samples


def _start_request(definition: dict):
    from google.protobuf import json_format
    from ia.executor.v1 import request_response_pb2
    from ia.pipeline.v1 import pipeline_pb2

    request = request_response_pb2.StartRunRequest(
        definition=json_format.ParseDict(definition, pipeline_pb2.Pipeline())
    )
    request.inputs.update({"count": 1})
    return request


def _prefect(python: Path, runs: int) -> dict:
    """Prefect's flow runs; a Prefect that does not run fails the suite, with its error."""
    with tempfile.TemporaryDirectory(prefix="ia-bench-prefect-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=home,
            PREFECT_LOGGING_LEVEL="WARNING",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=str(PREFECT_START_TIMEOUT_S),
            DO_NOT_TRACK="1",
        )
        try:
            return _worker(python, "prefect_flow.py", "--steps", str(CHAIN_STEPS),
                           "--runs", str(runs), env=env, cwd=home,
                           timeout=PREFECT_START_TIMEOUT_S + 120)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
            raise BaselineUnavailable(f"Prefect could not run a flow here: {error}") from error


def _pinned(package: str) -> str:
    pins = (Path(__file__).resolve().parent.parent / "baselines" / f"{PREFECT.name}.txt")
    for line in pins.read_text().splitlines():
        if line.startswith(f"{package}=="):
            return line.split("==", 1)[1]
    return "?"


def _worker(python: Path, script: str, *args: str, env: dict[str, str] | None = None,
            cwd: str | None = None, timeout: float | None = None) -> dict:
    """Run a worker in a baseline environment; its stdout is one JSON document."""
    done = subprocess.run([str(python), str(WORKERS / script), *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)
