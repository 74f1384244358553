"""The Redis link judges Redis by what it answers (`runtime.redis_link`, against a real redis-server): a
redis-py reply later than its timeout while the raw connection keeps reading is a failed call, not a
lost link — unless it keeps happening, or nothing at all comes back (a silent network)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis
import uvloop
from prometheus_client import REGISTRY

from runtime.redis_link import MAX_LATE_IN_A_ROW, Connected, LinkUnavailable, RedisLink
from tests.cluster.conftest import RedisServer
from tests.conftest import wait_until
from tests.netproxy import TcpProxy


def _events(link: str, event: str) -> float:
    return REGISTRY.get_sample_value("pocdojo_redis_link_events_total", {"link": link, "event": event}) or 0.0


# BLPOP on an empty list answers after its own timeout: to redis-py, whose socket timeout is shorter, a
# reply that comes late, while Redis goes on answering everything else at once.
_LATE_BY = 1


async def test_a_late_reply_while_redis_keeps_answering_fails_the_call_and_keeps_the_link(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runtime.redis_link")
    connected: list[Connected] = []
    late_before, lost_before = _events("late-probe", "late"), _events("late-probe", "lost")
    async with RedisLink(redis_server.url, name="late-probe", socket_timeout=0.3, health_seconds=0.05) as link:
        link.on_connected(connected.append)
        with pytest.raises(LinkUnavailable, match="did not answer in time"):
            await link.call(lambda client: client.blpop(["nothing-here"], timeout=_LATE_BY))
        assert link.connected
        assert link.late_replies == 1
        assert _events("late-probe", "late") == late_before + 1
        await link.ping()  # the next call goes through
    assert connected == [], "the link was never lost, so nothing reconnected"
    assert _events("late-probe", "lost") == lost_before
    messages = [r.getMessage() for r in caplog.records]
    assert any("later than 0.3 s while Redis kept answering" in m for m in messages)
    assert not any("connection lost" in m for m in messages)


async def _late_behind_a_stall(url: str) -> tuple[bool, int]:
    """A call that times out while the loop is busy and the raw connection's pong waits unread in its
    socket: (the link still up, late replies)."""
    async with RedisLink(url, name="stall-probe", socket_timeout=0.3, health_seconds=30) as link:
        call = asyncio.create_task(link.call(lambda client: client.blpop(["nothing-here"], timeout=_LATE_BY)))

        async def blocked() -> bool:
            return int((await link.client.info("clients"))["blocked_clients"]) == 1

        await wait_until(blocked, 5, "the call waits in Redis")
        raw = link.command_connection
        assert raw is not None
        raw.ping()  # answered at once; read only after the stall
        ends = time.monotonic() + 0.5  # the loop is busy past the call's timeout
        while time.monotonic() < ends:
            pass
        with pytest.raises(LinkUnavailable):
            await call
        return link.connected, link.late_replies


def test_a_timeout_caused_by_a_stall_of_this_process_is_a_late_reply_under_uvloop(redis_server: RedisServer) -> None:
    """Under uvloop (what `pocdojo serve` runs): the loop is busy past the call's timeout while Redis
    answers the raw connection's ping; the call fails, the link stays up."""
    connected, late = uvloop.run(_late_behind_a_stall(redis_server.url))
    assert connected
    assert late == 1


async def test_late_replies_in_a_row_lose_the_link(redis_server: RedisServer) -> None:
    """A health check that never completes in time: late `MAX_LATE_IN_A_ROW - 1` times, then lost."""
    async with RedisLink(redis_server.url, name="probe", socket_timeout=0.3, health_seconds=0.05) as link:

        async def stuck(client: aioredis.Redis, reconnecting: bool) -> None:
            await client.blpop(["nothing-here"], timeout=_LATE_BY)

        link.on_check(stuck)
        await wait_until(lambda: not link.connected, 10, "the link is lost")
        assert link.late_replies == MAX_LATE_IN_A_ROW - 1


async def test_a_timeout_with_nothing_read_meanwhile_is_a_loss(redis_server: RedisServer) -> None:
    async with TcpProxy(redis_server.address) as proxy:
        url = redis_server.url_via(("127.0.0.1", proxy.port))
        lost_before = _events("silent-probe", "lost")
        async with RedisLink(url, name="silent-probe", socket_timeout=0.3, health_seconds=30) as link:
            proxy.blackhole()  # commands go out, nothing comes back
            with pytest.raises(LinkUnavailable, match="unreachable"):
                await link.call(lambda client: client.get("anything"))
            assert not link.connected
            assert link.late_replies == 0
            assert _events("silent-probe", "lost") == lost_before + 1
            proxy.heal()
            await wait_until(lambda: link.connected, 10, "the link is back once Redis answers")
