"""Reading what users hand the CLI: definition files, input data, `k=v` pairs.

Every problem becomes a `CLIError` naming the file (and line) at fault.
"""

import json
from pathlib import Path
from typing import Any

from ia_modules.cli.console import CLIError, ExitCode

# A NUL byte this early means a binary file, not JSON text.
_BINARY_SNIFF_BYTES = 8192


def read_text(path: Path) -> str:
    """The UTF-8 text of a file, refusing directories and binary files clearly."""
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if path.is_dir():
        raise CLIError(f"{path}: is a directory, not a JSON file")
    data = path.read_bytes()
    if b"\0" in data[:_BINARY_SNIFF_BYTES]:
        raise CLIError(f"{path}: is a binary file, not JSON text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CLIError(f"{path}: is not UTF-8 text (byte {error.start})") from None


def parse_json_object(text: str, origin: str) -> dict[str, Any]:
    """A JSON object parsed from text; `origin` names the text in errors."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CLIError(f"{origin}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}") from None
    if not isinstance(value, dict):
        raise CLIError(f"{origin}: expected a JSON object, got {type(value).__name__}")
    return value


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object read from a file."""
    return parse_json_object(read_text(path), str(path))


def json_argument(value: str) -> dict[str, Any]:
    """A JSON object given inline, or as `@file` to read it from a file."""
    if value.startswith("@"):
        return read_json_object(Path(value[1:]))
    return parse_json_object(value, "--data")


def assignments(pairs: list[str]) -> dict[str, Any]:
    """`--set` pairs as a dict: `a.b=1` gives {"a": {"b": 1}}.

    A value that parses as JSON keeps its type (`n=3`, `flag=true`,
    `tags=["x"]`); anything else is a string.
    """
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"--set {pair!r}: expected KEY=VALUE", ExitCode.USAGE)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        target = result
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise CLIError(f"--set {pair!r}: {part!r} is already set to a value", ExitCode.USAGE)
        target[leaf] = value
    return result


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`overrides` merged over `base`, nested objects merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def run_inputs(input_file: Path | None, pairs: list[str]) -> dict[str, Any]:
    """Run inputs from `--input FILE` with `--set k=v` pairs over them."""
    base = read_json_object(input_file) if input_file is not None else {}
    return merge(base, assignments(pairs))


def pipeline_reference(target: str) -> tuple[str, int]:
    """`NAME` or `NAME@REVISION` as (name, revision); revision 0 means the latest."""
    name, sep, revision = target.partition("@")
    if not sep:
        return name, 0
    if not revision.isdigit() or int(revision) < 1:
        raise CLIError(
            f"{target!r}: the revision after '@' must be a number from 1, e.g. {name}@3",
            ExitCode.USAGE,
        )
    return name, int(revision)


def labels(pairs: list[str]) -> dict[str, str]:
    """`--label k=v` pairs as a dict of strings."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"--label {pair!r}: expected KEY=VALUE", ExitCode.USAGE)
        result[key] = value
    return result
