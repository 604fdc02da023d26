"""`dev`: hot reload. Pipeline files are validated and pushed, plugin folders restarted, as they change."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ia_modules.cli.console import CLIError, ExitCode, connect, handles_errors, settings, stdout

if TYPE_CHECKING:
    from ia_modules.dev_loop import DevEvent


@handles_errors
def dev_command(
    directory: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="The folder of pipeline files and plugin folders.", show_default=False),
    ] = Path("."),
    once: Annotated[
        bool,
        typer.Option("--once", help="Sync everything once and exit (1 if anything was not pushed or started)."),
    ] = False,
) -> None:
    """Watch DIR and keep the stack in step: push pipelines, restart plugins, print findings.

    Any *.json with `steps` is a pipeline: on save it is validated and pushed as a
    new revision. A file with errors is not pushed (the registry keeps the last good
    revision) and its findings are printed. A folder with a plugin.yaml is a plugin:
    on save its process is restarted on the new code. Runs already started finish
    on the revision they started with. Everything is synced once at start.

    \b
    Examples:
      ia-modules dev .
      ia-modules dev pipelines/ --once
    """
    from ia_modules.client import resolve_endpoint
    from ia_modules.dev_loop import DevLoop, Outcome

    if not directory.is_dir():
        raise CLIError(f"{directory} is not a folder")
    console = stdout()
    outcomes = []

    def report(event: "DevEvent") -> None:
        outcomes.append(event.outcome)
        _print(console, event)

    with connect() as client:
        loop = DevLoop(directory, client, resolve_endpoint(settings.endpoint), report)
        loop.sync_all()
        if once:
            if Outcome.KEPT in outcomes or Outcome.FAILED in outcomes:
                raise typer.Exit(ExitCode.FAILED)
            return
        loop.watch(ready=lambda: console.print(f"watching {directory} (Ctrl-C to stop)", markup=False))


def _print(console, event: "DevEvent") -> None:
    from ia_modules.cli.definitions import finding_line
    from ia_modules.dev_loop import Outcome

    where = str(event.path)
    if event.outcome is Outcome.PUSHED:
        console.print(f"pushed {event.name} revision {event.revision} ({where})", markup=False)
    elif event.outcome is Outcome.UNCHANGED:
        console.print(f"unchanged {event.name} revision {event.revision} ({where})", markup=False)
    elif event.outcome is Outcome.RESTARTED:
        console.print(f"restarted plugin {event.name} ({where})", markup=False)
    elif event.outcome is Outcome.KEPT:
        kept = f"kept {event.name} revision {event.revision}" if event.revision else "nothing pushed"
        reason = f": {event.message}" if event.message else ""
        console.print(f"not pushed {where}{reason}; {kept}", markup=False)
    else:
        console.print(f"failed {event.name or where}: {event.message}", markup=False)
    for finding in event.findings:
        console.print(finding_line(where, finding))
