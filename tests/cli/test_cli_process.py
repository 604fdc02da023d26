"""The installed `ia-modules` script as a shell sees it: exit codes and streams."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_definitions import broken, hello, write

SCRIPT = Path(sys.executable).parent / "ia-modules"


def ia_modules(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_exit_codes_of_validate(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", hello())
    bad = write(tmp_path / "bad.json", broken())
    invalid = ia_modules("validate", str(good), str(bad), "--format", "json")
    usage = ia_modules("validate")
    assert invalid.returncode == 1
    assert [f["valid"] for f in json.loads(invalid.stdout)["files"]] == [True, False]
    assert usage.returncode == 2
    assert "Missing argument" in usage.stderr


def test_bad_input_is_one_line_on_stderr_without_traceback(tmp_path: Path) -> None:
    result = ia_modules("format", str(tmp_path / "missing.json"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {tmp_path / 'missing.json'}: no such file\n"


def test_no_stack_is_one_clear_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = ia_modules("runs", "list", env={"IA_ENDPOINT": f"127.0.0.1:{port}"})
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot reach the IA Modules endpoint at 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_module_entry_point_matches_the_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ia_modules.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: ia-modules [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize("module", ["ia_modules", "ia_modules.cli.main"])
def test_importing_the_cli_loads_no_grpc_protobuf_rich_or_jsonschema(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('grpc', 'google.protobuf', 'rich', 'jsonschema') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_package_exports_load_on_first_use() -> None:
    code = "import ia_modules; from ia_modules import Client, AsyncClient, IAError; print(Client.__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ia_modules.client"
    missing = subprocess.run(
        [sys.executable, "-c", "import ia_modules; ia_modules.Nope"], capture_output=True, text=True, timeout=60
    )
    assert "module 'ia_modules' has no attribute 'Nope'" in missing.stderr
