"""`validate` and `format` on good and bad files, in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_definitions import broken, hello, legacy, write
from typer.testing import CliRunner

from ia_modules.cli.main import app


def test_validate_a_good_file_exits_0_and_says_ok(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello())
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok (canonical dialect)" in result.stdout
    assert "1 file checked: all valid" in result.stdout


def test_validate_shows_each_finding_with_file_line_code_path_and_hint(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "broken.json", broken())
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    transition = next(line for line in lines if "flow.transitions[0].to" in line)
    assert transition.startswith(f"{path}:")
    line_number = int(transition.split(":")[1])
    assert '"to": "c"' in path.read_text().splitlines()[line_number - 1]
    assert ": error UNKNOWN_STEP flow.transitions[0].to: " in transition
    assert transition.endswith("(the steps are a, b)")
    assert any(": error UNKNOWN_STEP steps[1].inputs.y: " in line for line in lines)
    assert lines[-1] == "1 file checked: 1 invalid, 2 errors, 0 warnings"


def test_validate_json_prints_one_document_per_run(runner: CliRunner, tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", hello())
    bad = write(tmp_path / "bad.json", broken())
    old = write(tmp_path / "old.json", legacy())
    result = runner.invoke(app, ["validate", str(good), str(bad), str(old), "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["valid"] is False
    files = {Path(f["file"]).name: f for f in document["files"]}
    assert files["good.json"] == {
        "file": str(good),
        "dialect": "canonical",
        "dialect_features": [],
        "valid": True,
        "findings": [],
    }
    assert files["old.json"]["dialect"] == "legacy"
    assert "flow.paths" in files["old.json"]["dialect_features"]
    assert files["bad.json"]["valid"] is False
    codes = {(f["severity"], f["code"], f["path"]) for f in files["bad.json"]["findings"]}
    assert ("error", "UNKNOWN_STEP", "flow.transitions[0].to") in codes
    assert all(isinstance(f["line"], int) for f in files["bad.json"]["findings"])


def test_validate_strict_turns_warnings_into_errors(runner: CliRunner, tmp_path: Path) -> None:
    definition = hello()
    definition["steps"].append({"id": "orphan", "type": "pass"})
    path = write(tmp_path / "orphan.json", definition)
    relaxed = runner.invoke(app, ["validate", str(path), "--format", "json"])
    strict = runner.invoke(app, ["validate", str(path), "--strict", "--format", "json"])
    assert relaxed.exit_code == 0
    assert [f["severity"] for f in json.loads(relaxed.stdout)["files"][0]["findings"]] == ["warning"]
    # 4, not 1: CI can tell "only warnings, made errors by --strict" from real errors.
    assert strict.exit_code == 4
    assert [f["severity"] for f in json.loads(strict.stdout)["files"][0]["findings"]] == ["error"]


def test_validate_reports_invalid_json_as_a_finding_with_its_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "syntax.json"
    path.write_text('{\n  "name": "x",\n  "steps": [\n', encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:4: error INVALID_JSON")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.json", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: _bytes(d / "image.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00"), "is a binary file"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "format"])
def test_unreadable_files_get_one_line_on_stderr(
    runner: CliRunner, tmp_path: Path, make, message: str, command: str
) -> None:
    path = make(tmp_path)
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {path}: {message}" + result.stderr.split(message, 1)[1]
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_format_prints_the_canonical_form(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "compact.json", hello(), indent=None)
    result = runner.invoke(app, ["format", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('{\n  "name": "hello",\n')
    assert result.stdout.endswith("}\n")
    assert json.loads(result.stdout) == hello()
    assert path.read_text() == json.dumps(hello()) + "\n"


def test_format_check_exits_1_when_the_file_would_change(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "compact.json", hello(), indent=None)
    before = path.read_text()
    result = runner.invoke(app, ["format", "--check", str(path)])
    assert result.exit_code == 1
    assert result.stderr == f"would reformat {path}\n"
    assert path.read_text() == before


def test_format_write_rewrites_in_place_then_check_passes(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "compact.json", hello(), indent=None)
    written = runner.invoke(app, ["format", "--write", str(path)])
    assert written.exit_code == 0
    assert written.stderr == f"formatted: {path}\n"
    assert json.loads(path.read_text()) == hello()
    again = runner.invoke(app, ["format", "--write", str(path)])
    assert again.stderr == f"unchanged: {path}\n"
    check = runner.invoke(app, ["format", "--check", str(path)])
    assert check.exit_code == 0
    assert check.stderr == f"{path} is formatted\n"


def test_format_refuses_a_legacy_file_without_upgrade(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "old.json", legacy())
    result = runner.invoke(app, ["format", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "legacy dialect (flow.paths" in result.stderr
    assert f"ia-modules format --upgrade {path}" in result.stderr


def test_format_upgrade_converts_a_legacy_file(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "old.json", legacy())
    result = runner.invoke(app, ["format", "--upgrade", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["flow"] == {"start_at": "a", "transitions": [{"from": "a", "to": "b"}]}


def test_format_refuses_a_file_that_does_not_parse(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "syntax.json"
    path.write_text('{"name": "x",', encoding="utf-8")
    result = runner.invoke(app, ["format", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}:1: INVALID_JSON")
    assert f"see `ia-modules validate {path}`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_format_check_and_write_together_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello())
    result = runner.invoke(app, ["format", "--check", "--write", str(path)])
    assert result.exit_code == 2
    assert "--check and --write cannot be used together" in result.stderr
