"""Issuing tokens: RS256 access tokens (RFC 9068 shape) and opaque rotating refresh tokens.

A refresh token is `rt1.<tenant id>.<token id>.<secret>`: the tenant id lets the service open a
tenant-scoped transaction before it knows anything else, the token id finds the row, and only the
SHA-256 of the 32-byte secret is stored. Tampering with any part makes the lookup or the constant-time
comparison fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from identity.keys import KeyRing

ACCESS_SCOPE = "pocdojo"
_PREFIX = "rt1"


class MalformedRefreshToken(ValueError):
    """The string is not one of our refresh tokens."""


@dataclass(frozen=True)
class RefreshToken:
    tenant_id: uuid.UUID
    token_id: uuid.UUID
    secret: bytes

    @classmethod
    def new(cls, tenant_id: uuid.UUID) -> RefreshToken:
        return cls(tenant_id, uuid.uuid4(), secrets.token_bytes(32))

    def encode(self) -> str:
        secret = base64.urlsafe_b64encode(self.secret).rstrip(b"=").decode()
        return f"{_PREFIX}.{self.tenant_id}.{self.token_id}.{secret}"

    @property
    def secret_hash(self) -> bytes:
        return hashlib.sha256(self.secret).digest()

    def matches(self, stored_hash: bytes) -> bool:
        return hmac.compare_digest(self.secret_hash, stored_hash)

    @classmethod
    def parse(cls, value: str) -> RefreshToken:
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != _PREFIX or len(value) > 200:
            raise MalformedRefreshToken("not a refresh token")
        try:
            tenant_id, token_id = uuid.UUID(parts[1]), uuid.UUID(parts[2])
            secret = base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4))
        except (ValueError, TypeError) as exc:
            raise MalformedRefreshToken("not a refresh token") from exc
        if len(secret) != 32:
            raise MalformedRefreshToken("not a refresh token")
        return cls(tenant_id, token_id, secret)


@dataclass(frozen=True)
class TokenIssuer:
    """Signs access tokens for one issuer with the active key of a KeyRing."""

    keys: KeyRing
    issuer: str
    audience: str
    client_id: str
    access_ttl: int

    def access_token(
        self,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        tenant_slug: str,
        email: str,
        roles: Iterable[str],
        session_id: uuid.UUID,
        now: int | None = None,
    ) -> str:
        """An access token for one sign-in: `session_id` is its refresh-token family (claim ``sid``), so
        revoking the family also stops the access tokens issued for it (`runtime.auth.CurrentPrincipals`)."""
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user_id),
            "aud": self.audience,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": ACCESS_SCOPE,
            "tenant_id": str(tenant_id),
            "tenant": tenant_slug,
            "email": email,
            "roles": sorted(set(roles)),
            "sid": str(session_id),
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.access_ttl,
            "jti": uuid.uuid4().hex,
        }
        return self.keys.sign(claims)
