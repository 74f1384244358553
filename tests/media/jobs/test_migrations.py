"""The media schema's migrations: the queue's schema is procrastinate's own, applied and rolled back by our
versioned migrations, and the service role runs the queue without owning anything."""

from __future__ import annotations

import asyncpg
import procrastinate
from procrastinate.schema import SchemaManager

from deploy.local import DatabaseUrls
from media.queue import connector
from runtime import migrations
from runtime.migrations import ServiceSchema

MEDIA = ServiceSchema("media", "media")


def test_the_queue_migration_is_the_installed_procrastinate_schema() -> None:
    up = next(m for m in MEDIA.migrations() if m.name == "job_queue").up
    assert SchemaManager.get_schema() in up


async def test_media_migrations_roll_back_and_apply_again(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.owner)
    try:
        assert await conn.fetchval("SELECT to_regclass('media.procrastinate_jobs') IS NOT NULL")
        columns = (
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'media'"
            " AND table_name = 'videos' AND column_name = ANY($1::text[])"
        )
        grants = ["grant_id", "grant_secret", "grant_expires_at"]
        assert await conn.fetchval(columns, grants) == 3
        assert await conn.fetchval(columns, ["source_token"]) == 0  # no access token at rest
        assert await migrations.downgrade(conn, MEDIA, steps=1) == [5]
        assert await conn.fetchval(columns, grants) == 0
        replay_columns = (
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'media'"
            " AND table_name = 'videos' AND column_name IN ('kind', 'dojo_id', 'speed', 'source_token')"
        )
        assert await conn.fetchval(replay_columns) == 4
        assert await migrations.downgrade(conn, MEDIA, steps=1) == [4]
        assert await conn.fetchval(replay_columns) == 0
        assert await migrations.downgrade(conn, MEDIA, steps=1) == [3]
        assert await conn.fetchval("SELECT to_regclass('media.videos') IS NULL")
        assert await migrations.downgrade(conn, MEDIA, steps=1) == [2]
        assert await conn.fetchval("SELECT to_regclass('media.procrastinate_jobs') IS NULL")
        leftovers = await conn.fetchval(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'media' AND p.proname LIKE 'procrastinate%'"
        )
        assert leftovers == 0
        assert await conn.fetchval("SELECT to_regclass('media.reports') IS NOT NULL")
        assert await migrations.downgrade(conn, MEDIA, steps=1) == [1]
        assert await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'media'") == 0
        assert await migrations.upgrade(conn, MEDIA) == [1, 2, 3, 4, 5]
    finally:
        await conn.close()


async def test_the_service_role_runs_the_queue(database: DatabaseUrls) -> None:
    app = procrastinate.App(connector=connector(database.service, max_size=2))

    @app.task(name="probe", queue="media")
    async def probe() -> None:
        return None

    async with app.open_async():
        job_id = await probe.defer_async()
        await app.run_worker_async(queues=["media"], wait=False, install_signal_handlers=False)
        status = await app.job_manager.get_job_status_async(job_id)
    assert status == procrastinate.jobs.Status.SUCCEEDED
    conn = await asyncpg.connect(database.admin)
    try:
        owners = await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'media'"
        )
    finally:
        await conn.close()
    assert [row["owner"] for row in owners] == ["pocdojo_owner"]
