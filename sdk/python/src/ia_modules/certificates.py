"""Development certificates: a private CA, and certificates it signs for the
services and for clients, to try TLS and mutual TLS without a real PKI.

`ia-modules certs dev` writes them. Never use them in production: the CA's key
sits next to the certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEFAULT_SERVER_NAMES", "DevCertificates", "write_dev_certificates"]

# Every name a service is dialled by: on this machine, in Compose and in Kubernetes.
DEFAULT_SERVER_NAMES = (
    "localhost",
    "127.0.0.1",
    "::1",
    "envoy",
    "registry",
    "executor",
    "plugin-host",
    "telemetry",
    "*.ia-modules.svc",
    "*.ia-modules.svc.cluster.local",
)
VALID_DAYS = 365


@dataclass(frozen=True)
class DevCertificates:
    """The files written: each a PEM file; the keys readable by their owner only."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def all(self) -> list[Path]:
        return [self.ca_cert, self.ca_key, self.server_cert, self.server_key, self.client_cert, self.client_key]


def write_dev_certificates(
    out: Path,
    *,
    server_names: Sequence[str] = DEFAULT_SERVER_NAMES,
    client_name: str = "ia-modules-client",
    overwrite: bool = False,
) -> DevCertificates:
    """Makes a CA, a server certificate for `server_names` and a client certificate in `out`.

    The server certificate is also good as a client certificate: each service
    presents it when it calls another one. Raises FileExistsError naming the first
    file already there unless `overwrite`.
    """
    files = DevCertificates(*(out / name for name in _FILE_NAMES))
    if not overwrite:
        for path in files.all():
            if path.exists():
                raise FileExistsError(f"{path} exists")
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "IA Modules development CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(files.ca_key, ca_key)
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for cert_path, key_path, common_name, names, usages in (
        (
            files.server_cert,
            files.server_key,
            server_names[0] if server_names else "localhost",
            server_names,
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        ),
        (files.client_cert, files.client_key, client_name, (), [ExtendedKeyUsageOID.CLIENT_AUTH]),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]), ca_name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(_alternative_names(names))), critical=False
            )
        _write_key(key_path, key)
        cert_path.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return files


_FILE_NAMES = ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # A minute back, for clocks slightly behind this one.
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _alternative_names(names: Iterable[str]) -> Iterable[x509.GeneralName]:
    for name in names:
        try:
            yield x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            yield x509.DNSName(name)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # Created owner-only, never briefly readable by others.
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
