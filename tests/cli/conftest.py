"""Fixtures of the CLI tests: the real registry and executor in-process, and a CLI runner.

Without Envoy in front, the registry and the executor listen on ports of their
own; a test points IA_ENDPOINT (or `--endpoint`) at the one its commands call.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import BackgroundService
from typer.testing import CliRunner

from ia_executor.server import wire as executor_wire
from ia_registry.server import wire as registry_wire


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[BackgroundService]:
    """The real registry on a free port, with its database in tmp_path."""
    data_dir = tmp_path / "registry-data"
    data_dir.mkdir()
    service = BackgroundService("registry", registry_wire, data_dir)
    yield service
    service.stop()


@pytest.fixture
def endpoint(registry: BackgroundService, monkeypatch: pytest.MonkeyPatch) -> str:
    """IA_ENDPOINT set to the registry, as a user would point the CLI at a stack."""
    monkeypatch.setenv("IA_ENDPOINT", registry.address)
    return registry.address


@pytest.fixture
def executor(registry: BackgroundService, tmp_path: Path) -> Iterator[BackgroundService]:
    """The real executor on a free port, resolving pipelines through `registry`."""
    data_dir = tmp_path / "executor-data"
    data_dir.mkdir()
    service = BackgroundService("executor", functools.partial(executor_wire, registry=registry.address), data_dir)
    yield service
    service.stop()


@pytest.fixture
def executor_endpoint(executor: BackgroundService, monkeypatch: pytest.MonkeyPatch) -> str:
    """IA_ENDPOINT set to the executor."""
    monkeypatch.setenv("IA_ENDPOINT", executor.address)
    return executor.address


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
