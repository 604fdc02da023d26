"""The stack with mutual TLS everywhere: a stack of its own started with IA_TLS_CERT,
IA_TLS_KEY and IA_TLS_CA, so every service serves TLS and requires a client
certificate, calls the others with its own, and Envoy does both too.

A slice of the end-to-end suite runs against it unchanged (the tests are imported
here, and this module's `client` fixture hands them a client with a certificate):
pipelines through the registry, errors, a run of plugin steps (executor -> plugin
host), and a traced run whose spans from the executor and the registry reach the
telemetry service (executor -> registry, services -> telemetry).
Then clients without a certificate, or with one from another CA, are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ia_modules import stack
from ia_modules.certificates import DevCertificates, write_dev_certificates
from ia_modules.client import Client
from ia_modules.errors import IAError
from ia_modules.tls import TLSSettings

from telemetry.test_telemetry_stack import test_a_run_is_one_trace_from_the_caller_through_envoy_to_the_registry  # noqa: F401
from test_plugin_steps import test_a_pipeline_of_plugin_steps_and_a_plugin_condition_succeeds, warehouse  # noqa: F401
from test_sdk import (  # noqa: F401
    test_create_update_and_read_back_versions,
    test_errors_arrive_as_one_error_type_with_the_reason,
    test_validate_reports_findings_without_storing,
)

# A group of its own: under xdist it runs beside the plaintext stack's tests.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-mtls")]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return write_dev_certificates(tmp_path_factory.mktemp("tls"))


def _server_environment(files: DevCertificates) -> dict[str, str]:
    return {"IA_TLS_CERT": str(files.server_cert), "IA_TLS_KEY": str(files.server_key), "IA_TLS_CA": str(files.ca_cert)}


@pytest.fixture(scope="module")
def mtls_stack(
    tmp_path_factory: pytest.TempPathFactory, free_ports: dict[str, int], certificates: DevCertificates
) -> Iterator[stack.StackStatus]:
    data_dir = tmp_path_factory.mktemp("ia-mtls")
    # The services inherit the variables; the health checks of up and down use them too.
    with pytest.MonkeyPatch.context() as environment:
        for name, value in _server_environment(certificates).items():
            environment.setenv(name, value)
        status = stack.up(data_dir, ports=free_ports)
    yield status
    with pytest.MonkeyPatch.context() as environment:
        for name, value in _server_environment(certificates).items():
            environment.setenv(name, value)
        stack.down(data_dir)


@pytest.fixture(scope="module")
def front_door(mtls_stack: stack.StackStatus) -> str:
    return f"127.0.0.1:{mtls_stack.services[stack.ENVOY].port}"


@pytest.fixture(scope="module")
def client(front_door: str, certificates: DevCertificates) -> Iterator[Client]:
    """A client with the development client certificate: the fixture the imported tests use."""
    tls = TLSSettings.from_files(ca=certificates.ca_cert, cert=certificates.client_cert, key=certificates.client_key)
    with Client(front_door, tls=tls) as client:
        yield client


@pytest.fixture(scope="module")
def channel(front_door: str, certificates: DevCertificates) -> Iterator[grpc.Channel]:
    """A raw channel with the client certificate, for the imported telemetry test."""
    tls = TLSSettings.from_files(ca=certificates.ca_cert, cert=certificates.client_cert, key=certificates.client_key)
    assert tls is not None
    with grpc.secure_channel(front_door, tls.channel_credentials()) as opened:
        yield opened


def _health(target: str, credentials: grpc.ChannelCredentials | None) -> int:
    channel = grpc.insecure_channel(target) if credentials is None else grpc.secure_channel(target, credentials)
    with channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_every_service_answers_a_client_with_a_certificate(
    mtls_stack: stack.StackStatus, certificates: DevCertificates
) -> None:
    tls = TLSSettings.from_files(ca=certificates.ca_cert, cert=certificates.client_cert, key=certificates.client_key)
    assert tls is not None
    for name in ("registry", "executor", "plugin_host", "telemetry"):
        port = mtls_stack.services[name].port
        assert _health(f"127.0.0.1:{port}", tls.channel_credentials()) == health_pb2.HealthCheckResponse.SERVING, name


def test_a_client_without_a_certificate_is_refused_by_envoy(front_door: str, certificates: DevCertificates) -> None:
    tls = TLSSettings.from_files(ca=certificates.ca_cert)
    with Client(front_door, tls=tls, timeout=5) as anonymous, pytest.raises(IAError) as refused:
        anonymous.get_pipeline("anything")
    assert refused.value.code is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("service", ["registry", "executor"])
def test_a_client_without_a_certificate_or_in_plaintext_is_refused_by_a_service(
    mtls_stack: stack.StackStatus, certificates: DevCertificates, service: str
) -> None:
    target = f"127.0.0.1:{mtls_stack.services[service].port}"
    no_certificate = grpc.ssl_channel_credentials(root_certificates=certificates.ca_cert.read_bytes())
    for credentials in (no_certificate, None):
        with pytest.raises(grpc.RpcError) as refused:
            _health(target, credentials)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_certificate_from_another_ca_is_refused(
    front_door: str, tmp_path: Path, certificates: DevCertificates
) -> None:
    stranger = write_dev_certificates(tmp_path / "other")
    # It trusts the stack's CA, but its own certificate was signed by another one.
    tls = TLSSettings.from_files(ca=certificates.ca_cert, cert=stranger.client_cert, key=stranger.client_key)
    with Client(front_door, tls=tls, timeout=5) as stranger_client, pytest.raises(IAError) as refused:
        stranger_client.get_pipeline("anything")
    assert refused.value.code is grpc.StatusCode.UNAVAILABLE
