"""Authentication and authorization of every call, in one interceptor every service installs.

A caller sends `authorization: Bearer <token>`. The token is one of:
- the deployment's service token (IA_SERVICE_TOKEN): another service of this
  deployment. Only such a caller may name the tenant it acts for
  (`x-ia-tenant`); it holds the `service` role.
- an API key (`iak_...`, issued by `ia-modules auth create-key`), looked up in the
  shared auth database. A key found valid is trusted for IA_AUTH_KEY_CACHE_SECONDS
  (default 2) before it is looked up again: a lookup is a database read (a
  thread hop and a transaction) on every call otherwise, and a revoked key is
  refused by every service within those seconds;
- a JWT signed with HS256 (IA_JWT_SECRET) or RS256 (a key in the JWKS file
  IA_JWT_JWKS_FILE), with claims `sub`, `tenant`, `role` and `exp`.
A JWT or key can never carry the service role, so no client token is accepted as
a service identity.

The identity is then checked against the method's role (`ia_service_kit.access`)
and made current for the call (`ia_service_kit.identity`), which is how every
store keeps to the caller's tenant.

Without IA_SERVICE_TOKEN a service runs in development mode: no authentication,
every caller is trusted. That is allowed only on a loopback address; binding
anything else without auth configured refuses to start.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import ipaddress
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
from opentelemetry import trace

from ia_modules.status import abort
from ia_service_kit.access import required_role
from ia_service_kit.identity import (
    DEFAULT_TENANT,
    ROLES,
    SERVICE_ROLE,
    SERVICE_TOKEN_ENV,
    TENANT_HEADER,
    Identity,
    reset_identity,
    set_identity,
)
from ia_service_kit.interception import Behavior, WrappingInterceptor
from ia_service_kit.keys import PREFIX, ApiKeys, InvalidKeyRequest, auth_database_url, check_tenant
from ia_service_kit.logging import get_logger

__all__ = ["AuthInterceptor", "AuthSettings", "AuthSettingsError", "Authenticator", "Refusal", "is_loopback"]

log = get_logger(__name__)

MIN_SERVICE_TOKEN_LENGTH = 32
DEFAULT_KEY_CACHE_S = 2.0
_JWT_LEEWAY_S = 30
_KEY_CACHE_SIZE = 10_000


class AuthSettingsError(ValueError):
    """The authentication configuration cannot be used; the service does not start."""


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AuthSettings:
    """How callers are authenticated; `enabled` is False in development mode."""

    service_token: str | None
    keys_url: str
    jwt_secret: str | None = None
    jwks_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    key_cache_s: float = DEFAULT_KEY_CACHE_S

    @property
    def enabled(self) -> bool:
        """Whether calls are authenticated (a service token is configured)."""
        return bool(self.service_token)

    @classmethod
    def from_env(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> AuthSettings:
        """Reads IA_SERVICE_TOKEN, IA_AUTH_DATABASE_URL, IA_JWT_SECRET, IA_JWT_JWKS_FILE,
        IA_JWT_ISSUER, IA_JWT_AUDIENCE and IA_AUTH_KEY_CACHE_SECONDS."""
        env = dict(os.environ if environ is None else environ)
        token = env.get(SERVICE_TOKEN_ENV) or None
        if token is not None and len(token) < MIN_SERVICE_TOKEN_LENGTH:
            raise AuthSettingsError(
                f"{SERVICE_TOKEN_ENV} is {len(token)} characters; use at least {MIN_SERVICE_TOKEN_LENGTH} random "
                "characters (for example `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        jwks = env.get("IA_JWT_JWKS_FILE")
        cache = env.get("IA_AUTH_KEY_CACHE_SECONDS") or str(DEFAULT_KEY_CACHE_S)
        try:
            key_cache_s = float(cache)
        except ValueError:
            key_cache_s = -1.0
        if not 0 <= key_cache_s <= 300:
            raise AuthSettingsError(
                f"IA_AUTH_KEY_CACHE_SECONDS must be a number of seconds from 0 to 300, not {cache!r}"
            )
        return cls(
            service_token=token,
            keys_url=auth_database_url(data_dir, env),
            jwt_secret=env.get("IA_JWT_SECRET") or None,
            jwks_file=Path(jwks) if jwks else None,
            jwt_issuer=env.get("IA_JWT_ISSUER") or None,
            jwt_audience=env.get("IA_JWT_AUDIENCE") or None,
            key_cache_s=key_cache_s,
        )

    def check_bind(self, host: str) -> None:
        """Refuses a non-loopback bind in development mode (raises AuthSettingsError)."""
        if not self.enabled and not is_loopback(host):
            raise AuthSettingsError(
                f"refusing to listen on {host} without authentication: development mode (no auth) is allowed only "
                f"on a loopback address. Set {SERVICE_TOKEN_ENV} (a shared secret of at least "
                f"{MIN_SERVICE_TOKEN_LENGTH} characters for calls between services) and issue keys with "
                "`ia-modules auth create-key --tenant T --role R`, or bind 127.0.0.1"
            )


class Refusal(Exception):
    """A call that is not let in: UNAUTHENTICATED or PERMISSION_DENIED with a stable reason."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.metadata = metadata


def _unauthenticated(reason: str, message: str) -> Refusal:
    return Refusal(grpc.StatusCode.UNAUTHENTICATED, reason, message)


class Authenticator:
    """Turns a call's metadata into an Identity, or refuses it."""

    def __init__(
        self, settings: AuthSettings, keys: ApiKeys | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._keys = keys
        self._jwks = _load_jwks(settings.jwks_file) if settings.jwks_file else None
        self._clock = clock
        # key text -> (identity, when it was found valid)
        self._valid_keys: dict[str, tuple[Identity, float]] = {}

    @classmethod
    def for_settings(cls, settings: AuthSettings) -> Authenticator:
        """An authenticator reading keys from the settings' auth database (none in development mode)."""
        return cls(settings, ApiKeys.open(settings.keys_url) if settings.enabled else None)

    def close(self) -> None:
        """Releases the key database."""
        if self._keys is not None:
            self._keys.close()

    async def identify(self, metadata: Mapping[str, str]) -> Identity:
        """The caller, from its `authorization` (and, for a service, `x-ia-tenant`) metadata."""
        if not self.settings.enabled:
            return Identity("development", metadata.get(TENANT_HEADER) or DEFAULT_TENANT, SERVICE_ROLE, "development")
        header = metadata.get("authorization")
        if not header:
            raise _unauthenticated(
                "UNAUTHENTICATED", "this call needs `authorization: Bearer <API key or JWT>` (set IA_TOKEN or --token)"
            )
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("UNAUTHENTICATED", "the authorization metadata must read `Bearer <token>`")
        assert self.settings.service_token is not None
        if hmac.compare_digest(token.encode(), self.settings.service_token.encode()):
            return Identity("service", metadata.get(TENANT_HEADER) or DEFAULT_TENANT, SERVICE_ROLE, "service")
        if token.startswith(PREFIX):
            return await self._from_key(token)
        return self._from_jwt(token)

    async def _from_key(self, token: str) -> Identity:
        assert self._keys is not None
        now = self._clock()
        cached = self._valid_keys.get(token)
        if cached is not None and now - cached[1] < self.settings.key_cache_s:
            return cached[0]
        key = await asyncio.to_thread(self._keys.verify, token)
        if key is None:
            raise _unauthenticated("INVALID_TOKEN", "the API key is not known")
        if key.revoked:
            self._valid_keys.pop(token, None)
            raise _unauthenticated("KEY_REVOKED", f"the API key {key.key_id} was revoked")
        identity = Identity(f"key:{key.key_id}", key.tenant, key.role, "api_key")
        if self.settings.key_cache_s > 0:
            if len(self._valid_keys) >= _KEY_CACHE_SIZE:
                self._valid_keys.pop(next(iter(self._valid_keys)))
            self._valid_keys[token] = (identity, now)
        return identity

    def _from_jwt(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _unauthenticated("INVALID_TOKEN", "the token is neither an API key nor a JWT") from error
        algorithm = header.get("alg")
        if algorithm == "HS256" and self.settings.jwt_secret:
            key: Any = self.settings.jwt_secret
        elif algorithm == "RS256" and self._jwks is not None:
            key = self._signing_key(header.get("kid"))
        else:
            raise _unauthenticated("INVALID_TOKEN", f"JWTs signed with {algorithm!r} are not accepted here")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                leeway=_JWT_LEEWAY_S,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise _unauthenticated("TOKEN_EXPIRED", "the JWT has expired") from error
        except jwt.PyJWTError as error:
            raise _unauthenticated("INVALID_TOKEN", f"the JWT is not valid: {error}") from error
        role, tenant = claims.get("role"), claims.get("tenant")
        if role not in ROLES:
            raise _unauthenticated("INVALID_TOKEN", f"the JWT's `role` claim must be one of {', '.join(ROLES)}")
        if not isinstance(tenant, str) or not tenant:
            raise _unauthenticated("INVALID_TOKEN", "the JWT has no `tenant` claim")
        try:
            check_tenant(tenant)
        except InvalidKeyRequest as error:
            raise _unauthenticated("INVALID_TOKEN", f"the JWT's `tenant` claim: {error}") from error
        return Identity(str(claims["sub"]), tenant, role, "jwt")

    def _signing_key(self, kid: str | None) -> Any:
        assert self._jwks is not None
        keys = [key for key in self._jwks.keys if kid is None or key.key_id == kid]
        if not keys:
            raise _unauthenticated("INVALID_TOKEN", f"no key {kid!r} in the configured JWKS")
        return keys[0].key


def _load_jwks(path: Path) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_json(path.read_text())
    except (OSError, json.JSONDecodeError, jwt.PyJWTError) as error:
        raise AuthSettingsError(f"IA_JWT_JWKS_FILE {path}: cannot be read as a JWKS: {error}") from error


def check_access(identity: Identity, method: str) -> None:
    """Raises Refusal(PERMISSION_DENIED) unless `identity` holds the role `method` needs."""
    role = required_role(method)
    if role is None or identity.allows(role):
        return
    raise Refusal(
        grpc.StatusCode.PERMISSION_DENIED,
        f"{role.upper()}_ROLE_REQUIRED",
        f"{method.rsplit('/', 1)[-1]} needs the {role} role; this caller is {identity.role}",
        required_role=role,
        role=identity.role,
    )


class AuthInterceptor(WrappingInterceptor):
    """Authenticates each call, checks its role, and makes its identity current."""

    def __init__(self, authenticator: Authenticator) -> None:
        super().__init__(self._wrap)
        self._authenticator = authenticator

    def wraps(self, method: str) -> bool:
        """Only the methods of the access table: health and reflection stay open."""
        return required_role(method) is not None

    async def _admit(self, method: str, context: grpc.aio.ServicerContext) -> object:
        metadata = {key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)}
        try:
            identity = await self._authenticator.identify(metadata)
            check_access(identity, method)
        except Refusal as refusal:
            await abort(context, refusal.code, refusal.reason, str(refusal), **refusal.metadata)
        if identity.tenant != DEFAULT_TENANT:
            # The call's span (kit telemetry) names its tenant, so its trace is filed
            # under it; a trace that names none is the default tenant's.
            trace.get_current_span().set_attribute("tenant", identity.tenant)
        return set_identity(identity)

    def _wrap(self, method: str, rpc_type: str, behavior: Behavior) -> Behavior:
        if inspect.isasyncgenfunction(behavior):

            async def admitted_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                token = await self._admit(method, context)
                try:
                    async for response in behavior(request, context):
                        yield response
                finally:
                    reset_identity(token)

            return admitted_stream

        async def admitted(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = await self._admit(method, context)
            try:
                return await behavior(request, context)
            finally:
                reset_identity(token)

        return admitted
