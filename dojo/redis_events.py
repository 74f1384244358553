"""Dojo events and presence across nodes, a client of the `RedisLink` (the document bus is another).

- Events (`dojo.events.DojoEvent`) go over `PUBLISH pocdojo:events` to every node; a reconnection is
  reported to the handler as a gap, since pub/sub may have lost some.
- Presence (who is connected to a dojo, on any node) is a sorted set per room, `pocdojo:online:<room>`,
  of `<node>|<user>` scored by an expiry time that the node holding the connection keeps renewing.
Every call raises `EventsUnavailable` while Redis is away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import redis.asyncio as aioredis

from dojo.events import DojoEvent, MalformedEvent
from runtime.redis_link import Connected, LinkUnavailable, RedisLink

log = logging.getLogger("dojo.redis_events")

T = TypeVar("T")
EventHandler = Callable[[DojoEvent], None]
GapHandler = Callable[[], None]


class EventsUnavailable(LinkUnavailable):
    """Redis cannot be reached right now."""


class RedisDojoEvents:
    """Dojo events and presence over `link` (see module doc)."""

    def __init__(self, link: RedisLink, *, node_id: str, prefix: str = "pocdojo") -> None:
        self.node_id = node_id
        self._link = link
        self._prefix = prefix
        self._handler: EventHandler | None = None
        self._gap: GapHandler | None = None
        link.on_connected(self._on_connected)

    @property
    def _channel(self) -> str:
        return f"{self._prefix}:events"

    async def on_events(self, handler: EventHandler, gap: GapHandler) -> None:
        """Receive every node's events (this one's included); `gap` is called after a reconnection.
        Subscribes now if Redis is reachable, else at the reconnection."""
        self._handler, self._gap = handler, gap
        try:
            await self._link.subscribe(self._channel, self._receive)
        except LinkUnavailable:
            log.warning("dojo events: redis is unreachable; subscribing when it is back")

    async def publish(self, event: DojoEvent) -> None:
        """Send an event to every node (this one included). Raises `EventsUnavailable`."""
        await self._call(lambda client: client.publish(self._channel, event.encode()))

    def _receive(self, data: bytes) -> None:
        try:
            event = DojoEvent.decode(data)
        except MalformedEvent:
            log.warning("ignoring a malformed dojo event")
            return
        if self._handler is not None:
            self._handler(event)

    def _on_connected(self, event: Connected) -> None:
        if event.resumed and self._gap is not None:
            self._gap()

    # -- presence: who has a connection to a room on which node ------------------------------------------
    def _presence(self, room: str) -> str:
        return f"{self._prefix}:online:{room}"

    async def mark_present(self, room: str, users: Iterable[str], ttl: float) -> None:
        """Record that `users` have a connection to `room` on this node, for `ttl` seconds (a node renews
        its entries while they last, so a dead node's expire)."""
        entries = {f"{self.node_id}|{user}": time.time() + ttl for user in users}
        if not entries:
            return
        key = self._presence(room)

        async def write(client: aioredis.Redis) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.zadd(key, entries)
                pipe.expire(key, int(ttl) + 1)
                await pipe.execute()

        await self._call(write)

    async def mark_absent(self, room: str, users: Iterable[str]) -> None:
        """`users` no longer have a connection to `room` on this node."""
        members = [f"{self.node_id}|{user}" for user in users]
        if members:
            await self._call(lambda client: client.zrem(self._presence(room), *members))

    async def present(self, room: str) -> set[str]:
        """The users with a live entry for `room` on any node."""
        members = await self._call(lambda client: client.zrangebyscore(self._presence(room), time.time(), "+inf"))
        return {_text(m).rsplit("|", 1)[1] for m in members}

    async def _call(self, fn: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        try:
            result: T = await self._link.call(fn)
            return result
        except LinkUnavailable as exc:
            raise EventsUnavailable("redis is unreachable") from exc


def _text(member: object) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)
