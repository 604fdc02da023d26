"""`validate --format sarif|github` and the exit codes of `validate`.

Exit codes: 0 when every file is valid (warnings allowed); 1 when a file has
errors; 4 when the only problems are warnings that `--strict` made errors, so
that CI can tell "broken" from "not clean yet".
"""

import enum
import sys
from typing import Annotated, Any

import typer

from ia_modules.cli.console import ExitCode, emit_json

STRICT_WARNINGS = 4
"""The exit code of `validate --strict` when warnings are the only problems."""


class ValidateFormat(str, enum.Enum):
    """What `validate` prints."""

    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


ValidateFormatOption = Annotated[
    ValidateFormat,
    typer.Option(
        "--format",
        metavar="text|json|sarif|github",
        help="text for people, json for scripts, sarif for code scanning, github for Actions annotations.",
    ),
]


def exit_code(reports: list[dict[str, Any]]) -> int:
    """0 all valid; 1 some file has errors; 4 only warnings turned errors by --strict."""
    invalid = [report for report in reports if not report["valid"]]
    if not invalid:
        return ExitCode.OK
    if all(report.get("strict_only") for report in invalid):
        return STRICT_WARNINGS
    return ExitCode.FAILED


def emit(reports: list[dict[str, Any]], output: ValidateFormat) -> None:
    """Prints the findings of every file as SARIF (one JSON document) or GitHub annotations."""
    from importlib.metadata import PackageNotFoundError, version

    from ia_modules.finding_reports import github_annotations, sarif

    files = [(report["file"], report["findings"]) for report in reports]
    if output is ValidateFormat.sarif:
        try:
            tool_version = version("ia-modules")
        except PackageNotFoundError:
            tool_version = ""
        emit_json(sarif(files, version=tool_version))
    else:
        sys.stdout.write(github_annotations(files))
