"""History grants: reading one dojo's history later, on a user's behalf, without the user's access token.

Theory of operation. The replay video is made by a media worker minutes or hours after a user asked
for it, when the user's access token has expired; keeping that token would put a bearer credential at
rest. Instead the user's request obtains a grant (`POST /v1/dojos/{id}/history/grants`, the user's own
access rules decide), as a report obtains a POC export (`poc_api.exports`). `issue` answers a secret
(`dhg1.<tenant id>.<grant id>.<256 random bits>`) of which only the SHA-256 is stored
(`dojo.history_grants`, migration 0004). The tenant it names sets the row-level security context of
the transaction that resolves it, so a secret can only ever reach its own tenant's rows; within them
its hash must match the grant's (compared in constant time).

What a grant may do: read `GET /v1/dojos/{id}/history` and `POST /v1/dojos/{id}/history/frames` of its
own dojo (another dojo: 403), sent in the `History-Grant` header; every other route asks for an access
token (401). It reads with the rights its user still has (`dojo.replay.readers`): still a participant
or an administrator, the sign-in that granted it not revoked, history still on. An unknown, malformed,
revoked (deleted) or expired secret is refused with 401 `invalid_grant`; expired grants are deleted when
met and whenever their tenant issues a new one. Lifetime: `POCDOJO_DOJO_HISTORY_GRANT_TTL_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from runtime.db import Database
from runtime.errors import Forbidden, ServiceError

__all__ = ["GRANT_HEADER", "Grant", "GrantOutOfScope", "GrantRefused", "HistoryGrants", "IssuedGrant"]

GRANT_HEADER = "History-Grant"
SECRET_VERSION = "dhg1"  # noqa: S105 - the secrets' format tag
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SECRET_RE = re.compile(rf"^dhg1\.({_UUID})\.({_UUID})\.([A-Za-z0-9_-]{{43}})$")
SECRET_MAX_LENGTH = 160
"""Longer than any secret `issue` makes (122 characters); the header is refused (422) above it."""


class GrantRefused(ServiceError):
    """401: the history grant is malformed, unknown, revoked or expired, or its user lost the right."""

    status = 401
    slug = "unauthorized"
    title = "Invalid history grant"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail, headers={"WWW-Authenticate": f'{GRANT_HEADER} error="invalid_grant"'}, code="invalid_grant"
        )


class GrantOutOfScope(Forbidden):
    """403: a valid grant used for another dojo than its own."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, code="grant_scope")


@dataclass(frozen=True)
class IssuedGrant:
    """A new grant: its id, its secret (shown once) and its expiry."""

    id: uuid.UUID
    secret: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class Grant:
    """A valid grant, resolved from its secret: whose rights it reads with, and which dojo."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    dojo_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    as_admin: bool


_PURGE = "DELETE FROM dojo.history_grants WHERE tenant_id = $1 AND expires_at <= now()"
_INSERT = """INSERT INTO dojo.history_grants
    (tenant_id, id, dojo_id, user_id, session_id, as_admin, secret_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8::int))
RETURNING expires_at"""
_FIND = """SELECT dojo_id, user_id, session_id, as_admin, secret_hash, expires_at > now() AS live
FROM dojo.history_grants WHERE tenant_id = $1 AND id = $2"""
_DELETE = "DELETE FROM dojo.history_grants WHERE tenant_id = $1 AND id = $2"


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _parse(secret: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(tenant id, grant id) a well-formed secret names, or None (then nothing can match it)."""
    match = _SECRET_RE.match(secret) if len(secret) <= SECRET_MAX_LENGTH else None
    return (uuid.UUID(match.group(1)), uuid.UUID(match.group(2))) if match else None


def _same_dojo(granted: uuid.UUID, asked: str) -> bool:
    try:
        return uuid.UUID(asked) == granted
    except ValueError:
        return False


class HistoryGrants:
    """Issue, resolve and revoke history grants; one instance per app, on the service's `DojoServices`."""

    def __init__(self, db: Database, *, ttl_seconds: int) -> None:
        self.db = db
        self.ttl_seconds = ttl_seconds

    async def issue(
        self,
        *,
        tenant_id: uuid.UUID,
        dojo_id: uuid.UUID,
        user_id: uuid.UUID,
        session_id: uuid.UUID | None,
        as_admin: bool,
    ) -> IssuedGrant:
        """A new grant to read ``dojo_id``'s history with ``user_id``'s rights (the caller checked them)."""
        grant_id = uuid.uuid4()
        secret = f"{SECRET_VERSION}.{tenant_id}.{grant_id}.{secrets.token_urlsafe(32)}"
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute(_PURGE, tenant_id)
            expires_at = await conn.fetchval(
                _INSERT, tenant_id, grant_id, dojo_id, user_id, session_id, as_admin, _hash(secret), self.ttl_seconds
            )
        return IssuedGrant(grant_id, secret, expires_at)

    async def resolve(self, secret: str, dojo_id: str) -> Grant:
        """The grant ``secret`` is, if it is valid and for ``dojo_id``: `GrantRefused` (401) when malformed,
        unknown, revoked or expired (then deleted), `GrantOutOfScope` (403) for another dojo."""
        named = _parse(secret)
        if named is None:
            raise GrantRefused("This is not a history grant: send the `grant` that POST .../history/grants answered.")
        tenant_id, grant_id = named
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(_FIND, tenant_id, grant_id)
            if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), _hash(secret)):
                raise GrantRefused("This history grant is unknown or was revoked: ask for a new one.")
            if not row["live"]:
                await conn.execute(_DELETE, tenant_id, grant_id)
        if not row["live"]:
            raise GrantRefused("This history grant expired: ask for a new one.")
        if not _same_dojo(row["dojo_id"], dojo_id):
            raise GrantOutOfScope("This history grant reads only the history of the dojo it was issued for.")
        return Grant(grant_id, tenant_id, row["dojo_id"], row["user_id"], row["session_id"], row["as_admin"])

    async def revoke(self, secret: str, dojo_id: str) -> uuid.UUID:
        """Delete the grant ``secret`` is (refused as `resolve` refuses it); its id."""
        grant = await self.resolve(secret, dojo_id)
        async with self.db.tenant_tx(grant.tenant_id) as conn:
            await conn.execute(_DELETE, grant.tenant_id, grant.id)
        return grant.id
