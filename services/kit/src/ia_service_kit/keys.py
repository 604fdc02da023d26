"""API keys: issued for one tenant and role, stored hashed, revocable.

A key reads `iak_<key id>_<secret>`. The key id is public and finds the row; the
secret is 32 random bytes and only its SHA-256 is stored, compared in constant
time. A slow password hash (bcrypt, argon2) protects guessable secrets; a random
256-bit secret is not guessable, so one SHA-256 per call is enough and keeps
authentication cheap.

Keys live in one database every service reads (IA_AUTH_DATABASE_URL; else the
deployment's IA_DATABASE_URL; else `auth.db` in the data folder), so a key issued
or revoked once is honoured by every service at its next call, with no restart and
no copy to keep in step.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from ia_service_kit.database import Database, Migration
from ia_service_kit.identity import ROLES

__all__ = ["ApiKey", "ApiKeys", "InvalidKeyRequest", "auth_database_url", "check_tenant"]

PREFIX = "iak_"
_KEY = re.compile(r"^iak_([0-9a-f]{16})_([A-Za-z0-9_-]{20,})$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("create_time", sa.DateTime, nullable=False),
    sa.Column("revoke_time", sa.DateTime, nullable=True),
    sa.Index("api_keys_by_tenant", "tenant"),
)


def _create_tables(connection: Connection) -> None:
    metadata.create_all(connection)


MIGRATIONS: list[Migration] = [(1, _create_tables)]


def auth_database_url(data_dir: Path, environ: dict[str, str] | None = None) -> str:
    """Where the keys live: IA_AUTH_DATABASE_URL, else IA_DATABASE_URL, else `<data dir>/auth.db`."""
    env = os.environ if environ is None else environ
    return env.get("IA_AUTH_DATABASE_URL") or env.get("IA_DATABASE_URL") or f"sqlite:///{data_dir / 'auth.db'}"


class InvalidKeyRequest(ValueError):
    """A key cannot be issued as asked (unknown role, malformed tenant)."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    tenant: str
    role: str
    name: str
    create_time: datetime
    revoke_time: datetime | None

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoke_time is not None


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(row: RowMapping) -> ApiKey:
    revoke_time = row["revoke_time"]
    return ApiKey(
        key_id=row["key_id"],
        tenant=row["tenant"],
        role=row["role"],
        name=row["name"],
        create_time=row["create_time"].replace(tzinfo=UTC),
        revoke_time=revoke_time.replace(tzinfo=UTC) if revoke_time else None,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def check_tenant(tenant: str) -> None:
    """Raises InvalidKeyRequest unless `tenant` is a lowercase DNS-style label."""
    if not _TENANT.match(tenant):
        raise InvalidKeyRequest(
            f"tenant {tenant!r} is not valid: use 1-63 lowercase letters, digits and '-', "
            "starting with a letter or digit"
        )


class ApiKeys:
    """Issues, revokes, lists and verifies API keys in the auth database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @classmethod
    def open(cls, url: str) -> ApiKeys:
        """The keys in the auth database at `url` (created and migrated if new)."""
        return cls(Database(url, service="auth", migrations=MIGRATIONS))

    def close(self) -> None:
        """Closes the database connection pool."""
        self._database.close()

    def create(self, *, tenant: str, role: str, name: str = "") -> tuple[ApiKey, str]:
        """Issues a key; returns it and the full key text, which is shown once and never stored."""
        if role not in ROLES:
            raise InvalidKeyRequest(f"role {role!r} is not one of {', '.join(ROLES)}")
        check_tenant(tenant)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = _now()
        with self._database.write() as connection:
            connection.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    tenant=tenant,
                    role=role,
                    name=name or f"{role}@{tenant}",
                    secret_sha256=_sha256(secret),
                    create_time=now,
                    revoke_time=None,
                )
            )
        key = ApiKey(key_id, tenant, role, name or f"{role}@{tenant}", now.replace(tzinfo=UTC), None)
        return key, f"{PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revokes a key (from its id, or the full key); None when there is no such key."""
        found = _KEY.match(key_id)
        key_id = found.group(1) if found else key_id
        with self._database.write() as connection:
            connection.execute(
                api_keys.update()
                .where((api_keys.c.key_id == key_id) & api_keys.c.revoke_time.is_(None))
                .values(revoke_time=_now())
            )
            row = connection.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        return _key(row) if row else None

    def list(self, tenant: str = "") -> list[ApiKey]:
        """Every key (of `tenant`, when given), oldest first."""
        query = sa.select(api_keys).order_by(api_keys.c.create_time, api_keys.c.key_id)
        if tenant:
            query = query.where(api_keys.c.tenant == tenant)
        with self._database.read() as connection:
            return [_key(row) for row in connection.execute(query).mappings()]

    def verify(self, text: str) -> ApiKey | None:
        """The key `text` is (check `.revoked`), or None (malformed, unknown or wrong secret)."""
        found = _KEY.match(text)
        if found is None:
            return None
        key_id, secret = found.groups()
        with self._database.read() as connection:
            row = connection.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        # Hash and compare even for an unknown id, so timing does not tell which ids exist.
        stored = row["secret_sha256"] if row else "0" * 64
        if not hmac.compare_digest(_sha256(secret), stored) or row is None:
            return None
        return _key(row)
