"""`diff`: what changed between two pipelines, step by step and field by field."""

from typing import Annotated

import typer

from ia_modules.cli.console import ExitCode, FormatOption, OutputFormat, emit_json, handles_errors
from ia_modules.cli.targets import load

_SideArgument = Annotated[
    str,
    typer.Argument(
        metavar="FILE|NAME[@REVISION]", help="A definition file, or a registered pipeline.", show_default=False
    ),
]


@handles_errors
def diff_command(before: _SideArgument, after: _SideArgument, output: FormatOption = OutputFormat.text) -> None:
    """Compare two pipelines by meaning: steps, transitions, conditions, parameters.

    Steps are matched by id and transitions by their ends, so reordering or
    reformatting is no change, and a legacy file equals its upgraded form.
    Exits 0 when both define the same pipeline, 1 when they differ.

    \b
    Examples:
      ia-modules diff pipeline-v1.json pipeline-v2.json
      ia-modules diff etl@2 etl@3 --format json
      ia-modules diff etl pipelines/etl.json   # the registered latest vs. the file
    """
    from ia_modules.pipeline_diff import diff, to_document, to_text

    old, new = load(before), load(after)
    changes = diff(old.pipeline, new.pipeline)
    if output is OutputFormat.json:
        emit_json(to_document(changes, old.label, new.label))
    else:
        typer.echo(to_text(changes, old.label, new.label), nl=False)
    if changes:
        raise typer.Exit(ExitCode.FAILED)
