"""Bad input to every developer-experience command: one clear line on stderr, non-zero, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from dx_cli_support import FULL, invoke


@pytest.fixture
def bad(tmp_path: Path) -> dict[str, Path]:
    binary = tmp_path / "image.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"name": "x", "steps": [\n  {"id": "a",}\n]}\n')
    folder = tmp_path / "folder"
    folder.mkdir()
    return {"missing": tmp_path / "missing.json", "folder": folder, "binary": binary, "invalid": invalid}


COMMANDS = {
    "visualize": lambda target: ["visualize", target],
    "docs": lambda target: ["docs", target],
    "diff (first)": lambda target: ["diff", target, FULL],
    "diff (second)": lambda target: ["diff", FULL, target],
    "dry-run": lambda target: ["dry-run", target, "--local"],
    "validate": lambda target: ["validate", target],
}
EXPECTED = {
    "missing": "{path}: no such file",
    "folder": "{path}: is a directory, not a JSON file",
    "binary": "{path}: is a binary file, not JSON text",
    "invalid": "{path}:2: INVALID_JSON $: {path}: malformed JSON: Expecting property name enclosed in double quotes",
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_bad_file_is_one_line(runner, bad, no_stack, command, kind):
    result = invoke(runner, *COMMANDS[command](bad[kind]))
    assert result.exit_code == 1
    if command == "validate" and kind == "invalid":
        # validate reports a parse error as a finding, on stdout, like any other.
        assert result.stderr == ""
        assert result.stdout.startswith(f"{bad[kind]}:2: error INVALID_JSON $: ")
        return
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: " + EXPECTED[kind].format(path=bad[kind]))


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["visualize", "ghost"], "does not exist"),
        (["docs", "ghost@2"], "has no revision 2"),
        (["diff", "ghost", FULL], "does not exist"),
    ],
    ids=["visualize", "docs", "diff"],
)
def test_an_unknown_registered_name_is_one_line(runner, endpoint, args, problem):
    result = invoke(runner, *args)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: NOT_FOUND: pipeline `ghost` {problem} [PIPELINE_NOT_FOUND]\n"


def test_a_registered_name_without_a_stack_is_one_line(runner, no_stack):
    result = invoke(runner, "docs", "ghost")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach the IA Modules endpoint at {no_stack}")
    assert result.stderr.count("\n") == 1


def test_a_bad_revision_is_a_usage_error(runner, no_stack):
    result = invoke(runner, "diff", "orders@latest", FULL)
    assert result.exit_code == 2
    assert result.stderr == "error: 'orders@latest': the revision after '@' must be a number from 1, e.g. orders@3\n"


def test_bad_dry_run_data_is_one_line(runner, tmp_path, no_stack):
    inputs = tmp_path / "inputs.json"
    inputs.write_text("[1, 2]")
    mocks = tmp_path / "mocks.json"
    mocks.write_text("{oops")
    listed = invoke(runner, "dry-run", FULL, "--input", inputs)
    assert listed.stderr == f"error: {inputs}: expected a JSON object, got list\n"
    broken = invoke(runner, "dry-run", FULL, "--mock", mocks)
    assert broken.stderr == f"error: {mocks}:1:2: invalid JSON: Expecting property name enclosed in double quotes\n"
