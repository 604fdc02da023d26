"""`up`, `down` and `status`: the local stack, through `ia_modules.stack`."""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ia_modules.cli.console import (
    CLIError,
    ExitCode,
    FormatOption,
    Listing,
    OutputFormat,
    emit_json,
    handles_errors,
    line,
    stdout,
)

if TYPE_CHECKING:
    from ia_modules.stack import StackStatus

DEFAULT_DATA_DIR = Path(".ia")
DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="IA_DATA_DIR",
        metavar="DIR",
        help="Where the stack keeps its databases and logs.",
    ),
]


def _document(status: "StackStatus") -> dict[str, Any]:
    return {
        "endpoint": status.endpoint,
        "data_dir": str(status.data_dir),
        "logs": str(status.data_dir / "logs"),
        "healthy": status.healthy,
        "started": list(status.started),
        "services": {
            name: {
                "pid": process.pid,
                "port": process.port,
                "running": process.running,
                "healthy": process.healthy,
                "log": str(process.log_path),
            }
            for name, process in status.services.items()
        },
    }


def _down_command(data_dir: Path) -> str:
    """How to stop this stack: `down` finds it by the same data folder."""
    if data_dir == DEFAULT_DATA_DIR or str(data_dir) == os.environ.get("IA_DATA_DIR"):
        return "ia-modules down"
    return f"ia-modules down --data-dir {data_dir}"


def _print_status(status: "StackStatus", headline: str, data_dir: Path) -> None:
    console = stdout()
    console.print(headline, style="bold", markup=False)
    rows = Listing("SERVICE", "PID", "PORT", "STATE", "LOG")
    for name, process in status.services.items():
        if process.healthy:
            state = ("healthy", "green")
        elif process.running:
            state = ("not answering", "yellow")
        else:
            state = ("stopped", "red")
        rows.add(name, str(process.pid), str(process.port), line(state), str(process.log_path))
    console.print(rows)
    console.print(f"logs: {status.data_dir / 'logs'}", markup=False)
    console.print(f"stop it with: {_down_command(data_dir)}", markup=False)


@handles_errors
def up_command(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="Seconds to wait for every part to be healthy.")
    ] = 60,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Start the local stack (registry, executor, Envoy) in the background.

    Prints the endpoint clients use, each process with its port and log, and
    how to stop it. Does nothing if the stack is already up.

    \b
    Example:
      ia-modules up --data-dir .ia --timeout 120
    """
    from ia_modules import stack

    try:
        status = stack.up(data_dir, timeout_s=timeout)
    except stack.StackError as error:
        raise CLIError(str(error)) from error
    if output is OutputFormat.json:
        emit_json(_document(status))
        return
    verb = "started" if status.started else "already up"
    headline = f"IA Modules {verb} at {status.endpoint} (set IA_ENDPOINT={status.endpoint} elsewhere)"
    _print_status(status, headline, data_dir)


@handles_errors
def down_command(data_dir: DataDirOption = DEFAULT_DATA_DIR, output: FormatOption = OutputFormat.text) -> None:
    """Stop the local stack: SIGTERM, then SIGKILL after a grace period.

    \b
    Example:
      ia-modules down
    """
    from ia_modules import stack

    stopped = stack.down(data_dir)
    if output is OutputFormat.json:
        emit_json({"stopped": stopped})
    elif stopped:
        stdout().print(f"stopped {', '.join(stopped)}", markup=False)
    else:
        stdout().print("nothing was running", markup=False)


@handles_errors
def status_command(data_dir: DataDirOption = DEFAULT_DATA_DIR, output: FormatOption = OutputFormat.text) -> None:
    """Show whether each part of the local stack runs and answers; exit 1 if not all do.

    \b
    Example:
      ia-modules status --format json
    """
    from ia_modules import stack

    status = stack.status(data_dir)
    if output is OutputFormat.json:
        emit_json(_document(status))
    elif not status.services:
        stdout().print("the stack is not running; start it with: ia-modules up", markup=False)
    else:
        health = "healthy" if status.healthy else "NOT healthy"
        _print_status(status, f"IA Modules at {status.endpoint}: {health}", data_dir)
    if not status.healthy:
        raise typer.Exit(ExitCode.FAILED)
