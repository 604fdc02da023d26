"""The Python SDK's README example runs as written, and its wheel holds what it promises."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "sdk" / "python" / "README.md"

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_the_readme_example_runs_against_a_stack(endpoint: str) -> None:
    example = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert example is not None
    result = subprocess.run(
        [sys.executable, "-c", example.group(1)],
        env={**os.environ, "IA_ENDPOINT": endpoint},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4 {'text': 'Hello, world!'}"


def test_the_wheel_has_typed_stubs_and_no_service_code(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH; `make tools` installs it")
    subprocess.run([uv, "build", "--wheel", "-o", str(tmp_path), str(ROOT / "sdk" / "python")], check=True,
                   capture_output=True, timeout=120)
    (wheel,) = tmp_path.glob("ia_modules-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ia_modules/py.typed" in names and "ia/py.typed" in names
    assert "ia/executor/v1/service_pb2_grpc.pyi" in names
    assert "ia/registry/v1/message_pb2.pyi" in names
    assert not [n for n in names if n.split("/")[0] in {"ia_registry", "ia_executor", "ia_service_kit", "ia_plugins"}]
