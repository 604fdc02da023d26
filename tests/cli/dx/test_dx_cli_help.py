"""Every command explains itself with an example, and shell completion works."""

from __future__ import annotations

import pytest
import typer
from dx_cli_support import invoke

from ia_modules.cli.main import app


def _commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command under a command group, as its words."""
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_the_developer_commands_are_in_the_table():
    assert {("visualize",), ("diff",), ("docs",), ("init",), ("dry-run",), ("validate",)} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(runner, command):
    result = invoke(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "ia-modules " + " ".join(command) in result.stdout


def test_validate_help_documents_its_exit_codes(runner):
    text = " ".join(invoke(runner, "validate", "--help").stdout.split())
    assert "Exits 0 when every file is valid, 1 if any file has errors, and 4 when the only problems" in text
    assert "text|json|sarif|github" in text


def test_shell_completion_is_enabled(runner):
    help_text = invoke(runner, "--help").stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    env = {"_IA_MODULES_COMPLETE": "complete_bash", "COMP_WORDS": "ia-modules vis", "COMP_CWORD": "1"}
    assert runner.invoke(app, [], env=env, prog_name="ia-modules").stdout.split() == ["visualize"]
    env.update(COMP_WORDS="ia-modules init x --template ", COMP_CWORD="4")
    offered = runner.invoke(app, [], env=env, prog_name="ia-modules").stdout.split()
    assert offered == ["simple", "conditional", "parallel", "loop", "hitl", "plugin"]
