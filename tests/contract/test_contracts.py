"""The contracts stay lint-clean and backward compatible (buf lint + buf breaking)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = shutil.which("buf") or str(ROOT / ".tools" / "npm" / "node_modules" / ".bin" / "buf")


def buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BUF, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_contracts_pass_buf_lint() -> None:
    result = buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_rejects_an_enum_without_unspecified_zero(tmp_path: Path) -> None:
    # Proves the lint configuration is live: a rule violation in a copy must fail.
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    bad = tmp_path / "protos" / "ia" / "pipeline" / "v1" / "pipeline.proto"
    bad.write_text(bad.read_text() + "\nenum Colour {\n  RED = 0;\n}\n")
    result = buf("lint", cwd=tmp_path)
    assert result.returncode != 0
    assert "should be suffixed with \"_UNSPECIFIED\"" in result.stdout


def test_contracts_have_no_breaking_change_since_the_first_commit() -> None:
    first = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    if first.returncode != 0 or not first.stdout.strip():
        pytest.skip("not a git checkout with history")
    result = buf("breaking", "--against", f".git#ref={first.stdout.split()[-1]}")
    assert result.returncode == 0, result.stdout + result.stderr
