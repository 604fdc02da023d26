"""Where a service listens and keeps its data, from flags and the environment."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ia_modules.tls import CA_VARIABLE, CERT_VARIABLE, KEY_VARIABLE, TLSSettings, TLSSettingsError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATA_DIR = ".ia"


class SettingsError(ValueError):
    """A malformed setting (an environment variable or a flag); the message names it.

    A service that meets one at start-up logs the message and exits 1, without a traceback.
    """


@dataclass(frozen=True)
class ServiceConfig:
    """How one service process runs.

    `port` 0 asks the operating system for a free port; the bound port is logged
    (`listening on <host>:<port>`) and returned by `ia_service_kit.server.start`.
    """

    name: str
    default_port: int
    host: str = DEFAULT_HOST
    port: int | None = None
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None
    # How long in-flight calls may run on after SIGTERM before they are cancelled.
    grace_period_s: float = 5.0
    # None: plaintext. With a CA, clients must present a certificate it signed.
    tls: TLSSettings | None = None

    @property
    def bind_port(self) -> int:
        """The port to bind: the one asked for, else the service's default."""
        return self.default_port if self.port is None else self.port

    @property
    def resolved_database_url(self) -> str:
        """IA_DATABASE_URL when set, else a SQLite file named for the service in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / f'{self.name}.db'}"

    @classmethod
    def from_args(
        cls,
        name: str,
        default_port: int,
        argv: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ServiceConfig:
        """Reads `--host`, `--port`, `--data-dir`, `--tls-cert`, `--tls-key`, `--tls-ca` and
        IA_BIND_HOST, IA_DATA_DIR, IA_DATABASE_URL, IA_TLS_CERT, IA_TLS_KEY, IA_TLS_CA.

        Flags win over the environment.
        """
        env = os.environ if environ is None else environ
        parser = argparse.ArgumentParser(prog=f"ia-{name}", description=f"IA Modules {name} service")
        parser.add_argument(
            "--host",
            default=env.get("IA_BIND_HOST", DEFAULT_HOST),
            help="address to bind (IA_BIND_HOST; default %(default)s)",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=default_port,
            help="port to bind, 0 for any free port (default %(default)s)",
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=Path(env.get("IA_DATA_DIR", DEFAULT_DATA_DIR)),
            help="folder for the SQLite database and other state (IA_DATA_DIR; default %(default)s)",
        )
        parser.add_argument(
            "--tls-cert",
            default=env.get(CERT_VARIABLE) or None,
            help=f"serve TLS with this certificate ({CERT_VARIABLE})",
        )
        parser.add_argument(
            "--tls-key",
            default=env.get(KEY_VARIABLE) or None,
            help=f"its private key ({KEY_VARIABLE})",
        )
        parser.add_argument(
            "--tls-ca",
            default=env.get(CA_VARIABLE) or None,
            help=f"require client certificates signed by this CA: mutual TLS ({CA_VARIABLE})",
        )
        args = parser.parse_args(argv)
        if not 0 <= args.port <= 65535:
            parser.error(f"--port must be between 0 and 65535, not {args.port}")
        try:
            tls = TLSSettings.from_files(
                cert=args.tls_cert,
                key=args.tls_key,
                ca=args.tls_ca,
                names={"cert": "--tls-cert/IA_TLS_CERT", "key": "--tls-key/IA_TLS_KEY", "ca": "--tls-ca/IA_TLS_CA"},
            )
        except TLSSettingsError as error:
            parser.error(str(error))
        if tls is not None and tls.cert is None:
            parser.error(
                "--tls-ca/IA_TLS_CA is set but no certificate to serve: "
                "set --tls-cert/IA_TLS_CERT and --tls-key/IA_TLS_KEY too"
            )
        return cls(
            name=name,
            default_port=default_port,
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            database_url=env.get("IA_DATABASE_URL") or None,
            tls=tls,
        )
