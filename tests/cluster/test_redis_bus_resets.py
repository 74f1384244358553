"""The Redis bus of one node, alone, under the event loop production runs (uvloop, which uvicorn picks
when it is installed), while its connections to Redis are reset again and again.

Every append must be reported (``done(True)`` or ``done(False)``: the fan-out gate holds a room's
changes until then), and the bus's tasks must outlive every reset and reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

import pytest
import redis.asyncio as aioredis
import uvloop

from crdt import BusMessage, MessageKind
from dojo.redis_bus import LOG_FORMAT, RedisBus, _Followed
from runtime.redis_link import Connected, RedisLink
from tests.cluster.conftest import RedisServer
from tests.conftest import wait_until
from tests.netproxy import TcpProxy

CYCLES = 20


class _Listener:
    def __init__(self) -> None:
        self.gaps = 0

    def on_messages(self, room: str, messages: object) -> None:
        """Updates read back from the stream are not what this test looks at."""

    def on_update(self, room: str, node: str, update: bytes, sent_at: float | None) -> None:
        """Nor those pushed one by one."""

    def on_gap(self, rooms: object) -> None:
        self.gaps += 1


async def _reset_cycles(redis: tuple[str, int]) -> tuple[list[str], int, int]:
    """Append every millisecond through a proxy that resets every connection now and then; returns
    (what went wrong, appends never reported, gaps reported)."""
    problems: list[str] = []
    listener = _Listener()
    outstanding = 0

    def done(ok: bool) -> None:
        nonlocal outstanding
        outstanding -= 1

    async with TcpProxy(redis) as link:
        redis = RedisLink(f"redis://127.0.0.1:{link.port}/0")
        bus = RedisBus(redis, node_id="solo")
        await redis.__aenter__()
        try:
            bus.set_listener(listener)
            await bus.follow("room")

            async def append_forever() -> None:
                nonlocal outstanding
                while True:
                    outstanding += 1
                    bus.append("room", BusMessage("solo", MessageKind.UPDATE, b"u" * 40), done)
                    await asyncio.sleep(0.001)  # paces the load generator

            def dead_tasks() -> list[str]:
                expected = {"redis-monitor", "redis-bus-catch-up", "redis-writer-bus"}
                return sorted(expected - set(redis.supervisor.names))

            load = asyncio.create_task(append_forever())
            for cycle in range(CYCLES):
                await asyncio.sleep(0.3)  # paces the fault: traffic flows, then the link drops for a while
                link.cut()
                await asyncio.sleep(0.4)
                link.heal()
                if dead_tasks():
                    problems.append(f"after reset {cycle + 1}, bus tasks died: {dead_tasks()}")
                    break
            load.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await load
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while (outstanding or not bus.connected) and loop.time() < deadline:  # noqa: ASYNC110 - polling state
                await asyncio.sleep(0.05)
            if not bus.connected:
                problems.append("the bus did not reconnect within 10 s of the last reset")
            if not problems and dead_tasks():
                problems.append(f"bus tasks died: {dead_tasks()}")
        finally:
            try:
                await redis.__aexit__(None, None, None)
            except Exception as exc:  # a dead task's exception resurfaces here
                problems.append(f"closing the link raised {exc!r}")
    return problems, outstanding, listener.gaps


async def _bounded(redis: tuple[str, int]) -> tuple[list[str], int, int]:
    """`_reset_cycles`, failing with every task's stack if it hangs: pytest-timeout's SIGALRM does not
    interrupt a uvloop loop that waits forever, so a hang here would otherwise stall the whole run."""
    try:
        async with asyncio.timeout(120):
            return await _reset_cycles(redis)
    except TimeoutError:
        stacks = []
        for task in asyncio.all_tasks():
            frames = task.get_stack()
            where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames))
            stacks.append(f"{task.get_name()}: {where}")
        raise AssertionError("the reset test hung for 120 s; tasks: " + " | ".join(stacks)) from None


@pytest.mark.slow
def test_bus_survives_connection_resets_under_uvloop(redis_server: RedisServer) -> None:
    problems, unreported, gaps = uvloop.run(_bounded(redis_server.address))
    # Whatever the bus left unclosed (a Redis connection, a transport) warns when collected: make that
    # happen here, so that it fails this test rather than whichever test runs next.
    gc.collect()
    assert not problems, problems
    assert unreported == 0, f"{unreported} appends were never reported to their callers"
    assert gaps >= 1, "reconnections must be reported as gaps (the rooms resynchronize)"


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[BusMessage] = []

    def on_messages(self, room: str, messages: list[BusMessage]) -> None:
        self.messages.extend(messages)

    def on_update(self, room: str, node: str, update: bytes, sent_at: float | None) -> None:
        self.messages.append(BusMessage(node, MessageKind.UPDATE, update, sent_at))

    def on_gap(self, rooms: object) -> None:
        """Not what this test looks at."""


async def test_the_reader_takes_entries_by_field_name_and_skips_malformed_ones(redis_server: RedisServer) -> None:
    """Wire compatibility: entries written by other versions (fields in another order, a field this
    version does not know, e.g. a trace context) are read; an unknown kind is skipped, not fatal."""
    recorder = _Recorder()
    async with RedisLink(redis_server.url) as link:
        bus = RedisBus(link, node_id="reader")
        bus.set_listener(recorder)
        await bus.follow("room")
        stream = "pocdojo:doc:room"
        await link.raw_command("XADD", stream, "*", "k", "u", "t", "00-trace-01", "p", b"\x01\x02", "n", "other")
        await link.raw_command("XADD", stream, "*", "n", "other", "k", "?", "p", b"")
        bus.append("room", BusMessage("reader", MessageKind.SYNC_REQUEST, b"\x00"))

        async def read() -> bool:
            return len(recorder.messages) == 2

        await wait_until(read)
        first, own = recorder.messages
        assert (first.node, first.kind, first.payload) == ("other", MessageKind.UPDATE, b"\x01\x02")
        assert first.sent_at is not None
        assert (own.node, own.kind, own.payload) == ("reader", MessageKind.SYNC_REQUEST, b"\x00")


async def test_a_malformed_log_message_makes_the_room_read_its_stream_and_entries_still_come(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A log message that is not one (no head line), or whose head follows on but whose lengths do not
    add up, is not delivered: the room reads its stream instead, and what comes next is delivered."""
    recorder = _Recorder()
    catch_ups = 0

    def caught_up() -> None:
        nonlocal catch_ups
        catch_ups += 1

    async with RedisLink(redis_server.url) as link:
        bus = RedisBus(link, node_id="reader", on_catch_up=caught_up)
        bus.set_listener(recorder)
        writer = RedisBus(link, node_id="writer")
        await bus.follow("room")
        await writer.follow("room")
        channel = f"pocdojo:log:{LOG_FORMAT}:room"
        await link.raw_command("PUBLISH", channel, b"no head line")
        writer.append("room", BusMessage("writer", MessageKind.UPDATE, b"\x00"))

        async def read(count: int) -> bool:
            return len(recorder.messages) == count

        await wait_until(lambda: read(1))
        ((last, _),) = await link.raw_command("XREVRANGE", "pocdojo:doc:room", "+", "-", "COUNT", 1)
        ms, _, seq = last.partition(b"-")
        following = last + b" " + ms + b"-" + str(int(seq) + 1).encode()
        await link.raw_command("PUBLISH", channel, following + b" 1 6 1 1 1 40\nnwriterkup\x01")  # lengths too long
        for n in (1, 2):
            writer.append("room", BusMessage("writer", MessageKind.UPDATE, bytes([n])))
        await wait_until(lambda: read(3))
        assert [m.payload for m in recorder.messages] == [b"\x00", b"\x01", b"\x02"]
        assert catch_ups >= 1
        assert "a malformed log message of room 'room'" in caplog.text


def test_the_reader_skips_its_own_entries_delivers_others_and_reads_the_stream_after_a_bad_message() -> None:
    """`_on_entry` on crafted messages (no Redis: nothing is sent while the link is not connected)."""
    recorder = _Recorder()
    bus = RedisBus(RedisLink("redis://127.0.0.1:1"), node_id="me")
    bus.set_listener(recorder)
    followed = bus._followed["room"] = _Followed(last=b"5-0", catching=False)

    def message(previous: bytes, entry: bytes, *fields: bytes, lengths: list[int] | None = None) -> bytes:
        sizes = lengths if lengths is not None else [len(f) for f in fields]
        return b" ".join([previous, entry, *(str(n).encode() for n in sizes)]) + b"\n" + b"".join(fields)

    bus._on_entry("room", message(b"5-0", b"6-0", b"n", b"me", b"k", b"u", b"p", b"\x01"))
    assert (followed.last, recorder.messages) == (b"6-0", [])  # its own change: skipped
    bus._on_entry("room", message(b"6-0", b"7-0", b"n", b"me", b"k", b"s", b"p", b"\x00"))  # its own sync request
    bus._on_entry("room", message(b"7-0", b"8-0", b"n", b"other", b"k", b"u", b"p", b"\x02"))
    assert followed.last == b"8-0"
    assert [(m.node, m.kind, m.payload) for m in recorder.messages] == [
        ("me", MessageKind.SYNC_REQUEST, b"\x00"),
        ("other", MessageKind.UPDATE, b"\x02"),
    ]
    bus._on_entry("room", message(b"8-0", b"9-0", b"n", b"other", b"k", b"u", lengths=[1, 5, 1, 1, 1, 40]))
    assert followed.catching and followed.last == b"8-0"  # not delivered: read from the stream instead
    followed.catching = False
    bus._on_entry("room", message(b"8-0", b"x-y", b"n", b"o", lengths=[1, 1]))  # chains on, fields unreadable
    bus._on_entry("room", b"9-0 junk-id 1 1\nnx")  # does not chain on, and its ID is not one
    assert followed.catching and followed.last == b"8-0"
    assert len(recorder.messages) == 2


async def test_an_entry_without_its_message_is_read_at_the_next_check(redis_server: RedisServer) -> None:
    """An entry that came without a log message (an older node's XADD) and that nothing follows is still
    read: each health check compares the stream's last entry with the last one delivered."""
    recorder = _Recorder()
    async with RedisLink(redis_server.url, health_seconds=0.2) as link:
        bus = RedisBus(link, node_id="reader")
        bus.set_listener(recorder)
        await bus.follow("quiet")
        await link.raw_command("XADD", "pocdojo:doc:quiet", "*", "n", "older", "k", "u", "p", b"\x07")

        async def read() -> bool:
            return len(recorder.messages) == 1

        await wait_until(read)
        assert recorder.messages[0].payload == b"\x07"


async def test_a_node_cut_off_catches_up_from_where_it_stopped_in_order(redis_server: RedisServer) -> None:
    """Messages published while a node's connection is down are lost to it; the stream is not: once
    back, it reads every entry after the last it delivered, once each and in order."""
    recorder = _Recorder()
    catch_ups = 0

    def caught_up() -> None:
        nonlocal catch_ups
        catch_ups += 1

    async with (
        TcpProxy(redis_server.address) as proxy,
        RedisLink(redis_server.url_via(("127.0.0.1", proxy.port)), health_seconds=0.2) as far,
        RedisLink(redis_server.url) as near,
    ):
        reader = RedisBus(far, node_id="far", on_catch_up=caught_up)
        reader.set_listener(recorder)
        writer = RedisBus(near, node_id="near")
        await reader.follow("room")
        await writer.follow("room")

        def sent(n: int) -> None:
            writer.append("room", BusMessage("near", MessageKind.UPDATE, bytes([n])))

        sent(0)

        async def got(n: int) -> bool:
            return len(recorder.messages) == n

        await wait_until(lambda: got(1))
        proxy.cut()
        await wait_until(lambda: not far.connected)
        for n in range(1, 6):
            sent(n)
        proxy.heal()
        await wait_until(lambda: got(6))
        assert [m.payload for m in recorder.messages] == [bytes([n]) for n in range(6)]
        assert catch_ups >= 1  # counted (pocdojo_collab_bus_catch_ups_total in a node)
        sent(6)  # and live messages flow again after the catch-up
        await wait_until(lambda: got(7))
        assert recorder.messages[-1].payload == bytes([6])


async def test_a_reconnection_loads_the_append_script_before_any_append(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis that lost its scripts (restarted, failed over) behind a dropped connection: the append
    script is loaded on the new connection before any append goes out, so no append meets NOSCRIPT."""
    caplog.set_level(logging.WARNING, logger="runtime.redis_link")
    resumed: list[Connected] = []
    async with RedisLink(redis_server.url, health_seconds=0.2) as link:
        link.on_connected(lambda event: resumed.append(event) if event.resumed else None)
        bus = RedisBus(link, node_id="solo")
        await bus.start()
        await bus.follow("room")
        results: list[bool] = []
        bus.append("room", BusMessage("solo", MessageKind.UPDATE, b"1"), results.append)
        await wait_until(lambda: results == [True])
        admin = aioredis.Redis.from_url(redis_server.url)
        try:
            await admin.script_flush()
            for kind in ("normal", "pubsub"):  # every connection of the link (its raw one subscribes)
                await admin.client_kill_filter(_type=kind, skipme=True)
        finally:
            await admin.aclose()
        await wait_until(lambda: bool(resumed) and link.connected)
        caplog.clear()
        bus.append("room", BusMessage("solo", MessageKind.UPDATE, b"2"), results.append)
        await wait_until(lambda: len(results) == 2)
        assert results == [True, True]
        assert not [r for r in caplog.records if "connection lost" in r.getMessage()]


async def test_pushed_log_messages_are_read_without_reading_the_stream(redis_server: RedisServer) -> None:
    """The log message each append publishes carries the whole entry: another node delivers it from the
    message alone (no catch-up), whatever bytes the payload holds (separators included)."""
    recorder = _Recorder()
    catch_ups = 0

    def caught_up() -> None:
        nonlocal catch_ups
        catch_ups += 1

    payloads = [b"", b" \n ", b"12:34\n5 6", bytes(range(256)), b"\n" * 3000]
    async with RedisLink(redis_server.url) as a, RedisLink(redis_server.url) as b:
        reader = RedisBus(a, node_id="reader", on_catch_up=caught_up)
        reader.set_listener(recorder)
        writer = RedisBus(b, node_id="writer node")
        await reader.follow("pushed")
        await writer.follow("pushed")
        caught_up_while_loading = catch_ups
        for payload in payloads:
            writer.append("pushed", BusMessage("writer node", MessageKind.UPDATE, payload))

        async def read() -> bool:
            return len(recorder.messages) == len(payloads)

        await wait_until(read)
        assert [(m.node, m.kind, m.payload) for m in recorder.messages] == [
            ("writer node", MessageKind.UPDATE, p) for p in payloads
        ]
        assert catch_ups == caught_up_while_loading
