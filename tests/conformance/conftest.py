"""One real stack for the whole conformance suite: every service and Envoy, started
as `ia-modules up` starts them, on free loopback ports in a temporary data folder.
Every test here is in xdist_group("conformance"), so they share one worker and it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ia_modules import stack


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Envoy's front door, host:port."""
    data_dir = tmp_path_factory.mktemp("conformance")
    ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
    status = stack.up(data_dir, ports=ports)
    try:
        yield f"127.0.0.1:{status.services[stack.ENVOY].port}"
    finally:
        stack.down(data_dir)
