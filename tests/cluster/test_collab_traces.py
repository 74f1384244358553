"""Issue 17: a collab update crossing two nodes carries its trace context.

Two realtime nodes run in this process (each the whole service set behind its own uvicorn, the dojo tests'
`CollabServer`) on one PostgreSQL and one real Redis; real y-websocket clients edit on node A and read on
node B. The spans of both nodes go to the session's in-memory exporter; each names its node
(`pocdojo.node`).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from crdt import BusMessage, MessageKind
from dojo.collab_tracing import APPLY_SPAN, UPDATE_SPAN
from dojo.redis_bus import RedisBus
from runtime.redis_link import RedisLink
from runtime.settings import Settings
from tests.cluster.conftest import RedisServer
from tests.conftest import Traces, wait_until
from tests.dojo.conftest import CollabServer
from tests.jsclient import JsClient


@pytest.fixture
async def two_nodes(
    traces: Traces, make_settings: Callable[..., Settings], redis_server: RedisServer
) -> AsyncIterator[tuple[CollabServer, CollabServer]]:
    """Nodes `trace-a` and `trace-b`, started once tracing is on (the `traces` fixture)."""
    nodes = [
        CollabServer(make_settings, overrides={"redis_url": redis_server.url, "node_id": name})
        for name in ("trace-a", "trace-b")
    ]
    started: list[CollabServer] = []
    try:
        for node in nodes:
            await node.start()
            started.append(node)
        yield nodes[0], nodes[1]
    finally:
        for node in reversed(started):
            await node.stop()


def _spans(traces: Traces, name: str, node: str, room: str) -> list[ReadableSpan]:
    return [
        s
        for s in traces.finished()
        if s.name == name
        and (s.attributes or {}).get("pocdojo.node") == node
        and (s.attributes or {}).get("pocdojo.room") == room
    ]


async def test_an_update_crossing_two_nodes_is_one_trace(
    traces: Traces, two_nodes: tuple[CollabServer, CollabServer]
) -> None:
    node_a, node_b = two_nodes
    room = f"traced-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=node_a.base, timeout=30) as http:
        user = await node_a.user(http)
        ticket_a = await node_a.ticket(http, user, room)
        ticket_b = await node_a.ticket(http, user, room)
    async with (
        JsClient.start(node_a.ws_url, room, params={"ticket": ticket_a}) as writer,
        JsClient.start(node_b.ws_url, room, params={"ticket": ticket_b}) as reader,
    ):
        await writer.wait_synced()
        await reader.wait_synced()
        await writer.insert(0, "one trace")
        await reader.wait_text("one trace")

    async def applied_on_b() -> bool:
        return bool(_spans(traces, APPLY_SPAN, "trace-b", room))

    await wait_until(applied_on_b)
    (applied,) = _spans(traces, APPLY_SPAN, "trace-b", room)
    updates = {s.context.span_id: s for s in _spans(traces, UPDATE_SPAN, "trace-a", room)}
    assert applied.parent is not None
    accepted = updates[applied.parent.span_id]  # node B's span is the child of node A's
    assert applied.context.trace_id == accepted.context.trace_id
    assert accepted.parent is None  # the client's update starts the trace on node A
    assert (accepted.kind, applied.kind) == (SpanKind.SERVER, SpanKind.CONSUMER)
    attributes_a, attributes_b = accepted.attributes or {}, applied.attributes or {}
    assert attributes_a["pocdojo.tenant_id"] == attributes_b["pocdojo.tenant_id"] == user.tenant_id
    assert attributes_b["pocdojo.collab.sender"] == "trace-a"
    # A node reading its own entries back applies nothing: no span for them.
    assert _spans(traces, APPLY_SPAN, "trace-a", room) == []


async def test_entries_without_a_trace_context_are_read_while_tracing(
    traces: Traces, redis_server: RedisServer
) -> None:
    """An older node's entries (no `traceparent`) and malformed contexts are applied as before."""
    received: list[BusMessage] = []

    class Listener:
        def on_messages(self, room: str, messages: list[BusMessage]) -> None:
            received.extend(messages)

        def on_update(self, room: str, node: str, update: bytes, sent_at: float | None) -> None:
            received.append(BusMessage(node, MessageKind.UPDATE, update, sent_at))

        def on_gap(self, rooms: object) -> None:
            """Gaps are not what this test looks at."""

    async with RedisLink(redis_server.url) as link:
        bus = RedisBus(link, node_id="reader")
        bus.set_listener(Listener())
        await bus.follow("old-room")
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await client.xadd("pocdojo:doc:old-room", {b"n": b"older", b"k": b"u", b"p": b"\x00\x00"})
            await client.xadd(
                "pocdojo:doc:old-room", {b"n": b"older", b"k": b"u", b"p": b"\x01", b"traceparent": b"\xff garbage"}
            )
        finally:
            await client.aclose()

        async def both_read() -> bool:
            return len(received) == 2

        await wait_until(both_read)
    assert [(m.node, m.kind, m.payload) for m in received] == [
        ("older", MessageKind.UPDATE, b"\x00\x00"),
        ("older", MessageKind.UPDATE, b"\x01"),
    ]


TRACING_OFF = """
import asyncio, sys
import redis.asyncio as aioredis
from opentelemetry import trace
from crdt import BusMessage, MessageKind
from dojo.redis_bus import RedisBus
from runtime.redis_link import RedisLink
from runtime.settings import Settings
from runtime.tracing import configure_tracing

async def main(url):
    assert configure_tracing(Settings(otel_exporter="none")) is None
    async with RedisLink(url) as link:
        bus = RedisBus(link, node_id="off")
        appended = asyncio.Event()
        with trace.get_tracer("test").start_as_current_span("collab.update"):
            bus.append("room", BusMessage("off", MessageKind.UPDATE, b"x"), lambda ok: appended.set())
        await asyncio.wait_for(appended.wait(), 10)
    client = aioredis.Redis.from_url(url)
    ((_, fields),) = await client.xrange("pocdojo:doc:room")
    await client.aclose()
    print(sorted(k.decode() for k in fields))

asyncio.run(main(sys.argv[1]))
"""


def test_tracing_off_adds_nothing_to_the_log(redis_server: RedisServer) -> None:
    """With tracing off a document entry is its three fields, as before (a fresh process: this session's
    provider stays installed once a test turns it on)."""
    out = subprocess.run(
        [sys.executable, "-c", TRACING_OFF, redis_server.url], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['k', 'n', 'p']", out.stderr
