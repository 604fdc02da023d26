"""The run commands against the real executor (and registry) in-process."""

from __future__ import annotations

import json
from pathlib import Path

from cli_definitions import hello, write
from cli_harness import BackgroundService
from typer.testing import CliRunner

from ia_modules import AsyncClient, Client
from ia_modules.cli.main import app


def approval(name: str = "approve") -> dict:
    """Drafts a text, asks a person to approve it, then reports the answer."""
    return {
        "name": name,
        "steps": [
            {"id": "draft", "type": "pass", "config": {"values": {"text": "hello"}}},
            {
                "id": "review",
                "type": "human_input",
                "inputs": {"text": "{{ draft.text }}"},
                "human_input": {
                    "prompt": "Approve?",
                    "ui_schema": {
                        "type": "object",
                        "properties": {"approved": {"type": "boolean"}},
                        "required": ["approved"],
                    },
                },
            },
            {"id": "done", "type": "pass", "inputs": {"ok": "{{ review.approved }}"}},
        ],
        "flow": {
            "start_at": "draft",
            "transitions": [{"from": "draft", "to": "review"}, {"from": "review", "to": "done"}],
        },
        "outputs": {"approved": "{{ done.ok }}"},
    }


def test_run_an_inline_file_to_success(runner: CliRunner, executor_endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello(value=7))
    result = runner.invoke(app, ["run", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["state"] == "SUCCEEDED"
    assert document["outputs"] == {"y": 7}
    assert [(s["id"], s["state"], s["attempts"]) for s in document["steps"]] == [
        ("a", "SUCCEEDED", 1),
        ("b", "SUCCEEDED", 1),
    ]
    assert "run SUCCEEDED" in result.stderr.splitlines()


def test_run_a_registered_revision_with_inputs(
    runner: CliRunner, registry: BackgroundService, executor_endpoint: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "hello.json", hello())
    assert runner.invoke(app, ["--endpoint", registry.address, "pipelines", "push", str(path)]).exit_code == 0
    write(path, hello(value=2))
    assert runner.invoke(app, ["--endpoint", registry.address, "pipelines", "push", str(path)]).exit_code == 0
    result = runner.invoke(app, ["run", "hello@1", "--set", "topic=ai", "--no-watch", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["pipeline"], document["revision"], document["outputs"]) == ("hello", 1, {"y": 1})
    assert document["inputs"]["topic"] == "ai"
    listed = json.loads(runner.invoke(app, ["runs", "list", "--pipeline", "hello", "--format", "json"]).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [document["run_id"]]


def test_run_of_an_unknown_pipeline(runner: CliRunner, executor_endpoint: str) -> None:
    result = runner.invoke(app, ["run", "nope"])
    assert result.exit_code == 1
    assert result.stderr == "error: NOT_FOUND: pipeline `nope` does not exist [PIPELINE_NOT_FOUND]\n"


def test_human_input_waits_then_resumes_to_success(runner: CliRunner, executor_endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "approve.json", approval())
    waiting = runner.invoke(app, ["run", str(path), "--format", "json"])
    assert waiting.exit_code == 3, waiting.output
    document = json.loads(waiting.stdout)
    assert document["state"] == "WAITING_FOR_INPUT"
    assert [(t["step_id"], t["prompt"]) for t in document["tasks"]] == [("review", "Approve?")]
    run_id = document["run_id"]

    wrong = runner.invoke(app, ["resume", run_id, "--data", '{"approved": "yes"}'])
    assert wrong.exit_code == 1
    first, *violations = wrong.stderr.splitlines()
    assert first.startswith("error: INVALID_ARGUMENT: ")
    assert violations and "data.approved" in violations[0]

    resumed = runner.invoke(app, ["resume", run_id, "--data", '{"approved": true}', "--format", "json"])
    assert resumed.exit_code == 0, resumed.output
    finished = json.loads(resumed.stdout)
    assert finished["state"] == "SUCCEEDED"
    assert finished["outputs"] == {"approved": True}

    again = runner.invoke(app, ["resume", run_id, "--data", "{}"])
    assert again.stderr == f"error: run {run_id} has no open task to answer (it is SUCCEEDED)\n"
    watched = runner.invoke(app, ["watch", run_id])
    assert watched.exit_code == 0
    assert watched.stdout.splitlines()[0] == f"run {run_id} (approve): SUCCEEDED"


def test_cancel_a_waiting_run(runner: CliRunner, executor_endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "approve.json", approval())
    run_id = json.loads(runner.invoke(app, ["run", str(path), "--format", "json"]).stdout)["run_id"]
    cancelled = runner.invoke(app, ["cancel", run_id, "--reason", "not needed"])
    assert (cancelled.exit_code, cancelled.stdout) == (0, f"run {run_id}: CANCELLED\n")
    again = runner.invoke(app, ["cancel", run_id])
    assert again.exit_code == 1
    assert again.stderr.startswith("error: FAILED_PRECONDITION: ")
    got = json.loads(runner.invoke(app, ["runs", "get", run_id, "--format", "json"]).stdout)
    assert got["state"] == "CANCELLED"
    listed = runner.invoke(app, ["runs", "list", "--state", "cancelled"])
    assert [row.split()[0] for row in listed.stdout.splitlines()[1:]] == [run_id]


def test_dry_run_walks_the_graph_with_mocks(runner: CliRunner, executor_endpoint: str, tmp_path: Path) -> None:
    definition = {
        "name": "fetcher",
        "steps": [
            {"id": "fetch", "plugin": "http_request", "config": {"url": "https://example.invalid"}},
            {"id": "keep", "type": "pass", "inputs": {"status": "{{ fetch.status }}"}},
            {"id": "alert", "type": "pass"},
        ],
        "flow": {
            "start_at": "fetch",
            "transitions": [
                {"from": "fetch", "to": "keep", "condition": {"type": "cel", "expr": "result.status == 200"}},
                {"from": "fetch", "to": "alert", "condition": {"type": "cel", "expr": "result.status != 200"}},
            ],
        },
        "outputs": {"status": "{{ keep.status }}"},
    }
    path = write(tmp_path / "fetcher.json", definition)
    mocks = tmp_path / "mocks.json"
    mocks.write_text('{"fetch": {"status": 200}}')
    result = runner.invoke(app, ["dry-run", str(path), "--mock", str(mocks), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [(s["id"], s["state"]) for s in document["steps"] if s["state"] == "SUCCEEDED"] == [
        ("fetch", "SUCCEEDED"),
        ("keep", "SUCCEEDED"),
    ]
    assert [(t["from"], t["to"]) for t in document["not_taken"]] == [("fetch", "alert")]
    assert document["outputs"] == {"status": 200}


def test_the_clients_wait_for_a_real_run(executor: BackgroundService) -> None:
    with Client(executor.address) as client:
        run = client.start_run(hello(value=3), request_id="same")
        again = client.start_run(hello(value=3), request_id="same")
        finished = client.wait_run(run.run_id)
    assert again.run_id == run.run_id
    assert dict(finished.outputs) == {"y": 3}


async def test_the_async_client_waits_for_input(executor: BackgroundService) -> None:
    async with AsyncClient(executor.address) as client:
        run = await client.start_run(approval())
        waiting = await client.wait_run(run.run_id)
        [task] = [t async for t in client.list_human_tasks(run_id=run.run_id)]
        await client.submit_human_input(task.task_id, {"approved": False})
        finished = await client.wait_run(run.run_id)
        runs = [r.run_id async for r in client.list_runs(pipeline="approve")]
    assert waiting.state == 3  # WAITING_FOR_INPUT
    assert finished.state == 4  # SUCCEEDED
    assert dict(finished.outputs) == {"approved": False}
    assert runs == [run.run_id]
