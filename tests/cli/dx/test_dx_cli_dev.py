"""`dev`: the malformed and unreachable cases, without a stack."""

from __future__ import annotations

import json
from pathlib import Path

from dx_cli_support import FULL, invoke
from typer.testing import CliRunner


def test_a_missing_folder_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = invoke(CliRunner(), "dev", tmp_path / "absent")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'absent'} is not a folder"


def test_once_reports_what_it_could_not_push_and_exits_1(tmp_path: Path, no_stack: str) -> None:
    (tmp_path / "full.json").write_text(FULL.read_text())
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"name": "broken", "steps": [{"id": "a", "type": "nope"}]}))
    (tmp_path / "input.json").write_text('{"topic": "ai"}')

    result = invoke(CliRunner(), "dev", tmp_path, "--once")

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"not pushed {broken}; nothing pushed"
    assert "UNKNOWN_STEP_TYPE" in lines[1]
    assert any(line.startswith("failed ") and no_stack in line for line in lines)
    assert not any("input.json" in line for line in lines)
