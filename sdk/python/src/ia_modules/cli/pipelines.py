"""`ia-modules pipelines …`: definitions stored in the registry."""

from pathlib import Path
from typing import Annotated

import typer

from ia_modules.cli import documents
from ia_modules.cli.console import (
    CLIError,
    ExitCode,
    FormatOption,
    Listing,
    OutputFormat,
    connect,
    emit_json,
    handles_errors,
    stdout,
)
from ia_modules.cli.definitions import finding_line, load_parsed
from ia_modules.cli.sources import labels as parse_labels
from ia_modules.cli.sources import pipeline_reference, read_text

app = typer.Typer(
    name="pipelines",
    help=(
        "Push, list, show and delete pipelines in the registry.\n\n\b\nExamples:\n"
        "  ia-modules pipelines push pipeline.json\n  ia-modules pipelines list --prefix etl-"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("push")
@handles_errors
def push(
    file: Annotated[Path, typer.Argument(help="The definition file (any dialect).", show_default=False)],
    request_id: Annotated[
        str, typer.Option("--request-id", metavar="ID", help="Makes a retried create return the same version.")
    ] = "",
    output: FormatOption = OutputFormat.text,
) -> None:
    """Store a definition: create the pipeline, or add a revision if it exists.

    A definition identical to the latest revision stores nothing.

    \b
    Example:
      ia-modules pipelines push pipelines/etl.json
    """
    from ia_modules.definition import Finding

    pipeline = load_parsed(file, read_text(file)).pipeline
    with connect() as client:
        action, version, warnings = client.push_pipeline(pipeline, request_id=request_id)
    findings = [Finding.from_proto(w) for w in warnings]
    if output is OutputFormat.json:
        emit_json(
            {
                "action": action,
                "pipeline": documents.pipeline_version(version),
                "warnings": [documents.finding(f) for f in findings],
            }
        )
        return
    console = stdout()
    console.print(f"{action} {version.name} revision {version.revision}", markup=False)
    for finding in findings:
        console.print(finding_line(str(file), finding))


@app.command("list")
@handles_errors
def list_(
    prefix: Annotated[str, typer.Option("--prefix", metavar="TEXT", help="Only names starting with this.")] = "",
    label: Annotated[
        list[str] | None, typer.Option("--label", metavar="KEY=VALUE", help="KEY=VALUE; repeat to require several.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="At most this many.")] = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List pipelines (latest revision of each), by name.

    \b
    Example:
      ia-modules pipelines list --prefix etl- --label team=data
    """
    from itertools import islice

    wanted = parse_labels(label or [])
    with connect() as client:
        page_size = min(limit, 1000) if limit else 0
        versions = list(islice(client.list_pipelines(prefix=prefix, labels=wanted, page_size=page_size), limit))
    if output is OutputFormat.json:
        emit_json({"pipelines": [documents.pipeline_version(v) for v in versions]})
        return
    if not versions:
        stdout().print("no pipelines")
        return
    rows = Listing("NAME", "REVISION", "VERSION", "UPDATED", "LABELS", "DESCRIPTION")
    for v in versions:
        labels_text = ",".join(f"{k}={val}" for k, val in sorted(v.definition.labels.items()))
        rows.add(
            v.name,
            str(v.revision),
            v.definition.version,
            documents.local_time(v.create_time),
            labels_text,
            v.definition.description,
        )
    stdout().print(rows)


@app.command("get")
@handles_errors
def get(
    target: Annotated[str, typer.Argument(metavar="NAME[@REVISION]", help="Latest revision unless given.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Print a stored definition in canonical JSON.

    With --format json, prints the version's metadata with the definition.

    \b
    Examples:
      ia-modules pipelines get etl
      ia-modules pipelines get etl@3 > etl-v3.json
    """
    from ia_modules.definition import canonical_dict, canonical_json

    name, revision = pipeline_reference(target)
    with connect() as client:
        version = client.get_pipeline(name, revision)
    if output is OutputFormat.json:
        emit_json(documents.pipeline_version(version) | {"definition": canonical_dict(version.definition)})
    else:
        typer.echo(canonical_json(version.definition), nl=False)


@app.command("versions")
@handles_errors
def versions(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The pipeline.", show_default=False)],
    output: FormatOption = OutputFormat.text,
) -> None:
    """List the stored revisions of a pipeline, newest first.

    \b
    Example:
      ia-modules pipelines versions etl
    """
    with connect() as client:
        found = list(client.list_versions(name))
    if output is OutputFormat.json:
        emit_json({"name": name, "versions": [documents.pipeline_version(v) for v in found]})
        return
    rows = Listing("REVISION", "CREATED", "VERSION", "DIALECT", "CONTENT HASH")
    for v in found:
        rows.add(
            str(v.revision),
            documents.local_time(v.create_time),
            v.definition.version,
            v.source_dialect,
            v.content_hash[:12],
        )
    stdout().print(rows)


@app.command("delete")
@handles_errors
def delete(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The pipeline.", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Delete a pipeline and every revision of it.

    \b
    Example:
      ia-modules pipelines delete etl --yes
    """
    if not yes:
        typer.confirm(f"Delete pipeline {name!r} and all its revisions?", abort=True, err=True)
    with connect() as client:
        deleted = client.delete_pipeline(name)
    if output is OutputFormat.json:
        emit_json({"name": name, "deleted_revisions": deleted})
    else:
        stdout().print(f"deleted {name} ({deleted} revision{'' if deleted == 1 else 's'})", markup=False)


def _import_sources(directory: Path) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Every *.json file under `directory`: all names, readable texts, unreadable reasons."""
    if not directory.exists():
        raise CLIError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise CLIError(f"{directory}: is not a directory")
    files = sorted(p for p in directory.rglob("*.json") if p.is_file())
    if not files:
        raise CLIError(f"{directory}: no *.json files in it")
    texts: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    for path in files:
        try:
            texts[str(path)] = read_text(path)
        except CLIError as error:
            unreadable[str(path)] = str(error)
    return [str(p) for p in files], texts, unreadable


@app.command("import")
@handles_errors
def import_(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder searched recursively for *.json.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Import every *.json definition under a folder, in one call.

    Each file is created, updated, left unchanged (same content as the latest
    revision) or reported invalid. Exits 1 if any file is invalid.

    \b
    Example:
      ia-modules pipelines import pipelines/
    """
    from ia.registry.v1 import message_pb2
    from ia_modules.definition import Finding, Severity

    names, texts, unreadable = _import_sources(directory)
    with connect() as client:
        results = {r.source_name: r for r in client.import_pipelines(texts)} if texts else {}
    rows = []
    for source in names:
        if source in unreadable:
            finding = Finding(severity=Severity.ERROR, path="", message=unreadable[source], code="INVALID_ENCODING")
            rows.append({"file": source, "name": "", "outcome": "invalid", "revision": 0, "findings": [finding]})
            continue
        result = results[source]
        rows.append(
            {
                "file": source,
                "name": result.name,
                "outcome": documents.enum_name(message_pb2.ImportOutcome, result.outcome, "IMPORT_OUTCOME_").lower(),
                "revision": result.revision,
                "findings": [Finding.from_proto(f) for f in result.findings],
            }
        )
    outcomes = ("created", "updated", "unchanged", "invalid")
    counts = {outcome: sum(r["outcome"] == outcome for r in rows) for outcome in outcomes}
    if output is OutputFormat.json:
        for row in rows:
            row["findings"] = [documents.finding(f) for f in row["findings"]]
        emit_json({"results": rows, "counts": counts})
    else:
        console = stdout()
        for row in rows:
            revision = f"revision {row['revision']}" if row["revision"] else ""
            console.print(f"{row['outcome']:<10} {row['file']}  {row['name']} {revision}".rstrip(), markup=False)
            for finding in row["findings"]:
                console.print("  ", finding_line(row["file"], finding))
        console.print(
            f"{len(rows)} files: " + ", ".join(f"{count} {outcome}" for outcome, count in counts.items()),
            style="bold red" if counts["invalid"] else "bold green",
        )
    if counts["invalid"]:
        raise typer.Exit(ExitCode.FAILED)
