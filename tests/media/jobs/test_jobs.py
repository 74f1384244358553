"""Report jobs end to end with real workers: the CSV equals the search, progress and long-polls, cancel of a
running report, retries with backoff then a readable failure, the time limit, ordered shutdown."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid

import asyncpg
import boto3
import httpx

from deploy.local import DatabaseUrls
from media.errors import RenderError, SourceUnavailable, StorageUnavailable
from media.queue import JobReleased, ReportRetry
from media.repository import Stage
from media.storage.s3 import S3Config, S3Store
from runtime.ports import free_port
from tests.conftest import wait_until
from tests.media.jobs.conftest import MediaHarness, worker
from tests.poc.conftest import subject


class Hold:
    """A progress hook that holds a run when it reaches `stage`, until released (test-only slowness)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, report_id: uuid.UUID, stage: Stage, value: int) -> None:
        if stage == self.stage and not self.release.is_set():
            self.reached.set()
            await self.release.wait()


async def _events(database: DatabaseUrls, report_id: str) -> list[str]:
    conn = await asyncpg.connect(database.admin)
    try:
        rows = await conn.fetch(
            "SELECT e.type::text AS type FROM media.procrastinate_events e JOIN media.reports r ON r.job_id = e.job_id"
            " WHERE r.id = $1 ORDER BY e.id",
            uuid.UUID(report_id),
        )
    finally:
        await conn.close()
    return [row["type"] for row in rows]


async def test_a_csv_report_holds_the_search_and_downloads_through_a_signed_url(media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 25)
    await media.pocs.create(admin, name="Só Go", github_url="https://github.com/acme/go-only", language="go", tags=[])
    filters = {"q": "integração", "sort": "name"}
    expected = await media.pocs.search_all(admin, **filters)
    assert len(expected) == 25
    report = await media.create(admin, {"format": "csv", "locale": "en", "filters": filters})
    export_id, secret = await media.export(report["id"])
    assert secret is not None
    async with worker(media.settings):
        done = await media.follow(admin, report["id"], "done", "failed")
    assert done["status"] == "done", done
    assert (done["stage"], done["progress"], done["row_count"], done["error"]) == ("done", 100, 25, None)
    redirect = await media.http.get(f"/v1/reports/{report['id']}/download", headers=admin.auth)
    assert redirect.status_code == 302
    async with httpx.AsyncClient() as anonymous:
        file = await anonymous.get(redirect.headers["location"])
    assert file.status_code == 200
    assert len(file.content) == done["size_bytes"]
    rows = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header == ["Name", "Language", "Tags", "Created", "GitHub URL", "Description", "ID"], header
    assert [[row[0], row[1], row[2], row[4], row[5], row[6]] for row in body] == [
        [p["name"], p["language"], ";".join(p["tags"]), p["github_url"], p["description"], p["id"]] for p in expected
    ]
    assert media.object_path(done, admin, subject(admin)).exists()
    assert await media.export(report["id"]) == (export_id, None)
    assert await media.export_items(export_id, secret) == 404  # the worker deleted the export
    assert await _events(media.database, report["id"]) == ["deferred", "started", "succeeded"]
    metrics = (await media.http.get("/metrics")).text
    for series in (
        'pocdojo_media_jobs_queued_total{kind="report_csv"}',
        'pocdojo_media_jobs_succeeded_total{kind="report_csv"}',
        'pocdojo_media_job_duration_seconds_count{kind="report_csv",outcome="succeeded"}',
        'pocdojo_media_job_queue_age_seconds_count{kind="report_csv"}',
    ):
        assert f"{series} " in metrics, series
    assert 'pocdojo_media_jobs_running{kind="report_csv"} 0.0' in metrics
    # Deleting the finished report deletes its file.
    assert (await media.http.delete(f"/v1/reports/{report['id']}", headers=admin.auth)).status_code == 204
    assert not media.object_path(done, admin, subject(admin)).exists()
    assert (await media.http.get(f"/v1/reports/{report['id']}", headers=admin.auth)).status_code == 404


async def test_progress_long_poll_and_cancel_of_a_running_report(media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 5)
    hold = Hold("rendering")
    async with worker(media.settings, on_progress=hold):
        report = await media.create(admin, {"format": "pdf", "locale": "pt-BR"})
        await hold.reached.wait()
        held = await media.get(admin, report["id"])
        assert (held["status"], held["stage"], held["progress"]) == ("running", "rendering", 30)
        # A long-poll answers when the report changes, not at the end of its wait.
        poll = asyncio.create_task(media.get(admin, report["id"], wait=25))
        await asyncio.sleep(0)  # let the request reach the server before the change
        assert (await media.http.delete(f"/v1/reports/{report['id']}", headers=admin.auth)).status_code == 204

        async def answered() -> bool:
            return poll.done()

        await wait_until(answered, within=10)
        assert poll.result()["status"] == "cancelled"
        hold.release.set()

        async def job_finished() -> bool:
            return await media.job_status(report["id"]) == "succeeded"

        await wait_until(job_finished, within=10)
    final = await media.get(admin, report["id"])
    assert final["status"] == "cancelled"
    assert not media.object_path(final, admin, subject(admin)).exists()


async def test_storage_down_is_retried_with_backoff_then_a_readable_failure(media: MediaHarness) -> None:
    """The worker's store is S3 at an address where nothing listens (the real S3Store: StorageUnavailable)."""
    nobody = f"http://127.0.0.1:{free_port()}"
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    config = S3Config(bucket="media-reports", region="us-east-1", endpoint_url=nobody, max_attempts=1)
    admin = await media.tenant()
    await media.catalogue(admin, 2)
    async with worker(media.settings, store=lambda _settings: S3Store(config, session=session)):
        report = await media.create(admin, {"format": "csv", "locale": "en"})
        failed = await media.follow(admin, report["id"], "failed", "done", within=60)
    assert failed["status"] == "failed"
    assert failed["error"].startswith("The file store could not be reached"), failed["error"]
    assert "Retrying" not in failed["error"]
    assert (await media.export(report["id"]))[1] is None
    events = [e for e in await _events(media.database, report["id"]) if e != "scheduled"]
    runs = media.settings.media_job_max_attempts
    assert events == ["deferred", *["started", "deferred_for_retry"] * (runs - 1), "started", "failed"]


def test_the_retry_strategy_backs_off_exponentially_for_unreachable_services_only() -> None:
    strategy = ReportRetry(max_runs=4, base_seconds=2)
    down = StorageUnavailable("down")
    assert [strategy.retry_in(down, attempts) for attempts in range(4)] == [2, 4, 8, None]
    assert strategy.retry_in(SourceUnavailable("down"), 0) == 2
    assert strategy.retry_in(RenderError("bad"), 0) is None
    assert strategy.retry_in(ValueError("bug"), 0) is None
    assert strategy.retry_in(JobReleased("shutdown"), 3) == 0


async def test_a_job_over_its_time_limit_fails_with_a_reason(media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 2)
    hold = Hold("rendering")  # never released: the run outlives its limit
    async with worker(media.settings, on_progress=hold, media_job_time_limit_seconds=1.0):
        report = await media.create(admin, {"format": "csv", "locale": "en"})
        failed = await media.follow(admin, report["id"], "failed", "done")
    assert failed["status"] == "failed"
    assert failed["error"] == "The report took longer than 1 seconds and was stopped."
    assert not media.object_path(failed, admin, subject(admin)).exists()


async def test_a_worker_shutting_down_releases_its_running_job_to_another(media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 3)
    hold = Hold("rendering")
    async with worker(media.settings, on_progress=hold, media_worker_shutdown_seconds=0.2):
        report = await media.create(admin, {"format": "csv", "locale": "en"})
        await hold.reached.wait()
    released = await media.get(admin, report["id"])
    assert (released["status"], released["stage"]) == ("queued", "queued"), released
    assert await media.job_status(report["id"]) == "todo"
    async with worker(media.settings):
        done = await media.follow(admin, report["id"], "done", "failed")
    assert done["status"] == "done", done


async def test_an_idle_worker_starts_a_new_job_on_its_notification(media: MediaHarness) -> None:
    """LISTEN/NOTIFY: with polling every minute, a job queued to an idle worker still starts at once."""
    admin = await media.tenant()
    await media.catalogue(admin, 1)
    async with worker(media.settings, media_worker_poll_seconds=60.0):
        report = await media.create(admin, {"format": "csv", "locale": "en"})
        done = await media.follow(admin, report["id"], "done", "failed", within=15)
    assert done["status"] == "done", done


async def test_a_job_whose_workers_kept_dying_fails_instead_of_looping(media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 1)
    report = await media.create(admin, {"format": "csv", "locale": "en"})
    runs = media.settings.media_job_max_attempts
    conn = await asyncpg.connect(media.database.admin)
    try:  # the history of a job given back `runs` times after its worker died (`media.queue.recover_stalled`)
        await conn.execute(
            "UPDATE media.procrastinate_jobs SET attempts = $2"
            " WHERE id = (SELECT job_id FROM media.reports WHERE id = $1)",
            uuid.UUID(report["id"]),
            runs,
        )
    finally:
        await conn.close()
    async with worker(media.settings):
        failed = await media.follow(admin, report["id"], "failed", "done")
    assert failed["status"] == "failed"
    assert failed["error"] == f"The report could not be made: the workers making it stopped {runs} times."
