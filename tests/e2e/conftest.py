"""One real stack per test worker: every service and Envoy, started as `ia-modules up`
starts them, on free loopback ports in a temporary data folder.

Every e2e test is marked `e2e` and grouped with `xdist_group("e2e")`, so that under
`--dist loadgroup` they all run on one worker and share its stack.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ia_modules import stack
from ia_modules.client import Client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pipelines"


@pytest.fixture(scope="session")
def free_ports() -> dict[str, int]:
    """Port 0 for Envoy, its admin interface and every service: each picks a free one."""
    return {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}


@pytest.fixture(scope="session")
def ia_stack(tmp_path_factory: pytest.TempPathFactory, free_ports: dict[str, int]) -> Iterator[stack.StackStatus]:
    data_dir = tmp_path_factory.mktemp("ia")
    status = stack.up(data_dir, ports=free_ports)
    yield status
    stack.down(data_dir)


@pytest.fixture(scope="session")
def endpoint(ia_stack: stack.StackStatus) -> str:
    """Envoy's front door, host:port."""
    return f"127.0.0.1:{ia_stack.services[stack.ENVOY].port}"


@pytest.fixture(scope="session")
def base_url(endpoint: str) -> str:
    return f"http://{endpoint}"


@pytest.fixture(scope="session")
def client(endpoint: str) -> Iterator[Client]:
    with Client(endpoint) as client:
        yield client


@pytest.fixture(scope="session")
def grpcurl() -> str:
    """The grpcurl that `make tools` installs into .tools/bin, else one on PATH."""
    installed = ROOT / ".tools" / "bin" / "grpcurl"
    found = str(installed) if installed.is_file() else shutil.which("grpcurl")
    if found is None:
        pytest.skip("grpcurl is not installed; `make tools` installs it")
    return found


@pytest.fixture
def pipeline_name() -> str:
    """A name no other test uses, as the stack is shared."""
    return f"e2e-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def example() -> Callable[[str, str], dict[str, Any]]:
    """Loads an example pipeline from examples/pipelines under another name."""

    def load(file_name: str, name: str) -> dict[str, Any]:
        definition = json.loads((EXAMPLES / file_name).read_text())
        definition["name"] = name
        return definition

    return load
