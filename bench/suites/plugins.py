"""plugins: what calling a plugin costs, and how long a plugin process takes to start.

- Call latency: a no-op condition (EvaluateCondition) and a no-op step
  (ExecuteStep, a server stream ending with the result), called the way the
  executor calls them: `PluginClient` over the Unix socket of a plugin process
  the plugin host started in its bubblewrap sandbox (bench/workers/noop_plugin,
  Python). p50 and p99. Baseline: a unary grpc.health.v1 Check on a bare
  grpc.aio server process on a Unix socket, interleaved with the plugin calls.
  Target: p50 at most 1.5x the bare round trip. The step, a server stream, is
  also shown against a bare one-message server stream on the same server. The Go and TypeScript example
  plugins (sdk/*/examples/plugin), when built, are timed alongside for reference.
- Start time: from launching the process to its being ready for calls
  (handshake line, health SERVING, Describe), as the host's launcher does it,
  sandboxed and unsandboxed (IA_PLUGINS_UNSANDBOXED=1, the host's way of
  running without bubblewrap), taking turns; each process is stopped before
  the next starts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from measure import median, percentile, progress
from results import Figure, NotMeasurable
from servers import ServerProcess

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
NOOP_PLUGIN = BENCH / "workers" / "noop_plugin"
# Built by scripts/gen_clients.sh; timed when present.
EXAMPLE_PLUGINS = {
    "go_example": (ROOT / "sdk" / "go" / "examples" / "plugin", "bin/plugin"),
    "ts_example": (ROOT / "sdk" / "typescript" / "examples" / "plugin", "dist/examples/plugin/src/main.js"),
}
STOP_GRACE_S = 5.0


def run(quick: bool = False) -> dict:
    if importlib.util.find_spec("ia_plugins.host") is None:
        raise NotMeasurable("plugin host not available (no ia_plugins module)")
    from ia_plugins.sandbox import Sandbox, SandboxUnavailable

    try:
        Sandbox.detect()
    except SandboxUnavailable as error:
        raise NotMeasurable(f"bubblewrap cannot run here: {error}") from None
    # The unsandboxed launcher warns at every start, as it should in a real host.
    logging.getLogger("ia_plugins").setLevel(logging.ERROR)
    calls = 300 if quick else 2000
    starts = 5 if quick else 10
    notes = []
    with tempfile.TemporaryDirectory(prefix="ia-bench-plugins-") as folder:
        data_dir = Path(folder)
        plugins_dir = data_dir / "plugins"
        plugins_dir.mkdir()
        (plugins_dir / "noop").symlink_to(NOOP_PLUGIN)
        examples = []
        for name, (source, built) in EXAMPLE_PLUGINS.items():
            if (source / built).exists():
                (plugins_dir / name).symlink_to(source)
                examples.append(name)
            else:
                notes.append(f"{source.relative_to(ROOT)} is not built (scripts/gen_clients.sh): not timed")
        bare_argv = [sys.executable, str(BENCH / "workers" / "bare_grpc_server.py"),
                     "--socket", str(data_dir / "bare.sock")]
        with ServerProcess(bare_argv) as bare:
            progress(f"bare server on {bare.address}")
            figures = asyncio.run(_call_latency(data_dir, bare.address, examples, calls))
        figures += asyncio.run(_start_times(data_dir, examples, starts))
    notes.append("client, plugin processes and the bare server share the machine's cores; the plugins "
                 "run under bubblewrap with the default limits")
    if quick:
        notes.append(f"quick mode: {calls} calls of each kind, {starts} starts of each kind")
    return {"figures": figures, "notes": notes}


def _settings(data_dir: Path, **environ: str):
    from ia_plugins.settings import HostSettings

    return HostSettings.from_env(data_dir, {
        "IA_PLUGINS_DIR": str(data_dir / "plugins"),
        "IA_PLUGINS_BUILTINS": "0",
        "IA_PLUGINS_ENTRY_POINTS": "0",
        **environ,
    })


async def _timed(samples: list[float], call: Callable[[], Awaitable[object]]) -> None:
    start = time.perf_counter()
    await call()
    samples.append(time.perf_counter() - start)


async def _call_latency(data_dir: Path, bare_target: str, examples: list[str], calls: int) -> list[Figure]:
    import grpc.aio
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from ia_modules.plugin.authoring import Kind
    from ia_modules.plugin.client import CHANNEL_OPTIONS, CallInfo, PluginClient
    from ia_plugins.server import build_host

    host = build_host(_settings(data_dir))
    await host.start()
    try:
        views = {name: await host.resolve(name, kind) for name, kind in [
            ("noop_condition", Kind.CONDITION),
            ("noop_step", Kind.STEP),
            *([("go_even", Kind.CONDITION)] if "go_example" in examples else []),
            *([("ts_reverse", Kind.STEP)] if "ts_example" in examples else []),
        ]}
        progress(f"plugins serving: {', '.join(f'{n} ({v.isolation.value})' for n, v in views.items())}")
        # What the executor sends: the call's context, a config and a small input.
        call = CallInfo(run_id="run-1", step_id="check", attempt=1, idempotency_key="run-1/check/0",
                        pipeline="bench")
        data = {"n": 2, "text": "hello"}
        async with grpc.aio.insecure_channel(bare_target, options=CHANNEL_OPTIONS) as channel, \
                PluginClient(views["noop_condition"].endpoint) as python:
            health = health_pb2_grpc.HealthStub(channel)
            check = health_pb2.HealthCheckRequest()
            stream_one = channel.unary_stream("/bench.Bare/StreamOne")

            async def bare_stream() -> None:
                async for _ in stream_one(b"", timeout=10):
                    pass

            contenders: dict[str, Callable[[], Awaitable[object]]] = {
                "bare": lambda: health.Check(check, timeout=10),
                "bare_stream": bare_stream,
                "condition": lambda: python.evaluate_condition("noop_condition", {}, data, call=call),
                "step": lambda: python.execute_step("noop_step", {}, data, call=call),
            }
            clients = []
            for name, plugin, method in [("go_even", "go_even", "evaluate_condition"),
                                         ("ts_reverse", "ts_reverse", "execute_step")]:
                if name in views:
                    client = PluginClient(views[name].endpoint)
                    clients.append(client)
                    contenders[name] = (lambda c=client, p=plugin, m=method:
                                        getattr(c, m)(p, {}, data, call=call))
            samples: dict[str, list[float]] = {name: [] for name in contenders}
            try:
                progress(f"latency: {calls} calls of each of {', '.join(contenders)}, interleaved")
                for _ in range(50):  # warm-up: connections, the plugins' first calls
                    for contender in contenders.values():
                        await contender()
                for _ in range(calls):
                    for name, contender in contenders.items():
                        await _timed(samples[name], contender)
            finally:
                for client in clients:
                    await client.close()
    finally:
        await host.stop()

    ms = 1000.0
    bare = samples["bare"]
    figures = [
        Figure("no-op condition plugin call (Python, sandboxed), p50", "ms", median(samples["condition"]) * ms,
               median(bare) * ms, "bare unary round trip on a Unix socket p50",
               target_kind="ratio", target=1.5, samples=calls),
        Figure("no-op condition plugin call (Python, sandboxed), p99", "ms",
               percentile(samples["condition"], 99) * ms, percentile(bare, 99) * ms,
               "bare unary round trip on a Unix socket p99", samples=calls),
        Figure("no-op step plugin call, ExecuteStep stream (Python, sandboxed), p50", "ms",
               median(samples["step"]) * ms, median(bare) * ms, "bare unary round trip on a Unix socket p50",
               target_kind="ratio", target=1.5, samples=calls),
        Figure("no-op step plugin call, ExecuteStep stream (Python, sandboxed), p99", "ms",
               percentile(samples["step"], 99) * ms, percentile(bare, 99) * ms,
               "bare unary round trip on a Unix socket p99", samples=calls),
        Figure("no-op step plugin call, ExecuteStep stream (Python, sandboxed), p50, against a bare stream", "ms",
               median(samples["step"]) * ms, median(samples["bare_stream"]) * ms,
               "bare one-message server stream on a Unix socket p50", samples=calls),
    ]
    for name, label in [("go_even", "go_even condition (Go, sandboxed)"),
                        ("ts_reverse", "ts_reverse step (TypeScript, sandboxed)")]:
        if name in samples:
            figures.append(Figure(f"{label}, p50", "ms", median(samples[name]) * ms, median(bare) * ms,
                                  "bare unary round trip on a Unix socket p50", samples=calls))
    return figures


async def _start_times(data_dir: Path, examples: list[str], starts: int) -> list[Figure]:
    from ia_modules.plugin.manifest import load_manifest
    from ia_plugins.launcher import Launcher
    from ia_plugins.server import detect_sandbox

    sandboxed = detect_sandbox(_settings(data_dir))
    unsandboxed = Launcher(_settings(data_dir, IA_PLUGINS_UNSANDBOXED="1"), None,
                           "the benchmark measures a start without the sandbox")
    noop = load_manifest(data_dir / "plugins" / "noop")

    async def start_once(launcher: Launcher, manifest) -> float:
        start = time.perf_counter()
        launched = await launcher.launch(manifest, lambda stream, line: None)
        elapsed = time.perf_counter() - start
        await launched.stop(STOP_GRACE_S)
        return elapsed

    progress(f"start time: {starts} starts of the Python no-op plugin with and without the sandbox, in turns")
    with_sandbox, without_sandbox = [], []
    await start_once(sandboxed, noop)  # warm-up: the file system cache
    for _ in range(starts):
        with_sandbox.append(await start_once(sandboxed, noop))
        without_sandbox.append(await start_once(unsandboxed, noop))
    ms = 1000.0
    figures = [
        Figure("plugin start to ready (Python no-op; handshake, health, Describe), sandboxed, p50", "ms",
               median(with_sandbox) * ms, median(without_sandbox) * ms, "unsandboxed p50", samples=starts),
        Figure("plugin start to ready (Python no-op), sandboxed, max", "ms", max(with_sandbox) * ms,
               max(without_sandbox) * ms, "unsandboxed max", samples=starts),
    ]
    for name, label in [("go_example", "Go"), ("ts_example", "TypeScript")]:
        if name not in examples:
            continue
        manifest = load_manifest(data_dir / "plugins" / name)
        progress(f"start time: {starts} starts of the {label} example plugin with and without the sandbox")
        await start_once(sandboxed, manifest)
        ours, plain = [], []
        for _ in range(starts):
            ours.append(await start_once(sandboxed, manifest))
            plain.append(await start_once(unsandboxed, manifest))
        figures.append(Figure(f"plugin start to ready ({label} example), sandboxed, p50", "ms",
                              median(ours) * ms, median(plain) * ms, "unsandboxed p50", samples=starts))
    return figures
