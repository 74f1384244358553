"""The `dojo` schema's migrations roll back and forward; its tables keep tenants apart."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from deploy.local import DatabaseUrls
from runtime import migrations

DOJO = migrations.ServiceSchema("dojo", "dojo")


async def test_migrations_roll_back_and_forward(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.owner)
    try:
        assert (await migrations.status(conn, DOJO)).pending == []
        assert await migrations.downgrade(conn, DOJO, steps=1) == [4]
        assert await conn.fetchval("SELECT to_regclass('dojo.history_grants')") is None
        resumed = (
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'dojo'"
            " AND table_name = 'tenant_settings' AND column_name = 'history_resumed_at'"
        )
        assert await conn.fetchval(resumed) == 1
        assert await migrations.downgrade(conn, DOJO, steps=1) == [3]
        assert await conn.fetchval(resumed) == 0
        assert await migrations.downgrade(conn, DOJO, steps=1) == [2]
        for table in ("history_updates", "history_checkpoints", "history_drivers", "tenant_settings"):
            assert await conn.fetchval("SELECT to_regclass($1)", f"dojo.{table}") is None, table
        assert await conn.fetchval("SELECT to_regclass('dojo.chat_messages')") is not None
        assert await migrations.downgrade(conn, DOJO, steps=1) == [1]
        assert await conn.fetchval("SELECT to_regnamespace('dojo')") is None
        assert await migrations.upgrade(conn, DOJO) == [1, 2, 3, 4]
        assert await conn.fetchval("SELECT to_regclass('dojo.chat_messages')") is not None
        assert await conn.fetchval("SELECT to_regclass('dojo.history_updates')") is not None
        assert await conn.fetchval("SELECT to_regclass('dojo.history_grants')") is not None
    finally:
        await conn.close()


async def test_rows_are_invisible_and_unwritable_across_tenants(database: DatabaseUrls) -> None:
    a, b, host = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(database.service)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(a))
            dojo = await conn.fetchval(
                "INSERT INTO dojo.sessions (tenant_id, title, host_id) VALUES ($1, 'a', $2) RETURNING id", a, host
            )
            await conn.execute(
                "INSERT INTO dojo.chat_messages (tenant_id, dojo_id, user_id, body) VALUES ($1, $2, $3, 'hi')",
                a,
                dojo,
                host,
            )
            await conn.execute(
                "INSERT INTO dojo.history_updates (tenant_id, dojo_id, at, user_id, update)"
                " VALUES ($1, $2, now(), $3, '')",
                a,
                dojo,
                host,
            )
            await conn.execute(
                "INSERT INTO dojo.history_checkpoints (tenant_id, dojo_id, at, seq, updates, state, blame)"
                " VALUES ($1, $2, now(), 1, 1, '', '{}')",
                a,
                dojo,
            )
            await conn.execute(
                "INSERT INTO dojo.history_drivers (tenant_id, dojo_id, driver_id) VALUES ($1, $2, $3)", a, dojo, host
            )
            await conn.execute("INSERT INTO dojo.tenant_settings (tenant_id, history_enabled) VALUES ($1, false)", a)
            await conn.execute(
                "INSERT INTO dojo.history_grants (tenant_id, dojo_id, user_id, as_admin, secret_hash, expires_at)"
                " VALUES ($1, $2, $3, false, $4, now() + interval '1 hour')",
                a,
                dojo,
                host,
                bytes(32),
            )
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(b))
            for table in (
                "sessions",
                "participants",
                "chat_messages",
                "history_updates",
                "history_checkpoints",
                "history_drivers",
                "tenant_settings",
                "history_grants",
            ):
                assert await conn.fetchval(f"SELECT count(*) FROM dojo.{table}") == 0, table  # noqa: S608
            assert await conn.execute("UPDATE dojo.sessions SET title = 'x' WHERE id = $1", dojo) == "UPDATE 0"
        # Writing a row for another tenant than the context is refused by the policy's WITH CHECK.
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(b))
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.execute(
                    "INSERT INTO dojo.sessions (tenant_id, title, host_id) VALUES ($1, 'x', $2)", a, host
                )
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(b))
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.execute(
                    "INSERT INTO dojo.history_updates (tenant_id, dojo_id, at, update) VALUES ($1, $2, now(), '')",
                    a,
                    dojo,
                )
        # No context at all: nothing (fail closed).
        assert await conn.fetchval("SELECT count(*) FROM dojo.sessions") == 0
        assert await conn.fetchval("SELECT count(*) FROM dojo.history_updates") == 0
    finally:
        await conn.close()
