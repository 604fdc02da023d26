"""Checkpoints and recovery: a restarted executor resumes every unfinished run."""

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import grpc
import pytest
from executor_testing import finished, linear, outputs, start, state, step_event, until
from ia.executor.v1 import message_pb2, service_pb2_grpc
from ia.executor.v1 import request_response_pb2 as rr
from ia_modules.engine.values import to_struct


def waiting_pipeline(seconds):
    return linear(
        {"id": "before", "type": "pass", "config": {"values": {"n": 1}}},
        {"id": "pause", "type": "wait", "wait": {"seconds": seconds}},
        {"id": "after", "type": "pass"},
        outputs={"n": "{{ after.n }}"},
    )


def review_pipeline(**spec):
    return linear(
        {"id": "prep", "type": "pass", "config": {"values": {"draft": "d"}}},
        {
            "id": "review",
            "type": "human_input",
            "human_input": {"prompt": "ok?", "ui_schema": {"type": "object"}, **spec},
        },
        {"id": "done", "type": "pass", "inputs": {"ok": "{{ review.ok }}"}},
        outputs={"ok": "{{ done.ok }}"},
    )


def step_events(events, step_id):
    return [
        (
            message_pb2.StepState.Name(e.step_state_changed.state).removeprefix("STEP_STATE_"),
            e.step_state_changed.attempt,
        )
        for e in events
        if e.WhichOneof("kind") == "step_state_changed" and e.step_state_changed.step_id == step_id
    ]


async def all_events(executor, run_id):
    return [r.event async for r in executor.WatchRun(rr.WatchRunRequest(run_id=run_id))]


async def test_graceful_restart_resumes_runs_and_applies_input_deadlines(start_executor, tmp_path):
    data_dir = tmp_path / "data"
    first = await start_executor(data_dir)
    async with grpc.aio.insecure_channel(first.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        waiting_id = (await executor.StartRun(start(waiting_pipeline(0.2)))).run.run_id
        timed = review_pipeline(timeout_s=0.2, on_timeout="default", default_response={"ok": "by default"})
        review_id = (await executor.StartRun(start(timed))).run.run_id
        await until(executor, waiting_id, step_event("pause", "RUNNING"))
    await first.stop(0)
    second = await start_executor(data_dir)
    async with grpc.aio.insecure_channel(second.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run = await finished(executor, waiting_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"n": 1}
        run = await finished(executor, review_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"ok": "by default"}
        events = await all_events(executor, waiting_id)
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert step_events(events, "before") == [("RUNNING", 1), ("SUCCEEDED", 1)]


class ExecutorProcess:
    """`python -m ia_executor.server --port 0` over a data folder, as a real process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: asyncio.subprocess.Process | None = None
        self.address = ""
        self._drain: asyncio.Task | None = None

    async def start(self) -> str:
        env = {**os.environ, "IA_DATA_DIR": str(self.data_dir), "IA_REGISTRY_ADDRESS": "127.0.0.1:9"}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ia_executor.server",
            "--port",
            "0",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        while True:
            line = await asyncio.wait_for(self.process.stderr.readline(), 30)
            assert line, "the executor exited before it was listening"
            found = re.search(rb"listening on ([0-9.]+):(\d+)", line)
            if found:
                self.address = f"{found.group(1).decode()}:{found.group(2).decode()}"
                break
        self._drain = asyncio.ensure_future(self.process.stderr.read())
        return self.address

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._drain


@pytest.fixture
async def processes():
    started: list[ExecutorProcess] = []
    yield started
    for proc in started:
        if proc.process is not None and proc.process.returncode is None:
            await proc.kill()


async def test_sigkill_while_a_step_is_in_flight_and_a_run_waits_for_input(tmp_path, processes):
    data_dir = tmp_path / "data"
    first = ExecutorProcess(data_dir)
    processes.append(first)
    async with grpc.aio.insecure_channel(await first.start()) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        waiting_id = (await executor.StartRun(start(waiting_pipeline(1.5)))).run.run_id
        review_id = (await executor.StartRun(start(review_pipeline()))).run.run_id
        await until(executor, waiting_id, step_event("pause", "RUNNING"))
        await until(executor, review_id, lambda e: e.WhichOneof("kind") == "input_requested")
    await first.kill()

    second = ExecutorProcess(data_dir)
    processes.append(second)
    async with grpc.aio.insecure_channel(await second.start()) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run = await finished(executor, waiting_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"n": 1}
        events = await all_events(executor, waiting_id)
        assert step_events(events, "before") == [("RUNNING", 1), ("SUCCEEDED", 1)]
        assert step_events(events, "pause") == [("RUNNING", 1), ("SUCCEEDED", 1)]
        key = f"{waiting_id}/pause/0"
        assert [s.idempotency_key for s in run.steps if s.step_id == "pause"] == [key]
        resumed = [e.step_log.message for e in events if e.WhichOneof("kind") == "step_log"]
        assert resumed == [f"resumed after a restart; running work {key} again (same idempotency key)"]

        tasks = (await executor.ListHumanTasks(rr.ListHumanTasksRequest(run_id=review_id))).tasks
        assert len(tasks) == 1
        await executor.SubmitHumanInput(
            rr.SubmitHumanInputRequest(task_id=tasks[0].task_id, data=to_struct({"ok": True}))
        )
        run = await finished(executor, review_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"ok": True}
        events = await all_events(executor, review_id)
        assert step_events(events, "prep") == [("RUNNING", 1), ("SUCCEEDED", 1)]
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    await second.kill()


async def test_restart_while_a_child_run_is_in_flight(start_executor, registry, registry_address, tmp_path):
    from ia.registry.v1 import request_response_pb2 as registry_rr

    child = linear(
        {"id": "pause", "type": "wait", "wait": {"seconds": 0.2}, "inputs": {"v": "{{ parameters.v }}"}},
        name="sleeper",
        outputs={"v": "{{ pause.v }}"},
    )
    await registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=child))
    parent = linear(
        {"id": "call", "type": "pipeline", "pipeline": {"name": "sleeper"}, "inputs": {"v": 7}},
        outputs={"v": "{{ call.v }}"},
    )
    data_dir = tmp_path / "data"
    first = await start_executor(data_dir, registry=registry_address)
    async with grpc.aio.insecure_channel(first.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        parent_id = (await executor.StartRun(start(parent))).run.run_id
        await until(executor, parent_id, step_event("call", "RUNNING"))
        while not (await executor.ListRuns(rr.ListRunsRequest(pipeline_name="sleeper"))).runs:
            await asyncio.sleep(0.01)
    await first.stop(0)
    second = await start_executor(data_dir, registry=registry_address)
    async with grpc.aio.insecure_channel(second.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run = await finished(executor, parent_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"v": 7}
        children = (await executor.ListRuns(rr.ListRunsRequest(pipeline_name="sleeper"))).runs
        assert len(children) == 1 and state(children[0]) == "SUCCEEDED"
