"""`ia-modules validate` imports only what it needs, and says the same things when input is bad."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_definitions import hello, write

# Runs the command in a fresh interpreter and reports which heavy modules it loaded.
_PROBE = """
import json, sys
from ia_modules.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "loaded": sorted(m for m in ("pydantic", "jsonschema") if m in sys.modules)}),
      file=sys.stderr)
"""


def _probe(*args: str) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60)
    *messages, report = done.stderr.strip().splitlines()
    return json.loads(report), "\n".join(messages)


def test_validate_with_plain_schemas_needs_neither_pydantic_nor_jsonschema(tmp_path: Path) -> None:
    document = hello()
    document["parameter_specs"] = [
        {"name": "count", "schema": {"type": "integer", "minimum": 0}},
        {"name": "topic", "required": True, "schema": {"type": "string"}},
    ]
    document["parameters"] = {"count": 0, "topic": "ai"}
    report, _ = _probe("validate", str(write(tmp_path / "p.json", document)), "--format", "json")
    assert report == {"code": 0, "loaded": []}


def test_a_schema_that_is_not_plain_is_still_checked_by_jsonschema(tmp_path: Path) -> None:
    document = hello()
    document["parameter_specs"] = [{"name": "code", "schema": {"type": "string", "minLength": -1}}]
    report, _ = _probe("validate", str(write(tmp_path / "p.json", document)), "--format", "json")
    assert report["code"] == 1
    assert "jsonschema" in report["loaded"]


def test_bad_option_values_are_worded_by_typer_as_before(tmp_path: Path) -> None:
    path = str(write(tmp_path / "p.json", hello()))
    bad_format, format_message = _probe("validate", path, "--format", "xml")
    bad_timeout, timeout_message = _probe("--timeout", "soon", "validate", path)
    assert bad_format["code"] == bad_timeout["code"] == 2
    assert "Invalid value for '--format': Value error, 'xml' is not one of 'text', 'json', 'sarif', 'github'." in (
        format_message
    )
    assert "Invalid value for '--timeout': Input should be a valid number" in timeout_message
