"""`validate` and `format`: local checks of definition files, no stack needed."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ia_modules.cli import documents
from ia_modules.cli.console import (
    CLIError,
    ExitCode,
    emit_json,
    handles_errors,
    note,
    stdout,
)
from ia_modules.cli.sources import read_text
from ia_modules.cli.validation_formats import ValidateFormat, ValidateFormatOption, emit, exit_code

if TYPE_CHECKING:
    from rich.text import Text

    from ia_modules.definition import Finding, LoadResult

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def finding_line(source: str, finding: "Finding") -> "Text":
    """`file:line: error CODE path: message (hint)` as styled Rich text."""
    from rich.text import Text

    location = f"{source}:{finding.line}" if finding.line else source
    text = Text(f"{location}: ")
    text.append(finding.severity.value, style=_SEVERITY_STYLE[finding.severity.value])
    text.append(f" {finding.code} ")
    if finding.path:
        text.append(finding.path, style="cyan")
        text.append(": ")
    text.append(finding.message)
    if finding.hint:
        text.append(f" ({finding.hint})", style="dim")
    return text


def _load(path: Path, text: str) -> "LoadResult":
    from ia_modules.definition import load_definition

    return load_definition(text, source_name=str(path))


def load_parsed(path: Path, text: str) -> "LoadResult":
    """A definition file that parsed into a pipeline, or a CLIError naming its first error.

    Semantic problems (an unknown step, a bad template) are left to `validate`;
    this refuses only what cannot be turned into a pipeline faithfully.
    """
    from ia_modules.definition import Severity

    loaded = _load(path, text)
    errors = [f for f in loaded.findings if f.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        location = f"{path}:{first.line}" if first.line else str(path)
        where = f" {first.path}" if first.path else ""
        more = f" (and {_plural(len(errors) - 1, 'more error')})" if len(errors) > 1 else ""
        raise CLIError(f"{location}: {first.code}{where}: {first.message}{more}; see `ia-modules validate {path}`")
    if loaded.pipeline is None:
        raise CLIError(f"{path}: is not a pipeline definition; see `ia-modules validate {path}`")
    return loaded


def _file_report(path: Path, text: str, strict: bool) -> dict[str, Any]:
    from dataclasses import replace

    from ia_modules.definition import Severity, validate

    loaded = _load(path, text)
    findings = list(loaded.findings)
    if loaded.pipeline is not None:
        findings += loaded.locate(validate(loaded.pipeline))
    has_errors = any(f.severity is Severity.ERROR for f in findings)
    if strict:
        findings = [replace(f, severity=Severity.ERROR) for f in findings]
    findings.sort(key=lambda f: (f.line is None, f.line or 0))
    return {
        "file": str(path),
        "dialect": loaded.dialect,
        "dialect_features": list(loaded.dialect_features),
        "valid": not any(f.severity is Severity.ERROR for f in findings),
        # Invalid only because --strict made its warnings errors.
        "strict_only": strict and bool(findings) and not has_errors,
        "findings": findings,
    }


def _print_reports(reports: list[dict[str, Any]]) -> None:
    console = stdout()
    errors = warnings = 0
    for report in reports:
        findings = report["findings"]
        if not findings:
            console.print(f"{report['file']}: ok ({report['dialect']} dialect)", markup=False)
        for finding in findings:
            console.print(finding_line(report["file"], finding))
            if finding.severity.value == "error":
                errors += 1
            else:
                warnings += 1
    invalid = sum(not r["valid"] for r in reports)
    summary = f"{_plural(len(reports), 'file')} checked: "
    summary += f"{invalid} invalid" if invalid else "all valid"
    summary += f", {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    console.print(summary, style="bold red" if invalid else "bold green")


@handles_errors
def validate_command(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="Definition files (JSON, any dialect).", show_default=False)
    ],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    output: ValidateFormatOption = ValidateFormat.text,
) -> None:
    """Check pipeline definitions locally: structure, graph, templates, conditions.

    Exits 0 when every file is valid, 1 if any file has errors, and 4 when the
    only problems are warnings that --strict turned into errors.

    \b
    Examples:
      ia-modules validate pipelines/etl.json
      ia-modules validate pipelines/*.json --strict --format json
      ia-modules validate pipelines/*.json --format github   # annotations in a GitHub Actions log
      ia-modules validate pipelines/*.json --format sarif > findings.sarif
    """
    texts = [(path, read_text(path)) for path in files]
    reports = [_file_report(path, text, strict) for path, text in texts]
    valid = all(report["valid"] for report in reports)
    code = exit_code(reports)
    if output is ValidateFormat.json:
        for report in reports:
            report["findings"] = [documents.finding(f) for f in report["findings"]]
            del report["strict_only"]
        emit_json({"files": reports, "valid": valid})
    elif output is ValidateFormat.text:
        _print_reports(reports)
    else:
        emit(reports, output)
    if code:
        raise typer.Exit(code)


@handles_errors
def format_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The definition file.", show_default=False)],
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the file would change; write nothing.")] = False,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Rewrite an older-dialect file in the canonical form.")
    ] = False,
    write: Annotated[bool, typer.Option("--write", "-w", help="Rewrite the file in place.")] = False,
) -> None:
    """Print a definition in canonical formatting (2-space JSON, stable order).

    A file in an older dialect is converted only with --upgrade.

    \b
    Examples:
      ia-modules format pipeline.json
      ia-modules format --check pipeline.json
      ia-modules format --upgrade --write legacy.json
    """
    if check and write:
        raise CLIError("--check and --write cannot be used together", ExitCode.USAGE)
    text = read_text(file)
    from ia_modules.definition import canonical_json

    loaded = load_parsed(file, text)
    if loaded.dialect != "canonical" and not upgrade:
        features = ", ".join(loaded.dialect_features) or "older forms"
        raise CLIError(
            f"{file}: written in the {loaded.dialect} dialect ({features}); "
            f"`ia-modules format --upgrade {file}` converts it to the canonical form"
        )
    formatted = canonical_json(loaded.pipeline)
    changed = formatted != text
    if check:
        if changed:
            note(f"would reformat {file}")
            raise typer.Exit(ExitCode.FAILED)
        note(f"{file} is formatted")
    elif write:
        if changed:
            file.write_text(formatted, encoding="utf-8")
        note(f"{'formatted' if changed else 'unchanged'}: {file}")
    else:
        typer.echo(formatted, nl=False)
