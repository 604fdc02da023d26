"""telemetry: what tracing and metrics add to a whole run (issue 5).

Stacks run side by side on loopback, alike but for telemetry:

- on: the telemetry service, and the plugin host and executor sending their
  spans to it (IA_TELEMETRY_ADDRESS) and serving `/metrics` (IA_METRICS_PORT=0);
- off: plugin host and executor with IA_TELEMETRY=off (no interceptors, no
  spans, no `/metrics`);
- control: another stack like `off` (see below);
- sampled: like `on` (with a telemetry service of its own), keeping one trace
  in ten (see below);
- untraced: like `on`, keeping no trace at all (see below).

Each executor runs inline definitions (no registry) with its default durable
checkpoints, SQLite in its own temporary data folder.

- A 20-step pipeline whose steps each spend about 1 ms of CPU: a `module` +
  `step_class` step (a Python class that busy-waits on time.perf_counter),
  run by the plugin host's `python_step` plugin, sandboxed. StartRun, then
  WatchRun until the stream ends; p50 on, against p50 off. Target: ratio at
  most 1.02.
- The same 20-step chain of built-in `pass` steps, where nothing but our own
  code runs, so the overhead is the largest share it can be; for reference.

Comparing two stacks compares two sets of processes as well, and alike stacks
differ by a few percent. So:

- the stacks take turns in blocks of a few runs (on, off, control, then
  control, off, on, ...), so a slow moment of the machine lands on all of them;
- the runs are split over rounds, each starting the stacks afresh and in
  another order: a stack started later ran 1-3% faster than one started first,
  and two alike stacks started together differed by up to 6% (p50 of one round),
  so only many fresh starts average that out. The report gives the spread of
  the rounds' own ratios;
- every process gets the same PYTHONHASHSEED, so the stacks do not differ in how
  their dicts and sets are laid out;
- the control is a second telemetry-off stack, measured like the others: its
  ratio to the first is the noise floor of the comparison.

For reference, a fourth stack is `on` with the OpenTelemetry SDK sampling one
trace in ten (OTEL_TRACES_SAMPLER=parentbased_traceidratio): what a deployment
that needs less overhead would set. Metrics are still all recorded there. A
fifth keeps no trace (OTEL_TRACES_SAMPLER=always_off), so it sends nothing: what
every run pays whatever is sampled, its metrics and its trace context.

The report also gives the CPU time each stack's processes (executor, plugin
host and its plugins) used per run, and each telemetry service's, from /proc.
CPU time does not depend on how the work lined up on the cores, so it shows
what telemetry costs far more steadily than the durations do; the pipelines run
one after the other for it, each counted once its last spans were taken in.
Of the executor's, the report gives its event-loop thread's apart: the runs
wait on that thread, while its background threads (checkpoint writes, the span
export) and the plugins can use the other cores.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import grpc
from measure import median, percentile, progress
from pipelines import pass_chain
from results import Figure, NotMeasurable
from servers import ServerProcess, whole_run

STEPS = 20
STEP_CPU_MS = 1.0
BLOCK = 10
ROUNDS = 6
TARGET = 1.02
HASH_SEED = "0"
KINDS = ("cpu", "pass")
SAMPLED_SHARE = 0.1
# The stacks that send spans, each to a telemetry service of its own.
TRACED = ("on", "sampled")
# Spans are exported every 500 ms (IA_TELEMETRY_EXPORT_DELAY_MS); a pipeline's CPU count waits
# this long after its last run, so the spans of its runs are sent and taken in before it.
EXPORT_SETTLE_S = 1.5

# The step class, written for the original library's Step API: a plain class
# is enough, the step runner builds it as `StepClass(name, config)`.
BUSY_STEP = '''\
"""A step that spends `config["ms"]` milliseconds of CPU and passes a counter on."""

import time


class BusyStep:
    def __init__(self, name, config):
        self.name = name
        self.config = config

    async def run(self, data):
        deadline = time.perf_counter() + self.config.get("ms", 1.0) / 1000
        spins = 0
        while time.perf_counter() < deadline:
            spins += 1
        return {"count": data.get("count", 0) + 1, "spins": spins}
'''


def run(quick: bool = False) -> dict:
    for module in ("ia_executor.server", "ia_plugins.server", "ia_telemetry.server"):
        if importlib.util.find_spec(module) is None:
            raise NotMeasurable(f"{module.split('.')[0]} not available (no {module} module)")
    runs = 60 if quick else 200
    with tempfile.TemporaryDirectory(prefix="ia-bench-tel-") as folder, ExitStack() as servers:
        root = Path(folder)
        steps_path = root / "steps"
        steps_path.mkdir()
        (steps_path / "bench_busy.py").write_text(BUSY_STEP)
        # Whatever this shell points the services at, each stack gets its own.
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("OTEL_", "IA_TELEMETRY", "IA_METRICS", "IA_DATABASE_URL",
                                     "IA_PLUGIN", "IA_REMOTE_PLUGINS", "IA_STEPS_PATH"))}
        base["PYTHONHASHSEED"] = HASH_SEED

        # A telemetry service for each stack that sends spans, so that each one's CPU is its stack's.
        collectors = {}
        for name in TRACED:
            telemetry_dir = _folder(root, f"telemetry-{name}")
            collectors[name] = servers.enter_context(ServerProcess(
                [sys.executable, "-m", "ia_telemetry.server", "--port", "0"],
                env=dict(base, IA_DATA_DIR=str(telemetry_dir), IA_METRICS_PORT="0"), cwd=telemetry_dir))
            progress(f"telemetry service of the {name} stack on {collectors[name].address}")
        stacks = {
            "on": {"IA_TELEMETRY_ADDRESS": collectors["on"].address, "IA_METRICS_PORT": "0"},
            "off": {"IA_TELEMETRY": "off"},
            "control": {"IA_TELEMETRY": "off"},
            # The OpenTelemetry SDK's own settings: one trace in SAMPLED_SHARE is kept, metrics all.
            "sampled": {"IA_TELEMETRY_ADDRESS": collectors["sampled"].address, "IA_METRICS_PORT": "0",
                        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                        "OTEL_TRACES_SAMPLER_ARG": str(SAMPLED_SHARE)},
            # No trace is kept, so no span is sent: metrics and trace context only.
            "untraced": {"IA_METRICS_PORT": "0", "OTEL_TRACES_SAMPLER": "always_off"},
        }
        samples = {kind: {name: [] for name in stacks} for kind in KINDS}
        # CPU seconds each stack's processes used running each pipeline, its executor's event-loop
        # thread's among them, and each telemetry service's.
        cpu_used = {kind: dict.fromkeys([*stacks, *map(_loop, stacks), *map(_service, TRACED)], 0.0) for kind in KINDS}
        round_ratios: dict[str, list[float]] = {"on": [], "control": []}
        failed = 0
        for round_ in range(ROUNDS):
            # Each round starts its stacks afresh, each time in another order: a stack
            # started later ran a few percent faster than one started first.
            names = list(stacks)[round_:] + list(stacks)[:round_]
            with ExitStack() as round_servers:
                running = {}
                for name in names:
                    place = _folder(root, f"{name}-{round_}")
                    host_dir, executor_dir = _folder(place, "host"), _folder(place, "executor")
                    host = round_servers.enter_context(ServerProcess(
                        [sys.executable, "-m", "ia_plugins.server", "--port", "0"],
                        env=dict(base, **stacks[name], IA_DATA_DIR=str(host_dir),
                                 IA_PLUGINS_DIR=str(_folder(place, "plugins")),
                                 IA_STEPS_PATH=str(steps_path), IA_PLUGINS_ENTRY_POINTS="0"),
                        cwd=host_dir))
                    executor = round_servers.enter_context(ServerProcess(
                        [sys.executable, "-m", "ia_executor.server", "--port", "0"],
                        env=dict(base, **stacks[name], IA_DATA_DIR=str(executor_dir),
                                 IA_PLUGIN_HOST_ADDRESS=host.address),
                        cwd=executor_dir))
                    running[name] = (executor.address, [executor, host])
                    progress(f"round {round_ + 1}/{ROUNDS}, telemetry {name}: executor on {executor.address}, "
                             f"plugin host on {host.address}")
                share = runs // ROUNDS + (round_ < runs % ROUNDS)
                round_samples, round_cpu, round_failed = asyncio.run(_measure(running, collectors, share))
            failed += round_failed
            for kind, by_stack in round_cpu.items():
                for name, seconds in by_stack.items():
                    cpu_used[kind][name] += seconds
            cpu = round_samples["cpu"]
            for name, ratios in round_ratios.items():
                ratios.append(median(cpu[name]) / median(cpu["off"]))
            for kind, by_stack in round_samples.items():
                for name, taken in by_stack.items():
                    samples[kind][name].extend(taken)
        exported = asyncio.run(_exported_trace(collectors["on"].address))

    ms = 1000.0
    figures = []
    for kind, label, target in [("cpu", f"{STEPS} × 1 ms CPU steps", TARGET), ("pass", f"{STEPS} pass steps", None)]:
        on, off = samples[kind]["on"], samples[kind]["off"]
        figures.append(Figure(
            f"{label}, telemetry on vs off (p50)", "ms", median(on) * ms, median(off) * ms,
            "telemetry off p50", target_kind="ratio" if target else None, target=target, samples=runs))
        figures.append(Figure(
            f"{label}, telemetry on vs off (p99)", "ms", percentile(on, 99) * ms, percentile(off, 99) * ms,
            "telemetry off p99", samples=runs))
        figures.append(Figure(
            f"{label}, telemetry cost per step ((on p50 - off p50) / {STEPS})", "ms",
            (median(on) - median(off)) / STEPS * ms, samples=runs))
        figures.append(Figure(
            f"{label}, control: a second telemetry-off stack vs the first (p50)", "ms",
            median(samples[kind]["control"]) * ms, median(off) * ms, "telemetry off p50", samples=runs))
        figures.append(Figure(
            f"{label}, telemetry on with {SAMPLED_SHARE:.0%} of traces sampled vs off (p50)", "ms",
            median(samples[kind]["sampled"]) * ms, median(off) * ms, "telemetry off p50", samples=runs))
        figures.append(Figure(
            f"{label}, telemetry on keeping no trace (metrics and trace context only) vs off (p50)", "ms",
            median(samples[kind]["untraced"]) * ms, median(off) * ms, "telemetry off p50", samples=runs))
        used = {name: seconds / runs * ms for name, seconds in cpu_used[kind].items()}
        for name in ("on", "control", "sampled", "untraced"):
            figures.append(Figure(
                f"{label}, CPU per run of the stack's processes (executor, plugin host, plugins), {name} vs off",
                "ms", used[name], used["off"], "telemetry off", samples=runs))
        for name in ("on", "untraced"):
            figures.append(Figure(
                f"{label}, CPU per run of the executor's event-loop thread, {name} vs off", "ms",
                used[_loop(name)], used[_loop("off")], "telemetry off", samples=runs))
        for name in TRACED:
            figures.append(Figure(
                f"{label}, CPU per run of the telemetry service taking in the `{name}` runs' spans", "ms",
                used[_service(name)], samples=runs))
    figures.append(Figure("failed runs", "runs", failed, target_kind="value", target=1))
    notes = [
        f"StartRun + WatchRun to the end, one run at a time, over {ROUNDS} rounds of freshly started stacks; "
        f"in each round one pipeline, then the other, the stacks taking turns in blocks of {BLOCK} runs. "
        "CPU is user + system time from /proc, in 10 ms clock ticks: the pass pipeline's few ms a run "
        "are near that grain (see its control row). "
        "The 1 ms steps are a Python step class run by the sandboxed python_step plugin; client, "
        "services and plugins share the machine's cores, so the `on` side also pays for the telemetry "
        "service taking in the spans",
        "the rounds' own p50 ratios, CPU steps: on vs off " + _spread(round_ratios["on"])
        + ", control vs off " + _spread(round_ratios["control"]),
    ]
    if exported is None:
        notes.append("no trace of the CPU pipeline reached the telemetry service: the `on` stack may not "
                     "have exported its spans, so its figures may understate the overhead")
    else:
        spans = ", ".join(f"{count} from {service}" for service, count in sorted(exported.items()))
        notes.append(f"the telemetry service received the `on` runs' traces: the newest CPU-pipeline trace "
                     f"holds {sum(exported.values())} spans ({spans})")
    if quick:
        notes.append(f"quick mode: {runs} runs of each pipeline on each stack")
    return {"figures": figures, "notes": notes}


def _service(stack: str) -> str:
    """The key of a stack's telemetry service in the CPU counts."""
    return f"telemetry service of {stack}"


def _loop(stack: str) -> str:
    """The key of a stack's executor event-loop (main) thread in the CPU counts: what
    the runs wait on, where the stack's other CPU is its background threads' and plugins'."""
    return f"event loop of {stack}"


def _spread(ratios: list[float]) -> str:
    return f"{min(ratios):.3f} to {max(ratios):.3f} (median {median(ratios):.3f})"


def _folder(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir()
    return path


def _cpu_chain() -> dict:
    """The `pass` chain with every step a `module` + `step_class` step of about 1 ms."""
    definition = pass_chain(STEPS, name="bench-cpu-chain")
    for step in definition["steps"]:
        del step["type"]
        step.update(module="bench_busy", step_class="BusyStep", config={"ms": STEP_CPU_MS})
    return definition


async def _measure(
    stacks: dict[str, tuple[str, list[ServerProcess]]], collectors: dict[str, ServerProcess], runs: int
) -> tuple[dict, dict, int]:
    """`runs` runs of each pipeline on each stack: the durations, the CPU seconds each
    stack's processes and each telemetry service used per pipeline, and how many runs failed.

    One pipeline at a time, so each one's CPU is counted apart. A stack's count covers
    the whole of a pipeline's turn: its own runs, the spans it exports in the
    background, and the little it does while the other stacks run.
    """
    from ia.executor.v1 import service_pb2_grpc
    from ia_modules.benchmark.processes import cpu_seconds

    requests = {"cpu": _start_request(_cpu_chain()), "pass": _start_request(pass_chain(STEPS))}
    samples = {kind: {name: [] for name in stacks} for kind in requests}
    used: dict[str, dict[str, float]] = {}
    failed = 0
    channels = {name: grpc.aio.insecure_channel(address) for name, (address, _) in stacks.items()}

    def cpu_now() -> dict[str, float]:
        now = {name: sum(p.tree_cpu_seconds() for p in processes) for name, (_, processes) in stacks.items()}
        for name, (_, (executor, *_)) in stacks.items():
            now[_loop(name)] = cpu_seconds(executor.pid, thread=executor.pid) or 0.0
        for name, collector in collectors.items():
            now[_service(name)] = collector.cpu_seconds()
        return now

    try:
        stubs = {name: service_pb2_grpc.ExecutorServiceStub(channel) for name, channel in channels.items()}
        progress("warm-up: plugin processes start, connections, first database writes")
        for _ in range(10):
            for stub in stubs.values():
                for request in requests.values():
                    if not await whole_run(stub, request):
                        raise RuntimeError("a warm-up run failed; see the progress lines above")
        await asyncio.sleep(EXPORT_SETTLE_S)
        for kind, request in requests.items():
            progress(f"{runs} runs of the {kind} pipeline on each stack, in blocks of {BLOCK}")
            before = cpu_now()
            order = list(stubs)
            for block in range(0, runs, BLOCK):
                for name in order:
                    for _ in range(min(BLOCK, runs - block)):
                        start = time.perf_counter()
                        succeeded = await whole_run(stubs[name], request)
                        samples[kind][name].append(time.perf_counter() - start)
                        failed += not succeeded
                # Each stack takes each place in the turn, first to last.
                order = order[1:] + order[:1] if block // BLOCK % 2 else order[::-1]
            await asyncio.sleep(EXPORT_SETTLE_S)
            after = cpu_now()
            used[kind] = {name: after[name] - before[name] for name in after}
    finally:
        for channel in channels.values():
            await channel.close()
    return samples, used, failed


async def _exported_trace(address: str) -> dict[str, int] | None:
    """Spans by service in the newest trace of the CPU pipeline the telemetry service
    holds, once no more arrive; None if none came.

    Spans are exported in batches (IA_TELEMETRY_EXPORT_DELAY_MS, 500 ms by
    default), so the last ones take a moment to arrive.
    """
    from ia.telemetry.v1 import request_response_pb2, service_pb2_grpc

    request = request_response_pb2.ListTracesRequest(page_size=1, pipeline="bench-cpu-chain")
    deadline = time.monotonic() + 10
    seen = None
    async with grpc.aio.insecure_channel(address) as channel:
        stub = service_pb2_grpc.TelemetryServiceStub(channel)
        while True:
            traces = (await stub.ListTraces(request, timeout=10)).traces
            if not traces and time.monotonic() > deadline:
                return None
            if traces and (traces[0].trace_id, traces[0].span_count) == seen or time.monotonic() > deadline:
                break
            seen = (traces[0].trace_id, traces[0].span_count) if traces else None
            await asyncio.sleep(0.6)
        newest = request_response_pb2.GetTraceRequest(trace_id=traces[0].trace_id)
        trace = (await stub.GetTrace(newest, timeout=10)).trace
    by_service: dict[str, int] = {}
    for span in trace.spans:
        by_service[span.service] = by_service.get(span.service, 0) + 1
    return by_service


def _start_request(definition: dict):
    from google.protobuf import json_format
    from ia.executor.v1 import request_response_pb2
    from ia.pipeline.v1 import pipeline_pb2

    request = request_response_pb2.StartRunRequest(
        definition=json_format.ParseDict(definition, pipeline_pb2.Pipeline()))
    request.inputs.update({"count": 1})
    return request
