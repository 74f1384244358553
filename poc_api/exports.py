"""Exports of a search: what `GET /v1/pocs` returned to a user at one moment, frozen for a report.

Theory of operation. `create` runs the search's own statement (`poc_api.search.build`, with the page
size raised to the row cap and no shortcut) inside one `INSERT ... SELECT`: the rows, their order and
the tenant's row-level security are exactly the search's, every page at once, read in one snapshot. Each
row keeps its API document and its 1-based position (the search's order), so a reader pages through it
by position (`page`) and sees what the user would have seen by following the cursors at request time,
whatever changes afterwards.

The reader is a media worker acting later for the user, without the user's token: the export is a
capability. `create` answers a secret (`pex1.<tenant id>.<256 random bits>`) of which only the SHA-256
is stored; the tenant it names sets the row-level security context of the reader's transaction, so a
secret can only ever reach its own tenant's rows, and within them its hash must match the export's
(compared in constant time). An unknown id, a wrong secret and an expired export all answer the same
404. Expired exports are deleted when they are met, and a bounded purge of every tenant's expired
exports runs with every `create` (`poc.purge_expired_exports`, migration 0005).

Bounds: an export holds at most `max_rows` POCs (a larger result is refused, 422 on `filters`: narrow
the search), and a user holds at most `max_live_per_user` unexpired exports (429; the media service
deletes an export as soon as its report is done, so slots come back quickly).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from poc_api.search import SearchParams, build, sort_columns
from runtime.auth import Principal
from runtime.db import Database
from runtime.errors import FieldError, NotFound, TooManyRequests, ValidationFailed
from runtime.settings import PocSettings

SECRET_VERSION = "pex1"  # noqa: S105 - the secrets' format tag
_SECRET_RE = re.compile(r"^pex1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")
SECRET_MAX_LENGTH = 128
"""Longer than any secret `create` makes (86 characters); the header is refused above it."""

PURGE_BATCH = 2
"""Expired exports purged per export created: more than one, so the purge outpaces creation."""
RETRY_AFTER_MAX = 60
"""The 429's Retry-After is the time until the user's oldest export expires, at most this: exports are
usually deleted well before they expire, when their report is done."""
PAGE_MAX = 1000


@dataclass(frozen=True)
class ExportLimits:
    """The settings an export follows (`POCDOJO_POC_EXPORT_*`)."""

    ttl_seconds: int
    max_rows: int
    max_live_per_user: int

    @classmethod
    def from_settings(cls, settings: PocSettings) -> ExportLimits:
        return cls(
            ttl_seconds=settings.poc_export_ttl_seconds,
            max_rows=settings.poc_export_max_rows,
            max_live_per_user=settings.poc_export_max_live_per_user,
        )


@dataclass(frozen=True)
class CreatedExport:
    """A new export: its id, how many POCs it holds, its secret (shown once) and its expiry."""

    id: uuid.UUID
    count: int
    secret: str
    expires_at: datetime


@dataclass(frozen=True)
class ExportPage:
    """POC documents (JSON texts) after a position; `next` is the last one's position when more follow."""

    documents: list[str]
    next: int | None
    count: int


_PURGE = "SELECT poc.purge_expired_exports($1::int)"
_LOCK_USER = "SELECT pg_advisory_xact_lock(hashtext('poc.exports'), hashtext($1::text || '/' || $2::text))"
_LIVE = """SELECT count(*) AS n,
       ceil(extract(epoch FROM min(expires_at) - now()))::int AS first_expiry_in
FROM poc.exports
WHERE tenant_id = $1 AND user_id = $2 AND expires_at > now()"""
_INSERT = """INSERT INTO poc.exports (tenant_id, user_id, secret_hash, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))
RETURNING id, expires_at"""
_SET_COUNT = "UPDATE poc.exports SET count = $3 WHERE tenant_id = $1 AND id = $2"
_FIND = """SELECT secret_hash, count, expires_at > now() AS live
FROM poc.exports WHERE tenant_id = $1 AND id = $2 FOR UPDATE"""
_FIND_SHARED = """SELECT secret_hash, count, expires_at > now() AS live
FROM poc.exports WHERE tenant_id = $1 AND id = $2"""
_DELETE = "DELETE FROM poc.exports WHERE tenant_id = $1 AND id = $2"
_ITEMS = """SELECT position, document::text AS doc FROM poc.export_items
WHERE tenant_id = $1 AND export_id = $2 AND position > $3
ORDER BY position LIMIT $4"""


def freeze_statement(params: SearchParams, max_rows: int) -> tuple[str, list[Any]]:
    """The `INSERT ... SELECT` that stores a search's every row (up to `max_rows` + 1, so that a larger
    result shows) as the items of an export, numbered in the search's order. Parameters: `$1` the tenant
    id, then the search's, then the export id (the last)."""
    search, args = build(dataclasses.replace(params, limit=max_rows, position=None), shortcut=False)
    columns, direction = sort_columns(params.sort)
    order = ", ".join(f"s.{column} {direction}" for column in columns)
    export_id = f"${len(args) + 2}::uuid"
    statement = (
        "INSERT INTO poc.export_items (tenant_id, export_id, position, document)\n"
        f"SELECT $1::uuid, {export_id}, row_number() OVER (ORDER BY {order}), s.doc::json\n"
        f"FROM (\n{search}\n) AS s"
    )
    return statement, args


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _secret_tenant(secret: str) -> uuid.UUID | None:
    """The tenant a well-formed secret names, or None (then nothing can match it)."""
    match = _SECRET_RE.match(secret) if len(secret) <= SECRET_MAX_LENGTH else None
    return uuid.UUID(match.group(1)) if match else None


def _gone(export_id: uuid.UUID) -> NotFound:
    return NotFound(f"There is no export {export_id} for this secret (unknown, deleted or expired).")


class ExportService:
    """Create, read and delete exports; one instance per app, on the service's `PocServices`."""

    def __init__(self, db: Database, limits: ExportLimits) -> None:
        self.db = db
        self.limits = limits

    async def create(self, principal: Principal, params: SearchParams) -> CreatedExport:
        """Freeze the caller's search (422 past the row cap, 429 past the per-user cap of live exports)."""
        await self.db.fetchrow_global(_PURGE, PURGE_BATCH)
        tenant = uuid.UUID(principal.tenant_id)
        secret = f"{SECRET_VERSION}.{tenant}.{secrets.token_urlsafe(32)}"
        statement, args = freeze_statement(params, self.limits.max_rows)
        async with self.db.tenant_tx(tenant) as conn:
            # One creation at a time per user, so that concurrent requests cannot both pass the cap.
            await conn.execute(_LOCK_USER, str(tenant), principal.subject)
            live = await conn.fetchrow(_LIVE, tenant, principal.subject)
            assert live is not None
            if live["n"] >= self.limits.max_live_per_user:
                raise TooManyRequests(
                    f"You already hold {live['n']} exports (at most {self.limits.max_live_per_user}); one is "
                    "freed when its report is done or when it expires.",
                    retry_after=min(RETRY_AFTER_MAX, live["first_expiry_in"]),
                )
            created = await conn.fetchrow(_INSERT, tenant, principal.subject, _hash(secret), self.limits.ttl_seconds)
            assert created is not None
            status = await conn.execute(statement, tenant, *args, created["id"])
            count = int(status.rsplit(" ", 1)[-1])
            if count > self.limits.max_rows:
                raise ValidationFailed(
                    [
                        FieldError(
                            "filters",
                            "too_many_results",
                            f"the search matches more than {self.limits.max_rows} POCs, the most one export "
                            "may hold: narrow it (q, language, tag, owner, created_from, created_to)",
                        )
                    ]
                )
            await conn.execute(_SET_COUNT, tenant, created["id"], count)
        return CreatedExport(created["id"], count, secret, created["expires_at"])

    async def page(self, export_id: uuid.UUID, secret: str, *, after: int, limit: int) -> ExportPage:
        """The items after position `after` (at most `limit`); 404 for an unknown id, a wrong secret or
        an expired export (which is then deleted)."""
        tenant = _secret_tenant(secret)
        if tenant is None:
            raise _gone(export_id)
        expired = False
        rows: list[Any] = []
        async with self.db.tenant_tx(tenant) as conn:
            found = await conn.fetchrow(_FIND_SHARED, tenant, export_id)
            if found is None or not hmac.compare_digest(found["secret_hash"], _hash(secret)):
                raise _gone(export_id)
            if not found["live"]:
                await conn.execute(_DELETE, tenant, export_id)
                expired = True
            else:
                rows = await conn.fetch(_ITEMS, tenant, export_id, after, limit)
        if expired:
            raise _gone(export_id)
        count: int = found["count"]
        last = rows[-1]["position"] if rows else None
        return ExportPage([row["doc"] for row in rows], last if last is not None and last < count else None, count)

    async def delete(self, export_id: uuid.UUID, secret: str) -> None:
        """Delete an export and its items; 404 as `page` (an expired one is deleted all the same)."""
        tenant = _secret_tenant(secret)
        if tenant is None:
            raise _gone(export_id)
        async with self.db.tenant_tx(tenant) as conn:
            found = await conn.fetchrow(_FIND, tenant, export_id)
            if found is None or not hmac.compare_digest(found["secret_hash"], _hash(secret)):
                raise _gone(export_id)
            await conn.execute(_DELETE, tenant, export_id)
        if not found["live"]:
            raise _gone(export_id)
