"""`Database.tenant_fetch`: one statement that sets the tenant context and reads, in one round trip.

The guarantees of ARCHITECTURE §4 must hold as they do for `tenant_tx`: each call sees its tenant's rows
only, the context never outlives the statement on a pooled connection (a pool of ONE connection with
interleaved tenants and other kinds of use), and without a context nothing is visible.
"""

from __future__ import annotations

import asyncio
import uuid

from deploy.local import DatabaseUrls
from runtime.db import Database, tenant_statement
from tests.identity.harness import Account, IdentityHarness

USERS = "SELECT email FROM identity.users WHERE tenant_id = $1::uuid ORDER BY email"
USERS_NO_HINT = "SELECT email FROM identity.users ORDER BY email DESC"
"""Without the planner hint (`tenant_id = $1`): row-level security alone still decides."""


async def _two_tenants(identity: IdentityHarness) -> tuple[Account, Account, Account]:
    a = await identity.create_tenant()
    b = await identity.create_tenant()
    a2 = await identity.add_user(a, f"second@{a.tenant}.example.com")
    return a, b, a2


async def test_each_call_sees_its_tenant_only_on_one_interleaved_connection(
    identity: IdentityHarness, database: DatabaseUrls
) -> None:
    a, b, a2 = await _two_tenants(identity)
    expected = {a.tenant_id: sorted([a.email, a2.email]), b.tenant_id: [b.email]}
    async with Database(database.service, min_size=1, max_size=1) as db:

        async def tenant_fetch(tenant_id: str, query: str) -> tuple[str, list[str]]:
            rows = await db.tenant_fetch(tenant_id, query)
            return tenant_id, [r["email"] for r in rows]

        async def tenant_tx(tenant_id: str) -> tuple[str, list[str]]:
            async with db.tenant_tx(tenant_id) as conn:
                await asyncio.sleep(0)
                rows = await conn.fetch("SELECT email FROM identity.users ORDER BY email")
                return tenant_id, [r["email"] for r in rows]

        calls = []
        for n, tenant_id in enumerate([a.tenant_id, b.tenant_id] * 15):
            kind = n % 3
            if kind == 0:
                calls.append(tenant_fetch(tenant_id, USERS))
            elif kind == 1:
                calls.append(tenant_fetch(tenant_id, USERS_NO_HINT))
            else:
                calls.append(tenant_tx(tenant_id))
        results = await asyncio.gather(*calls)
        for n, (tenant_id, emails) in enumerate(results):
            # Rows come back in the query's own order (descending for the query without the hint).
            want = expected[tenant_id][::-1] if n % 3 == 1 else expected[tenant_id]
            assert emails == want, (n, tenant_id)
        # The context ended with each statement: the connection has none, and a transaction without
        # one sees nothing.
        async with db.global_tx() as conn:
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")
            assert await conn.fetchval("SELECT count(*) FROM identity.users") == 0


async def test_the_context_is_gone_right_after_the_statement(identity: IdentityHarness, database: DatabaseUrls) -> None:
    a, _, _ = await _two_tenants(identity)
    async with Database(database.service, min_size=1, max_size=1) as db:
        rows = await db.tenant_fetch(a.tenant_id, "SELECT current_setting('app.tenant_id', true) AS inside")
        assert rows[0]["inside"] == a.tenant_id  # in effect while the statement runs
        async with db.pool.acquire() as conn:
            # Same connection (pool of one), outside any transaction: nothing left.
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")
            # The statement form works on an acquired connection too, and inside a caller's transaction
            # the setting ends with that transaction.
            async with conn.transaction():
                rows = await conn.fetch(tenant_statement(USERS), uuid.UUID(a.tenant_id))
                assert len(rows) == 2
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")


async def test_an_unknown_tenant_sees_nothing(identity: IdentityHarness, database: DatabaseUrls) -> None:
    await _two_tenants(identity)
    async with Database(database.service, min_size=1, max_size=1) as db:
        assert await db.tenant_fetch(uuid.uuid4(), USERS) == []
        assert await db.tenant_fetch(uuid.uuid4(), USERS_NO_HINT) == []


async def test_other_uses_of_a_connection_are_still_reset_on_release(
    identity: IdentityHarness, database: DatabaseUrls
) -> None:
    """Only `tenant_fetch` skips the pool's reset query: code given a connection (here one that breaks
    the rules with a session-level setting) still gets its session state reset."""
    a, _, _ = await _two_tenants(identity)
    async with Database(database.service, min_size=1, max_size=1) as db:
        async with db.pool.acquire() as conn:
            await conn.execute("SELECT set_config('app.tenant_id', $1, false)", a.tenant_id)
        async with db.global_tx() as conn:
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")
            assert await conn.fetchval("SELECT count(*) FROM identity.users") == 0
        # And a session default given to the pool survives the reset.
    async with Database(database.service, min_size=1, max_size=1, server_settings={"work_mem": "5MB"}) as db:
        async with db.pool.acquire() as conn:
            await conn.execute("SET work_mem = '7MB'")
        async with db.pool.acquire() as conn:
            assert await conn.fetchval("SHOW work_mem") == "5MB"
        assert (await db.tenant_fetch(a.tenant_id, "SELECT current_setting('work_mem') AS w"))[0]["w"] == "5MB"
