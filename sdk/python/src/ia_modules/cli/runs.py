"""Running pipelines: `run`, `runs list|get`, `watch`, `resume`, `cancel`, `dry-run`.

`run`, `watch` and `resume` return when the run ends or pauses for input, and
their exit code says which: 0 SUCCEEDED, 3 WAITING_FOR_INPUT, 1 anything else.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ia_modules.cli import documents
from ia_modules.cli.console import (
    CLIError,
    ExitCode,
    FormatOption,
    Listing,
    OutputFormat,
    connect,
    emit_json,
    handles_errors,
    line,
    stdout,
    styled,
)
from ia_modules.cli.definitions import load_parsed
from ia_modules.cli.run_view import follow
from ia_modules.cli.sources import json_argument, pipeline_reference, read_json_object, read_text, run_inputs

if TYPE_CHECKING:
    from ia.executor.v1 import message_pb2
    from ia.executor.v1 import request_response_pb2
    from ia.pipeline.v1 import pipeline_pb2
    from ia_modules.client import Client

runs_app = typer.Typer(
    name="runs",
    help=(
        "List and inspect runs.\n\n\b\nExamples:\n"
        "  ia-modules runs list --state waiting_for_input\n  ia-modules runs get RUN"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

TargetArgument = Annotated[
    str,
    typer.Argument(
        metavar="FILE|NAME[@REVISION]",
        help="A definition file to run inline, or a registered pipeline.",
        show_default=False,
    ),
]
InputOption = Annotated[
    Path | None,
    typer.Option("--input", "-i", metavar="FILE", help="A JSON file with the run inputs.", show_default=False),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="An input, over --input; VALUE is JSON or else text; repeatable.",
        show_default=False,
    ),
]
WatchOption = Annotated[bool, typer.Option("--watch/--no-watch", help="Show each step's state while waiting.")]


def exit_code(state: int) -> ExitCode:
    """0 for SUCCEEDED, 3 for WAITING_FOR_INPUT, 1 for anything else."""
    from ia.executor.v1 import message_pb2

    if state == message_pb2.RUN_STATE_SUCCEEDED:
        return ExitCode.OK
    if state == message_pb2.RUN_STATE_WAITING_FOR_INPUT:
        return ExitCode.WAITING_FOR_INPUT
    return ExitCode.FAILED


def pipeline_target(target: str) -> "tuple[str | pipeline_pb2.Pipeline, int]":
    """A file to run inline (normalized locally), or a registered name and revision."""
    path = Path(target)
    if path.exists() or target.endswith(".json"):
        return load_parsed(path, read_text(path)).pipeline, 0
    return pipeline_reference(target)


def _open_tasks(client: "Client", run: "message_pb2.Run") -> "list[message_pb2.HumanTask]":
    from ia.executor.v1 import message_pb2

    if run.state != message_pb2.RUN_STATE_WAITING_FOR_INPUT:
        return []
    return list(client.list_human_tasks(run_id=run.run_id))


def _print_json_block(console: Any, title: str, value: Any) -> None:
    console.print(f"{title}:", style="bold", markup=False)
    console.print(json.dumps(value, indent=2, ensure_ascii=False), markup=False)


def _print_run(run: "message_pb2.Run", tasks: "list[message_pb2.HumanTask]") -> None:
    console = stdout()
    pipeline = run.pipeline_name + (f" revision {run.revision}" if run.revision else "")
    console.print(line(f"run {run.run_id} ({pipeline}): ", styled(documents.run_state(run.state))))
    if run.steps:
        rows = Listing("STEP", "ITERATION", "STATE", "ATTEMPTS", "ERROR")
        for step in run.steps:
            error = f"{step.error.kind}: {step.error.message}" if step.error.kind else ""
            rows.add(
                step.step_id, str(step.iteration), styled(documents.step_state(step.state)), str(step.attempts), error
            )
        console.print(rows)
    document = documents.run(run)
    if document["outputs"]:
        _print_json_block(console, "outputs", document["outputs"])
    if document["error"]:
        error = document["error"]
        where = f" in step {error['step_id']}" if error["step_id"] else ""
        console.print(f"error{where}: {error['kind']}: {error['message']}", style="red", markup=False)
    for task in tasks:
        console.print(f"waiting for input in step {task.step_id} (task {task.task_id}): {task.prompt}", markup=False)
        fields = documents.human_task(task)["ui_schema"].get("properties", {})
        if fields:
            described = (f"{name} ({spec.get('type', 'any')})" for name, spec in fields.items())
            console.print("  fields: " + ", ".join(described), markup=False)
        console.print(f"  answer with: ia-modules resume {run.run_id} --data '{{...}}'", markup=False)


def report(client: "Client", run: "message_pb2.Run", output: OutputFormat) -> None:
    """Prints a run (with its open tasks when it waits) in the chosen format."""
    tasks = _open_tasks(client, run)
    if output is OutputFormat.json:
        emit_json(documents.run(run, tasks))
    else:
        _print_run(run, tasks)


def _finish(client: "Client", run_id: str, watch: bool, output: OutputFormat) -> None:
    """Waits for the run, reports it, and exits with the code its state implies."""
    finished = follow(client, run_id, show=watch)
    report(client, finished, output)
    raise typer.Exit(exit_code(finished.state))


@handles_errors
def run_command(
    target: TargetArgument,
    input_file: InputOption = None,
    assignments: SetOption = None,
    watch: WatchOption = True,
    request_id: Annotated[
        str, typer.Option("--request-id", metavar="ID", help="Starting again with the same id returns the same run.")
    ] = "",
    output: FormatOption = OutputFormat.text,
) -> None:
    """Run a pipeline and wait until it ends or pauses for input.

    Exits 0 when the run SUCCEEDED, 3 when it is WAITING_FOR_INPUT (answer with
    `ia-modules resume`), and 1 otherwise.

    \b
    Examples:
      ia-modules run pipelines/etl.json --input data.json
      ia-modules run etl@2 --set topic=ai --set limit=10 --format json
    """
    inputs = run_inputs(input_file, assignments or [])
    pipeline, revision = pipeline_target(target)
    with connect() as client:
        started = client.start_run(pipeline, revision=revision, inputs=inputs, request_id=request_id)
        _finish(client, started.run_id, watch, output)


@handles_errors
def watch_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run id.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Follow a run until it ends or pauses for input; exit codes as for `run`.

    \b
    Example:
      ia-modules watch 01J2Z3ABCD
    """
    with connect() as client:
        _finish(client, run_id, True, output)


@handles_errors
def resume_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run waiting for input.")],
    data: Annotated[
        str,
        typer.Option(
            "--data", "-d", metavar="JSON", help="The answer: a JSON object, or @file.json.", show_default=False
        ),
    ],
    task_id: Annotated[
        str, typer.Option("--task", metavar="TASK", help="The task to answer, when the run has several open.")
    ] = "",
    submitter: Annotated[
        str, typer.Option("--submitter", metavar="WHO", help="Who answers, for the run's record.")
    ] = "",
    watch: WatchOption = True,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Answer the open human-input task of a run, then wait like `run`.

    \b
    Examples:
      ia-modules resume 01J2Z3ABCD --data '{"approved": true}'
      ia-modules resume 01J2Z3ABCD --data @answer.json --task 01J2Z4TASK
    """
    answer = json_argument(data)
    with connect() as client:
        tasks = list(client.list_human_tasks(run_id=run_id))
        if task_id:
            tasks = [t for t in tasks if t.task_id == task_id]
            if not tasks:
                raise CLIError(f"run {run_id} has no open task {task_id!r}")
        elif not tasks:
            state = documents.run_state(client.get_run(run_id).state)
            raise CLIError(f"run {run_id} has no open task to answer (it is {state})")
        elif len(tasks) > 1:
            listing = ", ".join(f"{t.task_id} ({t.step_id})" for t in tasks)
            raise CLIError(f"run {run_id} has {len(tasks)} open tasks: {listing}; choose one with --task")
        client.submit_human_input(tasks[0].task_id, answer, submitter=submitter)
        _finish(client, run_id, watch, output)


@handles_errors
def cancel_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run to cancel.")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Recorded with the cancellation.")] = "",
    output: FormatOption = OutputFormat.text,
) -> None:
    """Cancel a run and whatever it has in flight.

    \b
    Example:
      ia-modules cancel 01J2Z3ABCD --reason "wrong inputs"
    """
    with connect() as client:
        run = client.cancel_run(run_id, reason=reason)
    if output is OutputFormat.json:
        emit_json(documents.run(run))
    else:
        stdout().print(line(f"run {run.run_id}: ", styled(documents.run_state(run.state))))


def _dry_run_document(response: "request_response_pb2.DryRunResponse") -> dict[str, Any]:
    from ia_modules.client import to_dict

    return {
        "state": documents.run_state(response.state),
        "steps": [
            {
                "id": step.step_id,
                "iteration": step.iteration,
                "state": documents.step_state(step.state),
                "input": to_dict(step.input),
                "output": to_dict(step.output),
            }
            for step in response.steps
        ],
        # `from` is a Python keyword, so protobuf only offers it through getattr.
        "not_taken": [{"from": getattr(t, "from"), "to": t.to, "reason": t.reason} for t in response.not_taken],
        "outputs": to_dict(response.outputs),
        "error": documents.execution_error(response.error),
    }


def _print_dry_run(document: dict[str, Any], show_data: bool) -> None:
    console = stdout()
    console.print(line("dry run: ", styled(document["state"])))
    console.print("path taken:", style="bold")
    for number, step in enumerate(document["steps"], start=1):
        iteration = f" (iteration {step['iteration']})" if step["iteration"] else ""
        console.print(line(f"  {number}. {step['id']}{iteration} ", styled(step["state"])))
        if show_data:
            console.print(f"       input:  {json.dumps(step['input'], ensure_ascii=False)}", markup=False)
            console.print(f"       output: {json.dumps(step['output'], ensure_ascii=False)}", markup=False)
    if document["not_taken"]:
        console.print("not taken:", style="bold")
        for edge in document["not_taken"]:
            console.print(f"  {edge['from']} -> {edge['to']}: {edge['reason']}", markup=False)
    if document["outputs"]:
        _print_json_block(console, "outputs", document["outputs"])
    if document["error"]:
        error = document["error"]
        console.print(f"error: {error['kind']}: {error['message']}", style="red", markup=False)


@handles_errors
def dry_run_command(
    target: TargetArgument,
    input_file: InputOption = None,
    assignments: SetOption = None,
    mock: Annotated[
        Path | None,
        typer.Option(
            "--mock", "-m", metavar="FILE", help="A JSON object of canned outputs by step id.", show_default=False
        ),
    ] = None,
    show_data: Annotated[bool, typer.Option("--show-data", help="Show each step's input and output.")] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Use the engine in this process even when a stack is up.")
    ] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Walk a pipeline's graph with mock step outputs, running nothing.

    Shows the path taken and why each transition not taken was skipped. A step
    without a mock echoes its input. Asks the stack's executor; without a
    reachable stack (or with --local) a definition file is walked by the same
    engine in this process, which also shows the values behind each false condition.

    \b
    Example:
      ia-modules dry-run pipeline.json --input data.json --mock mocks.json --show-data
    """
    from ia_modules.cli.local_dry_run import run_locally
    from ia_modules.errors import IAError

    inputs = run_inputs(input_file, assignments or [])
    mocks = read_json_object(mock) if mock is not None else None
    pipeline, revision = pipeline_target(target)
    if local:
        run_locally(target, pipeline, inputs, mocks, show_data=show_data, output=output)
    with connect() as client:
        try:
            response = client.dry_run(pipeline, revision=revision, inputs=inputs, mocks=mocks)
        except IAError as error:
            if error.unreachable:
                why = f"no stack answers at {error.endpoint}"
                run_locally(target, pipeline, inputs, mocks, show_data=show_data, output=output, unreachable=why)
            raise
    document = _dry_run_document(response)
    if output is OutputFormat.json:
        emit_json(document)
    else:
        _print_dry_run(document, show_data)
    raise typer.Exit(exit_code(response.state))


def _run_states(names: list[str]) -> list[int]:
    from ia.executor.v1 import message_pb2

    known = {
        documents.run_state(value): value
        for value in message_pb2.RunState.values()
        if value != message_pb2.RUN_STATE_UNSPECIFIED
    }
    states = []
    for name in names:
        key = name.upper().replace("-", "_")
        if key not in known:
            raise CLIError(f"--state {name!r}: expected one of {', '.join(known)}", ExitCode.USAGE)
        states.append(known[key])
    return states


@runs_app.command("list")
@handles_errors
def list_runs(
    pipeline: Annotated[str, typer.Option("--pipeline", "-p", metavar="NAME", help="Only runs of this pipeline.")] = "",
    state: Annotated[
        list[str] | None, typer.Option("--state", metavar="STATE", help="Only runs in this state; repeat for several.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, metavar="N", help="At most this many, newest first.")] = 20,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List runs, newest first.

    \b
    Example:
      ia-modules runs list --pipeline etl --state failed --state timed_out
    """
    from itertools import islice

    states = _run_states(state or [])
    with connect() as client:
        found = list(islice(client.list_runs(pipeline=pipeline, states=states, page_size=min(limit, 1000)), limit))
    if output is OutputFormat.json:
        emit_json({"runs": [documents.run(r) for r in found]})
        return
    if not found:
        stdout().print("no runs")
        return
    rows = Listing("RUN", "PIPELINE", "REVISION", "STATE", "CREATED", "ENDED")
    for r in found:
        rows.add(
            r.run_id,
            r.pipeline_name,
            str(r.revision or ""),
            styled(documents.run_state(r.state)),
            documents.local_time(r.create_time),
            documents.local_time(r.end_time),
        )
    stdout().print(rows)


@runs_app.command("get")
@handles_errors
def get_run(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run id.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Show a run: state, each step, outputs, error, and any open task.

    \b
    Example:
      ia-modules runs get 01J2Z3ABCD --format json
    """
    with connect() as client:
        report(client, client.get_run(run_id), output)
