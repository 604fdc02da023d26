"""A throwaway PostgreSQL cluster for the tests, one per test worker, a fresh database per test.

The cluster comes from Debian's `postgresql` package (installed by
scripts/install-system-packages.sh): `initdb` in a temporary folder, then `pg_ctl`
on a free loopback port with durability switched off (the data is thrown away).
PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres`
user (or `nobody`) over a folder that user owns.

`database_url` is the fixture suites parametrize with: None (SQLite under the data
folder, the default) and a PostgreSQL URL. Without PostgreSQL installed the
PostgreSQL cases skip locally and fail under CI.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

BACKENDS = ("sqlite", "postgresql")
_USER = "ia"


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL bin folder (/usr/lib/postgresql/<version>/bin), or None."""
    found = [path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").is_file()]
    if found:
        return max(found, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Who runs the cluster: None (the current user) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither the `postgres` nor the `nobody` user exists")


class Cluster:
    """A running PostgreSQL cluster on 127.0.0.1:<port> that trusts local connections."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        """Starts a cluster; without ``durable``, commits are not flushed to disk (tests
        throw the data away), with it the defaults of an installed server hold (benchmarks)."""
        self._bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="ia-postgres-"))
        self._user = _unprivileged_user()
        if self._user is not None:
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        self.port = _free_port()
        data = self.folder / "data"
        self._run("initdb", "-D", data, "-U", _USER, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "start", "-D", data, "-w", "-t", "60", "-l", self.folder / "postgres.log", "-o", options)
        self._data = data

    def _run(self, program: str, *arguments: object) -> None:
        command = [str(self._bin / program), *map(str, arguments)]
        if self._user is not None:
            user = self._user
            command = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr or done.stdout}")

    def url(self, database: str = "postgres") -> str:
        """The URL of one of the cluster's databases, as a user writes it."""
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user={_USER} dbname=postgres", autocommit=True)

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drops a database made by `create_database`, closing its connections."""
        name = url.rsplit("/", 1)[1]
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stops the cluster at once and removes its folder."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "stop", "-D", self._data, "-m", "immediate", "-w")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """This worker's PostgreSQL cluster (started on first use)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL is not installed; `make test` installs it (scripts/install-system-packages.sh)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    cluster = Cluster(bin_dir)
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A fresh PostgreSQL database for this test (dropped afterwards)."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each backend in turn: None (SQLite in the data folder) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")
