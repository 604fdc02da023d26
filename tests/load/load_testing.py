"""Load, faults and process figures for the stack, shared by the short load test in
`make test` and the long run of `make soak` (scripts/soak.py).

`Load` runs N concurrent clients through Envoy. Each client starts a run (with a
request id, so a start retried after an outage cannot start a second run), follows
it to its end with WatchRun (reconnecting from the last sequence it saw when a
stream breaks), and checks the outputs. A run is *accepted* once StartRun answered
with its id; an accepted run that does not end SUCCEEDED with the right outputs
before the load's deadline is *lost*.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia.executor.v1 import service_pb2_grpc
from ia.pipeline.v1 import pipeline_pb2
from ia_modules import stack
from ia_modules.engine.values import from_struct, to_struct

ROOT = Path(__file__).resolve().parents[2]
TESTKIT = ROOT / "tests" / "service" / "executor_plugins" / "fixtures" / "testkit"
_FINAL = {"RUN_STATE_SUCCEEDED", "RUN_STATE_FAILED", "RUN_STATE_CANCELLED", "RUN_STATE_TIMED_OUT"}
_RETRY_S = 0.2

# A plugin step (through the plugin host and a sandboxed plugin process, with logs and
# progress) between two pass steps. The plugin step retries what an outage causes.
LOAD_PIPELINE = json_format.ParseDict(
    {
        "name": "load",
        "parameters": {"n": 0, "tag": ""},
        "steps": [
            {"id": "take", "type": "pass", "inputs": {"n": "{{ parameters.n }}", "text": "{{ parameters.tag }}"}},
            {
                "id": "shout",
                "plugin": "t_shout",
                "inputs": {"text": "{{ take.text }}"},
                "retry": {"max_attempts": 30, "initial_delay_s": 0.2, "backoff_multiplier": 1.5, "max_delay_s": 2},
            },
            {"id": "done", "type": "pass", "inputs": {"n": "{{ take.n }}", "loud": "{{ shout.text }}"}},
        ],
        "flow": {"transitions": [{"from": "take", "to": "shout"}, {"from": "shout", "to": "done"}]},
        "outputs": {"n": "{{ done.n }}", "loud": "{{ done.loud }}"},
    },
    pipeline_pb2.Pipeline(),
)


def start_stack(data_dir: Path) -> stack.StackStatus:
    """The whole stack on free ports over ``data_dir``, with the test plugins installed."""
    plugins = data_dir / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TESTKIT, plugins / "testkit", dirs_exist_ok=True)
    ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
    return stack.up(data_dir, ports=ports, timeout_s=120)


@dataclass
class RunRecord:
    """One accepted run, as a client saw it."""

    run_id: str
    started: float  # monotonic, when StartRun was first sent
    ended: float | None = None
    state: str = ""
    correct: bool = False


@dataclass
class LoadReport:
    """What a load produced; times in seconds."""

    runs: list[RunRecord] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)  # status code -> StartRun calls that gave up
    elapsed_s: float = 0.0

    @property
    def finished(self) -> list[RunRecord]:
        return [r for r in self.runs if r.ended is not None]

    @property
    def lost(self) -> list[RunRecord]:
        """Accepted runs that did not end SUCCEEDED with the right outputs."""
        return [r for r in self.runs if r.ended is None or r.state != "RUN_STATE_SUCCEEDED" or not r.correct]

    def latencies(self) -> list[float]:
        return sorted(r.ended - r.started for r in self.finished if r.ended is not None)

    def summary(self) -> dict[str, Any]:
        latencies = self.latencies()

        def percentile(q: float) -> float:
            return round(latencies[min(int(q * len(latencies)), len(latencies) - 1)], 3) if latencies else 0.0

        return {
            "accepted": len(self.runs),
            "finished": len(self.finished),
            "lost": len(self.lost),
            "throughput_runs_per_s": round(len(self.finished) / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "p50_s": percentile(0.50),
            "p99_s": percentile(0.99),
            "max_s": round(latencies[-1], 3) if latencies else 0.0,
            "mean_s": round(statistics.fmean(latencies), 3) if latencies else 0.0,
            "refused": dict(self.refused),
        }


class Load:
    """``clients`` concurrent clients starting and following runs through ``endpoint``."""

    def __init__(self, endpoint: str, clients: int) -> None:
        self.endpoint = endpoint
        self.clients = clients
        self.report = LoadReport()
        self._stop = asyncio.Event()

    async def run(self, duration_s: float | None = None, *, drain_s: float = 300.0) -> LoadReport:
        """Starts runs for ``duration_s`` (None: until `stop`), then waits (up to
        ``drain_s``) for the accepted ones to end."""
        began = time.monotonic()
        options = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
        async with grpc.aio.insecure_channel(self.endpoint, options=options) as channel:
            stub = service_pb2_grpc.ExecutorServiceStub(channel)
            workers = [asyncio.ensure_future(self._client(stub, index)) for index in range(self.clients)]
            if duration_s is None:
                await self._stop.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), duration_s)
            self._stop.set()
            done, pending = await asyncio.wait(workers, timeout=drain_s)
            for worker in pending:
                worker.cancel()
            for worker in done:
                worker.result()
        self.report.elapsed_s = time.monotonic() - began
        return self.report

    def stop(self) -> None:
        """Stop starting runs (those under way are still followed)."""
        self._stop.set()

    async def _client(self, stub: service_pb2_grpc.ExecutorServiceStub, index: int) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            tag = f"c{index}-{number}-{uuid.uuid4().hex[:8]}"
            record = await self._start(stub, tag, number)
            if record is not None:
                await self._follow(stub, record, tag, number)

    async def _start(self, stub: Any, tag: str, n: int) -> RunRecord | None:
        request = rr.StartRunRequest(definition=LOAD_PIPELINE, inputs=to_struct({"n": n, "tag": tag}), request_id=tag)
        started = time.monotonic()
        while True:
            try:
                run = (await stub.StartRun(request, timeout=30)).run
            except grpc.aio.AioRpcError as error:
                # An outage (executor restarting): the same request id cannot start a second run.
                if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and not self._stop.is_set():
                    await asyncio.sleep(_RETRY_S)
                    continue
                name = error.code().name
                self.report.refused[name] = self.report.refused.get(name, 0) + 1
                return None
            record = RunRecord(run.run_id, started)
            self.report.runs.append(record)
            return record

    async def _follow(self, stub: Any, record: RunRecord, tag: str, n: int) -> None:
        sequence = 0
        while True:
            try:
                async for response in stub.WatchRun(rr.WatchRunRequest(run_id=record.run_id, from_sequence=sequence)):
                    sequence = response.event.sequence
                    changed = response.event.run_state_changed
                    if response.event.HasField("run_state_changed") and message_pb2.RunState.Name(changed.state) in _FINAL:
                        break
                run = (await stub.GetRun(rr.GetRunRequest(run_id=record.run_id), timeout=30)).run
            except grpc.aio.AioRpcError:
                await asyncio.sleep(_RETRY_S)
                continue
            state = message_pb2.RunState.Name(run.state)
            if state not in _FINAL:
                await asyncio.sleep(_RETRY_S)
                continue
            record.ended = time.monotonic()
            record.state = state
            record.correct = from_struct(run.outputs) == {"n": n, "loud": tag.upper()}
            return


# ----- faults -------------------------------------------------------------------------------


def pid_of(data_dir: Path, name: str) -> int:
    """The pid of a process of the stack."""
    return stack.status(data_dir).services[name].pid


async def kill(data_dir: Path, name: str, sig: int = signal.SIGKILL) -> int:
    """Signals a process of the stack (SIGKILL: no chance to clean up) and waits
    until it is gone; its pid."""
    pid = pid_of(data_dir, name)
    os.kill(pid, sig)
    while stack.status(data_dir).services[name].running:
        await asyncio.sleep(0.02)
    return pid


def restart(data_dir: Path) -> None:
    """Starts again whatever of the stack is not running, on the ports it had."""
    stack.up(data_dir, timeout_s=120)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def plugin_process(data_dir: Path, marker: bytes = b"plugin.py") -> int | None:
    """The pid of the test plugin's process (under the plugin host), if it runs."""
    for pid in descendants(pid_of(data_dir, "plugin_host")):
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes() and b"bwrap" not in Path(
                f"/proc/{pid}/cmdline"
            ).read_bytes().split(b"\0")[0]:
                return pid
    return None


# ----- process figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessFigures:
    """What /proc says about one process."""

    rss_kb: int
    fds: int
    sockets: int


def figures(pid: int) -> ProcessFigures:
    """RSS, open file descriptors and open sockets of ``pid``."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    fds = sockets = 0
    for entry in os.listdir(f"/proc/{pid}/fd"):
        fds += 1
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{entry}").startswith("socket:"):
                sockets += 1
    return ProcessFigures(rss, fds, sockets)


SERVICE_NAMES = ("registry", "executor", "plugin_host", "telemetry", "envoy")


def stack_figures(data_dir: Path) -> dict[str, ProcessFigures]:
    """The figures of every service of the stack (and Envoy)."""
    status = stack.status(data_dir)
    return {name: figures(status.services[name].pid) for name in SERVICE_NAMES if name in status.services}


# ----- the fault scenario -------------------------------------------------------------------


@dataclass
class Fault:
    """One fault injected during a load: what, when (monotonic), and how long it took to heal."""

    name: str
    at: float
    restored_after_s: float = 0.0


async def _fault(data_dir: Path, name: str) -> Fault:
    fault = Fault(name, time.monotonic())
    if name == "kill -9 executor":
        await kill(data_dir, "executor")
        await asyncio.to_thread(restart, data_dir)
    elif name == "kill -9 plugin host":
        await kill(data_dir, "plugin_host")
        await asyncio.to_thread(restart, data_dir)
    elif name == "kill -9 plugin process":
        pid = plugin_process(data_dir)
        assert pid is not None, "the test plugin's process is not running"
        os.kill(pid, signal.SIGKILL)
        # The plugin host restarts it on its own: wait until a new one runs.
        while plugin_process(data_dir) in (None, pid):
            await asyncio.sleep(0.05)
    elif name == "stop telemetry":
        await kill(data_dir, "telemetry", signal.SIGTERM)
        fault.restored_after_s = -1.0  # restarted by the caller, after a stretch without it
        return fault
    fault.restored_after_s = round(time.monotonic() - fault.at, 2)
    return fault


FAULTS = ("kill -9 executor", "kill -9 plugin host", "kill -9 plugin process", "stop telemetry")


async def load_with_faults(
    data_dir: Path, endpoint: str, *, clients: int, gap_s: float, faults: tuple[str, ...] = FAULTS
) -> tuple[LoadReport, list[Fault]]:
    """A load of ``clients`` clients with one fault every ``gap_s`` seconds once the
    previous one healed (the load runs ``gap_s`` before the first and after the
    last); telemetry, once stopped, stays down for ``gap_s`` and is then started again."""
    load = Load(endpoint, clients)
    running = asyncio.ensure_future(load.run())
    injected: list[Fault] = []
    for name in faults:
        await asyncio.sleep(gap_s)
        fault = await _fault(data_dir, name)
        injected.append(fault)
        if name == "stop telemetry":
            await asyncio.sleep(gap_s)
            await asyncio.to_thread(restart, data_dir)
            fault.restored_after_s = round(time.monotonic() - fault.at, 2)
    await asyncio.sleep(gap_s)
    load.stop()
    report = await running
    return report, injected


def fault_delays(report: LoadReport, faults: list[Fault]) -> list[dict[str, Any]]:
    """For each fault: the runs in flight when it struck, and how long the slowest of
    them took against the median run before the first fault."""
    first = faults[0].at if faults else float("inf")
    before = sorted(r.ended - r.started for r in report.runs if r.ended is not None and r.ended < first)
    baseline = before[len(before) // 2] if before else 0.0
    rows = []
    for fault in faults:
        hit = [r for r in report.runs if r.started <= fault.at and (r.ended is None or r.ended >= fault.at)]
        slowest = max(((r.ended or time.monotonic()) - r.started for r in hit), default=0.0)
        rows.append(
            {
                "fault": fault.name,
                "restored_after_s": fault.restored_after_s,
                "runs_in_flight": len(hit),
                "slowest_in_flight_s": round(slowest, 2),
                "delay_over_median_s": round(max(slowest - baseline, 0.0), 2),
                "median_before_faults_s": round(baseline, 3),
            }
        )
    return rows
