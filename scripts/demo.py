"""`make demo`: start the local stack, register the examples and run them.

1. Starts the stack in the background (`ia_modules.stack.up`, data in IA_DATA_DIR or ./.ia).
2. Imports examples/pipelines/*.json into the registry (unchanged files stay as they are).
3. Runs `hello` to its result, then `approval`: shows it waiting for a person,
   approves it, and shows it finish on the approved branch.
The stack keeps running afterwards; `make down` stops it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ia.executor.v1 import message_pb2 as executor_messages
from ia.registry.v1 import message_pb2 as registry_messages
from ia_modules import stack
from ia_modules.cli import documents
from ia_modules.cli.run_view import styled
from ia_modules.client import Client, to_dict
from ia_modules.errors import IAError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "pipelines"
APPROVAL = {"approved": True, "comment": "Enjoy the lunch."}

console = Console(highlight=False)


def start_stack(data_dir: Path) -> stack.StackStatus:
    with console.status("Starting the stack (registry, executor, Envoy)…"):
        status = stack.up(data_dir)
    verb = "started" if status.started else "already running"
    ports = ", ".join(f"{name} :{p.port}" for name, p in status.services.items())
    console.print(f"[bold]Stack {verb}[/] at [cyan]{status.endpoint}[/]  ({ports})")
    return status


def import_examples(client: Client) -> None:
    sources = {str(path.relative_to(ROOT)): path.read_text() for path in sorted(EXAMPLES.glob("*.json"))}
    results = client.import_pipelines(sources)
    invalid = False
    for result in results:
        outcome = registry_messages.ImportOutcome.Name(result.outcome).removeprefix("IMPORT_OUTCOME_").lower()
        console.print(f"  {result.source_name}: [bold]{result.name}[/] revision {result.revision} ({outcome})")
        for finding in result.findings:
            console.print(f"    [red]{finding.path}[/]: {finding.message}")
        invalid |= result.outcome == registry_messages.IMPORT_OUTCOME_INVALID
    if invalid:
        raise SystemExit("an example pipeline is invalid; see above")


def steps_table(run: executor_messages.Run) -> Table:
    table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
    for column in ("step", "state", "attempts"):
        table.add_column(column)
    for step in documents.run(run)["steps"]:
        table.add_row(step["id"], styled(step["state"]), str(step["attempts"]))
    return table


def show_run(title: str, run: executor_messages.Run) -> None:
    state = documents.run_state(run.state)
    console.print(f"\n[bold]{title}[/]  run {run.run_id}: {styled(state)}")
    console.print(steps_table(run))
    outputs = to_dict(run.outputs)
    if outputs:
        console.print(Panel(json.dumps(outputs, indent=2), title="outputs", expand=False))
    if run.error.kind:
        console.print(f"[red]{run.error.kind}[/]: {run.error.message}")


def run_hello(client: Client) -> None:
    run = client.start_run("hello", inputs={"who": "IA Modules"})
    show_run("hello", client.wait_run(run.run_id))


def run_approval(client: Client) -> None:
    run = client.start_run("approval", inputs={"title": "Team lunch", "amount": 120})
    run = client.wait_run(run.run_id)
    show_run("approval", run)
    if run.state != executor_messages.RUN_STATE_WAITING_FOR_INPUT:
        raise SystemExit("approval should be waiting for input")
    task = next(iter(client.list_human_tasks(run_id=run.run_id)))
    fields = ", ".join(to_dict(task.ui_schema).get("properties", {}))
    console.print(f"  task {task.task_id} asks [italic]{task.prompt}[/] (fields: {fields}) about {json.dumps(to_dict(task.data))}")
    console.print(f"  answering {json.dumps(APPROVAL)}")
    client.submit_human_input(task.task_id, APPROVAL, submitter="demo")
    show_run("approval, answered", client.wait_run(run.run_id))


def main() -> int:
    data_dir = Path(os.environ.get("IA_DATA_DIR", ".ia"))
    try:
        status = start_stack(data_dir)
        with Client(status.endpoint) as client:
            console.print("\n[bold]Registering the examples[/]")
            import_examples(client)
            run_hello(client)
            run_approval(client)
    except stack.StackError as error:
        console.print(f"[red]The stack did not start:[/] {error}")
        return 1
    except IAError as error:
        console.print(f"[red]{error.code.name}[/]: {error.message}")
        return 1
    console.print(
        f"\nThe stack keeps running at {status.endpoint}. Try:\n"
        f"  curl {status.endpoint}/v1/pipelines/hello\n"
        f"  grpcurl -plaintext {status.endpoint} list\n"
        "Stop it with [bold]make down[/]."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
