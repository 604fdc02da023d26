"""The step debugger over REST through Envoy: breakpoints, inspection, stepping with an edit, resume."""

from __future__ import annotations

import json

import pytest
from e2e_http import http

from ia.executor.v1 import message_pb2 as executor_messages
from ia_modules.client import Client

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_a_run_paused_over_rest_is_inspected_stepped_and_resumed(
    base_url: str, client: Client, example, pipeline_name: str
) -> None:
    client.create_pipeline(example("hello.json", pipeline_name))
    body = {"pipeline_name": pipeline_name, "inputs": {"who": "REST", "times": 1}, "breakpoints": [{"step_id": "sign"}]}
    run_id = http("POST", f"{base_url}/v1/runs", body).body["run"]["run_id"]
    paused = client.wait_run(run_id)
    inspected = http("GET", f"{base_url}/v1/runs/{run_id}:inspect").body
    stepped = http("POST", f"{base_url}/v1/runs/{run_id}:step", {"inputs": {"signature": "edited"}})
    client.wait_run(run_id)
    resumed = http("POST", f"{base_url}/v1/runs/{run_id}:resume", {})
    finished = client.get_run(run_id)

    assert paused.state == executor_messages.RUN_STATE_PAUSED
    assert [step["step_id"] for step in inspected["paused"]] == ["sign"]
    [cheer] = [c for c in inspected["conditions"] if c["to"] == "cheer"]
    # proto3 JSON leaves out a false `fired`.
    assert "fired" not in cheer and cheer["reason"] == "result.times >= 2 was false (result.times = 1)", cheer
    assert stepped.status == 200
    assert finished.state == executor_messages.RUN_STATE_SUCCEEDED
    assert finished.outputs["signed_by"] == "edited"
    # The run ended after the one step: nothing is paused, so resuming is refused.
    reasons = [d["reason"] for d in resumed.body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert resumed.status == 400 and reasons == ["RUN_NOT_PAUSED"]


def test_debug_with_up_uses_the_stack_already_up(ia_stack, tmp_path, example, monkeypatch) -> None:
    from typer.testing import CliRunner

    from ia_modules.cli.main import app

    definition = tmp_path / "hello.json"
    definition.write_text(json.dumps(example("hello.json", "hello-debug")))
    # Nothing listens here: the command must find the stack through its data folder.
    monkeypatch.setenv("IA_ENDPOINT", "127.0.0.1:9")
    args = ["debug", str(definition), "--up", "--data-dir", str(ia_stack.data_dir), "--break", "sign"]
    result = CliRunner().invoke(app, [*args, "--set", "who=debugger"], input="continue\n")

    assert result.exit_code == 0, result.output
    assert "paused before sign (iteration 0): breakpoint" in result.output
    assert "SUCCEEDED" in result.output
