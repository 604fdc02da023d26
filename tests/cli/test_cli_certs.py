"""`ia-modules certs dev`: a development CA and certificates."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from typer.testing import CliRunner

from ia_modules.cli.main import app


def load(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def test_dev_writes_a_ca_and_certificates_it_signed(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["certs", "dev", "--out", str(tmp_path / "tls"), "--format", "json"])
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)
    ca, server, client = load(files["ca_cert"]), load(files["server_cert"]), load(files["client_cert"])
    for signed in (server, client):
        signed.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "registry", "plugin-host"} <= set(names.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for key in ("ca_key", "server_key", "client_key"):
        assert stat.S_IMODE(Path(files[key]).stat().st_mode) == 0o600, key
    assert files["environment"]["IA_TLS_CA"] == files["ca_cert"]


def test_dev_refuses_to_overwrite_unless_forced(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["certs", "dev", "--out", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "ca.crt").read_bytes()
    refused = runner.invoke(app, ["certs", "dev", "--out", str(tmp_path)])
    assert refused.exit_code == 1
    assert "exists; pass --force" in refused.output
    assert (tmp_path / "ca.crt").read_bytes() == before
    forced = runner.invoke(app, ["certs", "dev", "--out", str(tmp_path), "--force", "--name", "ia.example.com"])
    assert forced.exit_code == 0, forced.output
    assert "export IA_TLS_CERT=" in forced.output
    names = load(str(tmp_path / "server.crt")).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["ia.example.com"]


def test_dev_says_when_the_folder_cannot_be_written(runner: CliRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["certs", "dev", "--out", str(blocker / "tls")])
    assert result.exit_code == 1
    assert "cannot write to" in result.output
    assert "Traceback" not in result.output
