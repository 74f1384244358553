"""Invitations: one-time codes an administrator creates so that a person can join the tenant.

A code is `inv1.<43 url-safe characters>` (256 random bits); only its SHA-256 is stored, so the table
cannot be used to sign up. An invitation names the roles the new account gets, may be bound to one
e-mail address (canonical form), expires, and is used at most once: redemption is one conditional
UPDATE inside the transaction that creates the account, so it is undone if the account is not created.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from runtime.db import Connection, Database
from runtime.errors import NotFound

CODE_PREFIX = "inv1."
MIN_TTL_SECONDS = 300
MAX_TTL_SECONDS = 30 * 86_400
DEFAULT_TTL_SECONDS = 7 * 86_400


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def invitation_view(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    if row["used_at"] is not None:
        status = "used"
    elif row["expires_at"] <= now:
        status = "expired"
    else:
        status = "pending"
    return {
        "id": str(row["id"]),
        "email": row["email_normalized"],
        "roles": sorted(row["roles"]),
        "status": status,
        "created_at": _iso(row["created_at"]),
        "expires_at": _iso(row["expires_at"]),
        "used_at": _iso(row["used_at"]),
    }


_COLUMNS = "id, email_normalized, roles, created_at, expires_at, used_at"


class Invitations:
    """An administrator's view of the tenant's invitations (every call runs in the tenant's context)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, tenant_id: str, *, created_by: str, email: str | None, roles: frozenset[str], ttl_seconds: int
    ) -> dict[str, Any]:
        """A new invitation; the answer carries its code, which is shown this once and never again."""
        code = CODE_PREFIX + secrets.token_urlsafe(32)
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                f"INSERT INTO identity.invitations (id, tenant_id, code_hash, email_normalized, roles, created_by,"  # noqa: S608
                f" expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
                uuid.uuid4(),
                uuid.UUID(tenant_id),
                code_hash(code),
                email,
                sorted(roles),
                uuid.UUID(created_by),
                datetime.now(UTC) + timedelta(seconds=ttl_seconds),
            )
        assert row is not None
        return {**invitation_view(row, datetime.now(UTC)), "code": code}

    async def list(self, tenant_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
        after = uuid.UUID(cursor) if cursor else uuid.UUID(int=0)
        async with self.db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM identity.invitations WHERE id > $1 ORDER BY id LIMIT $2",  # noqa: S608
                after,
                limit + 1,
            )
        now = datetime.now(UTC)
        items = [invitation_view(r, now) for r in rows[:limit]]
        return {"items": items, "next_cursor": items[-1]["id"] if len(rows) > limit else None}

    async def delete(self, tenant_id: str, invitation_id: uuid.UUID) -> None:
        async with self.db.tenant_tx(tenant_id) as conn:
            deleted = await conn.fetchval("DELETE FROM identity.invitations WHERE id = $1 RETURNING id", invitation_id)
        if deleted is None:
            raise NotFound("No such invitation.")


async def redeem(conn: Connection, code: str, email: str) -> asyncpg.Record | None:
    """Use the invitation `code` for the account `email` (canonical), in the caller's tenant transaction:
    its id and roles, or None if no pending invitation of this tenant has this code and allows this
    address. The caller records `used_by` once the account exists."""
    return await conn.fetchrow(
        "UPDATE identity.invitations SET used_at = now()"
        " WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()"
        " AND (email_normalized IS NULL OR email_normalized = $2) RETURNING id, roles",
        code_hash(code),
        email,
    )
