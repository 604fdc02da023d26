"""The `ia-benchmark` entry point: global options and the command table.

Exit codes: 0 success; 1 a regression (regression, ci), a failed run or bad
input; 2 a command line that does not parse. The library is imported only by
the command that needs it, so `--help` stays fast.
"""

from typing import Annotated

import typer

from ia_modules.benchmark_cli import commands
from ia_modules.cli.console import settings

app = typer.Typer(
    name="ia-benchmark",
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
            help="Where the stack answers [default: localhost:8080].",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    """Benchmark pipelines: run them N times, compare with a baseline, report, gate CI.

    \b
    Examples:
      ia-benchmark run pipeline.json --iterations 50 --warmup 5 --local --save-baseline main
      ia-benchmark compare before.json after.json
      ia-benchmark regression --baseline main --threshold 10%
      ia-benchmark report --format html --output report.html
      ia-benchmark ci pipeline.json --baseline main --threshold 10% --local
    """
    settings.endpoint = endpoint
    settings.debug = debug


app.command("run")(commands.run_command)
app.command("compare")(commands.compare_command)
app.command("regression")(commands.regression_command)
app.command("report")(commands.report_command)
app.command("ci")(commands.ci_command)
