"""`up`, `down` and `status` print where everything is; the stack itself is faked.

Starting real processes belongs to tests/e2e; here `ia_modules.stack` is replaced
so the tests check what the CLI tells people and scripts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ia_modules import stack
from ia_modules.cli.main import app
from ia_modules.stack import ServiceProcess, StackError, StackStatus


def running_stack(data_dir: Path, *, started: tuple[str, ...] = (), healthy: bool = True) -> StackStatus:
    logs = data_dir / "logs"
    services = {
        name: ServiceProcess(name, pid, port, logs / f"{name}.log", running=True, healthy=healthy or name != "executor")
        for name, pid, port in (("registry", 101, 50051), ("executor", 102, 50052), ("envoy", 103, 8080))
    }
    return StackStatus(data_dir=data_dir, endpoint="localhost:8080", services=services, started=started)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, list]:
    recorded: dict[str, list] = {"up": [], "down": [], "status": []}

    def up(data_dir: Path, *, timeout_s: float = 60) -> StackStatus:
        recorded["up"].append((data_dir, timeout_s))
        return running_stack(data_dir, started=("registry", "executor", "envoy"))

    def down(data_dir: Path) -> list[str]:
        recorded["down"].append(data_dir)
        return ["envoy", "executor", "registry"]

    monkeypatch.setattr(stack, "up", up)
    monkeypatch.setattr(stack, "down", down)
    return recorded


def test_up_prints_the_endpoint_each_service_its_logs_and_how_to_stop(
    runner: CliRunner, calls: dict, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["up", "--data-dir", str(tmp_path), "--timeout", "5"])
    assert result.exit_code == 0, result.output
    assert calls["up"] == [(tmp_path, 5.0)]
    lines = result.stdout.splitlines()
    assert lines[0] == "IA Modules started at localhost:8080 (set IA_ENDPOINT=localhost:8080 elsewhere)"
    assert lines[1].split() == ["SERVICE", "PID", "PORT", "STATE", "LOG"]
    assert lines[2].split() == ["registry", "101", "50051", "healthy", str(tmp_path / "logs" / "registry.log")]
    assert f"logs: {tmp_path / 'logs'}" in lines
    assert lines[-1] == f"stop it with: ia-modules down --data-dir {tmp_path}"


def test_up_takes_the_data_dir_from_ia_data_dir(
    runner: CliRunner, calls: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IA_DATA_DIR", str(tmp_path / "state"))
    document = json.loads(runner.invoke(app, ["up", "--format", "json"]).stdout)
    assert calls["up"] == [(tmp_path / "state", 60.0)]
    assert document["endpoint"] == "localhost:8080"
    assert document["healthy"] is True
    assert document["started"] == ["registry", "executor", "envoy"]
    assert document["services"]["executor"] == {
        "pid": 102,
        "port": 50052,
        "running": True,
        "healthy": True,
        "log": str(tmp_path / "state" / "logs" / "executor.log"),
    }


def test_up_failure_is_reported_without_a_traceback(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(data_dir: Path, *, timeout_s: float = 60) -> StackStatus:
        raise StackError("executor exited with code 1; last log lines:\n  boom")

    monkeypatch.setattr(stack, "up", fail)
    result = runner.invoke(app, ["up", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == "error: executor exited with code 1; last log lines:\n  boom\n"


def test_down_lists_what_it_stopped(runner: CliRunner, calls: dict, tmp_path: Path) -> None:
    result = runner.invoke(app, ["down", "--data-dir", str(tmp_path)])
    assert (result.exit_code, result.stdout) == (0, "stopped envoy, executor, registry\n")
    scripted = runner.invoke(app, ["down", "--data-dir", str(tmp_path), "--format", "json"])
    assert json.loads(scripted.stdout) == {"stopped": ["envoy", "executor", "registry"]}


def test_down_with_nothing_running(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["down", "--data-dir", str(tmp_path / "never-started")])
    assert (result.exit_code, result.stdout) == (0, "nothing was running\n")


def test_status_of_a_stack_that_is_not_running(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout == "the stack is not running; start it with: ia-modules up\n"


def test_status_exits_1_when_a_part_does_not_answer(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "status", lambda data_dir: running_stack(data_dir, healthy=False))
    result = runner.invoke(app, ["status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "IA Modules at localhost:8080: NOT healthy"
    assert any(line.split()[:4] == ["executor", "102", "50052", "not"] for line in result.stdout.splitlines())
    document = json.loads(runner.invoke(app, ["status", "--data-dir", str(tmp_path), "--format", "json"]).stdout)
    assert document["healthy"] is False


def test_status_of_a_healthy_stack(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "status", lambda data_dir: running_stack(data_dir))
    monkeypatch.setenv("IA_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "IA Modules at localhost:8080: healthy"
    assert result.stdout.splitlines()[-1] == "stop it with: ia-modules down"
