"""The `ia-modules` entry point: global options and the command table.

Exit codes: 0 success; 1 invalid input, findings with errors, or a run that did
not succeed; 2 a command line that does not parse; 3 a run waiting for input;
4 `validate --strict` found only warnings (made errors by --strict). `diff` exits
1 when the two pipelines differ.
"""

from typing import Annotated

import typer

from ia_modules.cli import (
    auth,
    certs,
    coercion,
    debugger,
    definitions,
    dev,
    diff,
    docs,
    init,
    pipelines,
    runs,
    schema,
    stack,
    trace,
    visualize,
)
from ia_modules.cli.console import settings

coercion.install()

app = typer.Typer(
    name="ia-modules",
    no_args_is_help=True,
    # Plain help: Rich would add its import time to every `--help`.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            envvar="IA_ENDPOINT",
            metavar="HOST:PORT",
            help="Where the stack listens [default: localhost:8080].",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Deadline of each call [default: 30].")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="IA_TOKEN",
            metavar="TOKEN",
            help="API key or JWT sent to the stack (IA_TOKEN); none in development mode.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Validate, store and run IA Modules pipelines.

    \b
    Examples:
      ia-modules validate pipeline.json
      ia-modules up
      ia-modules pipelines push pipeline.json
      ia-modules run my-pipeline --set topic=ai
    """
    settings.endpoint = endpoint
    settings.timeout_s = timeout
    settings.debug = debug
    settings.token = token


app.command("validate")(definitions.validate_command)
app.command("format")(definitions.format_command)
app.add_typer(pipelines.app)
app.add_typer(auth.app)
app.command("run")(runs.run_command)
app.add_typer(runs.runs_app)
app.command("watch")(runs.watch_command)
app.command("resume")(runs.resume_command)
app.command("cancel")(runs.cancel_command)
app.command("dry-run")(runs.dry_run_command)
app.command("debug")(debugger.debug_command)
app.command("up")(stack.up_command)
app.command("down")(stack.down_command)
app.command("status")(stack.status_command)
app.command("visualize")(visualize.visualize_command)
app.command("diff")(diff.diff_command)
app.command("docs")(docs.docs_command)
app.command("init")(init.init_command)
app.command("trace")(trace.trace_command)
app.add_typer(certs.app)
app.command("schema")(schema.schema_command)
app.command("dev")(dev.dev_command)
