"""Shared by the developer-experience command tests: file locations and a strict CLI runner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from ia_modules.cli.main import app

TESTS = Path(__file__).parents[2]
CORPUS = TESTS / "corpus"
GOLDEN = TESTS / "golden"
FULL = CORPUS / "valid" / "canonical_full.json"


def invoke(runner: CliRunner, *args: str) -> Result:
    """Runs `ia-modules ARGS`; any uncaught exception (a traceback) fails the test."""
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.stderr
    return result
