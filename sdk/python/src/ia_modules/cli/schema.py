"""`schema`: print the JSON Schema of canonical pipeline files, for editors and CI."""

from typing import Annotated

import typer

from ia_modules.cli.console import handles_errors


@handles_errors
def schema_command(
    check: Annotated[
        typer.FileText | None,
        typer.Option(
            "--check",
            metavar="FILE",
            help="Compare FILE with the schema instead of printing; exit 1 when it differs.",
        ),
    ] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a pipeline file, generated from the protos.

    It describes the canonical form (`ia-modules format --upgrade` writes it);
    files in older dialects load but do not match it.

    \b
    Examples:
      ia-modules schema > schemas/pipeline.schema.json
      ia-modules schema --check schemas/pipeline.schema.json
    """
    from ia_modules.cli.console import CLIError
    from ia_modules.pipeline_schema import pipeline_schema_json

    text = pipeline_schema_json()
    if check is None:
        typer.echo(text, nl=False)
        return
    if check.read() != text:
        raise CLIError(f"{check.name} is stale; regenerate it with `ia-modules schema > {check.name}`")
