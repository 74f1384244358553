"""A room's holders hash (which nodes follow it, `dojo.redis_bus`) expires unless a node following the room
renews it: the rooms of nodes that all died without unfollowing do not stay in Redis for ever."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from dojo import redis_bus
from dojo.redis_bus import HOLDERS_TTL_MS, RedisBus
from runtime.redis_link import RedisLink
from tests.cluster.conftest import RedisServer


class _Quiet:
    def on_messages(self, room: str, messages: object) -> None:
        """Nothing is appended here."""

    def on_update(self, room: str, node: str, update: bytes, sent_at: float | None) -> None:
        """Nor here."""

    def on_gap(self, rooms: object) -> None:
        """Nor lost."""


async def test_a_followed_room_holders_hash_gets_an_expiry_that_checks_renew_and_unfollow_removes(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "pocdojo:holders:room-a"
    async with RedisLink(redis_server.url) as link, aioredis.Redis.from_url(redis_server.url) as redis:
        bus = RedisBus(link, node_id="node-a")
        bus.set_listener(_Quiet())
        await bus.follow("room-a")
        assert await redis.hkeys(key) == [b"node-a"]
        assert 0 < await redis.pttl(key) <= HOLDERS_TTL_MS  # from the follow on, not from the next check

        # A health check renews it once the renewal is due (every check, here).
        monkeypatch.setattr(redis_bus, "HOLDERS_RENEW_SECONDS", 0.0)
        await redis.pexpire(key, 5_000)
        await link.check()
        assert await redis.pttl(key) > 5_000

        # An orderly unfollow removes this node's entry (and, being the last, the hash).
        await bus.unfollow("room-a")
        assert await redis.exists(key) == 0
