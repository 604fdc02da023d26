"""Who a call is from: its tenant, subject and role, for the length of the call.

The kit's `AuthInterceptor` sets the identity of each call before the handler runs;
handlers, domains and stores read it with `current_identity()` or
`current_tenant()` instead of passing it through every signature. Work a call
starts (asyncio tasks, `asyncio.to_thread`) copies the context, so it acts for the
same tenant. Work that starts with no call behind it (a run resumed after a
restart) says whom it acts for with `acting_for(tenant)`.

Calls a service makes to another carry `outgoing_metadata()`: the service token of
this deployment and the tenant the work is for. Only a caller that presents the
service token is trusted to name a tenant (see `ia_service_kit.auth`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "DEFAULT_TENANT",
    "ROLES",
    "SERVICE_ROLE",
    "TENANT_HEADER",
    "Identity",
    "acting_for",
    "current_identity",
    "current_tenant",
    "outgoing_metadata",
    "role_rank",
    "service_authorization",
]

DEFAULT_TENANT = "default"
"""The tenant of development mode, and of work no caller named a tenant for."""

ROLES = ("viewer", "operator", "admin")
"""The roles a person or program can hold, each allowed everything the one before is."""

SERVICE_ROLE = "service"
"""Held only by a caller presenting the deployment's service token: another service."""

TENANT_HEADER = "x-ia-tenant"
"""Metadata naming the tenant a service calls on behalf of (trusted only from services)."""

SERVICE_TOKEN_ENV = "IA_SERVICE_TOKEN"

_RANKS = {role: rank for rank, role in enumerate((*ROLES, SERVICE_ROLE), start=1)}


def role_rank(role: str) -> int:
    """How much a role may do: viewer < operator < admin < service; 0 for an unknown role."""
    return _RANKS.get(role, 0)


@dataclass(frozen=True)
class Identity:
    """The caller of one call.

    `kind` says how it was established: "api_key", "jwt", "service" or
    "development" (no authentication: loopback only).
    """

    subject: str
    tenant: str
    role: str
    kind: str

    def allows(self, role: str) -> bool:
        """Whether this caller holds `role` or one above it."""
        return role_rank(self.role) >= role_rank(role)

    @property
    def is_service(self) -> bool:
        """A service of this deployment (or development mode, where every caller is trusted)."""
        return self.kind in ("service", "development")


_DEVELOPMENT = Identity("development", DEFAULT_TENANT, SERVICE_ROLE, "development")

_current: ContextVar[Identity] = ContextVar("ia_identity", default=_DEVELOPMENT)


def current_identity() -> Identity:
    """The identity of the call being served (development identity outside any call)."""
    return _current.get()


def current_tenant() -> str:
    """The tenant of the call being served; every resource read or written belongs to it."""
    return _current.get().tenant


def set_identity(identity: Identity) -> object:
    """Makes `identity` current; returns the token `reset_identity` takes."""
    return _current.set(identity)


def reset_identity(token: object) -> None:
    """Restores the identity before the matching `set_identity`."""
    _current.reset(token)  # type: ignore[arg-type]


@contextmanager
def acting_for(tenant: str) -> Iterator[Identity]:
    """Runs the block as this service, on behalf of `tenant` (work no call started)."""
    identity = Identity("service", tenant, SERVICE_ROLE, "service")
    token = _current.set(identity)
    try:
        yield identity
    finally:
        _current.reset(token)


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """Metadata for a call to another service of this deployment, for the current tenant.

    Carries the service token (IA_SERVICE_TOKEN) when there is one; in development
    mode there is none, and only the tenant is passed on.
    """
    return (*service_authorization(), (TENANT_HEADER, current_tenant()))


def service_authorization() -> tuple[tuple[str, str], ...]:
    """The `authorization` metadata carrying this deployment's service token; empty without one."""
    token = os.environ.get(SERVICE_TOKEN_ENV)
    return (("authorization", f"Bearer {token}"),) if token else ()
