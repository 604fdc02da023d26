"""The baseline virtual environments: built on first use, reused while unchanged.

A baseline that cannot be installed raises `BaselineUnavailable`, and the run
fails with its message: a benchmark never quietly drops its comparison.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from measure import progress

REPO = Path(__file__).resolve().parent.parent
BASELINES = Path(__file__).resolve().parent / "baselines"
VENVS = REPO / ".tools" / "bench-venvs"
SDK = REPO / "sdk" / "python"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


class BaselineUnavailable(RuntimeError):
    """A baseline environment could not be built."""


@dataclass(frozen=True)
class Environment:
    """A virtual environment pinned by `baselines/<name>.txt`.

    `with_sdk` also installs our SDK in editable mode, its dependencies held to
    the versions in uv.lock, so that a baseline runs in one process with our engine.
    """

    name: str
    with_sdk: bool = False

    @property
    def folder(self) -> Path:
        return VENVS / self.name

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    def ensure(self) -> Path:
        """Build the environment unless an identical one exists; returns its python."""
        pins = BASELINES / f"{self.name}.txt"
        if not pins.exists():
            raise BaselineUnavailable(f"no pinned requirements at {pins}")
        constraints = _sdk_constraints() if self.with_sdk else ""
        # An editable install follows the SDK's code, not a new dependency of it.
        manifest = (SDK / "pyproject.toml").read_text() if self.with_sdk else ""
        fingerprint = hashlib.sha256(
            "\n".join([PYTHON_VERSION, pins.read_text(), constraints, manifest]).encode()
        ).hexdigest()
        stamp = self.folder / ".bench-fingerprint"
        if self.python.exists() and stamp.exists() and stamp.read_text() == fingerprint:
            return self.python

        progress(f"building baseline environment {self.name} (first use) ...")
        shutil.rmtree(self.folder, ignore_errors=True)
        _uv("venv", "--quiet", "--python", PYTHON_VERSION, str(self.folder))
        install = ["pip", "install", "--quiet", "--python", str(self.python), "-r", str(pins)]
        if self.with_sdk:
            constraint_file = self.folder / "sdk-constraints.txt"
            constraint_file.write_text(constraints)
            install += ["-c", str(constraint_file), "-e", str(SDK)]
        _uv(*install, hint=f"if uv.lock moved a shared package, recompile {pins.name} "
                           "as bench/baselines/README.md says")
        stamp.write_text(fingerprint)
        return self.python


def _uv(*args: str, hint: str = "") -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise BaselineUnavailable("`uv` is not on PATH; run `make tools` first")
    done = subprocess.run([uv, *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BaselineUnavailable(
            f"`uv {' '.join(args[:2])}` failed:\n{tail}" + (f"\nhint: {hint}" if hint else "")
        )
    return done.stdout


def _sdk_constraints() -> str:
    """The SDK's dependencies at the versions uv.lock pins for the project."""
    return _uv(
        "export", "--frozen", "--no-hashes", "--quiet", "--package", "ia-modules",
        "--no-emit-project", "--no-dev",
    )


LANGGRAPH = Environment("langgraph", with_sdk=True)
ORIGINAL_LIBRARY = Environment("ia-modules-0.2.0")
