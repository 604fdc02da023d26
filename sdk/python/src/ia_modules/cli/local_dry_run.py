"""`dry-run` without a stack: the engine the executor uses, run in this process.

`dry-run` calls this when no stack answers (or with `--local`). It prints what the
executor's DryRun would, and adds the values each untaken transition's condition
read, so a false branch says why: `result.amount < 100 was false (result.amount = 250)`.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from ia_modules.cli.console import CLIError, ExitCode, OutputFormat, emit_json, note

if TYPE_CHECKING:
    from ia.pipeline.v1 import pipeline_pb2

_EXIT_CODES = {"SUCCEEDED": ExitCode.OK, "WAITING_FOR_INPUT": ExitCode.WAITING_FOR_INPUT}


def _refuse_invalid(target: str, pipeline: "pipeline_pb2.Pipeline") -> None:
    """Refuses a definition with errors, as the executor would, naming the first with its line."""
    from ia_modules.cli.definitions import load_parsed
    from ia_modules.cli.sources import read_text
    from ia_modules.definition import validate

    errors = [f for f in validate(pipeline) if f.is_error]
    if not errors:
        return
    path = Path(target)
    if path.is_file():
        errors = load_parsed(path, read_text(path)).locate(errors)
    first = errors[0]
    location = f"{target}:{first.line}" if first.line else target
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise CLIError(
        f"{location}: {first.code} {first.path}: {first.message}{more}; see `ia-modules validate {target}`"
    )


def _with_values(document: dict[str, Any]) -> dict[str, Any]:
    """The document for text output: each untaken transition's reason followed by the values it read."""
    shown = dict(document)
    shown["not_taken"] = []
    for edge in document["not_taken"]:
        # Values the engine's reason already gives are not repeated.
        values = ", ".join(
            f"{name} = {json.dumps(value, ensure_ascii=False)}"
            for name, value in edge["values"].items()
            if f"{name} = " not in edge["reason"]
        )
        reason = f"{edge['reason']} (where {values})" if values else edge["reason"]
        shown["not_taken"].append({**edge, "reason": reason})
    return shown


def run_locally(
    target: str,
    pipeline: "pipeline_pb2.Pipeline | str",
    inputs: dict[str, Any],
    mocks: dict[str, Any] | None,
    *,
    show_data: bool,
    output: OutputFormat,
    unreachable: str = "",
) -> NoReturn:
    """Dry-runs `pipeline` in this process, prints the path, and exits as `dry-run` does.

    `unreachable` says why the stack was not asked (empty when --local chose this).
    A registered pipeline (a name, not a definition) needs the stack to be read.
    """
    from ia_modules.cli.runs import _print_dry_run
    from ia_modules.dry_run_report import InputProblems, dry_run_report
    from ia_modules.engine import PlanError

    if isinstance(pipeline, str):
        raise CLIError(
            f"{target!r} is a registered pipeline, which only the stack can read, and {unreachable or 'there is none'}"
            "; dry-run the definition file instead"
        )
    if unreachable:
        note(f"{unreachable}; dry-running with the local engine instead")
    _refuse_invalid(target, pipeline)
    try:
        document = dry_run_report(pipeline, inputs, mocks)
    except InputProblems as error:
        listed = "; ".join(f"{path}: {message}" for path, message in error.problems)
        names = [path.removeprefix("inputs.").split(".")[0].split("[")[0] for path, _m in error.problems]
        example = f"--set {names[0]}=VALUE" if names else "--set NAME=VALUE"
        raise CLIError(
            f"{target}: the inputs do not fit the pipeline's parameters: {listed}; "
            f"give them with --input FILE or {example}"
        ) from None
    except PlanError as error:
        raise CLIError(f"{target}: cannot be run: {error}") from None
    for line in document.pop("notes"):
        note(f"warning: {line}")
    if output is OutputFormat.json:
        emit_json({**document, "engine": "local"})
    else:
        _print_dry_run(_with_values(document), show_data)
    raise typer.Exit(_EXIT_CODES.get(document["state"], ExitCode.FAILED))
