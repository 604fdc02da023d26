"""TLS in the service kit: the flags and variables, a server that requires client
certificates, and the probe the container images run as their health check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ia_modules.certificates import DevCertificates, write_dev_certificates
from ia_modules.tls import TLSSettings
from ia_service_kit import probe
from ia_service_kit.config import ServiceConfig
from ia_service_kit.server import RunningServer, Wiring, start


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return write_dev_certificates(tmp_path_factory.mktemp("tls"))


def server_environment(files: DevCertificates) -> dict[str, str]:
    return {"IA_TLS_CERT": str(files.server_cert), "IA_TLS_KEY": str(files.server_key), "IA_TLS_CA": str(files.ca_cert)}


def test_without_tls_settings_a_service_serves_plaintext() -> None:
    assert ServiceConfig.from_args("registry", 50051, [], environ={}).tls is None


def test_the_environment_turns_on_mutual_tls(certificates: DevCertificates) -> None:
    config = ServiceConfig.from_args("registry", 50051, [], environ=server_environment(certificates))
    assert config.tls is not None and config.tls.mutual
    assert config.tls.cert == certificates.server_cert.read_bytes()


def test_flags_win_over_the_environment_and_without_a_ca_no_client_certificate_is_asked(
    certificates: DevCertificates,
) -> None:
    flags = ["--tls-cert", str(certificates.client_cert), "--tls-key", str(certificates.client_key)]
    config = ServiceConfig.from_args("registry", 50051, flags, environ={})
    assert config.tls is not None and not config.tls.mutual
    assert config.tls.cert == certificates.client_cert.read_bytes()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"IA_TLS_CERT": "a.crt"}, "--tls-cert/IA_TLS_CERT is set but --tls-key/IA_TLS_KEY is not"),
        ({"IA_TLS_KEY": "a.key"}, "--tls-key/IA_TLS_KEY is set but --tls-cert/IA_TLS_CERT is not"),
        ({"IA_TLS_CA": "ca.crt"}, "no certificate to serve"),
        ({"IA_TLS_CERT": "/nowhere/a.crt", "IA_TLS_KEY": "/nowhere/a.key"}, "'/nowhere/a.crt' cannot be read"),
    ],
)
def test_incomplete_or_unreadable_tls_settings_are_refused_by_name(
    environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if environ.get("IA_TLS_CA"):
        (tmp_path / "ca.crt").write_text("")
        environ = {"IA_TLS_CA": str(tmp_path / "ca.crt")}
    with pytest.raises(SystemExit) as exited:
        ServiceConfig.from_args("registry", 50051, [], environ=environ)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
async def mtls_server(certificates: DevCertificates) -> AsyncIterator[RunningServer]:
    config = ServiceConfig.from_args("probe", 0, ["--port", "0"], environ=server_environment(certificates))
    server = await start(config, lambda cfg: Wiring(servicers=[]))
    yield server
    await server.stop(0)


async def health(address: str, credentials: grpc.ChannelCredentials | None) -> int:
    channel = (
        grpc.aio.insecure_channel(address) if credentials is None else grpc.aio.secure_channel(address, credentials)
    )
    async with channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return reply.status


async def test_a_mutual_tls_server_answers_only_clients_with_a_certificate_from_its_ca(
    mtls_server: RunningServer, certificates: DevCertificates, tmp_path: Path
) -> None:
    signed = TLSSettings.from_files(ca=certificates.ca_cert, cert=certificates.client_cert, key=certificates.client_key)
    assert signed is not None
    assert await health(mtls_server.address, signed.channel_credentials()) == health_pb2.HealthCheckResponse.SERVING

    stranger = write_dev_certificates(tmp_path / "other")
    refused = [
        None,
        grpc.ssl_channel_credentials(root_certificates=certificates.ca_cert.read_bytes()),
        grpc.ssl_channel_credentials(
            root_certificates=certificates.ca_cert.read_bytes(),
            private_key=stranger.client_key.read_bytes(),
            certificate_chain=stranger.client_cert.read_bytes(),
        ),
    ]
    for credentials in refused:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health(mtls_server.address, credentials)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_the_probe_dials_with_the_services_own_settings(
    mtls_server: RunningServer,
    certificates: DevCertificates,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in server_environment(certificates).items():
        monkeypatch.setenv(name, value)
    assert await _probe(["--port", str(mtls_server.port)]) == 0
    assert capsys.readouterr().out.strip() == "SERVING"

    monkeypatch.delenv("IA_TLS_CERT")
    monkeypatch.delenv("IA_TLS_KEY")
    monkeypatch.delenv("IA_TLS_CA")
    assert await _probe(["--port", str(mtls_server.port), "--timeout", "2"]) == 1
    assert capsys.readouterr().out.startswith("UNAVAILABLE")


async def test_the_probe_reports_unusable_settings_and_an_unknown_service(
    mtls_server: RunningServer,
    certificates: DevCertificates,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in server_environment(certificates).items():
        monkeypatch.setenv(name, value)
    assert await _probe(["--port", str(mtls_server.port), "--service", "no.such.Service"]) == 1
    assert capsys.readouterr().out.startswith("NOT_FOUND")
    monkeypatch.setenv("IA_TLS_KEY", "/nowhere/key.pem")
    assert await _probe(["--port", str(mtls_server.port)]) == 1
    assert "IA_TLS_KEY='/nowhere/key.pem' cannot be read" in capsys.readouterr().out


async def _probe(argv: list[str]) -> int:
    # The probe is a blocking command; run it off the loop that serves the server.
    return await asyncio.to_thread(probe.main, argv)


async def test_the_probe_checks_the_certificate_against_the_service_name(
    mtls_server: RunningServer,
    certificates: DevCertificates,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in server_environment(certificates).items():
        monkeypatch.setenv(name, value)
    assert await _probe(["--port", str(mtls_server.port), "--server-name", "registry"]) == 0
    assert await _probe(["--port", str(mtls_server.port), "--server-name", "elsewhere.example"]) == 1
    assert capsys.readouterr().out.split("\n")[1].startswith("UNAVAILABLE")
