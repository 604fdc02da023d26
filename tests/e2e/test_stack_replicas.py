"""The stack's executor replicas: Envoy's config lists each one, and bad requests for
replicas are refused before anything starts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ia_modules import stack

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (ROOT / "deploy" / "envoy" / "envoy.yaml").read_text()
API_DESCRIPTOR = ROOT / "build" / "api_descriptor.pb"


def render(tmp_path: Path, replicas: list[int]) -> str:
    return stack.render_envoy_config(
        TEMPLATE,
        descriptor_set=tmp_path / "api.pb",
        envoy_port=8080,
        admin_port=9901,
        upstream_ports={s.name: 50051 + i for i, s in enumerate(stack.SERVICES)},
        replica_ports={"executor": replicas},
    )


def executor_cluster(rendered: str) -> dict:
    clusters = yaml.safe_load(rendered)["static_resources"]["clusters"]
    return next(cluster for cluster in clusters if cluster["name"] == "executor")


def test_each_executor_replica_is_a_health_checked_endpoint(tmp_path: Path) -> None:
    cluster = executor_cluster(render(tmp_path, [61001, 61002]))

    endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    ports = [e["endpoint"]["address"]["socket_address"]["port_value"] for e in endpoints]
    executor_port = 50051 + [s.name for s in stack.SERVICES].index("executor")
    assert ports == [executor_port, 61001, 61002]
    assert cluster["health_checks"][0]["grpc_health_check"] == {"service_name": "ia.executor.v1.ExecutorService"}


def test_only_calls_that_change_nothing_are_retried_on_unavailable(tmp_path: Path) -> None:
    config = yaml.safe_load(render(tmp_path, []))
    routes = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    [host] = routes["route_config"]["virtual_hosts"]
    retried = [r for r in host["routes"] if "unavailable" in r.get("route", {}).get("retry_policy", {}).get("retry_on", "")]
    assert [r["match"]["safe_regex"]["regex"] for r in retried] == [
        r"/ia\.executor\.v1\.ExecutorService/(GetRun|ListRuns|WatchRun|ListHumanTasks|DryRun)"
    ]
    # Everything else is retried only when the call never reached a service.
    assert host["retry_policy"]["retry_on"] == "connect-failure,refused-stream"


def test_the_config_with_replicas_is_valid_for_envoy(tmp_path: Path) -> None:
    shutil.copyfile(API_DESCRIPTOR, tmp_path / "api.pb")
    (tmp_path / "envoy.yaml").write_text(render(tmp_path, [61001]))
    command = [stack._envoy_binary(), "--mode", "validate", "--config-path", str(tmp_path / "envoy.yaml")]
    result = subprocess.run([*command, "--disable-hot-restart"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("replicas", "database_url", "message"),
    [
        (0, "", "executor_replicas must be 1 or more"),
        (2, "", "set IA_DATABASE_URL=postgresql://"),
        (2, "sqlite:///shared.db", "set IA_DATABASE_URL=postgresql://"),
    ],
)
def test_bad_replica_requests_are_refused_before_anything_starts(
    monkeypatch, tmp_path: Path, replicas: int, database_url: str, message: str
) -> None:
    monkeypatch.setenv("IA_DATABASE_URL", database_url)
    with pytest.raises(stack.StackError, match=message):
        stack.up(tmp_path, executor_replicas=replicas)
    assert not (tmp_path / stack.STATE_FILE).exists()


def test_replica_process_names() -> None:
    assert stack._replica_of("executor-2") == "executor"
    assert stack._replica_of("executor") is None
    assert stack._replica_of("registry-2") is None
