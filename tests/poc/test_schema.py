"""The `poc` schema: migrations roll back and forward, and the SQL helpers agree with their Python twins."""

from __future__ import annotations

import uuid

import asyncpg

from deploy.local import DatabaseUrls
from poc_api.search import deletion_keys
from runtime import migrations

POC = migrations.ServiceSchema("poc", "poc_api")


async def test_migrations_roll_back_and_forward(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.owner)
    try:
        assert (await migrations.status(conn, POC)).pending == []
        trace_column = "SELECT count(*) FROM pg_attribute WHERE attrelid = 'poc.outbox'::regclass AND attname = $1"
        assert await conn.fetchval(trace_column, "trace_context") == 1
        assert await migrations.downgrade(conn, POC, steps=1) == [6]
        assert await conn.fetchval(trace_column, "trace_context") == 0
        async with conn.transaction():  # the claim of 0002 again, which works without the column
            assert await conn.fetch("SELECT * FROM poc.outbox_claim(1) WHERE false") == []
        assert await migrations.downgrade(conn, POC, steps=1) == [5]
        assert await conn.fetchval("SELECT to_regclass('poc.exports')") is None
        assert await conn.fetchval("SELECT to_regclass('poc.export_items')") is None
        assert await conn.fetchval("SELECT to_regprocedure('poc.purge_expired_exports(integer)')") is None
        assert await migrations.downgrade(conn, POC, steps=1) == [4]
        assert await conn.fetchval("SELECT to_regclass('poc.search_vocabulary_terms')") is None
        assert await migrations.downgrade(conn, POC, steps=1) == [3]
        assert (
            await conn.fetchval(
                "SELECT to_regprocedure('poc.document(uuid, text, text, text, text, text[], text,"
                " timestamptz, timestamptz)')"
            )
            is None
        )
        assert await migrations.downgrade(conn, POC, steps=1) == [2]
        assert await conn.fetchval("SELECT to_regprocedure('poc.outbox_claim(integer)')") is None
        assert await conn.fetchval("SELECT count(*) FROM pg_policy WHERE polname = 'outbox_relay'") == 0
        assert await migrations.downgrade(conn, POC, steps=1) == [1]
        assert await conn.fetchval("SELECT to_regnamespace('poc')") is None
        assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'") == 0
        assert await migrations.upgrade(conn, POC) == [1, 2, 3, 4, 5, 6]
        assert await conn.fetchval(trace_column, "trace_context") == 1
        assert await conn.fetchval("SELECT to_regclass('poc.export_items')") is not None
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


async def test_the_stored_document_does_not_depend_on_session_settings(database: DatabaseUrls) -> None:
    """`poc.document` is declared IMMUTABLE (it backs a stored column): the same text under any time zone,
    date style or locale setting a session may have."""
    conn = await asyncpg.connect(database.service)
    try:
        args = (
            "SELECT poc.document('5b0c2c1e-6a53-4f3e-9d7a-0c4f1f0b9a11'::uuid, 'Integração \"PIX\"', 'desc', "
            "'https://github.com/acme/pix', 'Python', ARRAY['pix', 'pagamentos'], 'user-1', "
            "'2026-02-03 04:05:06.789012+00'::timestamptz, '2026-12-31 23:59:59.000001+00'::timestamptz)::text"
        )
        expected = await conn.fetchval(args)
        assert '"created_at" : "2026-02-03T04:05:06.789012Z"' in expected
        assert '"updated_at" : "2026-12-31T23:59:59.000001Z"' in expected
        for setting, value in (
            ("TimeZone", "America/Sao_Paulo"),
            ("TimeZone", "Asia/Kathmandu"),
            ("DateStyle", "SQL, DMY"),
            ("lc_time", "C"),
            ("extra_float_digits", "-3"),
        ):
            async with conn.transaction():
                await conn.execute(f"SET LOCAL {setting} = '{value}'")
                assert await conn.fetchval(args) == expected, setting
    finally:
        await conn.close()


async def test_tag_terms_migration_indexes_existing_pocs(database: DatabaseUrls) -> None:
    """Migration 0004 gives POCs stored before it the postings of their tags' words (and its rollback
    takes back only those), whatever their tenant."""
    owner = await asyncpg.connect(database.owner)
    service = await asyncpg.connect(database.service)
    tenants = [uuid.uuid4(), uuid.uuid4()]
    try:
        assert await migrations.downgrade(owner, POC, steps=3) == [6, 5, 4]
        for n, tenant in enumerate(tenants):
            async with service.transaction():
                await service.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
                await service.execute(
                    "INSERT INTO poc.pocs (tenant_id, owner_id, name, description, github_url, language, tags)"
                    " VALUES ($1, 'u', 'Kafka streams', 'event log', $2, 'Java', ARRAY['machine-learning', 'kafka'])",
                    tenant,
                    f"https://github.com/acme/r{n}",
                )

        async def terms(tenant: uuid.UUID) -> list[tuple[str, bool]]:
            async with service.transaction():
                await service.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
                rows = await service.fetch("SELECT term, in_name FROM poc.search_postings ORDER BY term")
            return [(r["term"], r["in_name"]) for r in rows]

        before = [("event", False), ("kafka", True), ("log", False), ("streams", True)]
        assert [await terms(t) for t in tenants] == [before, before]
        assert await migrations.upgrade(owner, POC) == [4, 5, 6]
        after = sorted([*before, ("learning", False), ("machine", False)])
        assert [await terms(t) for t in tenants] == [after, after]
        assert await migrations.downgrade(owner, POC, steps=3) == [6, 5, 4]
        assert [await terms(t) for t in tenants] == [before, before]
        assert await migrations.upgrade(owner, POC) == [4, 5, 6]
    finally:
        await service.close()
        await owner.close()
