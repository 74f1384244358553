"""The worker deployables: long-running processes with no load-balancer target.

`deploy/services.py` lists the HTTP services (their path prefixes become ALB rules); this table lists
the processes that only consume work. Each is one ECS service running the shared image with `command`,
scaled on the age of its queue (`queue_age_metric`, a gauge the worker exports).
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.aws import metric_names


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    command: tuple[str, ...]
    queue_age_metric: str
    """CloudWatch metric (namespace `metric_names.NAMESPACE`) of the oldest waiting job's age, seconds."""
    target_queue_age_seconds: int
    """Scale out when the oldest job waits longer than this; scale in when the queue is fresh again."""
    cpu: int = 1024
    memory_mib: int = 2048
    stop_timeout_seconds: int = 120
    """Time a worker gets after SIGTERM to finish or hand back its job (Fargate's maximum)."""


WORKERS: dict[str, WorkerSpec] = {
    "media-worker": WorkerSpec(
        name="media-worker",
        command=("pocdojo", "worker", "media"),
        queue_age_metric=metric_names.MEDIA_QUEUE_OLDEST_AGE,
        target_queue_age_seconds=60,
    ),
}
