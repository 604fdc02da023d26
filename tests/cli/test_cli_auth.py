"""`auth create-key`, `list-keys` and `revoke-key` on the auth database, and `--token`
against a registry with authentication on."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import BackgroundService
from typer.testing import CliRunner

from ia_modules.cli.main import app
from ia_registry.server import wire as registry_wire


def test_keys_are_issued_listed_and_revoked(runner: CliRunner, tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    issued = runner.invoke(app, ["auth", "create-key", "--tenant", "acme", "--role", "operator", *data])
    assert issued.exit_code == 0, issued.output
    key = issued.stdout.strip()
    assert key.startswith("iak_") and "not shown again" in issued.stderr
    as_json = runner.invoke(
        app, ["auth", "create-key", "--tenant", "globex", "--role", "viewer", "--name", "ci", "--format", "json", *data]
    )
    document = json.loads(as_json.stdout)
    assert (document["tenant"], document["role"], document["name"]) == ("globex", "viewer", "ci")
    assert document["key"].startswith(f"iak_{document['key_id']}_")

    listed = runner.invoke(app, ["auth", "list-keys", "--tenant", "acme", *data])
    assert "operator@acme" in listed.stdout and "globex" not in listed.stdout
    revoked = runner.invoke(app, ["auth", "revoke-key", key, *data])
    assert revoked.exit_code == 0 and "revoked key" in revoked.stderr
    keys = json.loads(runner.invoke(app, ["auth", "list-keys", "--format", "json", *data]).stdout)["keys"]
    assert [(k["tenant"], k["revoke_time"] is not None) for k in keys] == [("acme", True), ("globex", False)]
    assert all("key" not in k for k in keys)  # the secret is shown once, at creation


def test_bad_requests_say_what_is_wrong(runner: CliRunner, tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    bad_role = runner.invoke(app, ["auth", "create-key", "--tenant", "acme", "--role", "root", *data])
    assert bad_role.exit_code == 1 and "role 'root' is not one of viewer, operator, admin" in bad_role.stderr
    bad_tenant = runner.invoke(app, ["auth", "create-key", "--tenant", "Acme Inc", "--role", "viewer", *data])
    assert bad_tenant.exit_code == 1 and "tenant 'Acme Inc' is not valid" in bad_tenant.stderr
    unknown = runner.invoke(app, ["auth", "revoke-key", "0123456789abcdef", *data])
    assert unknown.exit_code == 1 and "no key '0123456789abcdef'" in unknown.stderr
    assert "no keys" in runner.invoke(app, ["auth", "list-keys", *data]).stdout


@pytest.fixture
def secured_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BackgroundService]:
    monkeypatch.setenv("IA_SERVICE_TOKEN", secrets.token_urlsafe(32))
    monkeypatch.setenv("IA_AUTH_DATABASE_URL", f"sqlite:///{tmp_path / 'auth.db'}")
    monkeypatch.delenv("IA_TOKEN", raising=False)
    service = BackgroundService("registry", registry_wire, tmp_path)
    yield service
    service.stop()


def test_the_token_option_or_ia_token_is_sent(
    runner: CliRunner, tmp_path: Path, secured_registry: BackgroundService, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = ["--endpoint", secured_registry.address]
    key = runner.invoke(app, ["auth", "create-key", "--tenant", "acme", "--role", "viewer", "--data-dir", str(tmp_path)])
    anonymous = runner.invoke(app, [*endpoint, "pipelines", "list"])
    assert anonymous.exit_code != 0 and "UNAUTHENTICATED" in anonymous.stderr
    with_option = runner.invoke(app, [*endpoint, "--token", key.stdout.strip(), "pipelines", "list"])
    assert with_option.exit_code == 0, with_option.output
    assert "no pipelines" in with_option.stdout
    monkeypatch.setenv("IA_TOKEN", key.stdout.strip())
    assert runner.invoke(app, [*endpoint, "pipelines", "list"]).exit_code == 0
