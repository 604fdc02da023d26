"""The whole stack with authentication on, through Envoy: the token passes through
Envoy (gRPC and REST), services call each other with the service token (the executor
to the registry and the plugin host, every service to telemetry), and a tenant sees
only its own runs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from e2e_http import http

from ia.executor.v1 import message_pb2
from ia_modules import stack
from ia_modules.client import Client
from ia_modules.engine.values import from_struct
from ia_modules.errors import IAError

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, free_ports: dict[str, int]) -> Iterator[tuple[str, Path]]:
    """A second stack, started with IA_SERVICE_TOKEN; its Envoy endpoint and data folder."""
    data_dir = tmp_path_factory.mktemp("ia-auth")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IA_SERVICE_TOKEN", secrets.token_urlsafe(32))
        env.delenv("IA_AUTH_DATABASE_URL", raising=False)
        env.delenv("IA_TOKEN", raising=False)
        status = stack.up(data_dir, ports=free_ports)
    try:
        yield f"127.0.0.1:{status.services[stack.ENVOY].port}", data_dir
    finally:
        stack.down(data_dir)


def issue(data_dir: Path, tenant: str, role: str) -> str:
    from ia_service_kit.keys import ApiKeys, auth_database_url

    keys = ApiKeys.open(auth_database_url(data_dir, {}))
    try:
        return keys.create(tenant=tenant, role=role)[1]
    finally:
        keys.close()


def test_a_tenant_runs_a_plugin_pipeline_and_another_tenant_cannot_see_it(secured: tuple[str, Path]) -> None:
    endpoint, data_dir = secured
    admin, other = issue(data_dir, "acme", "admin"), issue(data_dir, "globex", "admin")
    # The condition is a plugin: the executor asks the plugin host for it with the service token.
    in_stock = {
        "type": "plugin",
        "plugin": "threshold_condition",
        "config": {"field": "stock", "operator": ">", "value": 0},
    }
    definition = {
        "name": "auth-e2e",
        "steps": [
            {"id": "stock", "type": "pass", "config": {"values": {"stock": 12}}},
            {"id": "ship", "type": "pass", "config": {"values": {"decision": "ship"}}},
        ],
        "flow": {"transitions": [{"from": "stock", "to": "ship", "condition": in_stock}]},
    }
    with Client(endpoint) as anonymous:
        with pytest.raises(IAError) as caught:
            anonymous.list_pipelines_page()
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    with Client(endpoint, token=admin) as client:
        client.create_pipeline(definition)
        run = client.start_run("auth-e2e")
        finished = client.wait_run(run.run_id)
        assert message_pb2.RunState.Name(finished.state) == "RUN_STATE_SUCCEEDED", finished.error.message
        shipped = {step.step_id: from_struct(step.output) for step in finished.steps}["ship"]
        assert shipped["decision"] == "ship"
    with Client(endpoint, token=other) as client:
        with pytest.raises(IAError) as caught:
            client.get_run(run.run_id)
        assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.NOT_FOUND, "RUN_NOT_FOUND")
        assert [p.name for p in client.list_pipelines()] == []


def test_rest_calls_carry_the_token_through_envoy(secured: tuple[str, Path]) -> None:
    endpoint, data_dir = secured
    viewer = issue(data_dir, "acme", "viewer")
    assert http("GET", f"http://{endpoint}/v1/pipelines").status == 401
    reply = http("GET", f"http://{endpoint}/v1/pipelines", headers={"authorization": f"Bearer {viewer}"})
    assert reply.status == 200
    denied = http(
        "POST", f"http://{endpoint}/v1/pipelines", {"name": "x", "steps": []}, {"authorization": f"Bearer {viewer}"}
    )
    assert denied.status == 403
