"""Running a pipeline N times and measuring each run: on the stack, or in this process.

On the stack (the default) each run goes through the executor with
`ia_modules.client`; step durations come from the run's step start and end
times. With `local`, the engine runs in this process: `pass` steps run as they
do in the executor and `wait` steps really sleep; any other step kind needs the
stack, and the benchmark refuses it before the first run.
"""

from __future__ import annotations

import contextlib
import cProfile
import heapq
import os
import pstats
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ia_modules.benchmark.processes import ProcessSampler, cpu_snapshot, stack_processes
from ia_modules.benchmark.result import BenchmarkError, BenchmarkResult, RunSample

__all__ = ["RunSettings", "Target", "load_target", "run_benchmark"]

LOCAL_STEP_KINDS = frozenset({"pass", "wait", "map"})
_TOP_FUNCTIONS = 15

Progress = Callable[[int, int], None]


@dataclass
class RunSettings:
    """How to benchmark: counts, inputs, where to run and what to profile."""

    iterations: int
    warmup: int = 0
    concurrency: int = 1
    inputs: dict[str, Any] = field(default_factory=dict)
    local: bool = False
    profile: str = ""  # "", "memory" or "cpu"
    throughput_path: str = ""
    endpoint: str | None = None
    data_dir: Path | None = None
    # Where --local --profile cpu writes its cProfile file.
    profile_output: Path | None = None

    def check(self) -> None:
        """Refuses settings that cannot give a measurement."""
        if self.iterations < 1:
            raise BenchmarkError(f"--iterations must be at least 1, got {self.iterations}")
        if self.warmup < 0:
            raise BenchmarkError(f"--warmup must be 0 or more, got {self.warmup}")
        if self.concurrency < 1:
            raise BenchmarkError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.profile not in ("", "memory", "cpu"):
            raise BenchmarkError(f"--profile must be memory or cpu, got {self.profile!r}")


@dataclass(frozen=True)
class Target:
    """What to run: a definition read from a file, or a pipeline registered on the stack."""

    name: str
    pipeline: Any = None  # pipeline_pb2.Pipeline, or None for a registered name
    content_hash: str = ""


def load_target(target: str) -> Target:
    """A definition file (by path) or the name of a registered pipeline."""
    path = Path(target)
    if not path.exists():
        if path.suffix in (".json", ".yaml", ".yml") or os.sep in target:
            raise BenchmarkError(f"{target}: no such file")
        return Target(name=target)
    from ia_modules.definition import Severity, content_hash, load_definition

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BenchmarkError(f"{target}: cannot be read: {error}") from None
    loaded = load_definition(text, source_name=target)
    errors = [f for f in loaded.findings if f.severity is Severity.ERROR]
    if loaded.pipeline is None or errors:
        first = errors[0] if errors else None
        detail = f": {first.path}: {first.message}" if first else ""
        raise BenchmarkError(f"{target}: not a valid pipeline definition{detail}; see `ia-modules validate {target}`")
    return Target(
        name=loaded.pipeline.name or path.stem, pipeline=loaded.pipeline, content_hash=content_hash(loaded.pipeline)
    )


@dataclass
class _Outcome:
    state: str
    # (step id, start, end) in seconds, one per step run.
    steps: list[tuple[str, float, float]]
    outputs: dict[str, Any]
    # (input, output) of each step run.
    step_data: list[tuple[dict[str, Any], dict[str, Any]]]


class _LocalEngine:
    """Drives the engine in this process with real time, the way the executor does."""

    def __init__(self, target: Target, inputs: Mapping[str, Any]) -> None:
        from ia_modules.engine import PlanError, compile_plan

        if target.pipeline is None:
            raise BenchmarkError(
                f"{target.name!r} is a registered pipeline, which only the stack can read; "
                "give the definition file to benchmark it with --local"
            )
        try:
            self.plan = compile_plan(target.pipeline)
        except PlanError as error:
            raise BenchmarkError(f"{target.name}: cannot be run: {error}") from None
        foreign = sorted((s.id, s.kind) for s in self.plan.steps.values() if s.kind not in LOCAL_STEP_KINDS)
        if foreign:
            listed = ", ".join(f"{step} ({kind})" for step, kind in foreign)
            raise BenchmarkError(
                f"{target.name}: the local engine runs only pass and wait steps, not {listed}; "
                "benchmark this pipeline on the stack (drop --local)"
            )
        problems = self.plan.check_inputs(inputs)
        if problems:
            raise BenchmarkError(
                f"{target.name}: the inputs do not fit the pipeline's parameters: "
                + "; ".join(f"{path}: {message}" for path, message in problems)
            )
        self.parameters = self.plan.parameters_for(inputs)

    def execute(self) -> _Outcome:
        from ia_modules.engine import CancelWork, Scheduler, StartTimer

        scheduler = Scheduler(self.plan, f"bench-{uuid.uuid4().hex[:12]}", self.parameters)
        timers: list[tuple[float, str]] = []
        cancelled: set[str] = set()
        pending = list(scheduler.start(time.perf_counter()).actions)
        while True:
            for action in pending:
                if isinstance(action, StartTimer):
                    heapq.heappush(timers, (action.until, action.key))
                elif isinstance(action, CancelWork):
                    cancelled.add(action.key)
                else:
                    raise BenchmarkError(
                        f"step {action.step_id!r} asks for {type(action).__name__}, which the local engine "
                        "cannot do; benchmark this pipeline on the stack (drop --local)"
                    )
            pending = []
            if scheduler.state.is_final:
                break
            if scheduler.open_tasks():
                raise BenchmarkError("the run waits for human input, which a benchmark cannot give")
            due = [t for t in (timers[0][0] if timers else None, scheduler.next_wakeup) if t is not None]
            if not due:
                raise BenchmarkError("the run stopped with nothing left to do and did not end")
            time.sleep(max(0.0, min(due) - time.perf_counter()))
            now = time.perf_counter()
            while timers and timers[0][0] <= now:
                _until, key = heapq.heappop(timers)
                if key not in cancelled:
                    pending.extend(scheduler.succeed(key, {}, now).actions)
            pending.extend(scheduler.tick(now).actions)
        steps = [
            (r.step_id, r.start_time, r.end_time)
            for r in scheduler.step_runs
            if r.start_time is not None and r.end_time is not None
        ]
        outputs = [(r.input or {}, r.output) for r in scheduler.step_runs if isinstance(r.output, dict)]
        return _Outcome(scheduler.state.value, steps, scheduler.outputs or {}, outputs)


class _RemoteExecutor:
    """Runs through the executor behind IA_ENDPOINT (or `endpoint`)."""

    def __init__(self, target: Target, inputs: Mapping[str, Any], endpoint: str | None) -> None:
        from ia_modules.client import Client

        self.client = Client(endpoint)
        self.target = target
        self.inputs = dict(inputs)

    def execute(self) -> _Outcome:
        from ia.executor.v1 import message_pb2
        from ia_modules.client import to_dict
        from ia_modules.errors import IAError

        try:
            started = self.client.start_run(self.target.pipeline or self.target.name, inputs=self.inputs)
            run = self.client.wait_run(started.run_id)
        except IAError as error:
            raise BenchmarkError(
                f"the executor at {self.client.endpoint} did not run the pipeline: {error}; "
                "start the stack with `ia-modules up`, set IA_ENDPOINT, or benchmark in process with --local"
            ) from None
        steps = [
            (s.step_id, s.start_time.ToNanoseconds() / 1e9, s.end_time.ToNanoseconds() / 1e9)
            for s in run.steps
            if s.HasField("start_time") and s.HasField("end_time")
        ]
        state = message_pb2.RunState.Name(run.state).removeprefix("RUN_STATE_")
        outputs = [(to_dict(s.input), to_dict(s.output)) for s in run.steps if s.HasField("output")]
        return _Outcome(state, steps, to_dict(run.outputs), outputs)

    def close(self) -> None:
        self.client.close()


def _items_at(outputs: dict[str, Any], path: str) -> int:
    """The length of the list at `path` (e.g. `outputs.items`) in the run's result."""
    value: Any = {"outputs": outputs}
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise BenchmarkError(
                f"--throughput-path {path}: the run's result has no {part!r} there; "
                f"its outputs have {sorted(outputs)}"
            )
        value = value[part]
    if not isinstance(value, list):
        raise BenchmarkError(f"--throughput-path {path}: expected a list, found {type(value).__name__}")
    return len(value)


def _reported(step_data: list[tuple[dict[str, Any], dict[str, Any]]], key: str) -> float:
    """The sum of `key` over the steps that report it; a value a step merely passed on is not counted again."""
    return sum(
        float(output[key])
        for given, output in step_data
        if isinstance(output.get(key), int | float) and given.get(key) != output[key]
    )


@dataclass
class _Measurement:
    """Measures one run: its latency, and what the settings ask to profile."""

    settings: RunSettings
    pids: dict[str, int]
    profiles: list[cProfile.Profile] = field(default_factory=list)

    def measure(self, engine: Any) -> RunSample:
        cpu_before = cpu_snapshot(self.pids) if self.settings.profile == "cpu" else {}
        sampler = ProcessSampler(self.pids) if self.settings.profile == "memory" else None
        profiler = cProfile.Profile() if self.settings.profile == "cpu" and self.settings.local else None
        with sampler or contextlib.nullcontext(), profiler or contextlib.nullcontext():
            began = time.perf_counter()
            outcome = engine.execute()
            latency = time.perf_counter() - began
        sample = RunSample(latency_s=latency, state=outcome.state)
        for step_id, start, end in outcome.steps:
            sample.steps[step_id] = sample.steps.get(step_id, 0.0) + max(0.0, end - start)
        if self.settings.throughput_path and outcome.state == "SUCCEEDED":
            sample.items = _items_at(outcome.outputs, self.settings.throughput_path)
        sample.cost_usd = _reported(outcome.step_data, "cost_usd")
        sample.api_calls = int(_reported(outcome.step_data, "api_calls"))
        if sampler is not None:
            sample.rss_peak_bytes, sample.rss_growth_bytes = dict(sampler.peaks), sampler.growth
        if cpu_before:
            after = cpu_snapshot(self.pids)
            sample.cpu_s = {n: after[n] - cpu_before[n] for n in after if n in cpu_before}
        if profiler is not None:
            self.profiles.append(profiler)
        return sample


def _profiled_processes(settings: RunSettings) -> tuple[dict[str, int], list[str]]:
    if not settings.profile:
        return {}, []
    if settings.local:
        return {"benchmark": os.getpid()}, []
    data_dir = settings.data_dir or Path(os.environ.get("IA_DATA_DIR", ".ia"))
    pids = stack_processes(data_dir)
    if not pids:
        return {}, [
            f"--profile {settings.profile}: no executor or plugin host found through {data_dir / 'stack.json'}; "
            "start the stack with `ia-modules up` (or set IA_DATA_DIR) to profile it"
        ]
    return pids, []


def _profile_report(profiles: list[cProfile.Profile], destination: Path | None) -> dict[str, Any]:
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    report: dict[str, Any] = {}
    if destination is not None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        stats.dump_stats(destination)
        report["cprofile_file"] = str(destination)
    by_cumulative = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)  # type: ignore[attr-defined]
    rows = by_cumulative[:_TOP_FUNCTIONS]
    report["top_functions"] = [
        {"function": f"{Path(file).name}:{line}({name})", "calls": calls, "cumulative_s": cumulative, "own_s": own}
        for (file, line, name), (_prim, calls, own, cumulative, _callers) in rows
    ]
    return report


@contextlib.contextmanager
def _engine(target: Target, settings: RunSettings) -> Iterator[Any]:
    if settings.local:
        yield _LocalEngine(target, settings.inputs)
        return
    remote = _RemoteExecutor(target, settings.inputs, settings.endpoint)
    try:
        yield remote
    finally:
        remote.close()


def run_benchmark(target: Target, settings: RunSettings, on_progress: Progress | None = None) -> BenchmarkResult:
    """Runs `target` warmup + iterations times and returns what was measured.

    `on_progress(done, total)` is called after each run, warm-up runs included.
    """
    settings.check()
    total = settings.warmup + settings.iterations
    done = 0
    pids, notes = _profiled_processes(settings)
    measurement = _Measurement(settings, pids)

    def report() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    with _engine(target, settings) as engine:
        for _ in range(settings.warmup):
            engine.execute()
            report()
        started_at = datetime.now(UTC).isoformat(timespec="microseconds")
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="bench-run") as pool:
            futures = [pool.submit(measurement.measure, engine) for _ in range(settings.iterations)]
            samples = []
            for future in futures:
                samples.append(future.result())
                report()
        wall = time.perf_counter() - began
    failed = sum(s.state != "SUCCEEDED" for s in samples)
    if failed:
        notes.append(f"{failed} of {len(samples)} runs did not succeed; the figures use the runs that did")
    if not any(s.cost_usd or s.api_calls for s in samples):
        notes.append("no step reported cost_usd or api_calls in its output; cost and API calls are recorded as 0")
    if settings.profile == "memory" and settings.concurrency > 1:
        notes.append("with concurrency above 1, runs overlap: per-run peak and growth include the other runs")
    profile_report = (
        _profile_report(measurement.profiles, settings.profile_output) if measurement.profiles else {}
    )
    return BenchmarkResult(
        pipeline=target.name,
        pipeline_hash=target.content_hash,
        mode="local" if settings.local else "remote",
        iterations=settings.iterations,
        warmup=settings.warmup,
        concurrency=settings.concurrency,
        started_at=started_at,
        wall_s=wall,
        runs=samples,
        throughput_path=settings.throughput_path,
        profile=settings.profile,
        profile_report=profile_report,
        notes=notes,
    )
