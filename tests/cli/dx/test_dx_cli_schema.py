"""`schema`: prints the pipeline JSON Schema and checks a committed copy."""

from __future__ import annotations

import json
from pathlib import Path

from dx_cli_support import invoke
from typer.testing import CliRunner

from ia_modules.pipeline_schema import pipeline_schema

COMMITTED = Path(__file__).parents[3] / "schemas" / "pipeline.schema.json"


def test_prints_the_schema_as_one_json_document():
    result = invoke(CliRunner(), "schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == pipeline_schema()


def test_check_accepts_the_committed_file_and_names_a_stale_one(tmp_path: Path):
    runner = CliRunner()
    assert invoke(runner, "schema", "--check", COMMITTED).exit_code == 0
    stale = tmp_path / "pipeline.schema.json"
    stale.write_text("{}\n")
    result = invoke(runner, "schema", "--check", stale)
    assert result.exit_code == 1
    assert "is stale" in result.stderr and "ia-modules schema >" in result.stderr
