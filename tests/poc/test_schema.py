"""The `poc` schema: migrations roll back and forward, and the SQL helpers agree with their Python twins."""

from __future__ import annotations

import asyncpg

from deploy.local import DatabaseUrls
from poc_api.search import deletion_keys
from runtime import migrations

POC = migrations.ServiceSchema("poc", "poc_api")


async def test_migrations_roll_back_and_forward(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.owner)
    try:
        assert (await migrations.status(conn, POC)).pending == []
        assert await migrations.downgrade(conn, POC, steps=1) == [2]
        assert await conn.fetchval("SELECT to_regprocedure('poc.outbox_claim(integer)')") is None
        assert await conn.fetchval("SELECT count(*) FROM pg_policy WHERE polname = 'outbox_relay'") == 0
        assert await migrations.downgrade(conn, POC, steps=1) == [1]
        assert await conn.fetchval("SELECT to_regnamespace('poc')") is None
        assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'") == 0
        assert await migrations.upgrade(conn, POC) == [1, 2]
        assert await conn.fetchval("SELECT poc.fold('Integração ÀÉÎÕÜ')") == "integracao aeiou"
        assert await conn.fetchval("SELECT to_regprocedure('poc.outbox_claim(integer)')") is not None
    finally:
        await conn.close()


async def test_sql_deletion_keys_match_the_python_ones(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.service)
    try:
        for word in ("go", "pix", "kafka", "pagamento", "observabilidade", "ação", "привет"):
            rows = await conn.fetch("SELECT key, edits FROM poc.deletion_keys($1, poc.max_edits($1))", word)
            assert {r["key"]: r["edits"] for r in rows} == deletion_keys(word), word
    finally:
        await conn.close()
