"""The run commands of the CLI against the executor double: output and exit codes."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from executor_double import RUN_ID, ExecutorDouble, state_event, step_event
from google.protobuf import struct_pb2
from rich.console import Console
from typer.testing import CliRunner

from ia.executor.v1 import message_pb2, request_response_pb2
from ia_modules.cli import run_view
from ia_modules.cli.main import app

HELLO = {
    "name": "hello",
    "steps": [{"id": "a", "type": "pass"}, {"id": "b", "type": "pass"}],
    "flow": {"transitions": [{"from": "a", "to": "b"}]},
}


def struct(value: dict) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def finished_run(state: int = message_pb2.RUN_STATE_SUCCEEDED, **fields) -> message_pb2.Run:
    return message_pb2.Run(
        run_id=RUN_ID,
        pipeline_name="hello",
        revision=2,
        state=state,
        outputs=struct({"count": 3, "label": "done"}),
        steps=[
            message_pb2.StepRun(step_id="a", state=message_pb2.STEP_STATE_SUCCEEDED, attempts=1),
            message_pb2.StepRun(step_id="b", state=message_pb2.STEP_STATE_SUCCEEDED, attempts=2, iteration=1),
        ],
        **fields,
    )


def succeeding(executor: ExecutorDouble) -> None:
    executor.events = [
        state_event(1, message_pb2.RUN_STATE_RUNNING),
        step_event(2, "a", message_pb2.STEP_STATE_SUCCEEDED),
        step_event(3, "b", message_pb2.STEP_STATE_RETRYING),
        step_event(4, "b", message_pb2.STEP_STATE_SUCCEEDED, attempt=2),
        state_event(5, message_pb2.RUN_STATE_SUCCEEDED),
    ]
    executor.run = finished_run()


def waiting(executor: ExecutorDouble, *task_ids: str) -> None:
    task = message_pb2.HumanTask(
        run_id=RUN_ID,
        step_id="review",
        state=message_pb2.HUMAN_TASK_STATE_OPEN,
        prompt="Approve the summary?",
        ui_schema=struct({"type": "object", "properties": {"approved": {"type": "boolean"}}}),
    )
    executor.tasks = []
    for task_id in task_ids or ("task-1",):
        copy = message_pb2.HumanTask()
        copy.CopyFrom(task)
        copy.task_id = task_id
        executor.tasks.append(copy)
    executor.events = [
        state_event(1, message_pb2.RUN_STATE_RUNNING),
        message_pb2.RunEvent(run_id=RUN_ID, sequence=2, input_requested=executor.tasks[0]),
        state_event(3, message_pb2.RUN_STATE_WAITING_FOR_INPUT),
    ]
    executor.run = message_pb2.Run(run_id=RUN_ID, pipeline_name="hello", state=message_pb2.RUN_STATE_WAITING_FOR_INPUT)


@pytest.fixture
def cli(executor: ExecutorDouble, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("IA_ENDPOINT", executor.endpoint)
    return CliRunner()


def test_run_a_file_inline_with_inputs_prints_the_run_as_json(
    cli: CliRunner, executor: ExecutorDouble, tmp_path: Path
) -> None:
    succeeding(executor)
    definition = tmp_path / "hello.json"
    definition.write_text(json.dumps(HELLO))
    data = tmp_path / "data.json"
    data.write_text('{"topic": "ml", "limit": 5}')
    result = cli.invoke(app, ["run", str(definition), "--input", str(data), "--set", "topic=ai", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["run_id"] == RUN_ID
    assert document["state"] == "SUCCEEDED"
    assert document["outputs"] == {"count": 3, "label": "done"}
    assert document["steps"] == [
        {"id": "a", "state": "SUCCEEDED", "attempts": 1, "iteration": 0, "error": None},
        {"id": "b", "state": "SUCCEEDED", "attempts": 2, "iteration": 1, "error": None},
    ]
    assert document["error"] is None
    assert document["tasks"] == []
    started = executor.started
    assert started.WhichOneof("pipeline") == "definition"
    assert started.definition.name == "hello"
    assert dict(started.inputs) == {"topic": "ai", "limit": 5}


def test_run_by_name_and_revision_shows_progress_on_stderr(cli: CliRunner, executor: ExecutorDouble) -> None:
    succeeding(executor)
    result = cli.invoke(app, ["run", "hello@2", "--request-id", "req-7"])
    assert result.exit_code == 0, result.output
    started = executor.started
    assert (started.pipeline_name, started.revision, started.request_id) == ("hello", 2, "req-7")
    assert result.stderr.splitlines() == [
        "run RUNNING",
        "a[0] SUCCEEDED",
        "b[0] RETRYING",
        "b[0] SUCCEEDED (attempt 2)",
        "run SUCCEEDED",
    ]
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {RUN_ID} (hello revision 2): SUCCEEDED"
    assert lines[1].split() == ["STEP", "ITERATION", "STATE", "ATTEMPTS", "ERROR"]
    assert lines[2].split() == ["a", "0", "SUCCEEDED", "1"]
    assert "outputs:" in lines
    assert json.loads("\n".join(lines[lines.index("outputs:") + 1 :])) == {"count": 3, "label": "done"}


def test_run_without_watch_shows_no_progress(cli: CliRunner, executor: ExecutorDouble) -> None:
    succeeding(executor)
    result = cli.invoke(app, ["run", "hello", "--no-watch"])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_a_failed_run_exits_1_and_shows_the_error(cli: CliRunner, executor: ExecutorDouble) -> None:
    executor.events = [state_event(1, message_pb2.RUN_STATE_FAILED)]
    executor.run = finished_run(
        message_pb2.RUN_STATE_FAILED,
        error=message_pb2.ExecutionError(kind="STEP_TIMEOUT", message="b took too long", step_id="b"),
    )
    result = cli.invoke(app, ["run", "hello", "--no-watch"])
    assert result.exit_code == 1
    assert "error in step b: STEP_TIMEOUT: b took too long" in result.stdout.splitlines()
    document = json.loads(cli.invoke(app, ["run", "hello", "--format", "json"]).stdout)
    assert document["error"] == {"kind": "STEP_TIMEOUT", "message": "b took too long", "step_id": "b"}


def test_a_run_waiting_for_input_exits_3_and_says_how_to_answer(cli: CliRunner, executor: ExecutorDouble) -> None:
    waiting(executor)
    result = cli.invoke(app, ["run", "hello"])
    assert result.exit_code == 3, result.output
    assert "review waits for input (task task-1): Approve the summary?" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {RUN_ID} (hello): WAITING_FOR_INPUT"
    assert "waiting for input in step review (task task-1): Approve the summary?" in lines
    assert "  fields: approved (boolean)" in lines
    assert f"  answer with: ia-modules resume {RUN_ID} --data '{{...}}'" in lines
    document = json.loads(cli.invoke(app, ["run", "hello", "--format", "json"]).stdout)
    assert document["state"] == "WAITING_FOR_INPUT"
    assert [(t["task_id"], t["state"], t["prompt"]) for t in document["tasks"]] == [
        ("task-1", "OPEN", "Approve the summary?")
    ]


def test_resume_answers_the_open_task_and_waits(cli: CliRunner, executor: ExecutorDouble) -> None:
    waiting(executor)
    executor.events += [
        step_event(4, "review", message_pb2.STEP_STATE_SUCCEEDED),
        state_event(5, message_pb2.RUN_STATE_SUCCEEDED),
    ]
    executor.run_after_submit = finished_run()
    result = cli.invoke(
        app, ["resume", RUN_ID, "--data", '{"approved": true}', "--submitter", "ana", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert executor.submitted == [("task-1", {"approved": True})]
    assert json.loads(result.stdout)["state"] == "SUCCEEDED"


def test_resume_reads_the_answer_from_a_file_and_picks_a_task(
    cli: CliRunner, executor: ExecutorDouble, tmp_path: Path
) -> None:
    waiting(executor, "task-1", "task-2")
    answer = tmp_path / "answer.json"
    answer.write_text('{"approved": false}')
    ambiguous = cli.invoke(app, ["resume", RUN_ID, "--data", f"@{answer}"])
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr == (
        f"error: run {RUN_ID} has 2 open tasks: task-1 (review), task-2 (review); choose one with --task\n"
    )
    unknown = cli.invoke(app, ["resume", RUN_ID, "--data", f"@{answer}", "--task", "task-9"])
    assert unknown.stderr == f"error: run {RUN_ID} has no open task 'task-9'\n"
    chosen = cli.invoke(app, ["resume", RUN_ID, "--data", f"@{answer}", "--task", "task-2", "--no-watch"])
    assert chosen.exit_code == 3  # the double's run still waits on task-1
    assert executor.submitted == [("task-2", {"approved": False})]


def test_resume_without_an_open_task_is_one_line(cli: CliRunner, executor: ExecutorDouble) -> None:
    executor.run = finished_run(message_pb2.RUN_STATE_RUNNING)
    result = cli.invoke(app, ["resume", RUN_ID, "--data", "{}"])
    assert result.exit_code == 1
    assert result.stderr == f"error: run {RUN_ID} has no open task to answer (it is RUNNING)\n"


def test_resume_with_invalid_json_data_is_one_line(cli: CliRunner, executor: ExecutorDouble) -> None:
    result = cli.invoke(app, ["resume", RUN_ID, "--data", "{approved: yes}"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --data:1:2: invalid JSON: ")
    assert len(result.stderr.splitlines()) == 1


def test_watch_exits_with_the_state_of_the_run(cli: CliRunner, executor: ExecutorDouble) -> None:
    succeeding(executor)
    executor.run = finished_run(message_pb2.RUN_STATE_CANCELLED)
    result = cli.invoke(app, ["watch", RUN_ID, "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["state"] == "CANCELLED"
    assert "run SUCCEEDED" in result.stderr.splitlines()


def test_cancel_prints_the_cancelled_run(cli: CliRunner, executor: ExecutorDouble) -> None:
    executor.run = finished_run(message_pb2.RUN_STATE_RUNNING)
    result = cli.invoke(app, ["cancel", RUN_ID, "--reason", "wrong inputs"])
    assert (result.exit_code, result.stdout) == (0, f"run {RUN_ID}: CANCELLED\n")
    assert executor.cancel_request.reason == "wrong inputs"
    assert json.loads(cli.invoke(app, ["cancel", RUN_ID, "--format", "json"]).stdout)["state"] == "CANCELLED"


def test_runs_get_shows_any_state_with_exit_0(cli: CliRunner, executor: ExecutorDouble) -> None:
    executor.run = finished_run(message_pb2.RUN_STATE_FAILED)
    result = cli.invoke(app, ["runs", "get", RUN_ID, "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["state"] == "FAILED"
    missing = cli.invoke(app, ["runs", "get", "nope"])
    assert missing.exit_code == 1
    assert missing.stderr == "error: NOT_FOUND: run 'nope' not found [RUN_NOT_FOUND]\n"


def test_runs_list_filters_and_limits(cli: CliRunner, executor: ExecutorDouble) -> None:
    executor.runs = [
        message_pb2.Run(run_id=f"r{i}", pipeline_name="etl", revision=1, state=message_pb2.RUN_STATE_FAILED)
        for i in range(5)
    ]
    result = cli.invoke(
        app, ["runs", "list", "--pipeline", "etl", "--state", "failed", "--state", "timed-out", "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["RUN", "PIPELINE", "REVISION", "STATE", "CREATED", "ENDED"]
    assert [row.split()[:4] for row in rows] == [[f"r{i}", "etl", "1", "FAILED"] for i in range(3)]
    request = executor.list_runs_requests[0]
    assert request.pipeline_name == "etl"
    assert list(request.states) == [message_pb2.RUN_STATE_FAILED, message_pb2.RUN_STATE_TIMED_OUT]
    assert request.page_size == 3
    document = json.loads(cli.invoke(app, ["runs", "list", "--format", "json"]).stdout)
    assert [r["run_id"] for r in document["runs"]] == [f"r{i}" for i in range(5)]
    assert cli.invoke(app, ["runs", "list", "--pipeline", "other"]).stdout == "no runs\n"


def test_runs_list_refuses_an_unknown_state(cli: CliRunner, executor: ExecutorDouble) -> None:
    result = cli.invoke(app, ["runs", "list", "--state", "done"])
    assert result.exit_code == 2
    assert "--state 'done': expected one of PENDING, RUNNING, WAITING_FOR_INPUT" in result.stderr


def test_dry_run_shows_the_path_and_what_was_not_taken(
    cli: CliRunner, executor: ExecutorDouble, tmp_path: Path
) -> None:
    not_taken = message_pb2.TransitionNotTaken(to="b", reason="result.ok == true was false")
    setattr(not_taken, "from", "a")
    executor.dry_run_response = request_response_pb2.DryRunResponse(
        state=message_pb2.RUN_STATE_SUCCEEDED,
        steps=[
            message_pb2.DryRunStep(
                step_id="a",
                state=message_pb2.STEP_STATE_SUCCEEDED,
                input=struct({"n": 1}),
                output=struct({"ok": False}),
            ),
        ],
        not_taken=[not_taken],
        outputs=struct({"n": 1}),
    )
    definition = tmp_path / "hello.json"
    definition.write_text(json.dumps(HELLO))
    mocks = tmp_path / "mocks.json"
    mocks.write_text('{"a": {"ok": false}}')
    result = cli.invoke(app, ["dry-run", str(definition), "--set", "n=1", "--mock", str(mocks), "--show-data"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:5] == [
        "dry run: SUCCEEDED",
        "path taken:",
        "  1. a SUCCEEDED",
        '       input:  {"n": 1}',
        '       output: {"ok": false}',
    ]
    assert "  a -> b: result.ok == true was false" in result.stdout.splitlines()
    request = executor.dry_run_request
    assert request.definition.name == "hello"
    assert dict(request.inputs) == {"n": 1}
    assert request.mocks["a"]["ok"] is False
    document = json.loads(cli.invoke(app, ["dry-run", str(definition), "--format", "json"]).stdout)
    assert document["not_taken"] == [{"from": "a", "to": "b", "reason": "result.ok == true was false"}]
    assert document["steps"][0] == {
        "id": "a",
        "iteration": 0,
        "state": "SUCCEEDED",
        "input": {"n": 1},
        "output": {"ok": False},
    }


def test_dry_run_of_a_registered_name_without_a_stack_says_it_needs_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A file falls back to the local engine; a registered name has nowhere else to come from.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("IA_ENDPOINT", f"127.0.0.1:{port}")
    result = CliRunner().invoke(app, ["dry-run", "hello"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: 'hello' is a registered pipeline, which only the stack can read, and no stack answers at 127.0.0.1:{port}"
    )


def test_run_of_a_missing_json_file_is_one_line(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["run", str(tmp_path / "nope.json")])
    assert (result.exit_code, result.stderr) == (1, f"error: {tmp_path / 'nope.json'}: no such file\n")


def test_run_set_without_equals_is_a_usage_error(cli: CliRunner) -> None:
    result = cli.invoke(app, ["run", "hello", "--set", "topic"])
    assert result.exit_code == 2
    assert result.stderr == "error: --set 'topic': expected KEY=VALUE\n"


def test_live_view_on_a_terminal(executor: ExecutorDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    from ia_modules.client import Client

    succeeding(executor)
    screen = io.StringIO()
    monkeypatch.setattr(run_view, "stderr", lambda: Console(file=screen, force_terminal=True, width=100))
    with Client(executor.endpoint) as client:
        run = run_view.follow(client, RUN_ID, show=True)
    assert run.state == message_pb2.RUN_STATE_SUCCEEDED
    assert "STEP" in screen.getvalue()


def test_progress_table_shows_each_step_iteration() -> None:
    progress = run_view.RunProgress(RUN_ID)
    task = message_pb2.HumanTask(task_id="t", step_id="review", prompt="ok?")
    events = [
        state_event(1, message_pb2.RUN_STATE_RUNNING),
        message_pb2.RunEvent(
            sequence=2,
            step_state_changed=message_pb2.StepStateChanged(
                step_id="loop",
                iteration=1,
                state=message_pb2.STEP_STATE_FAILED,
                attempt=3,
                error=message_pb2.ExecutionError(kind="STEP_ERROR", message="boom"),
            ),
        ),
        message_pb2.RunEvent(
            sequence=3, step_log=message_pb2.StepLog(step_id="loop", iteration=1, level="info", message="hi")
        ),
        message_pb2.RunEvent(
            sequence=4, step_progress=message_pb2.StepProgress(step_id="fetch", fraction=0.5, message="half")
        ),
        message_pb2.RunEvent(sequence=5, input_requested=task),
        message_pb2.RunEvent(sequence=6, outputs=message_pb2.RunOutputs()),
        message_pb2.RunEvent(
            sequence=7,
            run_state_changed=message_pb2.RunStateChanged(
                state=message_pb2.RUN_STATE_FAILED, error=message_pb2.ExecutionError(kind="STEP_ERROR", message="boom")
            ),
        ),
    ]
    lines = [progress.apply(event) for event in events]
    assert lines == [
        "run RUNNING",
        "loop[1] FAILED (attempt 3): boom",
        "loop[1] info: hi",
        None,
        "review waits for input (task t): ok?",
        None,
        "run FAILED: STEP_ERROR boom",
    ]
    screen = io.StringIO()
    Console(file=screen, width=120).print(progress)
    rendered = screen.getvalue()
    assert f"run {RUN_ID}: FAILED" in rendered
    assert "50% half" in rendered
    rows = {line.split()[0]: line.split() for line in rendered.splitlines()[2:] if line.strip()}
    assert rows["loop"][:4] == ["loop", "1", "FAILED", "3"]
    assert rows["review"][:3] == ["review", "0", "PENDING"]
