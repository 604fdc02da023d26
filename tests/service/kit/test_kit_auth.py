"""The kit's authentication parts on their own: settings and development mode, API key
storage, RS256 JWTs from a JWKS file, and the identity a call acts as."""

import io
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from ia_service_kit.auth import Authenticator, AuthSettings, AuthSettingsError, Refusal, is_loopback
from ia_service_kit.identity import acting_for, current_tenant, outgoing_metadata
from ia_service_kit.keys import ApiKeys, InvalidKeyRequest, auth_database_url
from ia_service_kit.logging import configure_logging
from ia_service_kit.server import ServiceConfig, Wiring, run, start

TOKEN = "t" * 40


def settings(tmp_path: Path, **fields) -> AuthSettings:
    return AuthSettings(**{"service_token": TOKEN, "keys_url": f"sqlite:///{tmp_path / 'auth.db'}", **fields})


def test_loopback_addresses():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.5.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "10.0.0.4", "example.com", ""))


def test_development_mode_is_refused_off_loopback_with_what_to_set(tmp_path):
    development = AuthSettings(service_token=None, keys_url="")
    development.check_bind("127.0.0.1")
    with pytest.raises(AuthSettingsError, match="refusing to listen on 0.0.0.0 without authentication") as caught:
        development.check_bind("0.0.0.0")
    assert "IA_SERVICE_TOKEN" in str(caught.value) and "create-key" in str(caught.value)
    settings(tmp_path).check_bind("0.0.0.0")  # with auth configured any address will do


def test_settings_from_the_environment(tmp_path):
    read = AuthSettings.from_env(tmp_path, {"IA_SERVICE_TOKEN": TOKEN, "IA_JWT_SECRET": "s", "IA_JWT_ISSUER": "me"})
    assert read.enabled and read.jwt_secret == "s" and read.jwt_issuer == "me"
    assert read.keys_url == f"sqlite:///{tmp_path / 'auth.db'}"
    assert not AuthSettings.from_env(tmp_path, {}).enabled
    shared = {"IA_DATABASE_URL": "postgresql://db/ia"}
    assert auth_database_url(tmp_path, shared) == "postgresql://db/ia"
    assert auth_database_url(tmp_path, {**shared, "IA_AUTH_DATABASE_URL": "sqlite:///a.db"}) == "sqlite:///a.db"
    with pytest.raises(AuthSettingsError, match="at least 32"):
        AuthSettings.from_env(tmp_path, {"IA_SERVICE_TOKEN": "short"})


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging("probe", level="info", stream=buffer)
    yield buffer
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def test_a_service_without_auth_will_not_start_on_a_public_address(tmp_path, monkeypatch, capsys, log_output):
    monkeypatch.delenv("IA_SERVICE_TOKEN", raising=False)
    config = ServiceConfig(name="probe", default_port=0, port=0, host="0.0.0.0", data_dir=tmp_path)
    assert run(config, lambda cfg: Wiring(servicers=[])) == 1
    assert "refusing to listen on 0.0.0.0 without authentication" in capsys.readouterr().err


async def test_development_mode_says_so_at_start_up(tmp_path, monkeypatch, log_output):
    monkeypatch.delenv("IA_SERVICE_TOKEN", raising=False)
    config = ServiceConfig(name="probe", default_port=0, port=0, data_dir=tmp_path)
    running = await start(config, lambda cfg: Wiring(servicers=[]))
    await running.stop(0)
    assert "development mode: no authentication" in log_output.getvalue()


def test_keys_are_stored_hashed_and_checked(tmp_path):
    keys = ApiKeys.open(f"sqlite:///{tmp_path / 'auth.db'}")
    key, text = keys.create(tenant="acme", role="operator", name="ci")
    other, _ = keys.create(tenant="globex", role="viewer")
    assert text.startswith(f"iak_{key.key_id}_")
    secret = text.removeprefix(f"iak_{key.key_id}_")
    stored = sqlite3.connect(tmp_path / "auth.db").execute("SELECT secret_sha256 FROM api_keys").fetchall()
    assert all(secret not in row[0] for row in stored)
    assert keys.verify(text) == key
    assert keys.verify(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    assert [k.key_id for k in keys.list("acme")] == [key.key_id]
    assert {k.key_id for k in keys.list()} == {key.key_id, other.key_id}
    assert keys.revoke(text).revoked and keys.verify(text).revoked
    assert keys.revoke("0000000000000000") is None
    with pytest.raises(InvalidKeyRequest, match="not one of viewer, operator, admin"):
        keys.create(tenant="acme", role="service")
    with pytest.raises(InvalidKeyRequest, match="tenant 'Not Valid' is not valid"):
        keys.create(tenant="Not Valid", role="viewer")
    keys.close()


async def test_a_valid_key_is_trusted_for_the_cache_seconds_then_looked_up_again(tmp_path):
    keys = ApiKeys.open(f"sqlite:///{tmp_path / 'auth.db'}")
    _, text = keys.create(tenant="acme", role="viewer")
    now = [100.0]
    authenticator = Authenticator(settings(tmp_path, key_cache_s=2.0), keys, clock=lambda: now[0])
    bearer = {"authorization": f"Bearer {text}"}
    assert (await authenticator.identify(bearer)).tenant == "acme"
    keys.revoke(text)
    now[0] += 1.5
    assert (await authenticator.identify(bearer)).tenant == "acme"  # still within the cache seconds
    now[0] += 1.0
    with pytest.raises(Refusal) as caught:
        await authenticator.identify(bearer)
    assert caught.value.reason == "KEY_REVOKED"
    keys.close()


def test_the_key_cache_seconds_are_checked(tmp_path):
    assert AuthSettings.from_env(tmp_path, {"IA_AUTH_KEY_CACHE_SECONDS": "0"}).key_cache_s == 0
    for bad in ("soon", "-1", "3600"):
        with pytest.raises(AuthSettingsError, match="IA_AUTH_KEY_CACHE_SECONDS"):
            AuthSettings.from_env(tmp_path, {"IA_AUTH_KEY_CACHE_SECONDS": bad})


def _rsa_jwks(path: Path, kid: str) -> rsa.RSAPrivateKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    path.write_text(json.dumps({"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}))
    return private


async def test_rs256_jwts_are_checked_against_the_jwks_file(tmp_path):
    jwks = tmp_path / "jwks.json"
    private = _rsa_jwks(jwks, "k1")
    authenticator = Authenticator(settings(tmp_path, jwks_file=jwks))
    claims = {"sub": "ann", "tenant": "acme", "role": "admin", "exp": int(time.time()) + 60}

    def bearer(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    identity = await authenticator.identify(bearer(jwt.encode(claims, private, "RS256", headers={"kid": "k1"})))
    assert (identity.subject, identity.tenant, identity.role, identity.kind) == ("ann", "acme", "admin", "jwt")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "another key": jwt.encode(claims, stranger, "RS256", headers={"kid": "k1"}),
        "unknown kid": jwt.encode(claims, private, "RS256", headers={"kid": "k2"}),
        # No HS256 secret is configured: an HS256 token (signed with anything) is refused.
        "hs256": jwt.encode(claims, "guess-the-secret-of-enough-length", "HS256"),
    }
    for what, token in refused.items():
        with pytest.raises(Refusal) as caught:
            await authenticator.identify(bearer(token))
        assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN"), what


def test_an_unreadable_jwks_file_stops_the_start(tmp_path):
    broken = tmp_path / "jwks.json"
    broken.write_text("{not json")
    with pytest.raises(AuthSettingsError, match="cannot be read as a JWKS"):
        Authenticator(settings(tmp_path, jwks_file=broken))


def test_work_with_no_caller_acts_for_the_tenant_it_names(monkeypatch):
    monkeypatch.setenv("IA_SERVICE_TOKEN", TOKEN)
    assert current_tenant() == "default"
    with acting_for("acme"):
        assert current_tenant() == "acme"
        assert outgoing_metadata() == (("authorization", f"Bearer {TOKEN}"), ("x-ia-tenant", "acme"))
    monkeypatch.delenv("IA_SERVICE_TOKEN")
    assert outgoing_metadata() == (("x-ia-tenant", "default"),)
