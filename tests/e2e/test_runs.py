"""Runs through Envoy: started with grpcurl, REST and the SDK, watched to the end,
and paused for a person until a human task is answered."""

from __future__ import annotations

import json
import subprocess

import pytest
from e2e_http import http

from ia.executor.v1 import message_pb2 as executor_messages
from ia_modules.client import Client, to_dict

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def steps_by_id(run: executor_messages.Run) -> dict[str, int]:
    return {step.step_id: step.state for step in run.steps}


def test_start_run_with_grpcurl(grpcurl: str, endpoint: str, client: Client, example, pipeline_name: str) -> None:
    client.create_pipeline(example("hello.json", pipeline_name))

    result = subprocess.run(
        [
            grpcurl, "-plaintext",
            "-d", json.dumps({"pipeline_name": pipeline_name, "inputs": {"who": "grpcurl"}}),
            endpoint, "ia.executor.v1.ExecutorService/StartRun",
        ],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run"]["run_id"]
    finished = client.wait_run(run_id)

    assert finished.state == executor_messages.RUN_STATE_SUCCEEDED
    assert to_dict(finished.outputs)["greeting"] == "Hello, grpcurl!"


def test_start_run_over_rest(base_url: str, client: Client, example, pipeline_name: str) -> None:
    client.create_pipeline(example("hello.json", pipeline_name))

    started = http("POST", f"{base_url}/v1/runs", {"pipeline_name": pipeline_name, "inputs": {"who": "REST", "times": 1}})
    client.wait_run(started.body["run"]["run_id"])
    fetched = http("GET", f"{base_url}/v1/runs/{started.body['run']['run_id']}").body

    assert started.status == 200
    assert fetched["run"]["state"] == "RUN_STATE_SUCCEEDED"
    assert fetched["run"]["outputs"]["greeting"] == "Hello, REST!"
    states = {step["step_id"]: step["state"] for step in fetched["run"]["steps"]}
    # times < 2: the cheer branch is not taken.
    assert states == {"greet": "STEP_STATE_SUCCEEDED", "cheer": "STEP_STATE_SKIPPED", "sign": "STEP_STATE_SUCCEEDED"}


def test_an_approval_waits_for_a_person_then_takes_the_approved_branch(
    base_url: str, client: Client, example, pipeline_name: str
) -> None:
    client.create_pipeline(example("approval.json", pipeline_name))
    run = client.start_run(pipeline_name, inputs={"title": "Books", "amount": 40})

    waiting = client.wait_run(run.run_id)
    [task] = client.list_human_tasks(run_id=run.run_id)
    submitted = http("POST", f"{base_url}/v1/tasks/{task.task_id}:submit", {"data": {"approved": True}, "submitter": "e2e"})
    finished = client.wait_run(run.run_id)

    assert waiting.state == executor_messages.RUN_STATE_WAITING_FOR_INPUT
    assert submitted.status == 200
    assert task.step_id == "review"
    assert to_dict(task.data) == {"title": "Books", "amount": 40}
    assert finished.state == executor_messages.RUN_STATE_SUCCEEDED
    assert to_dict(finished.outputs) == {"title": "Books", "approved": True}
    assert steps_by_id(finished)["approved"] == executor_messages.STEP_STATE_SUCCEEDED
    assert steps_by_id(finished)["rejected"] == executor_messages.STEP_STATE_SKIPPED
