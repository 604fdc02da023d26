"""Opaque, signed page tokens (AIP-158).

A token is `base64url(JSON) "." base64url(HMAC-SHA256)`. The JSON holds the last
key of the page and a fingerprint of the query (its filters) and of the caller's
tenant, so a token cannot be forged, edited, or replayed against a different query
or by another tenant. The HMAC secret is created
once per service and kept in its database, so every replica accepts every
replica's tokens and a restart does not invalidate them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ia_service_kit.identity import current_tenant

if TYPE_CHECKING:
    from ia_service_kit.database import Database

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

_SECRET_SETTING = "page_token_secret"


class PageError(ValueError):
    """A page request the caller must change; the kit's ErrorInterceptor answers it
    with INVALID_ARGUMENT naming `field`, so services need not catch it."""

    field = ""
    reason = "INVALID_ARGUMENT"


class InvalidPageToken(PageError):
    """The page token was not issued by this service for this query."""

    field = "page_token"
    reason = "INVALID_PAGE_TOKEN"


class InvalidPageSize(PageError):
    """A negative page size."""

    field = "page_size"


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """The page size to use: 0 means `default`, values over `maximum` are capped, negatives are refused."""
    if requested < 0:
        raise InvalidPageSize(f"page_size must not be negative, got {requested}")
    if requested == 0:
        return default
    return min(requested, maximum)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint(query: Mapping[str, Any]) -> str:
    scoped = {"query": query, "tenant": current_tenant()}
    canonical = json.dumps(scoped, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class PageTokens:
    """Issues and checks page tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def for_database(cls, database: Database) -> PageTokens:
        """Uses (and creates on first use) the service's secret stored in its database."""
        return cls(bytes.fromhex(database.setting(_SECRET_SETTING, lambda: secrets.token_hex(32))))

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()

    def encode(self, after: Any, *, query: Mapping[str, Any]) -> str:
        """A token for the page that starts after key `after` (any JSON value) of `query`."""
        body = json.dumps({"after": after, "query": _fingerprint(query)}, separators=(",", ":")).encode()
        return f"{_b64encode(body)}.{_b64encode(self._sign(body))}"

    def decode(self, token: str, *, query: Mapping[str, Any]) -> Any:
        """The key the page starts after; None for an empty token (the first page).

        Raises InvalidPageToken for a token that is malformed, was tampered with,
        or belongs to a different query.
        """
        if not token:
            return None
        body_part, _, signature_part = token.partition(".")
        try:
            body = _b64decode(body_part)
            signature = _b64decode(signature_part)
        except (binascii.Error, ValueError) as error:
            raise InvalidPageToken("page_token is malformed") from error
        if not hmac.compare_digest(signature, self._sign(body)):
            raise InvalidPageToken("page_token was not issued by this service or was modified")
        content = json.loads(body)
        if content.get("query") != _fingerprint(query):
            raise InvalidPageToken("page_token belongs to a different query; keep the filters of the first page")
        return content["after"]
