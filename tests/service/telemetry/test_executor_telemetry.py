"""The executor's spans and pipeline metrics, and runs that carry on when telemetry is down."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, StatusCode
from prometheus_client import REGISTRY

from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia.executor.v1 import service_pb2_grpc
from ia.pipeline.v1 import pipeline_pb2
from ia_executor import server as executor_server
from ia_executor.telemetry import SETTLE_DELAY_S
from ia_executor.work import StepError
from ia_modules.engine import ExecuteStep
from ia_service_kit.server import RunningServer, ServiceConfig, start
from ia_service_kit.telemetry import TelemetrySettings, configure_tracing, uninstrumented_channel


class Runner:
    """Plugin steps: each outcome in `script[step]` in turn (a StepError fails the attempt,
    "hang" waits for `release`); without a script a step returns its input. `contexts`
    keeps the span context each attempt's work ran under, as ((step, attempt), context)."""

    def __init__(self, script: dict[str, list[Any]] | None = None) -> None:
        self.script = script or {}
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.contexts: list[tuple[tuple[str, int], SpanContext]] = []

    @property
    def parents(self) -> list[tuple[tuple[str, int], int]]:
        """((step, attempt), span id) of the span each attempt's work ran under."""
        return [(key, context.span_id) for key, context in self.contexts]

    @property
    def under(self) -> list[SpanContext]:
        """The span context each attempt's work ran under."""
        return [context for _, context in self.contexts]

    async def run(self, action: ExecuteStep) -> dict[str, Any]:
        self.contexts.append(((action.step_id, action.attempt), trace.get_current_span().get_span_context()))
        outcomes = self.script.get(action.step_id)
        outcome = outcomes.pop(0) if outcomes else action.input
        if outcome == "hang":
            self.started.set()
            await self.release.wait()
            return {}
        if isinstance(outcome, StepError):
            raise outcome
        return outcome


def definition(name: str, steps: list[dict[str, Any]], edges: list[tuple[Any, ...]]) -> pipeline_pb2.Pipeline:
    transitions = [{"from": e[0], "to": e[1], **({"condition": e[2]} if len(e) > 2 else {})} for e in edges]
    document = {"name": name, "steps": steps, "flow": {"start_at": steps[0]["id"], "transitions": transitions}}
    return json_format.ParseDict(document, pipeline_pb2.Pipeline())


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def executor_with(tmp_path: Path) -> AsyncIterator[Any]:
    """Starts an in-process executor with a runner; yields a function returning its stub."""
    started: list[RunningServer] = []
    channels: list[grpc.aio.Channel] = []

    async def _start(runner: Runner, data_dir: Path | None = None) -> service_pb2_grpc.ExecutorServiceStub:
        data_dir = data_dir or tmp_path / f"x{len(started)}"
        config = ServiceConfig(name="executor", default_port=0, port=0, data_dir=data_dir, grace_period_s=0)
        running = await start(config, functools.partial(executor_server.wire, registry="127.0.0.1:9", runner=runner))
        started.append(running)
        channels.append(grpc.aio.insecure_channel(running.address))
        return service_pb2_grpc.ExecutorServiceStub(channels[-1])

    _start.servers = started  # type: ignore[attr-defined]
    yield _start
    for channel in channels:
        await channel.close()
    for running in started:
        await running.stop(0)


@pytest.fixture
async def spans() -> AsyncIterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing = configure_tracing("executor", TelemetrySettings(export_delay_s=0.01), exporter=exporter)
    assert tracing is not None
    exporter.flush = tracing.flush  # type: ignore[attr-defined]
    yield exporter
    await asyncio.to_thread(tracing.shutdown)


async def run_to_end(
    executor: service_pb2_grpc.ExecutorServiceStub, pipeline: pipeline_pb2.Pipeline
) -> message_pb2.Run:
    run = (await executor.StartRun(rr.StartRunRequest(definition=pipeline))).run
    async for _ in executor.WatchRun(rr.WatchRunRequest(run_id=run.run_id)):
        pass
    return (await executor.GetRun(rr.GetRunRequest(run_id=run.run_id))).run


async def test_a_run_has_a_run_span_step_spans_and_condition_spans(executor_with, spans) -> None:
    executor = await executor_with(Runner())
    pipeline = definition(
        "traced",
        [
            {"id": "greet", "type": "pass", "config": {"values": {"n": 1}}},
            {"id": "cheer", "type": "pass"},
            {"id": "sign", "type": "pass"},
        ],
        [
            ("greet", "cheer", {"type": "expression", "config": {"source": "result.n", "operator": "gte", "value": 2}}),
            ("greet", "sign"),
        ],
    )

    run = await run_to_end(executor, pipeline)
    spans.flush()

    finished = spans.get_finished_spans()
    by_name = {s.name: s for s in finished if s.kind is not SpanKind.CLIENT}
    start_run = by_name["/ia.executor.v1.ExecutorService/StartRun"]
    run_span, greet, sign = by_name["run traced"], by_name["step greet"], by_name["step sign"]
    condition = by_name["condition greet -> cheer"]
    assert run.state == message_pb2.RUN_STATE_SUCCEEDED
    assert run_span.parent.span_id == start_run.context.span_id
    assert greet.parent.span_id == sign.parent.span_id == run_span.context.span_id
    assert condition.parent.span_id == greet.context.span_id
    assert dict(run_span.attributes) == {
        "ia.kind": "run",
        "run_id": run.run_id,
        "pipeline": "traced",
        "status": "succeeded",
    }
    assert dict(greet.attributes) == {
        "ia.kind": "step", "run_id": run.run_id, "pipeline": "traced", "step_id": "greet", "attempt": 1, "iteration": 0,
        "status": "succeeded",
    }  # fmt: skip
    assert condition.attributes["fired"] is False
    assert condition.attributes["reason"].startswith("result.n >= 2 was false")
    assert condition.attributes["condition.expression"]
    assert "step cheer" not in by_name
    assert run_span.end_time >= sign.end_time >= greet.start_time >= run_span.start_time


async def test_a_failed_attempt_carries_its_error_and_the_retry_is_a_span_of_its_own(executor_with, spans) -> None:
    executor = await executor_with(Runner({"fetch": [StepError("UNAVAILABLE", "upstream down"), {"ok": True}]}))
    pipeline = definition("retried", [{"id": "fetch", "plugin": "http", "retry": {"max_attempts": 2}}], [])
    errors_before = sample("pipeline_step_errors_total", pipeline="retried", step="fetch", error_type="UNAVAILABLE")
    failed_before = sample("pipeline_step_duration_seconds_count", pipeline="retried", step="fetch", status="failed")

    run = await run_to_end(executor, pipeline)
    spans.flush()

    attempts = sorted(
        (s for s in spans.get_finished_spans() if s.name == "step fetch"), key=lambda s: s.attributes["attempt"]
    )
    assert run.state == message_pb2.RUN_STATE_SUCCEEDED
    assert [(s.attributes["attempt"], s.attributes["status"]) for s in attempts] == [(1, "failed"), (2, "succeeded")]
    assert attempts[0].status.status_code is StatusCode.ERROR
    assert attempts[0].status.description == "UNAVAILABLE: upstream down"
    assert [(e.name, e.attributes["exception.type"]) for e in attempts[0].events] == [("exception", "UNAVAILABLE")]
    assert attempts[1].status.status_code is StatusCode.UNSET
    assert (
        sample("pipeline_step_errors_total", pipeline="retried", step="fetch", error_type="UNAVAILABLE") - errors_before
        == 1
    )
    assert (
        sample("pipeline_step_duration_seconds_count", pipeline="retried", step="fetch", status="failed")
        - failed_before
        == 1
    )


async def test_each_attempts_work_runs_under_its_own_step_span(executor_with, spans) -> None:
    # Past the first step, an attempt's span is recorded after its work started (the decision
    # settles later): the work ran under the id the span then got.
    runner = Runner({"fetch": [StepError("UNAVAILABLE", "upstream down"), {"ok": True}]})
    executor = await executor_with(runner)
    steps = [
        {"id": "first", "plugin": "p"},
        {"id": "fetch", "plugin": "p", "retry": {"max_attempts": 2}},
        {"id": "last", "plugin": "p"},
    ]
    pipeline = definition("parented", steps, [("first", "fetch"), ("fetch", "last")])

    run = await run_to_end(executor, pipeline)
    spans.flush()

    step_spans = {
        (s.attributes["step_id"], s.attributes["attempt"]): s.context.span_id
        for s in spans.get_finished_spans()
        if s.attributes.get("ia.kind") == "step"
    }
    assert run.state == message_pb2.RUN_STATE_SUCCEEDED
    assert sorted(step_spans) == [("fetch", 1), ("fetch", 2), ("first", 1), ("last", 1)]
    assert dict(runner.parents) == step_spans
    assert len(set(step_spans.values())) == 4


async def test_a_map_steps_items_run_under_the_maps_attempt_span_retries_included(executor_with, spans) -> None:
    # `first` gives the items; the first item to run fails once.
    runner = Runner({"first": [{"items": [1, 2, 3]}], "each": [StepError("UNAVAILABLE", "upstream down")]})
    executor = await executor_with(runner)
    each = {
        "id": "each",
        "type": "map",
        "retry": {"max_attempts": 2},
        "map": {"items": "{{ first.items }}", "step": {"plugin": "p", "inputs": {"n": "{{ item }}"}}},
    }
    pipeline = definition("mapped", [{"id": "first", "plugin": "p"}, each], [("first", "each")])

    run = await run_to_end(executor, pipeline)
    spans.flush()

    (map_span,) = [s for s in spans.get_finished_spans() if s.name == "step each"]
    items = [(attempt, span_id) for (step, attempt), span_id in runner.parents if step == "each"]
    assert run.state == message_pb2.RUN_STATE_SUCCEEDED
    assert sorted(attempt for attempt, _ in items) == [1, 1, 1, 2]
    assert {span_id for _, span_id in items} == {map_span.context.span_id}


async def test_a_failed_run_records_the_error_on_its_span_and_in_its_metrics(executor_with, spans) -> None:
    executor = await executor_with(Runner({"fetch": [StepError("STEP_ERROR", "boom")]}))
    before = sample("pipeline_execution_duration_seconds_count", pipeline="doomed", status="failed")

    run = await run_to_end(executor, definition("doomed", [{"id": "fetch", "plugin": "http"}], []))
    spans.flush()

    (run_span,) = [s for s in spans.get_finished_spans() if s.name == "run doomed"]
    assert run.state == message_pb2.RUN_STATE_FAILED
    assert run_span.attributes["status"] == "failed"
    assert run_span.status.status_code is StatusCode.ERROR
    assert sample("pipeline_execution_duration_seconds_count", pipeline="doomed", status="failed") - before == 1
    assert sample("pipeline_runs_finished_total", pipeline="doomed", state="failed") >= 1


async def test_gauges_follow_steps_in_flight_and_people_being_waited_for(executor_with, spans) -> None:
    runner = Runner({"slow": ["hang"]})
    executor = await executor_with(runner)
    pipeline = definition(
        "gauged",
        [
            {"id": "start", "type": "pass"},
            {"id": "slow", "plugin": "p"},
            {"id": "ask", "type": "human_input", "human_input": {"prompt": "ok?", "ui_schema": {"type": "object"}}},
        ],
        [("start", "slow"), ("start", "ask")],
    )
    run = (await executor.StartRun(rr.StartRunRequest(definition=pipeline))).run
    await asyncio.wait_for(runner.started.wait(), 10)
    async for response in executor.WatchRun(rr.WatchRunRequest(run_id=run.run_id)):
        if response.event.WhichOneof("kind") == "input_requested":
            break
    # The parallel-steps gauge moves once the decision settles; its timer runs before this sleep ends.
    await asyncio.sleep(SETTLE_DELAY_S * 4)
    while_waiting = (
        sample("pipeline_parallel_steps_concurrent", pipeline="gauged"),
        sample("pipeline_human_tasks_waiting", pipeline="gauged"),
        sample("pipeline_runs_active", pipeline="gauged", state="running"),
    )

    await executor.CancelRun(rr.CancelRunRequest(run_id=run.run_id))
    runner.release.set()
    after = (
        sample("pipeline_parallel_steps_concurrent", pipeline="gauged"),
        sample("pipeline_human_tasks_waiting", pipeline="gauged"),
        sample("pipeline_runs_active", pipeline="gauged", state="running"),
        sample("pipeline_runs_active", pipeline="gauged", state="waiting_for_input"),
    )

    assert while_waiting[0] == 2  # `slow` runs while `ask` waits for a person
    assert while_waiting[1] == 1
    assert after == (0, 0, 0, 0)


async def test_an_ended_attempt_is_recorded_while_the_run_goes_on(executor_with, spans) -> None:
    # Ending an attempt's span and histogram waits for the next step's call to leave,
    # not for the run to end.
    runner = Runner({"slow": ["hang"]})
    executor = await executor_with(runner)
    steps = [{"id": "first", "type": "pass"}, {"id": "slow", "plugin": "p"}]
    pipeline = definition("settling", steps, [("first", "slow")])
    await executor.StartRun(rr.StartRunRequest(definition=pipeline))
    await asyncio.wait_for(runner.started.wait(), 10)
    names: list[str] = []
    for _ in range(200):
        spans.flush()
        names = [span.name for span in spans.get_finished_spans()]
        if "step first" in names:
            break
        await asyncio.sleep(0.01)

    assert "step first" in names
    assert "step slow" not in names and "run settling" not in names
    assert sample("pipeline_step_duration_seconds_count", pipeline="settling", step="first", status="succeeded") == 1
    runner.release.set()


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a hung collector."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


async def test_runs_are_unaffected_when_the_collector_hangs_and_spans_are_dropped_and_counted(
    executor_with, black_hole: str
) -> None:
    settings = TelemetrySettings(otlp_endpoint=black_hole, queue_size=4, export_delay_s=0.01, export_timeout_s=30)
    tracing = configure_tracing("executor", settings)
    assert tracing is not None
    dropped_before = sample("ia_telemetry_spans_dropped_total", reason="queue_full")
    try:
        executor = await executor_with(Runner())
        steps = [{"id": f"s{i}", "type": "pass"} for i in range(30)]
        run = await run_to_end(executor, definition("unhurried", steps, [(f"s{i}", f"s{i + 1}") for i in range(29)]))
        dropped = sample("ia_telemetry_spans_dropped_total", reason="queue_full") - dropped_before
    finally:
        await asyncio.to_thread(tracing.shutdown, 0.1)

    assert run.state == message_pb2.RUN_STATE_SUCCEEDED
    assert len(run.steps) == 30
    assert dropped >= 20


async def test_a_run_the_sampler_drops_records_its_metrics_and_no_spans(executor_with, spans) -> None:
    # The caller's trace is not sampled: the default sampler follows it for the run and all under it.
    runner = Runner({"fetch": [StepError("UNAVAILABLE", "upstream down"), {"ok": True}]})
    await executor_with(runner)
    # A channel without the client interceptor, which would start a sampled trace of its own.
    channel = uninstrumented_channel(executor_with.servers[-1].address)
    executor = service_pb2_grpc.ExecutorServiceStub(channel)
    steps = [
        {"id": "fetch", "plugin": "p", "retry": {"max_attempts": 2}},
        {"id": "check", "type": "pass", "config": {"values": {"n": 1}}},
        {"id": "never", "type": "pass"},
    ]
    condition = {"type": "expression", "config": {"source": "result.n", "operator": "gte", "value": 2}}
    pipeline = definition("unsampled", steps, [("fetch", "check"), ("check", "never", condition)])
    caller = (("traceparent", f"00-{0xFEED:032x}-{0xBEEF:016x}-00"),)
    errors_before = sample("pipeline_step_errors_total", pipeline="unsampled", step="fetch", error_type="UNAVAILABLE")

    run = (await executor.StartRun(rr.StartRunRequest(definition=pipeline), metadata=caller)).run
    async for _ in executor.WatchRun(rr.WatchRunRequest(run_id=run.run_id)):
        pass
    ended = (await executor.GetRun(rr.GetRunRequest(run_id=run.run_id))).run
    await channel.close()
    spans.flush()

    assert ended.state == message_pb2.RUN_STATE_SUCCEEDED
    assert [s.name for s in spans.get_finished_spans() if s.context.trace_id == 0xFEED] == []
    assert not [s for s in spans.get_finished_spans() if s.attributes.get("pipeline") == "unsampled"]
    # Both attempts' work ran in the caller's trace, unsampled, under the run's span.
    assert [(c.trace_id, c.trace_flags.sampled) for c in runner.under] == [(0xFEED, False)] * 2
    (run_span_id,) = {c.span_id for c in runner.under}
    assert run_span_id != 0xBEEF
    assert (
        sample("pipeline_step_errors_total", pipeline="unsampled", step="fetch", error_type="UNAVAILABLE")
        - errors_before
        == 1
    )
    recorded = [("fetch", "failed"), ("fetch", "succeeded"), ("check", "succeeded"), ("never", "succeeded")]
    durations = [
        sample("pipeline_step_duration_seconds_count", pipeline="unsampled", step=step, status=status)
        for step, status in recorded
    ]
    assert durations == [1, 1, 1, 0]
    assert sample("pipeline_runs_finished_total", pipeline="unsampled", state="succeeded") == 1
    assert sample("pipeline_parallel_steps_concurrent", pipeline="unsampled") == 0


async def test_with_telemetry_off_a_run_records_nothing(executor_with, spans, monkeypatch) -> None:
    monkeypatch.setenv("IA_TELEMETRY", "off")
    executor = await executor_with(Runner())
    before = sample("pipeline_runs_started_total", pipeline="quiet")

    run = await run_to_end(executor, definition("quiet", [{"id": "only", "type": "pass"}], []))
    spans.flush()

    assert run.state == message_pb2.RUN_STATE_SUCCEEDED
    assert not [s for s in spans.get_finished_spans() if s.name in ("run quiet", "step only")]
    assert not [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert sample("pipeline_runs_started_total", pipeline="quiet") == before


async def test_a_run_resumed_after_a_restart_starts_a_trace_of_its_own(executor_with, spans, tmp_path: Path) -> None:
    first = Runner({"slow": ["hang"]})
    executor = await executor_with(first, tmp_path / "shared")
    pipeline = definition(
        "resumable", [{"id": "slow", "plugin": "p"}, {"id": "after", "type": "pass"}], [("slow", "after")]
    )
    run = (await executor.StartRun(rr.StartRunRequest(definition=pipeline))).run
    await asyncio.wait_for(first.started.wait(), 10)
    await executor_with.servers[0].stop(0)

    executor = await executor_with(Runner(), tmp_path / "shared")
    finished = None
    async for response in executor.WatchRun(rr.WatchRunRequest(run_id=run.run_id)):
        finished = response.event
    spans.flush()

    runs = [s for s in spans.get_finished_spans() if s.name == "run resumable"]
    resumed = next(s for s in runs if s.attributes.get("resumed"))
    (after,) = [s for s in spans.get_finished_spans() if s.name == "step after"]
    slow_attempts = [
        s for s in spans.get_finished_spans() if s.name == "step slow" and s.parent.span_id == resumed.context.span_id
    ]
    assert finished is not None and finished.run_state_changed.state == message_pb2.RUN_STATE_SUCCEEDED
    assert len(runs) == 2 and resumed.parent is None
    assert resumed.context.trace_id != next(s for s in runs if s is not resumed).context.trace_id
    assert after.parent.span_id == resumed.context.span_id
    assert [s.attributes["status"] for s in slow_attempts] == ["succeeded"]
