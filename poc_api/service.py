"""POC business logic: create, read, change, delete and search, each in one tenant transaction.

Everything runs with the caller's tenant context — `Database.tenant_tx(principal.tenant_id)`, or for a
read or a search (one read-only statement) `Database.tenant_fetch`, the same context set inside the
statement in a single round trip: row-level security decides which rows exist for the caller, so another
tenant's POC is simply not found (404). The read statements also compare `tenant_id` with the tenant
parameter, for the planner's sake (`runtime.db.tenant_statement`); the policies still decide. Within the
tenant, anyone reads; only the owner or an admin changes
or deletes (403 otherwise). Every change writes its event to `poc.outbox` in the same transaction
(transactional outbox): `poc.created`, `poc.updated` (with the changed fields) and `poc.deleted`, each
carrying the POC document and the acting user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from poc_api import cursor
from poc_api.catalogue_sizes import CatalogueSizes
from poc_api.search import DOCUMENT, SearchParams, cursor_key, facets, first_relevance_page, run
from poc_api.validation import search_words
from runtime.auth import Principal
from runtime.db import Connection, Database
from runtime.errors import Conflict, Forbidden, NotFound
from runtime.tracing import trace_context

UNIQUE_REPOSITORY = "pocs_repository_unique"
FIELDS = ("name", "description", "github_url", "language", "tags")


@dataclass(frozen=True)
class NewPoc:
    """A validated, normalized POC to create."""

    name: str
    github_url: str
    language: str
    tags: list[str]
    description: str = ""


@dataclass(frozen=True)
class PocChanges:
    """Validated new values; None means "leave as it is"."""

    name: str | None = None
    github_url: str | None = None
    language: str | None = None
    tags: list[str] | None = None
    description: str | None = None

    def values(self) -> dict[str, Any]:
        """The fields to set, by name."""
        return {name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None}


@dataclass(frozen=True)
class Page:
    """A page of POC documents (JSON texts) and the cursor of the next page, if any."""

    documents: list[str]
    next_cursor: str | None


_EVENT = """INSERT INTO poc.outbox (tenant_id, aggregate_id, event_type, payload, trace_context)
SELECT c.tenant_id, c.id, $EVENT, jsonb_build_object('poc', {document}, 'actor_id', $ACTOR::text{extra}), $TRACE::jsonb
FROM {source} c"""


def _event_sql(event: str, source: str, actor: int, trace: int, extra: str = "") -> str:
    return (
        _EVENT.replace("$EVENT", f"'{event}'")
        .replace("$ACTOR", f"${actor}")
        .replace("$TRACE", f"${trace}")
        .format(document=DOCUMENT, source=source, extra=extra)
    )


def _trace() -> dict[str, str] | None:
    """The request's trace, stored with its change event (None when tracing is off)."""
    return trace_context() or None


# The statements below interpolate constants only (DOCUMENT, table aliases); values are parameters.
_CREATE = f"""WITH inserted AS (
    INSERT INTO poc.pocs (tenant_id, owner_id, name, description, github_url, language, tags)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT ON CONSTRAINT {UNIQUE_REPOSITORY} DO NOTHING
    RETURNING *
), event AS (
{_event_sql("poc.created", "inserted", 2, 8)}
)
SELECT c.id, {DOCUMENT}::text AS doc FROM inserted c"""  # noqa: S608

_GET = f"SELECT {DOCUMENT}::text FROM poc.pocs c WHERE c.id = $1"  # noqa: S608
_GET_ONE = f"SELECT {DOCUMENT}::text AS doc FROM poc.pocs c WHERE c.tenant_id = $1::uuid AND c.id = $2"  # noqa: S608
"""`_GET` as one statement for `Database.tenant_fetch` (the tenant is `$1`)."""

_LOCK = "SELECT owner_id, name, description, github_url, language, tags FROM poc.pocs WHERE id = $1 FOR UPDATE"

_UPDATE = f"""WITH updated AS (
    UPDATE poc.pocs SET name = $2, description = $3, github_url = $4, language = $5, tags = $6, updated_at = now()
    WHERE id = $1
    RETURNING *
), event AS (
{_event_sql("poc.updated", "updated", 7, 9, extra=", 'changed', $8::text[]")}
)
SELECT {DOCUMENT}::text FROM updated c"""  # noqa: S608

_DELETE = f"""WITH deleted AS (
    DELETE FROM poc.pocs WHERE id = $1 RETURNING *
)
{_event_sql("poc.deleted", "deleted", 2, 3)}"""  # noqa: S608

_EXISTING = "SELECT id, name, github_url FROM poc.pocs WHERE repo_key = lower($1) AND id IS DISTINCT FROM $2"


def _conflict(existing: asyncpg.Record) -> Conflict:
    return Conflict(
        f"The repository {existing['github_url']} is already registered in this tenant as POC "
        f"{existing['id']} ('{existing['name']}').",
        existing_poc={"id": str(existing["id"]), "name": existing["name"], "github_url": existing["github_url"]},
    )


def can_change(principal: Principal, owner_id: str) -> bool:
    """The owner and the tenant's admins may change or delete a POC."""
    return principal.subject == owner_id or principal.is_admin


class PocService:
    """The POC operations; one instance per app, on the service's `PocServices`."""

    def __init__(self, db: Database, sizes: CatalogueSizes | None = None) -> None:
        self.db = db
        self.sizes = sizes if sizes is not None else CatalogueSizes(db)

    async def create(self, principal: Principal, poc: NewPoc) -> tuple[uuid.UUID, str]:
        """Register a POC owned by the caller: (id, document); 409 if the tenant has this repository."""
        async with self.db.tenant_tx(principal.tenant_id) as conn:
            created = await conn.fetchrow(
                _CREATE,
                uuid.UUID(principal.tenant_id),
                principal.subject,
                poc.name,
                poc.description,
                poc.github_url,
                poc.language,
                poc.tags,
                _trace(),
            )
            if created is None:
                existing = await conn.fetchrow(_EXISTING, poc.github_url, None)
                if existing is not None:
                    raise _conflict(existing)
        if created is None:
            # The conflicting row vanished between the insert and the lookup: a race; report it as such.
            raise Conflict(f"The repository {poc.github_url} was being registered concurrently; try again.")
        return created["id"], created["doc"]

    async def get(self, principal: Principal, poc_id: uuid.UUID) -> str:
        """One POC of the caller's tenant; 404 otherwise (also for other tenants' ids)."""
        rows = await self.db.tenant_fetch(principal.tenant_id, _GET_ONE, poc_id)
        if not rows:
            raise _not_found(poc_id)
        document: str = rows[0]["doc"]
        return document

    async def _lock(self, conn: Connection, principal: Principal, poc_id: uuid.UUID, verb: str) -> asyncpg.Record:
        row = await conn.fetchrow(_LOCK, poc_id)
        if row is None:
            raise _not_found(poc_id)
        if not can_change(principal, row["owner_id"]):
            raise Forbidden(f"Only the POC's owner or a tenant admin may {verb} it.")
        return row

    async def update(self, principal: Principal, poc_id: uuid.UUID, changes: PocChanges) -> str:
        """Apply `changes` (owner or admin); no event and no new updated_at when nothing changes."""
        try:
            async with self.db.tenant_tx(principal.tenant_id) as conn:
                current = await self._lock(conn, principal, poc_id, "change")
                merged = {name: current[name] for name in FIELDS}
                changed = [name for name, value in changes.values().items() if value != merged[name]]
                if not changed:
                    document: str = await conn.fetchval(_GET, poc_id)
                    return document
                merged.update(changes.values())
                if "github_url" in changed:
                    existing = await conn.fetchrow(_EXISTING, merged["github_url"], poc_id)
                    if existing is not None:
                        raise _conflict(existing)
                document = await conn.fetchval(
                    _UPDATE,
                    poc_id,
                    merged["name"],
                    merged["description"],
                    merged["github_url"],
                    merged["language"],
                    merged["tags"],
                    principal.subject,
                    changed,
                    _trace(),
                )
                return document
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != UNIQUE_REPOSITORY or changes.github_url is None:
                raise
            async with self.db.tenant_tx(principal.tenant_id) as conn:
                existing = await conn.fetchrow(_EXISTING, changes.github_url, poc_id)
            if existing is None:
                raise
            raise _conflict(existing) from exc

    async def delete(self, principal: Principal, poc_id: uuid.UUID) -> None:
        """Delete a POC (owner or admin) and emit `poc.deleted` with its last state."""
        async with self.db.tenant_tx(principal.tenant_id) as conn:
            await self._lock(conn, principal, poc_id, "delete")
            await conn.execute(_DELETE, poc_id, principal.subject, _trace())

    async def search(self, principal: Principal, params: SearchParams) -> Page:
        """One page of a search, with the cursor of the next page."""
        # Only a search that could take the multi-word shortcut asks for (and so counts) the catalogue's size.
        many_words_shortcut = (
            params.q is not None
            and first_relevance_page(params)
            and len(search_words(params.q)) > 1
            and self.sizes.large(principal.tenant_id)
        )
        rows = await run(self.db, principal.tenant_id, params, many_words_shortcut=many_words_shortcut)
        next_cursor = None
        if len(rows) > params.limit:
            rows = rows[: params.limit]
            print_ = cursor.fingerprint(params.fingerprint_parts())
            next_cursor = cursor.encode(params.sort, print_, cursor_key(params.sort, rows[-1]))
        return Page([row["doc"] for row in rows], next_cursor)

    async def facets(self, principal: Principal, params: SearchParams, top: int) -> dict[str, Any]:
        """Counts per language and per tag of what `params` matches (`poc_api.search.facets`)."""
        return await facets(self.db, principal.tenant_id, params, top)


def _not_found(poc_id: uuid.UUID) -> NotFound:
    return NotFound(f"There is no POC {poc_id} in your tenant.")
