"""The application metrics the alarms, scaling policies and dashboard use: one place to check them.

The services export Prometheus metrics on `POCDOJO_METRICS_PORT`; the ADOT collector sidecar of each
task scrapes that port and writes the metrics listed in `EXPORTED` to CloudWatch (embedded metric
format) in `NAMESPACE`, with the ECS service's name as dimension `DIMENSION` (a scrape label) and no
other dimension, so every alarm sees one series per service whatever labels a metric has.

`EXPORTED` maps each name to whether the code in `main` defines it today (`True`) or the deployment
assumes it ahead of the code (`False`: issue 17 item 2, observability in the code, adds it);
`tests/deploy/test_metric_names.py` checks the `True` ones against the code's registries.
"""

from __future__ import annotations

NAMESPACE = "POCDojo"
DIMENSION = "ecs_service"

HTTP_REQUESTS = "pocdojo_http_requests_total"
AUTH_FAILURES = "pocdojo_auth_failures_total"
DOJO_PARTICIPANTS = "pocdojo_dojo_participants_connected"
SIGNAL_PEERS = "pocdojo_signal_peers"
MEDIA_JOBS_FAILED = "pocdojo_media_jobs_failed_total"
"""Counter: job runs that failed (`media.metrics.JOBS_FAILED`), labels `kind` and `final` (false: retried)."""
MEDIA_QUEUE_OLDEST_AGE = "pocdojo_media_queue_oldest_age_seconds"
"""Gauge: age of the oldest job waiting in the media queue (0 when empty). Scaling needs the waiting
side: a histogram of waits observed when jobs *start* goes silent exactly when workers are stuck.
Exported by the workers (`media.metrics.QUEUE_OLDEST_AGE`, measured every heartbeat interval)."""
WS_ABNORMAL_CLOSES = "pocdojo_ws_abnormal_closes_total"
"""Counter: collab and signaling websockets closed with an error code (1011, 1013, 4xxx refusals), labels
`endpoint` and `code` (`dojo.metrics.WS_ABNORMAL_CLOSES`)."""

EXPORTED: dict[str, bool] = {
    HTTP_REQUESTS: True,
    AUTH_FAILURES: True,
    DOJO_PARTICIPANTS: True,
    SIGNAL_PEERS: True,
    MEDIA_JOBS_FAILED: True,
    MEDIA_QUEUE_OLDEST_AGE: True,
    WS_ABNORMAL_CLOSES: True,
}
"""Each metric the deployment reads, and whether `main`'s code exports it yet."""
