"""`visualize`: draw a pipeline (and the path a run took) as DOT, Mermaid, SVG or PNG."""

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from ia_modules.cli.console import CLIError, ExitCode, connect, emit_json, handles_errors, note
from ia_modules.cli.targets import load


class DiagramFormat(str, enum.Enum):
    """What `visualize` writes."""

    dot = "dot"
    mermaid = "mermaid"
    svg = "svg"
    png = "png"
    json = "json"


_SUFFIXES = {
    ".dot": DiagramFormat.dot,
    ".gv": DiagramFormat.dot,
    ".mmd": DiagramFormat.mermaid,
    ".mermaid": DiagramFormat.mermaid,
    ".svg": DiagramFormat.svg,
    ".png": DiagramFormat.png,
    ".json": DiagramFormat.json,
}


def _format_for(output: Path | None, chosen: DiagramFormat | None) -> DiagramFormat:
    if chosen is not None:
        return chosen
    if output is None:
        return DiagramFormat.dot
    found = _SUFFIXES.get(output.suffix.lower())
    if found is None:
        known = ", ".join(sorted(_SUFFIXES))
        extension = output.suffix or "no extension"
        raise CLIError(
            f"{output}: cannot tell the format from {extension!r}; use one of {known} or --format", ExitCode.USAGE
        )
    return found


@handles_errors
def visualize_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="FILE|NAME[@REVISION]", help="A definition file, or a registered pipeline.", show_default=False
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write here; the extension picks the format (.png .svg .dot .mmd .json). Default: DOT on stdout.",
            show_default=False,
        ),
    ] = None,
    diagram_format: Annotated[
        DiagramFormat | None,
        typer.Option(
            "--format", "-f", help="dot, mermaid, svg, png or json (the diagram as data).", show_default=False
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="RUN",
            help="Colour each step by its state in this run and show the path taken.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Draw a pipeline: steps by kind, transitions labelled with their conditions.

    With --run, each step is filled with the colour of its state in that run
    (fetched from the stack) and the transitions the run took are drawn bold.
    PNG and SVG need Graphviz's `dot` program; DOT, Mermaid and JSON do not.

    \b
    Examples:
      ia-modules visualize pipeline.json --output diagram.png
      ia-modules visualize pipeline.json --format mermaid >> README.md
      ia-modules visualize etl@3 --run 01J2Z3ABCD --output run.svg
    """
    from ia_modules import diagram as diagrams

    chosen = _format_for(output, diagram_format)
    if chosen is DiagramFormat.png and output is None and sys.stdout.isatty():
        raise CLIError("a PNG is binary: write it to a file with --output diagram.png", ExitCode.USAGE)
    definition = load(target)
    states = None
    if run_id is not None:
        with connect() as client:
            run = client.get_run(run_id)
        if run.pipeline_name and run.pipeline_name != definition.pipeline.name:
            note(f"note: run {run_id} is of pipeline {run.pipeline_name!r}, not {definition.pipeline.name!r}")
        states = diagrams.run_step_states(run.steps)
    picture = diagrams.diagram(definition.pipeline, step_states=states)
    if chosen is DiagramFormat.json:
        if output is None:
            emit_json(picture.to_dict())
            return
        import json

        content: bytes = (json.dumps(picture.to_dict(), indent=2, ensure_ascii=False) + "\n").encode()
    elif chosen is DiagramFormat.mermaid:
        content = diagrams.to_mermaid(picture).encode()
    else:
        dot = diagrams.to_dot(picture)
        try:
            content = dot.encode() if chosen is DiagramFormat.dot else diagrams.render(dot, chosen.value)
        except diagrams.DiagramError as error:
            raise CLIError(str(error)) from None
    if output is None:
        if chosen in (DiagramFormat.svg, DiagramFormat.png):
            sys.stdout.flush()
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(content.decode())
        return
    if output.is_dir():
        raise CLIError(f"{output}: is a directory; name the file to write, e.g. {output / 'diagram.svg'}")
    output.write_bytes(content)
    note(f"wrote {output} ({chosen.value}, {len(content)} bytes)")
