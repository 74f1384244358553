"""The member directory: display names, and who is who in a tenant for every member.

Every account has a display name (migration 0004: by default the local part of its e-mail address),
which its owner and the tenant's administrators may change. Members list and look up each other by id
(`GET /v1/members`, `GET /v1/members/{id}`): id, display name and roles; administrators also see the
e-mail address. Other services keep bare user ids and clients resolve them here, so a renamed member
shows the new name everywhere at once and no service copies identity's data (ARCHITECTURE §1).
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

import asyncpg
from pydantic import AfterValidator

from runtime.db import Database
from runtime.errors import NotFound
from runtime.text import name

DISPLAY_NAME_MAX = 80
MEMBER_IDS_MAX = 100


def display_name(value: str) -> str:
    """A display name as stored: NFKC, trimmed, inner whitespace collapsed, 1-80 characters, no control,
    zero-width or direction-changing character (`runtime.text.name`); ValueError otherwise."""
    text = " ".join(unicodedata.normalize("NFKC", name(value)).split())
    name(text)
    if not text:
        raise ValueError("must not be blank")
    if len(text) > DISPLAY_NAME_MAX:
        raise ValueError(f"must be at most {DISPLAY_NAME_MAX} characters (got {len(text)})")
    return text


DisplayName = Annotated[str, AfterValidator(display_name)]


def member_view(row: asyncpg.Record, *, with_email: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"id": str(row["id"]), "display_name": row["display_name"], "roles": sorted(row["roles"])}
    if with_email:
        view["email"] = row["email"]
    return view


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Members:
    """Reads of the directory, in the caller's tenant (row-level security decides who exists)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self,
        tenant_id: str,
        *,
        admin: bool,
        limit: int,
        cursor: uuid.UUID | None,
        q: str | None,
        ids: Sequence[uuid.UUID],
    ) -> dict[str, Any]:
        """A page of members in id order. `q` matches display names anywhere, ignoring case (for
        administrators e-mail addresses too); `ids` keeps only those accounts (resolving the ids another
        service returned: participants, chat authors, POC owners)."""
        pattern = _like(unicodedata.normalize("NFKC", q).lower()) if q else None
        async with self.db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                "SELECT id, display_name, email, roles FROM identity.users"
                " WHERE id > $1"
                " AND ($2::text IS NULL OR lower(display_name) LIKE $2 OR ($3 AND lower(email) LIKE $2))"
                " AND (cardinality($4::uuid[]) = 0 OR id = ANY ($4::uuid[]))"
                " ORDER BY id LIMIT $5",
                cursor or uuid.UUID(int=0),
                pattern,
                admin,
                list(ids),
                limit + 1,
            )
        items = [member_view(r, with_email=admin) for r in rows[:limit]]
        return {"items": items, "next_cursor": items[-1]["id"] if len(rows) > limit else None}

    async def get(self, tenant_id: str, user_id: uuid.UUID, *, admin: bool) -> dict[str, Any]:
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT id, display_name, email, roles FROM identity.users WHERE id = $1", user_id
            )
        if row is None:
            raise NotFound("No such member in your tenant.")
        return member_view(row, with_email=admin)
