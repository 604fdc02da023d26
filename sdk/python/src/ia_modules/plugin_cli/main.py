"""The `ia-plugin` entry point: global options and the command table.

Exit codes: 0 success; 1 a refused request, an invalid plugin or failing tests;
2 a command line that does not parse.
"""

from typing import Annotated

import typer

from ia_modules.cli.console import settings
from ia_modules.plugin_cli import catalog, workshop

app = typer.Typer(
    name="ia-plugin",
    no_args_is_help=True,
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
            help="Where the plugin host answers (the stack's front door, or the host's own port) "
            "[default: localhost:8080].",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Deadline of each call [default: 30].")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    """Manage IA Modules plugins, and write your own.

    \b
    Examples:
      ia-plugin list
      ia-plugin info business_hours
      ia-plugin init my_check --type condition
      ia-plugin validate ./my_check && ia-plugin test ./my_check
      ia-plugin install ./my_check
    """
    settings.endpoint = endpoint
    settings.timeout_s = timeout
    settings.debug = debug


app.command("list")(catalog.list_command)
app.command("info")(catalog.info_command)
app.command("install")(catalog.install_command)
app.command("uninstall")(catalog.uninstall_command)
app.command("init")(workshop.init_command)
app.command("validate")(workshop.validate_command)
app.command("test")(workshop.test_command)
app.command("publish")(workshop.publish_command)
