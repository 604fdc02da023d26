"""A deployment with authentication on: registry, executor and telemetry in process,
on loopback port 0, sharing one auth database, with keys for two tenants."""

from __future__ import annotations

import functools
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ia_executor import server as executor_server
from ia_registry import server as registry_server
from ia_service_kit.keys import ApiKeys
from ia_service_kit.server import RunningServer, ServiceConfig, start
from ia_telemetry import server as telemetry_server
from ia_telemetry.exporters import ExportSettings
from security_testing import JWT_SECRET, Deployment

TENANTS = ("acme", "globex")
ROLES = ("viewer", "operator", "admin")


class EchoRunner:
    """Plugin steps return their input (no plugin host in these tests)."""

    async def run(self, action: Any) -> dict[str, Any]:
        return dict(action.input)


@pytest.fixture
async def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Deployment]:
    service_token = secrets.token_urlsafe(32)
    auth_url = f"sqlite:///{tmp_path / 'auth.db'}"
    monkeypatch.setenv("IA_SERVICE_TOKEN", service_token)
    monkeypatch.setenv("IA_JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("IA_AUTH_DATABASE_URL", auth_url)
    # Keys are looked up at every call, so a revocation shows at the next one (the
    # seconds a valid key is trusted by default are tested in tests/service/kit).
    monkeypatch.setenv("IA_AUTH_KEY_CACHE_SECONDS", "0")
    monkeypatch.delenv("IA_TOKEN", raising=False)
    keys = ApiKeys.open(auth_url)
    issued = {(tenant, role): keys.create(tenant=tenant, role=role)[1] for tenant in TENANTS for role in ROLES}
    started: list[RunningServer] = []

    def config(name: str) -> ServiceConfig:
        return ServiceConfig(name=name, default_port=0, port=0, data_dir=tmp_path / name, grace_period_s=0)

    try:
        registry = await start(config(registry_server.NAME), registry_server.wire)
        started.append(registry)
        executor = await start(
            config(executor_server.NAME),
            functools.partial(executor_server.wire, registry=registry.address, runner=EchoRunner()),
        )
        started.append(executor)
        telemetry = await start(
            config(telemetry_server.NAME),
            functools.partial(telemetry_server.wire, exports=ExportSettings()),
        )
        started.append(telemetry)
        async with Deployment(
            registry.address, executor.address, telemetry.address, issued, service_token, keys
        ) as deployed:
            yield deployed
    finally:
        for running in reversed(started):
            await running.stop(0)
        keys.close()
