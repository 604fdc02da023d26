"""dashboard: from a step finishing in the executor to the browser showing it (issue 9).

A whole local stack (`ia_modules.stack`, free ports) serves the built dashboard
through Envoy. Headless Chromium (web/e2e/step_latency.mjs) opens the run
monitor of a 20-step run; a MutationObserver in the page notes when each step's
node turns SUCCEEDED, and the first animation frame after it (when it is
shown), as performance.timeOrigin + now. The executor's time of each step's
SUCCEEDED event (RunEvent.time) is on the same machine's clock; the latency is
the difference, p50 over the 20 steps of each run.

The steps are `wait` steps of 0.1 s, so each finish is its own update; a first
step waits longer, so the page is open and watching before the measured steps
run. The baseline is a Python client's WatchRun over the same Envoy, during the
same runs: the wire without the browser.

Target: p50 under 100 ms (the roadmap's bar was 1 s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from measure import median, percentile, progress
from results import Figure, NotMeasurable

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCRIPT = WEB / "e2e" / "step_latency.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
STEPS = 20
STEP_S = 0.1
WARMUP_S = 3.0
TARGET_MS = 100.0


def _pipeline(name: str) -> dict:
    steps = [{"id": "warmup", "type": "wait", "wait": {"seconds": WARMUP_S}}]
    steps += [{"id": f"s{i:02d}", "type": "wait", "wait": {"seconds": STEP_S}} for i in range(STEPS)]
    ids = [s["id"] for s in steps]
    return {
        "name": name,
        "steps": steps,
        "flow": {"start_at": ids[0], "transitions": [{"from": a, "to": b} for a, b in zip(ids, ids[1:], strict=False)]},
    }


def _finished_at(client, run_id: str) -> dict[str, float]:
    """Epoch ms of each step's SUCCEEDED event, as the executor stamped it."""
    from ia.executor.v1 import message_pb2

    finished = {}
    for event in client.watch_run(run_id):
        if event.WhichOneof("kind") == "step_state_changed":
            change = event.step_state_changed
            if change.state == message_pb2.StepState.STEP_STATE_SUCCEEDED:
                finished.setdefault(change.step_id, event.time.ToNanoseconds() / 1e6)
    return finished


def _watch(endpoint: str, run_id: str, seen: dict[str, float]) -> None:
    """The baseline: when a Python WatchRun client receives each step's SUCCEEDED event."""
    from ia.executor.v1 import message_pb2
    from ia_modules.client import Client

    with Client(endpoint) as client:
        for event in client.watch_run(run_id):
            if event.WhichOneof("kind") == "step_state_changed":
                change = event.step_state_changed
                if change.state == message_pb2.StepState.STEP_STATE_SUCCEEDED:
                    seen.setdefault(change.step_id, time.time() * 1000)


def run(quick: bool = False) -> dict:
    from ia_modules import stack
    from ia_modules.client import Client

    if shutil.which("node") is None or not Path(CHROMIUM).is_file():
        raise NotMeasurable(f"node and {CHROMIUM} are needed (`make tools`)")
    if not (WEB / "node_modules" / "playwright-core").is_dir() or not (WEB / "dist" / "index.html").is_file():
        raise NotMeasurable("the dashboard is not built: `make web`")
    runs = 1 if quick else 3
    shown, dom, wire = [], [], []
    with tempfile.TemporaryDirectory(prefix="ia-bench-web-") as folder:
        data_dir = Path(folder) / "stack"
        ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
        status = stack.up(data_dir, ports=ports)
        endpoint = f"127.0.0.1:{status.services[stack.ENVOY].port}"
        env = {
            **os.environ,
            "IA_WEB_URL": f"http://{endpoint}",
            "IA_WEB_USER_DATA": str(Path(folder) / "profile"),
            "CHROMIUM": CHROMIUM,
        }
        browser = subprocess.Popen(
            ["node", str(SCRIPT)], cwd=WEB, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            if json.loads(browser.stdout.readline() or "{}").get("ready") is not True:
                raise RuntimeError("the browser did not start (web/e2e/step_latency.mjs)")
            with Client(endpoint) as client:
                client.create_pipeline(_pipeline("bench-dashboard"))
                for index in range(runs):
                    run_id = client.start_run("bench-dashboard").run_id
                    received: dict[str, float] = {}
                    watcher = threading.Thread(target=_watch, args=(endpoint, run_id, received), daemon=True)
                    watcher.start()
                    browser.stdin.write(run_id + "\n")
                    browser.stdin.flush()
                    marks = json.loads(browser.stdout.readline())
                    watcher.join(timeout=60)
                    finished = _finished_at(client, run_id)
                    measured = [f"s{i:02d}" for i in range(STEPS)]
                    missing = [s for s in measured if s not in marks["shown"]]
                    if missing:
                        raise RuntimeError(f"the browser never showed {missing} finishing (run {run_id})")
                    shown += [marks["shown"][s] - finished[s] for s in measured]
                    dom += [marks["dom"][s] - finished[s] for s in measured]
                    wire += [received[s] - finished[s] for s in measured if s in received]
                    progress(f"run {index + 1}/{runs}: shown p50 {median(shown[-STEPS:]):.1f} ms")
        finally:
            if browser.poll() is None:
                browser.stdin.close()
                try:
                    browser.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    browser.kill()
            stack.down(data_dir)
    label = f"{STEPS}-step run, step finished in the executor -> shown in the browser"
    figures = [
        Figure(
            metric=f"{label}, p50",
            unit="ms",
            ours=median(shown),
            baseline=median(wire),
            baseline_name="WatchRun to a Python client",
            target_kind="value",
            target=TARGET_MS,
            samples=len(shown),
        ),
        Figure(metric=f"{label}, p95", unit="ms", ours=percentile(shown, 95), baseline=percentile(wire, 95),
               baseline_name="WatchRun to a Python client", samples=len(shown)),
        Figure(metric=f"{STEPS}-step run, step finished -> DOM updated (before the frame), p50", unit="ms",
               ours=median(dom), samples=len(dom)),
    ]
    notes = [
        "Shown = the first animation frame after the step's node changed; both clocks are this machine's.",
        f"{runs} run(s) of {STEPS} wait steps of {STEP_S} s, through Envoy (gRPC-Web), headless Chromium.",
    ]
    return {"figures": figures, "notes": notes}
