"""What the executor's plugin tests share: their fixtures folder and the sandbox check."""

from __future__ import annotations

from pathlib import Path

import pytest
from ia_plugins.sandbox import Sandbox, SandboxUnavailable

FIXTURES = Path(__file__).parent / "fixtures"


def _sandbox_problem() -> str:
    try:
        Sandbox.detect()
    except SandboxUnavailable as error:
        return str(error)
    return ""


needs_sandbox = pytest.mark.skipif(bool(_sandbox_problem()), reason="bubblewrap cannot run here")
