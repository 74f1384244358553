"""Prometheus metrics shared by every service (one process registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "pocdojo_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "pocdojo_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
AUTH_FAILURES = Counter("pocdojo_auth_failures_total", "Requests refused at authentication", ["reason"])
REDIS_LINK_EVENTS = Counter(
    "pocdojo_redis_link_events_total",
    "Redis link events: `lost` connections, and `late` replies (a redis-py timeout while Redis kept answering)",
    ["link", "event"],
)
