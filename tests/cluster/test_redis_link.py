"""The shared Redis link (`runtime.redis_link`) against a real redis-server: a client's loop that crashes
is logged, the link is treated as lost and both recover; clients' close hooks run in order at close."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from dojo.events import DojoEvent, EventKind
from dojo.redis_events import RedisDojoEvents
from runtime.redis_link import Connected, RedisLink
from tests.cluster.conftest import Cluster, RedisServer
from tests.conftest import wait_until


async def test_a_crashing_client_loop_is_logged_restarted_and_the_link_resumes(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="runtime.supervisor")
    runs = 0
    connected: list[Connected] = []

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("the loop tripped")
        await link.ping()

    async def resumed() -> bool:
        return link.connected and runs >= 2 and any(c.resumed for c in connected)

    async with RedisLink(redis_server.url, name="probe") as link:
        link.on_connected(connected.append)
        link.run("flaky", flaky)
        await wait_until(resumed)
        assert not any(c.restarted for c in connected), "the same server: nothing was lost"
    assert any("probe-flaky" in r.getMessage() and "restarting" in r.getMessage() for r in caplog.records)


async def test_dojo_events_travel_typed_over_the_link_and_close_hooks_run_in_reverse(
    redis_server: RedisServer,
) -> None:
    received: list[DojoEvent] = []
    closed: list[str] = []

    def hook(name: str) -> Callable[[aioredis.Redis], Awaitable[None]]:
        async def close(client: aioredis.Redis) -> None:
            closed.append(name)

        return close

    async with RedisLink(redis_server.url) as link:
        link.on_close(hook("first"))
        link.on_close(hook("second"))
        events = RedisDojoEvents(link, node_id="n1")
        await events.on_events(received.append, lambda: None)
        sent = DojoEvent(EventKind.STATE, "n2", "t1", "d1", 7, "roles")
        await events.publish(sent)

        async def arrived() -> bool:
            return received == [sent]

        await wait_until(arrived)
    assert closed == ["second", "first"]


def test_dojo_events_keep_their_wire_format() -> None:
    """Nodes of the previous version send and read these exact keys (a rolling deploy mixes them)."""
    chat = DojoEvent(EventKind.CHAT, "n1", "t", "d", 0, message={"id": "m1", "text": "hi"})
    assert chat.encode() == b'{"k":"chat","t":"t","d":"d","v":0,"m":{"id":"m1","text":"hi"},"n":"n1"}'
    state = DojoEvent.decode(b'{"k":"state","t":"t","d":"d","v":3,"r":"kick","n":"n2"}')
    assert state == DojoEvent(EventKind.STATE, "n2", "t", "d", 3, "kick")


async def test_a_loop_registered_before_the_link_starts_runs_once_it_is_connected(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url)
    ran: list[bool] = []

    async def early() -> None:
        ran.append(link.connected)

    link.run("early", early)

    async def done() -> bool:
        return bool(ran)

    async with link:
        await wait_until(done)
    assert ran == [True]


@pytest.mark.slow
async def test_a_node_counts_as_alive_as_soon_as_it_is_ready(cluster: Cluster) -> None:
    """Fences wait for the nodes whose liveness key exists: a node that just started must have it, not
    only after the link's first periodic check (an edit made there at once would miss a snapshot)."""
    node = cluster.node("fresh")
    await cluster.start(node)
    redis = aioredis.Redis.from_url(cluster.redis.url)
    try:
        assert await redis.exists("pocdojo:alive:fresh") == 1
    finally:
        await redis.aclose()


@dataclass
class _Command:
    """A `CommandOp` that records its raw reply."""

    command: tuple[str | bytes | int, ...]
    results: list[object]

    def completed(self, result: object) -> None:
        self.results.append(result)

    def failed(self) -> None:
        self.results.append("failed")


async def test_a_command_writer_sends_a_batch_in_order_and_a_refused_command_fails_alone(
    redis_server: RedisServer,
) -> None:
    results: list[object] = []
    async with RedisLink(redis_server.url) as link:
        writer = link.command_writer("probe", limit=100, batch=100)
        for op in (
            ("XADD", "s", "*", "f", "1"),
            ("HSET", "s", "f", "v"),  # a command error: the key holds a stream
            ("XADD", "s", "*", "f", b"\x00\xff"),
            ("XLEN", "s"),
        ):
            writer.put(_Command(op, results))

        async def answered() -> bool:
            return len(results) == 4

        await wait_until(answered)
        first, refused, second, length = results
        assert isinstance(first, bytes) and isinstance(second, bytes) and first < second  # entry IDs, in order
        assert isinstance(refused, ResponseError) and "WRONGTYPE" in str(refused)
        assert length == 2
        entries = await link.raw_command("XRANGE", "s", "-", "+")
        assert [fields for _, fields in entries] == [[b"f", b"1"], [b"f", b"\x00\xff"]]  # raw: flat, bytes


async def test_commands_put_in_one_turn_go_out_at_its_end_in_order_even_past_a_batch(
    redis_server: RedisServer,
) -> None:
    """Without waiting commands, a put skips the queue and the writer's task (here not even started):
    what one turn of the loop puts is written when `batch` of them wait, the rest at the end of the
    turn, all in the order of the puts."""
    results: list[object] = []
    async with RedisLink(redis_server.url) as link:
        writer = link.command_writer("probe", limit=100, batch=3)
        conn = link.command_connection
        assert conn is not None
        for i in range(7):
            writer.put(_Command(("XADD", "turn", "*", "i", i), results))
        assert writer.pending == 1 and conn.in_flight == 6  # two full batches written, one to go

        async def answered() -> bool:
            return len(results) == 7

        await wait_until(answered)
        assert all(isinstance(r, bytes) for r in results)
        entries = await link.raw_command("XRANGE", "turn", "-", "+")
        assert [entry_id for entry_id, _ in entries] == results  # answered in the order they were put
        assert [fields[1] for _, fields in entries] == [str(i).encode() for i in range(7)]
        assert writer.pending == 0


async def test_draining_a_command_writer_sends_what_the_turn_put_and_waits_for_the_answers(
    redis_server: RedisServer,
) -> None:
    results: list[object] = []
    async with RedisLink(redis_server.url) as link:
        writer = link.command_writer("probe", limit=100, batch=100)
        writer.put(_Command(("SET", "drained", "1"), results))
        assert await writer.drain(5.0)
        assert results == [b"OK"]


async def test_a_command_put_while_redis_is_away_fails_without_being_sent(redis_server: RedisServer) -> None:
    results: list[object] = []
    async with RedisLink(redis_server.url) as link:
        writer = link.command_writer("probe", limit=100, batch=100)
        writer.put(_Command(("SET", "gone", "1"), results))
        link.lost(ConnectionError("cut for the test"))  # before the end of the turn that put it

        async def reported() -> bool:
            return results == ["failed"]

        await wait_until(reported)
