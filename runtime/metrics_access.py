"""Who may read the Prometheus metrics, and the internal port that serves them.

Metrics tell an outsider a lot (routes, tenants' traffic, error rates, node names), so in production
`GET /metrics` on the public port (the one behind the load balancer) answers only a caller that sends
`Authorization: Bearer <POCDOJO_METRICS_TOKEN>` (compared in constant time); without a configured token it
does not exist there (404). The scraper then reads them on `POCDOJO_METRICS_PORT`, a separate listener
that `pocdojo serve` opens on `POCDOJO_METRICS_HOST` (default loopback: the ADOT/Prometheus sidecar of the
same task) and that no load-balancer rule forwards to. In dev and test mode `/metrics` stays open unless a
token is configured.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, start_wsgi_server
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime.errors import Unauthorized
from runtime.settings import SharedSettings

log = logging.getLogger("pocdojo.metrics")


class MetricsAccess:
    """The public port's rule for `/metrics`, decided once from the settings."""

    def __init__(self, settings: SharedSettings) -> None:
        token = settings.metrics_token
        self._token = token.get_secret_value().encode() if token is not None else None
        self._open = self._token is None and settings.env != "production"

    def check(self, authorization: str | None) -> None:
        """Return if the caller may read the metrics; raise the refusal otherwise (404 when the public
        port serves no metrics at all, 401 for a missing or wrong token)."""
        if self._open:
            return
        if self._token is None:
            raise StarletteHTTPException(404)
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise Unauthorized("The metrics need Authorization: Bearer <metrics token>.", code="invalid_token")


@contextmanager
def internal_metrics_listener(settings: SharedSettings) -> Iterator[int | None]:
    """Serve the process's metrics on `settings.metrics_port` (if set) while the block runs; yields the
    port. A thread of prometheus_client's own WSGI server: scrapes never queue behind the event loop."""
    if settings.metrics_port is None:
        yield None
        return
    server, thread = start_wsgi_server(settings.metrics_port, addr=settings.metrics_host, registry=REGISTRY)
    log.info("metrics listener started", extra={"host": settings.metrics_host, "port": settings.metrics_port})
    try:
        yield settings.metrics_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
