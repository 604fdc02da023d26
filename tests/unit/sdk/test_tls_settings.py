"""ia_modules.tls: one reading of IA_TLS_* for every channel the project opens."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from ia_modules.certificates import write_dev_certificates
from ia_modules.client import AsyncClient, Client
from ia_modules.tls import TLSSettings, TLSSettingsError, aio_channel, channel

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls")
    write_dev_certificates(out)
    return out


def test_no_variable_means_plaintext() -> None:
    assert TLSSettings.from_env({}) is None
    assert TLSSettings.from_env({"IA_TLS_CERT": "", "IA_TLS_SERVER_NAME": "registry"}) is None


def test_the_variables_are_read_as_files(folder: Path) -> None:
    settings = TLSSettings.from_env(
        {
            "IA_TLS_CA": str(folder / "ca.crt"),
            "IA_TLS_CERT": str(folder / "client.crt"),
            "IA_TLS_KEY": str(folder / "client.key"),
            "IA_TLS_SERVER_NAME": "registry",
        }
    )
    assert settings is not None and settings.mutual
    assert settings.ca == (folder / "ca.crt").read_bytes()
    assert settings.channel_options() == [("grpc.ssl_target_name_override", "registry")]


def test_a_ca_alone_is_one_way_tls_for_a_client(folder: Path) -> None:
    settings = TLSSettings.from_env({"IA_TLS_CA": str(folder / "ca.crt")})
    assert settings is not None and settings.cert is None
    assert isinstance(settings.channel_credentials(), grpc.ChannelCredentials)
    with pytest.raises(TLSSettingsError, match="serving TLS needs a certificate and key"):
        settings.server_credentials()


def test_half_a_key_pair_and_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(TLSSettingsError, match="IA_TLS_KEY is set but IA_TLS_CERT is not"):
        TLSSettings.from_env({"IA_TLS_KEY": "k.pem"})
    with pytest.raises(TLSSettingsError, match=r"IA_TLS_CA='.*missing.pem' cannot be read: No such file"):
        TLSSettings.from_env({"IA_TLS_CA": str(tmp_path / "missing.pem")})


def test_channels_follow_the_environment(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IA_TLS_CA", raising=False)
    monkeypatch.delenv("IA_TLS_CERT", raising=False)
    monkeypatch.delenv("IA_TLS_KEY", raising=False)
    with channel("localhost:1") as plain:
        assert isinstance(plain, grpc.Channel)
    monkeypatch.setenv("IA_TLS_CA", str(folder / "nowhere.pem"))
    with pytest.raises(TLSSettingsError, match="IA_TLS_CA"):
        channel("localhost:1")
    with pytest.raises(TLSSettingsError, match="IA_TLS_CA"):
        Client("localhost:1")


async def test_the_async_twins_take_settings_too(folder: Path) -> None:
    settings = TLSSettings.from_files(ca=folder / "ca.crt", cert=folder / "client.crt", key=folder / "client.key")
    opened = aio_channel("localhost:1", tls=settings)
    await opened.close()
    async with AsyncClient("localhost:1", tls=settings) as client:
        assert client.endpoint == "localhost:1"


def test_the_local_stack_gives_envoy_the_same_files_or_says_what_is_missing(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ia_modules import stack

    template = (ROOT / "deploy" / "envoy" / "envoy.yaml").read_text()
    rendered = stack.render_envoy_config(
        template,
        descriptor_set=Path("api.pb"),
        envoy_port=1,
        admin_port=2,
        upstream_ports=dict.fromkeys(["registry", "executor", "telemetry", "plugin_host", "web"], 3),
    )
    for name in ("IA_TLS_CERT", "IA_TLS_KEY", "IA_TLS_CA"):
        monkeypatch.delenv(name, raising=False)
    assert stack._with_tls_from_env(rendered) == rendered

    monkeypatch.setenv("IA_TLS_CA", str(folder / "ca.crt"))
    with pytest.raises(stack.StackError, match="IA_TLS_CERT and IA_TLS_KEY are not: Envoy needs all three"):
        stack._with_tls_from_env(rendered)
    monkeypatch.setenv("IA_TLS_CERT", str(folder / "server.crt"))
    with pytest.raises(stack.StackError, match="IA_TLS_CERT is set but IA_TLS_KEY is not"):
        stack._with_tls_from_env(rendered)
    monkeypatch.setenv("IA_TLS_KEY", str(folder / "server.key"))
    secured = stack._with_tls_from_env(rendered)
    assert str((folder / "server.key").resolve()) in secured
    assert "require_client_certificate: true" in secured
