"""`crdt.Bus` over Redis: one Stream per document (replayable), pub/sub for awareness.

- `append` → `XADD pocdojo:doc:<room>` (trimmed approximately to `maxlen` entries), pipelined by one
  writer task; acknowledgements are reported in order, so the fan-out gate can release a change to
  this node's clients once Redis has it.
- One reader task follows every loaded room with `XREAD BLOCK` from the last entry it saw, so a
  dropped connection or a slow reader resumes where it stopped instead of losing messages.
- Awareness goes over `PUBLISH pocdojo:aw:<room>` (best effort by design).
- Service events (dojo roles, kicks, chat...) go over `PUBLISH pocdojo:events` to every node; a
  reconnection is reported to the event handler as a gap, since pub/sub may have lost some.
- Presence (who is connected to a dojo, on any node) is a sorted set per room, `pocdojo:online:<room>`,
  of `<node>|<user>` scored by an expiry time that the node holding the connection keeps renewing.
- Which nodes follow a room (they answer its fences, `crdt.fanout`) is a hash per room,
  `pocdojo:holders:<room>` (node → 1), written on follow and removed on unfollow; a node counts while
  its key `pocdojo:alive:<node>` lives (`ALIVE_MS`, renewed by the monitor every second), so a dead
  node's entries are ignored, then removed.
- A monitor pings Redis; on reconnection it compares Redis's `run_id`: a restarted server lost its
  streams, so every room is reported as a gap and the fan-out extension resynchronizes it. Failed
  appends are reported to the caller (which also resynchronizes). Nothing blocks the event loop
  while Redis is away: appends fail fast and the rooms keep working locally.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from crdt import BusListener, BusMessage, MessageKind

log = logging.getLogger("dojo.redis_bus")
Done = Callable[[bool], None]
# What a lost or reset connection looks like from redis-py: its own errors, socket errors, and —
# under uvloop — a bare RuntimeError when writing to a transport that was closed underneath it.
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError, RuntimeError)
ALIVE_MS = 5000
"""A node that has not renewed its liveness key for this long no longer counts as following its rooms."""


class BusUnavailable(RuntimeError):
    """Redis cannot be reached right now."""


class RedisBus:
    """The shared log of the realtime nodes (see module doc); an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        node_id: str,
        prefix: str = "pocdojo",
        maxlen: int = 10_000,
        queue_limit: int = 100_000,
        block_ms: int = 200,
    ) -> None:
        self._url = url
        self._node = node_id
        self._prefix = prefix
        self._maxlen = maxlen
        self._block_ms = block_ms
        self._queue: asyncio.Queue[tuple[str, str, bytes, bytes, Done | None]] = asyncio.Queue(queue_limit)
        self._followed: dict[str, str] = {}
        self._listener: BusListener | None = None
        self._connected = False
        self._run_id: str | None = None
        self._changed = asyncio.Event()
        self._down = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._event_handler: Callable[[bytes], None] | None = None
        self._event_gap: Callable[[], None] | None = None

    # -- crdt.Bus -------------------------------------------------------------------------------------
    @property
    def node_id(self) -> str:
        return self._node

    @property
    def connected(self) -> bool:
        return self._connected

    def set_listener(self, listener: BusListener) -> None:
        self._listener = listener

    # -- service events ----------------------------------------------------------------
    @property
    def _events_channel(self) -> str:
        return f"{self._prefix}:events"

    def on_events(self, handler: Callable[[bytes], None], gap: Callable[[], None]) -> None:
        """Receive every node's service events (`publish_event`); `gap` is called after a reconnection."""
        self._event_handler = handler
        self._event_gap = gap

    async def publish_event(self, data: bytes) -> None:
        """Send a service event to every node (this one included). Raises `BusUnavailable`."""
        if not self._connected:
            raise BusUnavailable("redis is unreachable")
        try:
            await self._require_client().publish(self._events_channel, data)
        except _DOWN as exc:
            self._lost(exc)
            raise BusUnavailable("redis is unreachable") from exc

    # -- presence: who has a connection to a room on which node ------------------------------------------
    def _presence(self, room: str) -> str:
        return f"{self._prefix}:online:{room}"

    async def mark_present(self, room: str, users: Iterable[str], ttl: float) -> None:
        """Record that `users` have a connection to `room` on this node, for `ttl` seconds (a node renews
        its entries while they last, so a dead node's expire). Raises `BusUnavailable`."""
        entries = {f"{self._node}|{user}": time.time() + ttl for user in users}
        if not entries:
            return
        key = self._presence(room)

        async def write(client: aioredis.Redis) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.zadd(key, entries)
                pipe.expire(key, int(ttl) + 1)
                await pipe.execute()

        await self._presence_call(write)

    async def mark_absent(self, room: str, users: Iterable[str]) -> None:
        """`users` no longer have a connection to `room` on this node. Raises `BusUnavailable`."""
        members = [f"{self._node}|{user}" for user in users]
        if members:
            await self._presence_call(lambda c: c.zrem(self._presence(room), *members))

    async def present(self, room: str) -> set[str]:
        """The users with a live entry for `room` on any node. Raises `BusUnavailable`."""
        members = await self._presence_call(lambda c: c.zrangebyscore(self._presence(room), time.time(), "+inf"))
        return {bytes(m).decode().rsplit("|", 1)[1] for m in members}

    async def _presence_call(self, call: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
        if not self._connected:
            raise BusUnavailable("redis is unreachable")
        try:
            return await call(self._require_client())
        except _DOWN as exc:
            self._lost(exc)
            raise BusUnavailable("redis is unreachable") from exc

    def _stream(self, room: str) -> str:
        return f"{self._prefix}:doc:{room}"

    def _holders(self, room: str) -> str:
        return f"{self._prefix}:holders:{room}"

    def _alive(self, node: str) -> str:
        return f"{self._prefix}:alive:{node}"

    async def peers(self, room: str) -> set[str]:
        """The other live nodes following `room` (entries of dead nodes are removed). Raises
        `BusUnavailable`."""
        client = self._require_client()
        holders = self._holders(room)
        try:
            nodes = [n.decode() if isinstance(n, bytes) else n for n in await client.hkeys(holders)]
            others = [n for n in nodes if n != self._node]
            if not others:
                return set()
            async with client.pipeline(transaction=False) as pipe:
                for node in others:
                    pipe.exists(self._alive(node))
                alive = await pipe.execute()
            gone = [n for n, live in zip(others, alive, strict=True) if not live]
            if gone:
                await client.hdel(holders, *gone)
        except _DOWN as exc:
            self._lost(exc)
            raise BusUnavailable("redis is unreachable") from exc
        return {n for n, live in zip(others, alive, strict=True) if live}

    def _channel(self, room: str) -> str:
        return f"{self._prefix}:aw:{room}"

    async def follow(self, room: str) -> list[BusMessage]:
        if not self._connected:
            self._followed.setdefault(room, "0-0")
            raise BusUnavailable("redis is unreachable")
        client = self._require_client()
        try:
            entries: Any = await client.xrange(self._stream(room), "-", "+")
            await self._pubsub.subscribe(self._channel(room))
            await client.hset(self._holders(room), self._node, b"1")
        except _DOWN as exc:
            self._followed.setdefault(room, "0-0")
            self._lost(exc)
            raise BusUnavailable("redis is unreachable") from exc
        self._followed[room] = entries[-1][0].decode() if entries else "0-0"
        self._changed.set()
        return [m for m in (self._decode(entry, fields) for entry, fields in entries) if m is not None]

    async def unfollow(self, room: str) -> None:
        self._followed.pop(room, None)
        if self._connected and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(self._channel(room))
                await self._require_client().hdel(self._holders(room), self._node)
            except _DOWN as exc:
                self._lost(exc)

    def append(self, room: str, message: BusMessage, done: Done | None = None) -> None:
        self._enqueue("x", room, message, done)

    def broadcast(self, room: str, message: BusMessage) -> None:
        self._enqueue("p", room, message, None)

    def _enqueue(self, op: str, room: str, message: BusMessage, done: Done | None) -> None:
        if not self._connected:
            if done is not None:
                done(False)
            return
        try:
            self._queue.put_nowait((op, room, message.kind.value.encode(), message.payload, done))
        except asyncio.QueueFull:
            log.warning("redis bus: outgoing queue full; dropping a message (the room will resync)")
            if done is not None:
                done(False)

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def __aenter__(self) -> RedisBus:
        self._client = aioredis.Redis.from_url(
            self._url,
            socket_timeout=max(2.0, self._block_ms / 1000 + 1.5),
            socket_connect_timeout=2.0,
            health_check_interval=0,
            retry_on_timeout=False,
        )
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._check()
        loop = asyncio.get_running_loop()
        for name, job in (
            ("writer", self._write),
            ("reader", self._read),
            ("pubsub", self._listen),
            ("monitor", self._monitor),
        ):
            self._tasks.append(loop.create_task(self._supervise(name, job), name=f"redis-bus-{name}"))
        return self

    async def _supervise(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run one of the bus's loops forever: an unexpected error is logged, the connection is
        treated as lost (so rooms resync), and the loop starts again — it never dies silently."""
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("redis bus: the %s loop failed; restarting it", name)
                self._lost(exc)
                await asyncio.sleep(0.2)

    async def __aexit__(self, *exc: object) -> None:
        # Ordered: let queued appends go out (briefly), then stop the tasks, then close connections.
        try:
            async with asyncio.timeout(2.0):
                while not self._queue.empty() and self._connected:  # noqa: ASYNC110 - a queue has no drained event
                    await asyncio.sleep(0.01)
        except TimeoutError:
            log.warning("redis bus: %d messages not sent at shutdown", self._queue.qsize())
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                log.debug("redis bus task %s stopped", task.get_name())
        self._tasks.clear()
        if self._connected and self._client is not None:
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.delete(self._alive(self._node))
                    for room in self._followed:
                        pipe.hdel(self._holders(room), self._node)
                    await pipe.execute()
            except _DOWN as exc:
                # Harmless: the liveness key expires within ALIVE_MS, and then no fence waits for us.
                log.warning("redis bus: leaving without removing this node's entries (%s)", type(exc).__name__)
        while not self._queue.empty():
            _, _, _, _, done = self._queue.get_nowait()
            if done is not None:
                done(False)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._client is not None:
            await self._client.aclose()

    async def ping(self) -> None:
        """Readiness: raise unless Redis answers now."""
        if not self._connected:
            raise BusUnavailable("redis is unreachable")
        await self._require_client().ping()

    # -- internals -----------------------------------------------------------------------------------------
    def _require_client(self) -> aioredis.Redis:
        if self._client is None:
            raise BusUnavailable("the bus is not started")
        return self._client

    def _decode(self, entry: bytes, fields: dict[bytes, bytes]) -> BusMessage | None:
        try:
            # A stream entry's ID starts with the server's time in milliseconds: when the log took it.
            sent_at = int(entry.partition(b"-")[0]) / 1000
            return BusMessage(fields[b"n"].decode(), MessageKind(fields[b"k"].decode()), fields[b"p"], sent_at)
        except (KeyError, ValueError, UnicodeDecodeError):
            log.warning("redis bus: ignoring a malformed stream entry")
            return None

    def _lost(self, exc: BaseException) -> None:
        if self._connected:
            log.warning("redis bus: connection lost (%s); rooms keep working locally", type(exc).__name__)
        self._connected = False
        self._down.set()

    async def _check(self) -> None:
        """Ping Redis; on (re)connection, detect a restarted server and resubscribe."""
        client = self._require_client()
        try:
            info = await client.info("server")
            run_id = str(info.get("run_id"))
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(self._alive(self._node), b"1", px=ALIVE_MS)
                if not self._connected:  # (re)connected: the server may have lost our entries
                    for room in self._followed:
                        pipe.hset(self._holders(room), self._node, b"1")
                await pipe.execute()
            if self._pubsub is not None:
                channels = [self._channel(room) for room in self._followed]
                await self._pubsub.subscribe(f"{self._prefix}:node:{self._node}", self._events_channel, *channels)
        except _DOWN as exc:
            self._lost(exc)
            return
        was_connected, previous = self._connected, self._run_id
        self._run_id = run_id
        self._connected = True
        self._down.clear()
        if not was_connected:
            self._changed.set()
            if previous is not None:
                log.info("redis bus: reconnected%s", " to a restarted server" if previous != run_id else "")
                if previous != run_id:
                    # The streams were lost with the server: read new ones from their start.
                    for room in self._followed:
                        self._followed[room] = "0-0"
                # Messages may have been missed either way (pub/sub, failed appends): resync.
                if self._listener is not None:
                    self._listener.on_gap(None)
                if self._event_gap is not None:
                    self._call_event(self._event_gap)

    async def _monitor(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._down.wait(), 1.0 if self._connected else 0.2)
            except TimeoutError:
                log.debug("redis bus: periodic check")
            await self._check()
            if not self._connected:
                await asyncio.sleep(0.2)

    async def _write(self) -> None:
        client = self._require_client()
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < 512 and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if not self._connected:
                self._fail(batch)
                continue
            pipe = client.pipeline(transaction=False)
            node = self._node.encode()
            for op, room, kind, payload, _ in batch:
                if op == "x":
                    pipe.xadd(
                        self._stream(room),
                        {b"n": node, b"k": kind, b"p": payload},
                        maxlen=self._maxlen,
                        approximate=True,
                    )
                else:
                    pipe.publish(self._channel(room), node + b"\x00" + kind + payload)
            try:
                results = await pipe.execute(raise_on_error=False)
            except _DOWN as exc:
                self._lost(exc)
                self._fail(batch)
                continue
            for (_, _, _, _, done), result in zip(batch, results, strict=True):
                if done is not None:
                    done(not isinstance(result, Exception))

    @staticmethod
    def _fail(batch: list[tuple[str, str, bytes, bytes, Done | None]]) -> None:
        for _, _, _, _, done in batch:
            if done is not None:
                done(False)

    async def _read(self) -> None:
        client = self._require_client()
        while True:
            if not self._connected or not self._followed:
                self._changed.clear()
                await self._changed.wait()
                continue
            streams: dict[Any, Any] = {self._stream(room): last for room, last in self._followed.items()}
            try:
                response: Any = await client.xread(streams, block=self._block_ms, count=1000)
            except _DOWN as exc:
                self._lost(exc)
                continue
            except RedisError:
                log.exception("redis bus: XREAD failed")
                await asyncio.sleep(0.5)
                continue
            prefix = len(self._prefix) + len(":doc:")
            for key, entries in response or []:
                room = key.decode()[prefix:]
                if room not in self._followed or not entries:
                    continue
                self._followed[room] = entries[-1][0].decode()
                messages = [m for m in (self._decode(entry, fields) for entry, fields in entries) if m is not None]
                if messages and self._listener is not None:
                    self._deliver(self._listener.on_messages, room, messages)

    async def _listen(self) -> None:
        prefix = len(self._prefix) + len(":aw:")
        while True:
            if not self._connected:
                await asyncio.sleep(0.1)
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except _DOWN as exc:
                # Also redis-py's RuntimeError when no channel is subscribed yet (between reconnects).
                self._lost(exc)
                await asyncio.sleep(0.1)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            if channel == self._events_channel:
                handler = self._event_handler
                if handler is not None:
                    self._call_event(handler, message["data"])
                continue
            room = channel[prefix:]
            data: bytes = message["data"]
            node, sep, rest = data.partition(b"\x00")
            if not sep or not rest or room not in self._followed or self._listener is None:
                continue
            try:
                parsed = BusMessage(node.decode(), MessageKind(rest[:1].decode()), rest[1:])
            except (ValueError, UnicodeDecodeError):
                log.warning("redis bus: ignoring a malformed awareness message")
                continue
            self._deliver(self._listener.on_messages, room, [parsed])

    @staticmethod
    def _call_event(handler: Callable[..., None], *args: bytes) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("redis bus: handling a service event failed")

    @staticmethod
    def _deliver(handler: Callable[[str, list[BusMessage]], object], room: str, messages: list[BusMessage]) -> None:
        try:
            handler(room, messages)
        except Exception:
            log.exception("redis bus: handling messages of room %r failed", room)
