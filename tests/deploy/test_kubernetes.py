"""deploy/kubernetes, rendered with kustomize and validated with kubeconform against
the Kubernetes JSON schemas that the PyPI package kubernetes-validate ships (no
schema is fetched from the network), then held to the rules of the deployment:
non-root read-only containers with gRPC health probes and resource limits,
disruption budgets, the executor's autoscaler and plugin sidecar, and network
policies that let only the executor reach plugins.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy_tools import DEPLOY, tool

KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.34.0"
VARIANTS = ["base", "overlays/mtls"]
GRPC_PORTS = {"registry": 50051, "executor": 50052, "plugin-host": 50053, "telemetry": 50054}


def render(variant: str) -> str:
    built = subprocess.run(
        [tool("kustomize"), "build", str(KUBERNETES / variant)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    return built.stdout


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {variant: render(variant) for variant in VARIANTS}


def objects(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(text: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects(text) if o["kind"] == kind}


@pytest.fixture(scope="module")
def schemas(rendered: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubernetes-validate's schema of each kind the manifests use, made standalone.

    Its files carry an `$id` on kubernetes.io and refer to `/api/_definitions.json`
    under it, which kubeconform would fetch from the network; each schema written
    here holds the definitions it needs instead (which also spares kubeconform
    compiling all of them for every kind).
    """
    source = (
        Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}-local-strict"
    )
    assert source.is_dir(), f"kubernetes-validate has no schemas for {KUBERNETES_VERSION}"
    definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
    folder = tmp_path_factory.mktemp("kubernetes-schemas")
    kinds = {(o["kind"], o["apiVersion"]) for text in rendered.values() for o in objects(text)}
    for kind, api_version in kinds:
        group, _, version = api_version.rpartition("/")
        name = f"{kind.lower()}{'-' + group.split('.')[0] if group else ''}-{version}.json"
        text = (source / name).read_text().replace('"/api/_definitions.json#', '"#')
        schema = json.loads(text)
        schema.pop("$id", None)
        schema["$defs"] = _referenced(schema, definitions)
        (folder / name).write_text(json.dumps(schema))
    return folder


def _referenced(schema: dict, definitions: dict[str, dict]) -> dict[str, dict]:
    """Every definition `schema` refers to, directly or through other definitions."""
    found: dict[str, dict] = {}
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                key = reference.removeprefix("#/$defs/")
                if key not in found:
                    found[key] = definitions[key]
                    pending.append(definitions[key])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def kubeconform(manifests: Path, schemas: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            tool("kubeconform"),
            "-strict",
            "-summary",
            "-output", "json",
            "-schema-location", f"{schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            str(manifests),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_kubeconform_accepts_the_rendered_manifests(
    variant: str, rendered: dict[str, str], schemas: Path, tmp_path: Path
) -> None:
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(rendered[variant])
    checked = kubeconform(manifests, schemas)
    summary = json.loads(checked.stdout)["summary"]
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert summary["valid"] == len(objects(rendered[variant])) and summary["skipped"] == 0, summary


def test_kubeconform_refuses_a_misspelt_field(rendered: dict[str, str], schemas: Path, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(rendered["base"].replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1))
    checked = kubeconform(manifests, schemas)
    assert checked.returncode == 1
    assert "readOnlyRootFileSystem" in checked.stdout


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_container_is_non_root_read_only_limited_and_probed(variant: str, rendered: dict[str, str]) -> None:
    for name, deployment in by_kind(rendered[variant], "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            assert "readinessProbe" in container and "livenessProbe" in container, where


def test_services_are_probed_on_grpc_health_by_the_kubelet(rendered: dict[str, str]) -> None:
    containers = {
        c["name"]: c
        for d in by_kind(rendered["base"], "Deployment").values()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    for name, port in GRPC_PORTS.items():
        for probe in ("readinessProbe", "livenessProbe"):
            assert containers[name][probe]["grpc"] == {"port": port}, f"{name} {probe}"
    assert containers["envoy"]["readinessProbe"]["grpc"] == {"port": 8080}


def test_with_mutual_tls_the_probes_present_the_certificate(rendered: dict[str, str]) -> None:
    # The kubelet's gRPC probe cannot do TLS; the kit's probe runs in the container instead.
    for deployment in by_kind(rendered["overlays/mtls"], "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if container["name"] not in GRPC_PORTS:
                continue
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["IA_TLS_CA"] == "/etc/ia/tls/ca.crt", container["name"]
            for probe in ("readinessProbe", "livenessProbe"):
                assert "grpc" not in container[probe]
                command = container[probe]["exec"]["command"]
                name, port = container["name"], str(GRPC_PORTS[container["name"]])
                # The certificate names the service, not the loopback address the probe dials.
                assert command == ["python", "-m", "ia_service_kit.probe", "--port", port, "--server-name", name]
            assert any(v["name"] == "tls" and v["secret"]["secretName"] == "ia-tls" for v in pod["volumes"])
    envoy = by_kind(rendered["overlays/mtls"], "Deployment")["envoy"]["spec"]["template"]["spec"]["containers"][0]
    assert envoy["args"][:2] == ["--config-path", "/etc/envoy/envoy-tls.yaml"]


def test_the_executor_pod_carries_the_plugin_host_sharing_the_socket_volume(rendered: dict[str, str]) -> None:
    pod = by_kind(rendered["base"], "Deployment")["executor"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"executor", "plugin-host"}
    env = {e["name"]: e for e in containers["executor"]["env"]}
    assert env["IA_PLUGIN_HOST_ADDRESS"]["value"] == "127.0.0.1:50053"
    assert env["IA_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "ia-database", "key": "url"}
    mounts = [{m["name"]: m["mountPath"] for m in c["volumeMounts"]} for c in containers.values()]
    assert mounts[0]["data"] == mounts[1]["data"]
    assert next(v for v in pod["volumes"] if v["name"] == "data") == {"name": "data", "emptyDir": {}}


def test_stateful_services_read_the_database_url_from_a_secret(rendered: dict[str, str]) -> None:
    for name in ("registry", "executor", "telemetry"):
        container = by_kind(rendered["base"], "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["IA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "ia-database", name


def test_disruption_budgets_and_the_executor_autoscaler(rendered: dict[str, str]) -> None:
    deployments = by_kind(rendered["base"], "Deployment")
    budgets = by_kind(rendered["base"], "PodDisruptionBudget")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(matching) == 1, f"{name} has {len(matching)} disruption budgets"
    autoscalers = by_kind(rendered["base"], "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"executor"}
    spec = autoscalers["executor"]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "executor"}
    assert spec["minReplicas"] >= 2 and spec["maxReplicas"] > spec["minReplicas"]
    assert "replicas" not in deployments["executor"]["spec"], "the autoscaler owns the executor's replica count"


def pods(text: str) -> dict[str, dict[str, str]]:
    return {name: d["spec"]["template"]["metadata"]["labels"] for name, d in by_kind(text, "Deployment").items()}


def selects(selector: dict, labels: dict[str, str]) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def admitted(policies: dict[str, dict], target: dict[str, str], source: dict[str, str], port: int | None) -> bool:
    """Whether any policy selecting `target` admits `source` (same namespace) on `port`."""
    for policy in policies.values():
        if not selects(policy["spec"]["podSelector"], target):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            if peers is None or any(
                "podSelector" in p and "namespaceSelector" not in p and selects(p["podSelector"], source) for p in peers
            ):
                return True
    return False


def test_network_policies_deny_by_default_and_only_the_executor_reaches_plugins(rendered: dict[str, str]) -> None:
    policies = by_kind(rendered["base"], "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    labels = pods(rendered["base"])
    plugin = {"app.kubernetes.io/component": "plugin", "app.kubernetes.io/part-of": "ia-modules"}
    assert selects(policies["plugins"]["spec"]["podSelector"], plugin)
    assert admitted(policies, plugin, labels["executor"], 50061)
    for name in ("registry", "telemetry", "envoy", "web"):
        assert not admitted(policies, plugin, labels[name], 50061), f"{name} reaches plugins"
    # The plugin host in the executor pods: Envoy (its management API) only.
    assert admitted(policies, labels["executor"], labels["envoy"], 50053)
    for name in ("registry", "telemetry", "web"):
        assert not admitted(policies, labels["executor"], labels[name], 50053), f"{name} reaches the plugin host"
    assert admitted(policies, labels["registry"], labels["executor"], 50051)
    assert not admitted(policies, labels["registry"], labels["web"], 50051)


def test_envoy_is_the_ingress(rendered: dict[str, str]) -> None:
    services = by_kind(rendered["base"], "Service")
    assert [name for name, s in services.items() if s["spec"].get("type") == "LoadBalancer"] == ["envoy"]
    # Headless, so Envoy sees (and health-checks) every executor replica.
    assert services["executor"]["spec"]["clusterIP"] == "None"
    for name, port in GRPC_PORTS.items():
        grpc_port = next(p for p in services[name]["spec"]["ports"] if p["name"] == "grpc")
        assert grpc_port["port"] == port and grpc_port["appProtocol"] == "grpc", name
