"""The media queue's oldest-age gauge (`pocdojo_media_queue_oldest_age_seconds`), which the workers scale
and alarm on (`deploy/aws/workers.py`, `deploy/aws/observability.py`): how long the oldest job ready to run
has waited, measured from the queue itself — so it grows while no worker takes anything."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from prometheus_client import REGISTRY

from media.metrics import QUEUE_OLDEST_AGE
from media.queue import oldest_waiting_seconds
from media.services import services_of as media_services
from tests.conftest import wait_until
from tests.media.jobs.conftest import MediaHarness, worker

GAUGE = "pocdojo_media_queue_oldest_age_seconds"


async def _shift(media: MediaHarness, job_id: int, *, deferred_ago: timedelta, scheduled_in: timedelta | None) -> None:
    """Move a waiting job's history: deferred `deferred_ago`, scheduled to run `scheduled_in` from now."""
    conn = await asyncpg.connect(media.database.admin)
    try:
        await conn.execute("SET search_path = media")  # the queue's triggers name its tables unqualified
        await conn.execute(
            "UPDATE media.procrastinate_events SET at = now() - $2::interval WHERE job_id = $1", job_id, deferred_ago
        )
        await conn.execute(
            "UPDATE media.procrastinate_jobs SET scheduled_at = now() + $2::interval WHERE id = $1",
            job_id,
            scheduled_in,
        )
    finally:
        await conn.close()


async def test_the_oldest_ready_job_sets_the_queue_age(media: MediaHarness) -> None:
    queue = media_services(media.media_app).reports.queue
    assert await oldest_waiting_seconds(queue) == 0.0  # nothing queued
    admin = await media.tenant()
    report = await media.create(admin)  # no worker runs: the job waits
    job_id = await media.job_id(report["id"])
    await _shift(media, job_id, deferred_ago=timedelta(minutes=10), scheduled_in=None)
    assert 600 <= await oldest_waiting_seconds(queue) < 3600
    # A job waiting out a retry's backoff is not ready: it does not age the queue.
    await _shift(media, job_id, deferred_ago=timedelta(minutes=10), scheduled_in=timedelta(hours=1))
    assert await oldest_waiting_seconds(queue) == 0.0
    # Ready again since its scheduled time two minutes ago, deferred long before: it waits since then.
    await _shift(media, job_id, deferred_ago=timedelta(hours=1), scheduled_in=timedelta(minutes=-2))
    assert 120 <= await oldest_waiting_seconds(queue) < 600


async def test_a_worker_exports_the_queue_age(media: MediaHarness) -> None:
    QUEUE_OLDEST_AGE.set(-1)  # not a value the worker can measure

    async def measured() -> bool:
        return REGISTRY.get_sample_value(GAUGE) == 0.0

    async with worker(media.settings):
        await wait_until(measured)
    metrics = (await media.http.get("/metrics")).text
    assert f"{GAUGE} 0.0" in metrics
