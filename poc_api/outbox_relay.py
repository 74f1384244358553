"""The outbox relay: publishes the POC service's change events (`poc.outbox`) to a Redis Stream, so that
other services (reports, videos, dojos) follow changes without reading this service's tables.

Theory of operation. Every create/update/delete writes its event to `poc.outbox` in the change's own
transaction (`poc_api.service`). The relay, a task of every POC service process when `REDIS_URL` is set,
repeatedly, in one PostgreSQL transaction:

1. claims the oldest unpublished events with `poc.outbox_claim(n)` (migration 0002: one relay at a time
   through a transaction-level advisory lock, events stamped `published_at`, in id order);
2. appends them to the stream in one MULTI/EXEC (all of the batch or none), in id order;
3. commits — which stamps the events and lets the next relay in.

If Redis or PostgreSQL fails in between, the transaction rolls back and the same events are published
again later: delivery is at least once, in id order, and consumers de-duplicate by the `id` field. With
Redis away the events wait in the outbox (nothing is lost; CRUD and search keep working) and the relay
retries with a capped backoff.

Each stream entry: `id` (the outbox id), `type` (`poc.created` / `poc.updated` / `poc.deleted`),
`tenant_id`, `poc_id`, `created_at` (RFC 3339) and `payload` (JSON, as stored: `{"poc": ...}` plus
`changed` for updates); with tracing on, also `traceparent` (and `tracestate`): the context of the event's
publish span, the child of the request that wrote the event (its context is stored with the event,
migration 0006), so a consumer's span continues that request's trace. Consumers read with XREAD /
XREADGROUP; the stream is trimmed approximately to `POCDOJO_POC_EVENTS_STREAM_MAXLEN` entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AsyncExitStack
from typing import Any

import orjson
import redis.asyncio as aioredis
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind
from prometheus_client import Counter, Histogram

from runtime.db import Database
from runtime.http import Startup
from runtime.root import ServiceRoot
from runtime.settings import PocSettings
from runtime.supervisor import Supervisor
from runtime.tracing import instrument_redis_client, trace_context, tracing_enabled

log = logging.getLogger("pocdojo.poc.outbox")
tracer = trace.get_tracer("pocdojo.poc.outbox")

EVENTS_PUBLISHED = Counter("pocdojo_poc_events_published_total", "POC change events published to the stream")
RELAY_FAILURES = Counter(
    "pocdojo_poc_events_relay_failures_total", "Outbox relay batches that failed (retried)", ["error"]
)
EVENT_DELAY = Histogram(
    "pocdojo_poc_events_delay_seconds",
    "From an event's commit (its created_at) to its publication",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

_CLAIM = "SELECT * FROM poc.outbox_claim($1)"


def stream_fields(row: Any) -> dict[str, str]:
    """The stream entry of one outbox row."""
    return {
        "id": str(row["id"]),
        "type": row["event_type"],
        "tenant_id": str(row["tenant_id"]),
        "poc_id": str(row["aggregate_id"]),
        "created_at": row["created_at"].isoformat(),
        "payload": orjson.dumps(row["payload"]).decode(),
    }


class OutboxRelay:
    """Moves events from `poc.outbox` to a Redis Stream (module docstring)."""

    def __init__(
        self,
        db: Database,
        client: aioredis.Redis,
        *,
        stream: str,
        maxlen: int,
        batch: int = 200,
        poll_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.client = client
        self.stream = stream
        self.maxlen = maxlen
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds

    async def publish_once(self) -> int:
        """Publish one batch; the number of events published (0: none waiting, or another relay's turn)."""
        async with self.db.pool.acquire() as conn, conn.transaction():
            rows = sorted(await conn.fetch(_CLAIM, self.batch), key=lambda row: int(row["id"]))
            if not rows:
                return 0
            # A batch found is one trace (the polls that find nothing are none): the Redis commands below it.
            # Each event also gets a span in its request's trace (`_event_spans`), linked to the batch.
            with (
                tracer.start_as_current_span(
                    f"send {self.stream}",
                    kind=SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "redis",
                        "messaging.destination.name": self.stream,
                        "messaging.batch.message_count": len(rows),
                    },
                ) as batch,
                contextlib.ExitStack() as event_spans,
            ):
                carried = self._event_spans(rows, batch, event_spans) if tracing_enabled() else {}
                pipe = self.client.pipeline(transaction=True)
                for row in rows:
                    fields = {**stream_fields(row), **carried.get(row["id"], {})}
                    pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
        now = time.time()
        for row in rows:
            EVENT_DELAY.observe(max(0.0, now - row["created_at"].timestamp()))
        EVENTS_PUBLISHED.inc(len(rows))
        return len(rows)

    def _event_spans(self, rows: list[Any], batch: Span, stack: contextlib.ExitStack) -> dict[int, dict[str, str]]:
        """A publish span per event written under a trace (the child of its request's span, linked to the
        `batch`), ended with the batch; the trace context each event's entry carries for its consumers
        (that span's, or the batch's for an event stored without one)."""
        carried: dict[int, dict[str, str]] = {}
        links = [Link(batch.get_span_context())]
        for row in rows:
            stored = {k: v for k, v in (row["trace_context"] or {}).items() if isinstance(v, str)}
            if not stored:
                carried[row["id"]] = trace_context()
                continue
            span = tracer.start_span(
                f"publish {self.stream}",
                context=propagate.extract(stored),
                kind=SpanKind.PRODUCER,
                links=links,
                attributes={
                    "messaging.system": "redis",
                    "messaging.destination.name": self.stream,
                    "messaging.message.id": str(row["id"]),
                    "pocdojo.poc_event": row["event_type"],
                },
            )
            stack.callback(span.end)
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            carried[row["id"]] = carrier
        return carried

    async def run(self) -> None:
        """Publish until cancelled: full batches back to back, then a look every `poll_seconds`; failures
        are logged, counted and retried with a backoff doubling up to `max_backoff_seconds`."""
        backoff = self.poll_seconds
        while True:
            try:
                published = await self.publish_once()
            except Exception as exc:
                RELAY_FAILURES.labels(type(exc).__name__).inc()
                log.warning(
                    "outbox relay: publishing failed, retrying",
                    exc_info=exc,
                    extra={"error": type(exc).__name__, "retry_in_s": round(backoff, 2)},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
                continue
            backoff = self.poll_seconds
            if published < self.batch:
                await asyncio.sleep(self.poll_seconds)


def relay_startup(settings: PocSettings) -> Startup:
    """A startup step: start the relay when Redis is configured (after the database pool; stopped before it
    closes)."""

    async def start(root: ServiceRoot, stack: AsyncExitStack) -> None:
        await _start_relay(settings, root.db, root.supervisor, stack)

    return start


async def _start_relay(settings: PocSettings, db: Database, supervisor: Supervisor, stack: AsyncExitStack) -> None:
    if settings.redis_url is None:
        log.info("no REDIS_URL: POC change events stay in poc.outbox until a relay runs")
        return
    client = aioredis.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_timeout=5.0, socket_connect_timeout=5.0
    )
    stack.push_async_callback(client.aclose)
    instrument_redis_client(client)
    relay = OutboxRelay(
        db,
        client,
        stream=settings.poc_events_stream,
        maxlen=settings.poc_events_stream_maxlen,
        batch=settings.poc_events_batch,
        poll_seconds=settings.poc_events_poll_seconds,
    )
    # A task of the service's supervisor: logged and restarted if it ever crashes (run() itself retries
    # what it expects), cancelled here before the database pool closes.
    task = supervisor.start("poc-outbox-relay", relay.run)

    async def stop() -> None:
        task.cancel()
        await asyncio.wait([task])

    stack.push_async_callback(stop)
