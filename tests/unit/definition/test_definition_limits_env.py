"""IA_MAX_STEPS and IA_MAX_DEFINITION_BYTES set the definition limits of a process
(read once, at import, as every service starts a process of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROBE = """
import json, sys
from ia_modules.definition import load_definition
steps = [{"id": f"s{i}", "type": "pass"} for i in range(4)]
findings = load_definition(json.dumps({"name": "p", "steps": steps, "description": sys.argv[1]})).findings
print(json.dumps([[f.code, f.message] for f in findings if f.severity.value == "error"]))
"""


def _errors(description: str, **env: str) -> list[list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, description],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return json.loads(result.stdout)


def test_the_step_limit_comes_from_ia_max_steps():
    assert _errors("") == []
    ((code, message),) = _errors("", IA_MAX_STEPS="3")
    assert code == "TOO_MANY_STEPS" and "the limit is 3 (IA_MAX_STEPS)" in message


def test_the_size_limit_comes_from_ia_max_definition_bytes():
    ((code, message),) = _errors("x" * 500, IA_MAX_DEFINITION_BYTES="400")
    assert code == "DOCUMENT_TOO_LARGE" and "IA_MAX_DEFINITION_BYTES" in message
