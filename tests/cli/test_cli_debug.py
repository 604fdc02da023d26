"""`ia-modules debug` at its prompt, driven through a pseudo-terminal like a person at a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from ia_modules.cli.main import app

SCRIPT = Path(sys.executable).parent / "ia-modules"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def branching() -> dict:
    big = {"type": "cel", "expr": "result.n > 10"}
    small = {"type": "cel", "expr": "result.n <= 10"}
    return {
        "name": "triage",
        "parameters": {"n": {"type": "integer"}},
        "steps": [
            {"id": "load", "type": "pass", "inputs": {"n": "{{ parameters.n }}"}},
            {"id": "check", "type": "pass", "inputs": {"n": "{{ load.n }}", "source": "load"}},
            {"id": "big", "type": "pass", "inputs": {"size": "big"}},
            {"id": "small", "type": "pass", "inputs": {"size": "small"}},
            {"id": "done", "type": "pass", "inputs": {"n": "{{ check.n }}"}},
        ],
        "flow": {
            "transitions": [
                {"from": "load", "to": "check"},
                {"from": "check", "to": "big", "condition": big},
                {"from": "check", "to": "small", "condition": small},
                {"from": "big", "to": "done"},
                {"from": "small", "to": "done"},
            ]
        },
        "outputs": {"n": "{{ done.n }}"},
    }


class Terminal:
    """A process on a pseudo-terminal: read what it prints, type lines at it."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 60) -> str:
        """Reads until ``text`` appears; returns what came before it (and drops it)."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; saw:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the process ended and the terminal closed
                    chunk = b""
                assert chunk, f"the process ended before {text!r}; saw:\n{self.seen}"
                self.seen += _ANSI.sub("", chunk.decode(errors="replace")).replace("\r\n", "\n")
        before, _, self.seen = self.seen.partition(text)
        return before

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> int:
        code = self.process.wait(60)
        os.close(self.master)
        return code


def test_the_debugger_prompt_steps_inspects_edits_and_continues(tmp_path: Path, executor_endpoint: str) -> None:
    definition = tmp_path / "triage.json"
    definition.write_text(json.dumps(branching()))
    (tmp_path / "data.json").write_text('{"n": 1}')
    (tmp_path / "load.json").write_text('{"n": 50}')
    args = [str(SCRIPT), "debug", str(definition), "--input", str(tmp_path / "data.json"), "--break", "check"]
    args += ["--mock", f"load={tmp_path / 'load.json'}"]
    terminal = Terminal(args, {**os.environ, "IA_ENDPOINT": executor_endpoint, "TERM": "xterm"})

    shown = terminal.expect("(debug) ")
    assert "paused before check (iteration 0): breakpoint" in shown
    assert '"n": 50' in shown and '"source": "load"' in shown

    terminal.type("set n {oops")
    assert "the value is not JSON" in terminal.expect("(debug) ")
    terminal.type("set n 3")
    assert "check.input.n = 3 (sent with next/continue)" in terminal.expect("(debug) ")
    terminal.type("frobnicate")
    assert "commands: next (n), continue (c)" in terminal.expect("(debug) ")

    terminal.type("next")
    shown = terminal.expect("(debug) ")
    assert "paused before small (iteration 0): stepping" in shown
    assert "check[0] input edited: n" in shown and "check[0] SUCCEEDED" in shown and "big[0] SKIPPED" in shown

    terminal.type("inspect")
    shown = terminal.expect("(debug) ")
    assert "check -> big: not taken (result.n > 10 was false)" in shown
    values = [json.loads(row.split("values: ", 1)[1]) for row in shown.splitlines() if "values: " in row]
    assert values == [{"result": {"n": 3, "source": "load"}}] * 2
    assert "check -> small: fired" in shown

    terminal.type("continue")
    shown = terminal.expect("SUCCEEDED")
    assert terminal.close() == 0


def test_quit_and_end_of_input_cancel_the_run(tmp_path: Path, executor_endpoint: str) -> None:
    definition = tmp_path / "triage.json"
    definition.write_text(json.dumps(branching()))
    args = ["debug", str(definition), "--set", "n=1", "--break", "load"]
    typed = "set\nset meta.tags [1]\nset meta.owner \"ada\"\ninspect\nnext\nquit\n"
    result = CliRunner().invoke(app, args, input=typed)
    assert result.exit_code == 1 and "CANCELLED" in result.output, result.output
    assert "usage: set FIELD JSON" in result.output
    assert "edits to send with the next step:" in result.output
    assert '"meta": {\n    "tags": [\n      1\n    ],\n    "owner": "ada"' in result.output
    assert "load[0] input edited: meta" in result.output and "paused before check (iteration 0): stepping" in result.output
    result = CliRunner().invoke(app, args, input="")
    assert result.exit_code == 1 and "CANCELLED" in result.output, result.output


def test_bad_breakpoints_and_mocks_are_one_clear_line(tmp_path: Path, executor_endpoint: str) -> None:
    definition = tmp_path / "triage.json"
    definition.write_text(json.dumps(branching()))
    runner = CliRunner()
    result = runner.invoke(app, ["debug", str(definition), "--set", "n=1", "--break", "ghost"])
    assert result.exit_code == 1
    assert "breakpoints[0].step_id" in result.output and "no step 'ghost'" in result.output
    result = runner.invoke(app, ["debug", str(definition), "--set", "n=1", "--mock", "load"])
    assert result.exit_code == 1 and "--mock 'load': give STEP=FILE" in result.output
