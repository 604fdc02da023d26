"""Every command explains itself with an example."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from ia_modules.cli.main import app


def command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    root = get_command(app)
    for name, command in root.commands.items():
        paths.append([name])
        paths.extend([name, sub] for sub in getattr(command, "commands", {}))
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda path: " ".join(path) or "ia-modules")
def test_help_has_an_example(runner: CliRunner, path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "ia-modules " in result.stdout.split("Example", 1)[1]


def test_every_documented_command_exists() -> None:
    names = {" ".join(path) for path in command_paths()}
    assert names >= {
        "validate",
        "format",
        "run",
        "runs list",
        "runs get",
        "watch",
        "resume",
        "cancel",
        "dry-run",
        "pipelines push",
        "pipelines list",
        "pipelines get",
        "pipelines versions",
        "pipelines delete",
        "pipelines import",
        "up",
        "down",
        "status",
    }
