"""`init`: a new pipeline project from a template, ready to validate, dry-run and run."""

import enum
from pathlib import Path
from typing import Annotated

import typer

from ia_modules.cli.console import CLIError, ExitCode, FormatOption, OutputFormat, emit_json, handles_errors, stdout

class Template(str, enum.Enum):
    """The starters of ia_modules.starters.TEMPLATES, listed here so `--help` and completion need no import."""

    simple = "simple"
    conditional = "conditional"
    parallel = "parallel"
    loop = "loop"
    hitl = "hitl"
    plugin = "plugin"


@handles_errors
def init_command(
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="The pipeline's name, also the folder made for it.", show_default=False),
    ],
    template: Annotated[
        Template,
        typer.Option(
            "--template",
            "-t",
            help="simple, conditional (if/else), parallel, loop, hitl (a person decides), or plugin "
            "(with a step plugin of your own).",
        ),
    ] = Template.simple,
    directory: Annotated[
        Path | None,
        typer.Option("--directory", "-d", metavar="DIR", help="Where to write [default: ./NAME].", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Start a pipeline from a template: pipeline.json, sample inputs, and any code it needs.

    Every template validates and dry-runs as written; all but `plugin` also run
    on a stack as they are (`plugin` needs the plugin host to serve its plugin).

    \b
    Examples:
      ia-modules init orders --template conditional
      ia-modules init approvals --template hitl --directory pipelines/approvals
    """
    from ia_modules.starters import StarterError, schema_reference, starter_files, write_starter

    folder = directory if directory is not None else Path(name)
    try:
        files = starter_files(name, template.value, schema=schema_reference(folder))
        written = write_starter(folder, files, force=force)
    except StarterError as error:
        raise CLIError(str(error), ExitCode.FAILED) from None
    if output is OutputFormat.json:
        files_written = [str(path) for path in written]
        emit_json({"name": name, "template": template.value, "directory": str(folder), "files": files_written})
        return
    console = stdout()
    console.print(f"created {name} ({template.value}) in {folder}/", markup=False)
    for path in written:
        console.print(f"  {path}", markup=False)
    console.print(f"next: ia-modules validate {folder / 'pipeline.json'}   (see {folder / 'README.md'})", markup=False)
