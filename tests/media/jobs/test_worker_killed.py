"""A worker killed with SIGKILL mid-job: another worker notices its missing heartbeat, takes the job over and
completes it exactly once (one object, one `done` transition, the job succeeded once)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from runtime.settings import Settings
from tests.conftest import wait_until
from tests.media.jobs.conftest import MediaHarness, worker
from tests.poc.conftest import subject


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives `Settings.from_env()` these settings (secrets included)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("POCDOJO_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if isinstance(raw, list):
            raw = ",".join(raw)
        variable = "DATABASE_URL" if name == "database_url" else f"POCDOJO_{name.upper()}"
        env[variable] = str(raw).lower() if isinstance(raw, bool) else str(raw)
    return env


async def test_a_killed_workers_job_completes_exactly_once_on_another(media: MediaHarness, tmp_path: Path) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 4)
    marker = tmp_path / "holding"
    process = subprocess.Popen(  # noqa: ASYNC220 - a child process the test kills
        [sys.executable, "-m", "tests.media.jobs.worker_process", str(marker)],
        env=worker_environment(media.settings),
    )
    try:
        report = await media.create(admin, {"format": "csv", "locale": "pt-BR"})

        async def holding() -> bool:
            return marker.exists()

        await wait_until(holding, within=30)
        assert marker.read_text() == report["id"]
        running = await media.get(admin, report["id"])
        assert (running["status"], running["stage"]) == ("running", "rendering")
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    async with worker(media.settings):
        done = await media.follow(admin, report["id"], "done", "failed", within=30)
    assert done["status"] == "done", done
    path = media.object_path(done, admin, subject(admin))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # one object, no temporary file left
    conn = await asyncpg.connect(media.database.admin)
    try:
        row = await conn.fetchrow("SELECT attempts, job_id FROM media.reports WHERE id = $1", uuid.UUID(report["id"]))
        assert row is not None
        events = await conn.fetch(
            "SELECT type::text AS type FROM media.procrastinate_events WHERE job_id = $1 ORDER BY id", row["job_id"]
        )
    finally:
        await conn.close()
    assert row["attempts"] == 2  # the killed run and the one that completed
    transitions = [e["type"] for e in events if e["type"] != "scheduled"]  # `scheduled`: a time, not a state
    assert transitions == ["deferred", "started", "deferred_for_retry", "started", "succeeded"]


async def test_sigterm_stops_the_worker_process_in_order_and_releases_its_job(
    media: MediaHarness, tmp_path: Path
) -> None:
    """`pocdojo worker media`'s shutdown, as a process: SIGTERM → stop taking jobs, give the running one its
    grace time (`POCDOJO_MEDIA_WORKER_SHUTDOWN_SECONDS`), release it to the queue, exit 0."""
    admin = await media.tenant()
    await media.catalogue(admin, 2)
    marker = tmp_path / "holding"
    settings = media.settings.model_copy(update={"media_worker_shutdown_seconds": 0.5})
    process = subprocess.Popen(  # noqa: ASYNC220 - a child process the test signals
        [sys.executable, "-m", "tests.media.jobs.worker_process", str(marker)], env=worker_environment(settings)
    )
    try:
        report = await media.create(admin, {"format": "pdf", "locale": "en"})

        async def holding() -> bool:
            return marker.exists()

        await wait_until(holding, within=30)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    released = await media.get(admin, report["id"])
    assert (released["status"], released["stage"]) == ("queued", "queued"), released
    assert await media.job_status(report["id"]) == "todo"
    async with worker(media.settings):
        done = await media.follow(admin, report["id"], "done", "failed")
    assert done["status"] == "done", done
