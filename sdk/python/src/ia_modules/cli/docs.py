"""`docs`: a pipeline's documentation in Markdown."""

from pathlib import Path
from typing import Annotated

import typer

from ia_modules.cli.console import CLIError, handles_errors, note
from ia_modules.cli.targets import load


@handles_errors
def docs_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="FILE|NAME[@REVISION]", help="A definition file, or a registered pipeline.", show_default=False
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout.", show_default=False),
    ] = None,
) -> None:
    """Write Markdown documentation for a pipeline.

    Description and labels, a Mermaid diagram of the flow, and tables of the
    parameters, steps, transitions and outputs, with the error policy of each step.

    \b
    Examples:
      ia-modules docs pipeline.json --output README.md
      ia-modules docs etl@3 > docs/etl.md
    """
    from ia_modules.pipeline_docs import markdown

    text = markdown(load(target).pipeline)
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.is_dir():
        raise CLIError(f"{output}: is a directory; name the file to write, e.g. {output / 'README.md'}")
    output.write_text(text, encoding="utf-8")
    note(f"wrote {output}")
