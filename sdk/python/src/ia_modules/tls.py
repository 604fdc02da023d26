"""TLS and mutual TLS for every gRPC connection of the project, from one set of variables.

- IA_TLS_CERT, IA_TLS_KEY: the certificate chain and private key (PEM) this
  process presents: as a server (each service) and as a client when it calls
  another service or the front door. Both or neither.
- IA_TLS_CA: the CA (PEM) that peers' certificates must chain to. A server given a
  CA requires a client certificate signed by it (mutual TLS); a client given one
  trusts only that CA.
- IA_TLS_SERVER_NAME: the name to check the server's certificate against, when it
  differs from the host dialled (say a pod IP in front of a certificate for
  `registry`).

None of them set: plaintext, as before. `ia-modules certs dev` makes a
development CA and certificates to try it with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

__all__ = ["TLSSettings", "TLSSettingsError", "channel", "aio_channel"]

CERT_VARIABLE = "IA_TLS_CERT"
KEY_VARIABLE = "IA_TLS_KEY"
CA_VARIABLE = "IA_TLS_CA"
SERVER_NAME_VARIABLE = "IA_TLS_SERVER_NAME"

ChannelOptions = Sequence[tuple[str, object]]


class TLSSettingsError(ValueError):
    """A TLS variable or argument is inconsistent, or names a file that cannot be read."""


@dataclass(frozen=True)
class TLSSettings:
    """The PEM material one process uses; see the module docstring for the rules."""

    cert: bytes | None = None
    key: bytes | None = None
    ca: bytes | None = None
    server_name: str | None = None

    @classmethod
    def from_files(
        cls,
        *,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        ca: str | Path | None = None,
        server_name: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> TLSSettings | None:
        """Reads the files given; None when none is given (plaintext).

        `names` says how each argument is called where it came from (a variable, a
        flag), for the error message. Raises TLSSettingsError when only one of
        cert and key is given or a file cannot be read.
        """
        names = {"cert": "cert", "key": "key", "ca": "ca", **(names or {})}
        if cert is None and key is None and ca is None:
            return None
        if (cert is None) != (key is None):
            given, missing = ("cert", "key") if key is None else ("key", "cert")
            raise TLSSettingsError(f"{names[given]} is set but {names[missing]} is not: give both or neither")
        return cls(
            cert=_read(cert, names["cert"]),
            key=_read(key, names["key"]),
            ca=_read(ca, names["ca"]),
            server_name=server_name or None,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TLSSettings | None:
        """IA_TLS_CERT, IA_TLS_KEY, IA_TLS_CA and IA_TLS_SERVER_NAME; None when none of the files is set."""
        env = os.environ if environ is None else environ
        return cls.from_files(
            cert=env.get(CERT_VARIABLE) or None,
            key=env.get(KEY_VARIABLE) or None,
            ca=env.get(CA_VARIABLE) or None,
            server_name=env.get(SERVER_NAME_VARIABLE) or None,
            names={"cert": CERT_VARIABLE, "key": KEY_VARIABLE, "ca": CA_VARIABLE},
        )

    @property
    def mutual(self) -> bool:
        """True when a server with these settings requires client certificates."""
        return self.ca is not None

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials for a server port; with a CA, client certificates are required.

        Raises TLSSettingsError when there is no certificate to serve.
        """
        if self.cert is None or self.key is None:
            raise TLSSettingsError(f"serving TLS needs a certificate and key ({CERT_VARIABLE}, {KEY_VARIABLE})")
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)], root_certificates=self.ca, require_client_auth=self.mutual
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Credentials for a client channel: trust the CA (else the system roots), present the certificate if any."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )

    def channel_options(self) -> list[tuple[str, object]]:
        """The channel options TLS needs: the server name override, if one is set."""
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def channel(target: str, *, options: ChannelOptions = (), tls: TLSSettings | None = None) -> grpc.Channel:
    """A blocking channel to `target`: TLS with `tls`, else with IA_TLS_* when set, else plaintext."""
    settings = tls if tls is not None else TLSSettings.from_env()
    if settings is None:
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, settings.channel_credentials(), options=[*options, *settings.channel_options()])


def aio_channel(
    target: str,
    *,
    options: ChannelOptions = (),
    tls: TLSSettings | None = None,
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """The asyncio twin of `channel`; `interceptors` run on every call."""
    settings = tls if tls is not None else TLSSettings.from_env()
    if settings is None:
        return grpc.aio.insecure_channel(target, options=list(options), interceptors=interceptors)
    return grpc.aio.secure_channel(
        target,
        settings.channel_credentials(),
        options=[*options, *settings.channel_options()],
        interceptors=interceptors,
    )


def _read(path: str | Path | None, name: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise TLSSettingsError(f"{name}={str(path)!r} cannot be read: {error.strerror or error}") from None
