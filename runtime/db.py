"""The asyncpg pool and tenant-scoped transactions (ARCHITECTURE §4).

Every query on tenant data runs inside `Database.tenant_tx(tenant_id)`: a transaction whose first
statement is `set_config('app.tenant_id', $1, true)` — transaction-local, so nothing leaks to the
next user of a pooled connection. Row-level security policies read the setting through
`NULLIF(current_setting('app.tenant_id', true), '')`, so a transaction without a tenant sees no rows.

`Database.tenant_fetch(tenant_id, query, ...)` is the one-round-trip form for a single read-only
statement: the tenant context is set *inside* that statement (see `tenant_statement`), which runs in
its own implicit transaction — the setting ends with it, exactly as with `tenant_tx`, without the
BEGIN, set_config and COMMIT round trips.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeAlias

import asyncpg
import asyncpg.pool
import orjson

from runtime.errors import ServiceUnavailable

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
IsolationLevel = Literal["read_committed", "repeatable_read", "serializable"]
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"


_single_statement = contextvars.ContextVar("single_statement", default=False)
"""True while `tenant_fetch` holds a connection: it ran one known statement, nothing to reset."""


async def _reset_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What the pool runs when a connection comes back (after asyncpg has rolled back any open
    transaction): asyncpg's reset query (advisory locks, cursors, LISTEN, session settings), except after
    `tenant_fetch`, whose single read-only statement leaves no session state (its tenant context ended
    with its implicit transaction) — skipping it saves a round trip per request."""
    if not _single_statement.get():
        await conn.execute(conn.get_reset_query())


async def _init_connection(conn: Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


_TENANT_STATEMENT = (
    "SELECT tenant_query.* FROM "
    "(SELECT set_config('app.tenant_id', $1::uuid::text, true) OFFSET 0) AS tenant_context(tenant_id) "
    "CROSS JOIN LATERAL (SELECT * FROM ({query}) AS tenant_query "
    "WHERE tenant_context.tenant_id IS NOT NULL OFFSET 0) AS tenant_query"
)


def tenant_statement(query: str) -> str:
    """`query` as one statement that first sets the tenant context to its parameter `$1` (a uuid).

    The setting is made in a one-row subquery (`OFFSET 0`: never flattened, so `set_config` runs once)
    and `query` runs as a LATERAL subquery gated on its result: the planner can only execute a lateral
    subquery as the inner side of a nested loop, after the outer row exists, so every scan of `query`
    starts after the context is set. Should a future planner ever order it otherwise, the policies would
    see no context and `query` no rows: the failure mode is an empty answer, never another tenant's rows.
    `set_config(..., true)` ends with the statement's implicit transaction (or with the caller's explicit
    one), so nothing outlives it on a pooled connection.

    `query` is a read-only SELECT whose own parameters start at `$2`; its rows come back in its order.
    It should also compare `tenant_id = $1::uuid` for each tenant table it reads: the plan is made before
    the statement runs, when the context is still unset, and the planner estimates the policies'
    `tenant_id = current_tenant()` from the setting's value at that moment (NULL: "no rows"), which
    yields plans made for empty tables. With the explicit comparison the planner folds both into one
    equivalence (index conditions on `$1`, the policy checked once as `current_tenant() = $1`).
    """
    # `query` is the caller's statement text; values travel as parameters.
    return _TENANT_STATEMENT.replace("{query}", query)


class Database:
    """Owns the pool; an async context manager started from the app lifespan.

    `server_settings` are sent when each connection starts (session defaults such as
    `plan_cache_mode`; never tenant context, which is always transaction-local).
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout: float = 10,
        server_settings: Mapping[str, str] | None = None,
    ) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._command_timeout = command_timeout
        self._server_settings = dict(server_settings or {})
        self._pool: Pool | None = None

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=self._min_size,
            max_size=self._max_size,
            command_timeout=self._command_timeout,
            init=_init_connection,
            server_settings=self._server_settings or None,
            reset=_reset_connection,
        )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            raise ServiceUnavailable("the database pool is not open")
        return self._pool

    @asynccontextmanager
    async def tenant_tx(
        self, tenant_id: uuid.UUID | str, *, isolation: IsolationLevel = "read_committed"
    ) -> AsyncIterator[Connection]:
        """A transaction bound to one tenant; RLS sees only that tenant's rows."""
        tid = str(uuid.UUID(str(tenant_id)))
        async with self.pool.acquire() as conn, conn.transaction(isolation=isolation):
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tid)
            yield conn

    async def tenant_fetch(self, tenant_id: uuid.UUID | str, query: str, *args: Any) -> list[asyncpg.Record]:
        """Run one read-only statement for a tenant in a single round trip (`tenant_statement`); `query`'s
        parameters start at `$2`, `$1` is the tenant id."""
        tid = uuid.UUID(str(tenant_id))
        token = _single_statement.set(True)
        try:
            async with self.pool.acquire() as conn:
                rows: list[asyncpg.Record] = await conn.fetch(tenant_statement(query), tid, *args)
                return rows
        finally:
            _single_statement.reset(token)

    async def fetchrow_global(self, query: str, *args: Any) -> asyncpg.Record | None:
        """One statement with no tenant context, in one round trip (its implicit transaction): for a
        statement that leaves no session state behind, such as a published SECURITY DEFINER function
        that sets and restores its own context (so the connection needs no reset afterwards)."""
        token = _single_statement.set(True)
        try:
            async with self.pool.acquire() as conn:
                row: asyncpg.Record | None = await conn.fetchrow(query, *args)
                return row
        finally:
            _single_statement.reset(token)

    @asynccontextmanager
    async def global_tx(self) -> AsyncIterator[Connection]:
        """A transaction with no tenant context: tenant tables show no rows (fail closed)."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        async with self.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)

    async def fetchval_global(self, query: str, *args: Any) -> Any:
        async with self.global_tx() as conn:
            return await conn.fetchval(query, *args)
