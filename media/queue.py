"""The media job queue: procrastinate 3.x on the service's PostgreSQL, in the `media` schema.

Why procrastinate (ARCHITECTURE §10, issue 13 decision 2): jobs are rows in the one relational database
(durable, in the same backups), fetched with `FOR UPDATE SKIP LOCKED`, announced with LISTEN/NOTIFY (an
idle worker starts a new job at once), retried on a strategy we give it, with worker heartbeats to find
the jobs of a dead worker. Its schema is applied by our versioned migrations (media 0002), with rollback.
It talks to PostgreSQL through psycopg 3 (its supported connector) with the same DSN and role as the
service's asyncpg pool, every connection's `search_path` set to `media` where its objects live.

What procrastinate leaves to us, built here and in `media.worker`: which failures are retried
(`ReportRetry`: store or POC service unreachable, exponential backoff, a number of runs from settings),
giving a dead worker's running jobs back to the queue (`recover_stalled`), time limits and cancellation of
a running job (`media.report_job`), and the report's own status (`media.repository`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import procrastinate
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from media.errors import SourceUnavailable, StorageUnavailable
from media.metrics import JOBS_RECOVERED
from runtime.settings import MediaSettings
from runtime.tracing import TRACE_CONTEXT_KEY, job_span, job_trace_context

log = logging.getLogger("pocdojo.media.queue")
tracer = trace.get_tracer("pocdojo.media.queue")

QUEUE = "media"
REPORT_TASK = "media.render_report"
RETRYABLE: tuple[type[Exception], ...] = (StorageUnavailable, SourceUnavailable)


class JobReleased(Exception):
    """A run's worker shut down before the run ended: the job goes back to the queue at once."""


class ReportRetry(BaseRetryStrategy):
    """Retry a run that failed for a retryable reason (`RETRYABLE`) until the job has run `max_runs` times,
    waiting `base ** n` seconds before the n-th retry; any other failure is final at once. A run released
    by its worker's shutdown (`JobReleased`) starts again at once."""

    def __init__(self, *, max_runs: int, base_seconds: int) -> None:
        self.max_runs = max_runs
        self.base_seconds = base_seconds

    def retry_in(self, exception: BaseException, attempts: int) -> int | None:
        """Seconds before the next run after a run that raised `exception` (`attempts` runs before it),
        or None when this failure is final."""
        if isinstance(exception, JobReleased):
            return 0
        if not isinstance(exception, RETRYABLE) or attempts + 1 >= self.max_runs:
            return None
        return int(self.base_seconds ** (attempts + 1))

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        seconds = self.retry_in(exception, job.attempts)
        return None if seconds is None else RetryDecision(retry_in={"seconds": seconds})


def connector(dsn: str, *, max_size: int) -> procrastinate.PsycopgConnector:
    """A connector with the service's DSN and role, on the `media` schema."""
    return procrastinate.PsycopgConnector(
        conninfo=dsn,
        kwargs={"options": "-c search_path=media"},
        min_size=1,
        max_size=max_size,
    )


def build_app(settings: MediaSettings, *, max_size: int = 4) -> procrastinate.App:
    """A procrastinate app with the report and video tasks registered (the API defers them, the workers run them)."""
    from media.report_job import run_report  # the task's body lives with the job
    from media.video_job import register_video_task

    app = procrastinate.App(connector=connector(settings.require_database_url(), max_size=max_size))
    app.task(
        name=REPORT_TASK,
        queue=QUEUE,
        pass_context=True,
        retry=ReportRetry(max_runs=settings.media_job_max_attempts, base_seconds=settings.media_job_retry_base_seconds),
    )(run_report)
    register_video_task(app, settings)
    return app


async def defer_report(app: procrastinate.App, tenant_id: str, report_id: uuid.UUID) -> int:
    """Queue a report's job; returns the job id."""
    return await defer_traced(app, REPORT_TASK, tenant_id=tenant_id, report_id=str(report_id))


async def defer_traced(app: procrastinate.App, task: str, **kwargs: Any) -> int:
    """Queue a job of `task` on the media queue; returns the job id. With tracing on, the job carries the
    current trace (`runtime.tracing.job_trace_context`, taken under a producer span) in its
    `trace_context` argument, and its runs continue it (`run_span`)."""
    with tracer.start_as_current_span(
        f"send {task}", kind=SpanKind.PRODUCER, attributes=_messaging_attributes("send")
    ) as span:
        carried = job_trace_context()
        if carried:
            kwargs[TRACE_CONTEXT_KEY] = carried
        job_id: int = await app.configure_task(task, queue=QUEUE).defer_async(**kwargs)
        span.set_attribute("messaging.message.id", str(job_id))
    return job_id


@contextmanager
def run_span(task: str, job: Job, trace_context: Mapping[str, str] | None, **attributes: Any) -> Iterator[Span]:
    """The consumer span of one run of `job`, a child of the producer span that queued it."""
    with job_span(
        tracer,
        f"process {task}",
        trace_context,
        {
            **_messaging_attributes("process"),
            "messaging.message.id": str(job.id),
            "pocdojo.job.attempt": job.attempts + 1,
            **attributes,
        },
    ) as span:
        yield span


def _messaging_attributes(operation: str) -> dict[str, str]:
    return {
        "messaging.system": "procrastinate",
        "messaging.destination.name": QUEUE,
        "messaging.operation.type": operation,
    }


async def oldest_waiting_seconds(app: procrastinate.App) -> float:
    """How long the oldest job of the queue has been ready to run without a worker starting it (0 when
    none is waiting). A job is ready from its last deferral (or retry) or its scheduled time, whichever is
    later; a job waiting for a retry's backoff is not ready yet."""
    row = await app.connector.execute_query_one_async(_OLDEST_WAITING, queue=QUEUE)
    return float(row["age"])


_OLDEST_WAITING = """
SELECT GREATEST(COALESCE(EXTRACT(EPOCH FROM now() - min(ready_at)), 0), 0)::float8 AS age
FROM (
    SELECT GREATEST(j.scheduled_at, (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id)) AS ready_at
    FROM procrastinate_jobs j
    WHERE j.queue_name = %(queue)s AND j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
) AS waiting
"""


async def cancel_queued(app: procrastinate.App, job_id: int) -> bool:
    """Cancel a job that has not started (True); a running job is stopped by its report's status."""
    cancelled: bool = await app.job_manager.cancel_job_by_id_async(job_id)
    return cancelled


async def recover_stalled(app: procrastinate.App, *, stalled_seconds: float) -> list[int]:
    """Give the running jobs of workers without a heartbeat for `stalled_seconds` back to the queue, to
    start now. Returns their ids. Several workers may do this at once: a job another one already gave
    back is skipped."""
    recovered: list[int] = []
    jobs = await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stalled_seconds)
    for job in jobs:
        assert job.id is not None
        try:
            await app.job_manager.retry_job(job)
        except ConnectorException as exc:
            log.info("stalled job already given back", extra={"job_id": job.id, "error": str(exc)})
            continue
        JOBS_RECOVERED.inc()
        log.warning("job of a dead worker given back to the queue", extra={"job_id": job.id})
        recovered.append(job.id)
    return recovered


def job_args(job: Job) -> dict[str, Any]:
    return dict(job.task_kwargs)
