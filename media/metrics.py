"""Prometheus metrics of the media jobs, on the process registry every service shares (`/metrics`, and the
worker's metrics port).

`kind` is the job's kind: `report_pdf`, `report_csv` or `video` (`media.video_job`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS_QUEUED = Counter("pocdojo_media_jobs_queued_total", "Media jobs queued by the API", ["kind"])
JOBS_RUNNING = Gauge("pocdojo_media_jobs_running", "Media jobs running in this worker process", ["kind"])
JOBS_SUCCEEDED = Counter("pocdojo_media_jobs_succeeded_total", "Media jobs that finished their work", ["kind"])
JOBS_FAILED = Counter(
    "pocdojo_media_jobs_failed_total", "Media job runs that failed, by whether they will be retried", ["kind", "final"]
)
JOBS_CANCELLED = Counter(
    "pocdojo_media_jobs_cancelled_total", "Media job runs stopped because the user cancelled", ["kind"]
)
JOBS_RECOVERED = Counter(
    "pocdojo_media_jobs_recovered_total", "Running jobs of a dead worker (no heartbeat) given to the queue again"
)
JOB_DURATION = Histogram(
    "pocdojo_media_job_duration_seconds",
    "From a job run's start to its end, by outcome",
    ["kind", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 900),
)
QUEUE_AGE = Histogram(
    "pocdojo_media_job_queue_age_seconds",
    "From a report's request to a worker starting its job (the first run)",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
QUEUE_OLDEST_AGE = Gauge(
    "pocdojo_media_queue_oldest_age_seconds",
    "How long the oldest job ready to run has waited for a worker (0: none waiting), as a worker last measured"
    " it (`media.queue.oldest_waiting_seconds`). Unlike the queue-age histogram, which is observed when jobs"
    " start, it grows while every worker is stuck: workers scale and alarm on it",
)


def kind_of(report_format: str) -> str:
    return f"report_{report_format}"
