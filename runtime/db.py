"""The asyncpg pool and tenant-scoped transactions (ARCHITECTURE §4).

Every query on tenant data runs inside `Database.tenant_tx(tenant_id)`: a transaction whose first
statement is `set_config('app.tenant_id', $1, true)` — transaction-local, so nothing leaks to the
next user of a pooled connection. Row-level security policies read the setting through
`NULLIF(current_setting('app.tenant_id', true), '')`, so a transaction without a tenant sees no rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeAlias

import asyncpg
import asyncpg.pool
import orjson

from runtime.errors import ServiceUnavailable

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
IsolationLevel = Literal["read_committed", "repeatable_read", "serializable"]
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"


async def _init_connection(conn: Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


class Database:
    """Owns the pool; an async context manager started from the app lifespan."""

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10, command_timeout: float = 10) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._command_timeout = command_timeout
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
