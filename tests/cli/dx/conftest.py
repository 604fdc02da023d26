"""Fixtures of the developer-experience command tests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> str:
    """IA_ENDPOINT set to a loopback port nothing listens on: no stack is reachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"127.0.0.1:{port}"
    monkeypatch.setenv("IA_ENDPOINT", endpoint)
    return endpoint


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder, a fresh tmp_path: `init` writes relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
