"""What the deploy tests share: the repository root, and the tools they run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    """`name` from .tools/bin (`make tools` installs it there), else from PATH.

    Missing: skipped locally, a failure in CI.
    """
    installed = ROOT / ".tools" / "bin" / name
    found = str(installed) if installed.is_file() else shutil.which(name)
    if found is None:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{name} is not installed; `make tools` installs it")
    return found
