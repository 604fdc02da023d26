"""`make soak`: load with faults, a long steady load, and a full disk, against the
real stack on free ports. Prints a summary and writes build/soak/report.json.

1. Load and faults: 64 clients through Envoy while the executor and the plugin
   host are killed with SIGKILL and restarted, a plugin process is killed and
   telemetry is stopped. Pass: no accepted run lost.
2. Soak: SOAK_SECONDS (default 600) of steady load. Every 15 s the RSS, open file
   descriptors and open sockets of each service are read from /proc. Pass: after
   the warm-up (the first fifth), RSS grows less than 10% and descriptors and
   sockets do not grow.
3. Disk full: a stack over a small tmpfs whose space is then used up. Pass: a new
   run is refused with RESOURCE_EXHAUSTED or UNAVAILABLE and a message, every
   service stays up, runs start again once there is space, and every SQLite
   database passes its integrity check. Skipped (and said so) where tmpfs cannot
   be mounted.

Settings: SOAK_SECONDS, SOAK_CLIENTS (64), SOAK_FAULT_GAP_S (10).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "load"))

import grpc  # noqa: E402
from ia.executor.v1 import request_response_pb2 as rr  # noqa: E402
from ia.executor.v1 import service_pb2_grpc  # noqa: E402
from load_testing import (  # noqa: E402
    LOAD_PIPELINE,
    Load,
    fault_delays,
    load_with_faults,
    stack_figures,
    start_stack,
)

from ia_modules import stack  # noqa: E402
from ia_modules.engine.values import to_struct  # noqa: E402

REPORT = ROOT / "build" / "soak" / "report.json"
SAMPLE_S = 15.0


def _setting(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


async def faults_phase(data_dir: Path, endpoint: str, clients: int, gap_s: float) -> dict:
    report, faults = await load_with_faults(data_dir, endpoint, clients=clients, gap_s=gap_s)
    return {"load": report.summary(), "faults": fault_delays(report, faults), "passed": not report.lost}


async def soak_phase(data_dir: Path, endpoint: str, clients: int, seconds: float) -> dict:
    load = Load(endpoint, clients)
    running = asyncio.ensure_future(load.run(seconds))
    samples: list[dict] = []
    began = time.monotonic()
    while not running.done():
        samples.append(
            {"t_s": round(time.monotonic() - began, 1), **{k: asdict(v) for k, v in stack_figures(data_dir).items()}}
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(running), SAMPLE_S)
    report = running.result()
    warm = next((s for s in samples if s["t_s"] >= seconds / 5), samples[0])
    last = samples[-1] if samples[-1]["t_s"] <= seconds else samples[-2]
    growth = {}
    passed = not report.lost
    for name in warm:
        if name == "t_s":
            continue
        rss = round(100.0 * (last[name]["rss_kb"] - warm[name]["rss_kb"]) / warm[name]["rss_kb"], 1)
        fds = last[name]["fds"] - warm[name]["fds"]
        sockets = last[name]["sockets"] - warm[name]["sockets"]
        peak_fds = max(s[name]["fds"] for s in samples if s["t_s"] >= warm["t_s"])
        growth[name] = {
            "rss_kb_after_warmup": warm[name]["rss_kb"],
            "rss_kb_at_end": last[name]["rss_kb"],
            "rss_growth_pct": rss,
            "fds_after_warmup": warm[name]["fds"],
            "fds_at_end": last[name]["fds"],
            "fds_peak": peak_fds,
            "sockets_after_warmup": warm[name]["sockets"],
            "sockets_at_end": last[name]["sockets"],
        }
        # A few descriptors come and go with the calls in flight at the moment of a sample.
        passed = passed and rss < 10.0 and fds <= 8 and sockets <= 8
    return {"load": report.summary(), "growth": growth, "samples": samples, "passed": passed}


async def disk_full_phase(base: Path) -> dict:
    folder = base / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        return {"skipped": f"cannot mount a tmpfs: {mounted.stderr.strip()}", "passed": True}
    try:
        status = start_stack(folder)
        try:
            return await _fill_and_check(folder, status.endpoint)
        finally:
            stack.down(folder)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


async def _fill_and_check(folder: Path, endpoint: str) -> dict:
    result: dict = {}
    async with grpc.aio.insecure_channel(endpoint) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)

        async def start(blob: str) -> grpc.StatusCode | str:
            request = rr.StartRunRequest(definition=LOAD_PIPELINE, inputs=to_struct({"n": 1, "tag": blob}))
            try:
                run = (await executor.StartRun(request, timeout=30)).run
            except grpc.aio.AioRpcError as error:
                result["refusal"] = {"code": error.code().name, "message": error.details()}
                return error.code()
            return run.run_id

        first = await start("before")
        stat = os.statvfs(folder)
        filler = folder / "filler"
        with open(filler, "wb") as out, contextlib.suppress(OSError):
            out.write(b"\0" * max(stat.f_bavail * stat.f_frsize - 256 * 1024, 0))
        refused = None
        for _ in range(400):
            outcome = await start("y" * 50_000)
            if isinstance(outcome, grpc.StatusCode):
                refused = outcome
                break
        result["refused_with"] = refused.name if refused else None
        result["healthy_while_full"] = stack.status(folder).healthy
        got = (await executor.GetRun(rr.GetRunRequest(run_id=first), timeout=30)).run if isinstance(first, str) else None
        result["committed_run_readable"] = got is not None and got.run_id == first
        filler.unlink()
        again = await start("after")
        result["starts_again"] = isinstance(again, str)
    integrity = {}
    for database in sorted(folder.glob("*.db")):
        with sqlite3.connect(database) as connection:
            integrity[database.name] = connection.execute("PRAGMA integrity_check").fetchone()[0]
    result["integrity"] = integrity
    result["passed"] = (
        result["refused_with"] in ("RESOURCE_EXHAUSTED", "UNAVAILABLE")
        and bool(result.get("refusal", {}).get("message"))
        and result["healthy_while_full"]
        and result["committed_run_readable"]
        and result["starts_again"]
        and all(value == "ok" for value in integrity.values())
    )
    return result


async def main() -> int:
    clients = int(_setting("SOAK_CLIENTS", 64))
    seconds = _setting("SOAK_SECONDS", 600)
    gap_s = _setting("SOAK_FAULT_GAP_S", 10)
    report: dict = {"clients": clients, "soak_seconds": seconds, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="ia-soak-") as base:
        data_dir = Path(base) / "stack"
        status = start_stack(data_dir)
        try:
            print(f"load with faults: {clients} clients, a fault every {gap_s:g}s ...", flush=True)
            report["faults_phase"] = await faults_phase(data_dir, status.endpoint, clients, gap_s)
            print(json.dumps(report["faults_phase"], indent=2), flush=True)
            print(f"soak: {seconds:g}s of steady load ...", flush=True)
            report["soak_phase"] = await soak_phase(data_dir, status.endpoint, clients, seconds)
            print(json.dumps({k: v for k, v in report["soak_phase"].items() if k != "samples"}, indent=2), flush=True)
        finally:
            stack.down(data_dir)
        print("disk full ...", flush=True)
        report["disk_full_phase"] = await disk_full_phase(Path(base))
        print(json.dumps(report["disk_full_phase"], indent=2), flush=True)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    passed = all(report[phase]["passed"] for phase in ("faults_phase", "soak_phase", "disk_full_phase"))
    print(f"{'PASSED' if passed else 'FAILED'}; report in {REPORT.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
