"""Tenant isolation is enforced by PostgreSQL: catalog checks and a cross-tenant matrix."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from deploy.local import DatabaseUrls
from runtime.bootstrap import OWNER_ROLE, SERVICE_ROLE
from runtime.db import Database
from tests.identity.harness import Account, IdentityHarness

# Tables without a tenant_id column, each with the reason it is global. A new table must either
# carry tenant_id (and then RLS is checked) or be listed here on purpose.
GLOBAL_TABLES = {
    "identity.tenants": "the tenant directory itself (RLS forced; reads open, writes bound to the context)",
    "identity.login_throttle": "hashed brute-force counters; no tenant data",
    # The media workers' job queue (procrastinate, migration media 0002): a job's arguments are a report id
    # and its tenant; the report itself (media.reports) is a tenant table under RLS.
    "media.procrastinate_jobs": "the job queue: report ids and their tenant ids, no report data",
    "media.procrastinate_events": "the job queue's status history (job ids and times)",
    "media.procrastinate_workers": "the job queue's worker heartbeats",
    "media.procrastinate_periodic_defers": "the job queue's periodic tasks (none are defined)",
}
SCHEMAS = ("identity", "poc", "dojo", "media", "crdt")
OWNER_POLICIES = {
    "poc.outbox.outbox_relay": "poc.outbox_claim(), the outbox relay's SECURITY DEFINER function, claims every "
    "tenant's unpublished events (migration poc 0002)",
    "poc.exports.exports_purge": "poc.purge_expired_exports(), a SECURITY DEFINER function, deletes every "
    "tenant's expired exports (migration poc 0005)",
}
"""Policies that give the schema owner role every row of a tenant table, each with the one reason."""


async def test_every_tenant_table_has_forced_rls_with_using_and_with_check(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.admin)
    try:
        tables = await conn.fetch(
            """
            SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity, c.relforcerowsecurity,
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                           AND NOT a.attisdropped) AS has_tenant
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND c.relname <> 'schema_migrations'
            """,
            list(SCHEMAS),
        )
        assert tables, "no tables found: migrations did not run"
        for table in tables:
            if not table["has_tenant"]:
                assert table["name"] in GLOBAL_TABLES, f"{table['name']} has no tenant_id and is not declared global"
                continue
            assert table["relrowsecurity"], f"{table['name']}: RLS not enabled"
            assert table["relforcerowsecurity"], f"{table['name']}: RLS not forced"
            policies = await conn.fetch(
                "SELECT polname, polcmd::text AS polcmd, pg_get_expr(polqual, polrelid) AS using_expr,"
                " pg_get_expr(polwithcheck, polrelid) AS check_expr,"
                " ARRAY(SELECT rolname FROM pg_roles WHERE oid = ANY(polroles) ORDER BY 1) AS roles"
                " FROM pg_policy WHERE polrelid = $1::regclass",
                table["name"],
            )
            assert policies, f"{table['name']}: no policy"
            for policy in policies:
                name = f"{table['name']}.{policy['polname']}"
                if name in OWNER_POLICIES:
                    # Only the schema owner, which owns nothing the service role can run but the one
                    # SECURITY DEFINER function the declaration names.
                    assert policy["roles"] == [OWNER_ROLE], name
                    continue
                assert policy["roles"] == [], f"{name} must apply to every role (PUBLIC)"
                assert policy["polcmd"] == "*", f"{table['name']}.{policy['polname']} must cover all commands"
                for expr in (policy["using_expr"], policy["check_expr"]):
                    assert expr is not None, f"{table['name']}.{policy['polname']} lacks USING or WITH CHECK"
                    assert "current_tenant()" in expr or "app.tenant_id" in expr, expr
        for name in GLOBAL_TABLES:
            assert name in {t["name"] for t in tables}, f"{name} is declared global but does not exist"
        # Function behind the policies: NULL when there is no context (fail closed).
        source = await conn.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'current_tenant'")
        assert "NULLIF(current_setting('app.tenant_id', true), '')" in source
    finally:
        await conn.close()


async def test_service_role_owns_nothing_and_cannot_bypass_rls(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.admin)
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1",
            SERVICE_ROLE,
        )
        assert role is not None
        assert not role["rolsuper"] and not role["rolbypassrls"]
        assert not role["rolcreaterole"] and not role["rolcreatedb"]
        owned = await conn.fetchval(
            """
            SELECT count(*) FROM (
                SELECT relowner AS owner FROM pg_class UNION ALL
                SELECT nspowner FROM pg_namespace UNION ALL
                SELECT proowner FROM pg_proc UNION ALL
                SELECT typowner FROM pg_type UNION ALL
                SELECT datdba FROM pg_database
            ) o JOIN pg_roles r ON r.oid = o.owner WHERE r.rolname = $1
            """,
            SERVICE_ROLE,
        )
        assert owned == 0
        # It is also what the services really connect as.
        service = await asyncpg.connect(database.service)
        try:
            assert await service.fetchval("SELECT current_user") == SERVICE_ROLE
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await service.execute("ALTER TABLE identity.users DISABLE ROW LEVEL SECURITY")
        finally:
            await service.close()
    finally:
        await conn.close()


async def test_no_tenant_context_sees_nothing(identity: IdentityHarness, database: DatabaseUrls) -> None:
    await identity.create_tenant("ctx-a")
    async with Database(database.service, min_size=1, max_size=1) as db, db.global_tx() as conn:
        assert await conn.fetchval("SELECT count(*) FROM identity.users") == 0
        assert await conn.fetchval("SELECT count(*) FROM identity.refresh_tokens") == 0
        # Writing without a context is refused by WITH CHECK.
        tenant_id = await conn.fetchval("SELECT id FROM identity.tenants WHERE slug = 'ctx-a'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO identity.users (tenant_id, email, email_normalized, password_hash)"
                " VALUES ($1, 'x@y.zz', 'x@y.zz', 'h')",
                tenant_id,
            )


async def test_tenant_context_does_not_leak_across_pooled_transactions(
    identity: IdentityHarness, database: DatabaseUrls
) -> None:
    a = await identity.create_tenant("leak-a")
    b = await identity.create_tenant("leak-b")
    async with Database(database.service, min_size=1, max_size=1) as db:

        async def count_for(tenant_id: str) -> set[str]:
            async with db.tenant_tx(tenant_id) as conn:
                await asyncio.sleep(0)
                rows = await conn.fetch("SELECT email FROM identity.users")
                return {r["email"] for r in rows}

        ids = [a.tenant_id, b.tenant_id] * 20
        results = await asyncio.gather(*(count_for(t) for t in ids))
        for tenant_id, emails in zip(ids, results, strict=True):
            expected = a.email if tenant_id == a.tenant_id else b.email
            assert emails == {expected}
        async with db.global_tx() as conn:
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")
            assert await conn.fetchval("SELECT count(*) FROM identity.users") == 0


async def _matrix(identity: IdentityHarness, a: Account, b: Account, b_user_id: str) -> None:
    # Read, change and delete tenant B's user as tenant A's administrator: 404 each time.
    assert (await identity.http.get(f"/v1/users/{b_user_id}", headers=a.auth)).status_code == 404
    patched = await identity.http.patch(f"/v1/users/{b_user_id}", json={"roles": ["admin"]}, headers=a.auth)
    assert patched.status_code == 404
    assert (await identity.http.delete(f"/v1/users/{b_user_id}", headers=a.auth)).status_code == 404
    listing = (await identity.http.get("/v1/users", headers=a.auth)).json()
    assert b_user_id not in {u["id"] for u in listing["items"]}
    assert all(u["email"].endswith(a.tenant + ".example.com") or "@" in u["email"] for u in listing["items"])
    # Cursor tampering: a cursor pointing at B's user id does not reveal B's users.
    after = (await identity.http.get("/v1/users", params={"cursor": str(uuid.UUID(int=0))}, headers=a.auth)).json()
    assert b_user_id not in {u["id"] for u in after["items"]}


async def test_cross_tenant_matrix(identity: IdentityHarness) -> None:
    a = await identity.create_tenant("matrix-a")
    b = await identity.create_tenant("matrix-b")
    member_b = await identity.add_user(b, "member@matrix-b.example.com")
    b_users = (await identity.http.get("/v1/users", headers=b.auth)).json()["items"]
    b_member_id = next(u["id"] for u in b_users if u["email"] == member_b.email)
    await _matrix(identity, a, b, b_member_id)
    # B's member is untouched and still signs in.
    still = await identity.http.get(f"/v1/users/{b_member_id}", headers=b.auth)
    assert still.status_code == 200 and still.json()["roles"] == ["member"]
    await identity.login(b.tenant, member_b.email, member_b.password)
    # A member (not admin) of A cannot manage even its own tenant's users.
    member_a = await identity.add_user(a, "member@matrix-a.example.com")
    assert (await identity.http.get("/v1/users", headers=member_a.auth)).status_code == 403
    # A refresh token of B presented with A's tenant id in it is refused.
    _, _, token_id, secret = b.refresh_token.split(".")
    forged = f"rt1.{a.tenant_id}.{token_id}.{secret}"
    response = await identity.http.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": forged})
    assert response.status_code == 400
