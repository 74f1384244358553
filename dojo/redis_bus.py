"""`crdt.Bus` over a `RedisLink`: one Stream per document (replayable), pub/sub for awareness.

- `append` → `XADD pocdojo:doc:<room>` (trimmed approximately to `maxlen` entries), an `Append` sent by
  the link's command writer (every append queued by one event-loop tick goes out in one write);
  acknowledgements are reported in order, so the fan-out gate can release a change to this node's
  clients once Redis has it.
- One reader task follows every loaded room with `XREAD BLOCK` from the last entry it saw, so a
  dropped connection or a slow reader resumes where it stopped instead of losing messages.
- The hot path (appends and reads) runs on pooled connections with raw replies: no pipeline object,
  no reply callbacks; with `hiredis` installed (a pinned dependency) the replies are parsed in C.
  Entries are decoded by field name, so fields added later (or unknown ones) do not break reading.
- Awareness goes over `PUBLISH pocdojo:aw:<room>` (a `Broadcast`, best effort by design).
- With tracing on, an entry appended under a span carries that span's context as more fields
  (`traceparent`, `tracestate`), and reading another node's entry that has them applies it under a span
  that continues the trace (`dojo.collab_tracing`). Entries without them (tracing off, an older node)
  read as before.
- Which nodes follow a room (they answer its fences, `crdt.fanout`) is a hash per room,
  `pocdojo:holders:<room>` (node → 1), written on follow and removed on unfollow; a node counts while
  its key `pocdojo:alive:<node>` lives (`ALIVE_MS`, renewed at every health check of the link), so a
  dead node's entries are ignored, then removed.
- On reconnection the link tells whether Redis restarted (its `run_id` changed): a restarted server
  lost its streams, so they are read again from their start; either way every room is reported as a
  gap and the fan-out extension resynchronizes it. Failed appends are reported to the caller (which
  also resynchronizes). Nothing blocks the event loop while Redis is away: appends fail fast and the
  rooms keep working locally.
Connection, health, reconnection and the ordered close belong to the link (`runtime.redis_link`);
dojo events and presence are another client of it (`dojo.redis_events`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from crdt import BusListener, BusMessage, MessageKind
from crdt.fanout import Done
from dojo.collab_tracing import apply_span
from runtime.redis_link import DOWN, Connected, LinkOverloaded, LinkUnavailable, RedisLink
from runtime.tracing import context_fields, trace_context, tracing_enabled

log = logging.getLogger("dojo.redis_bus")
_KINDS: dict[bytes, MessageKind] = {kind.value.encode(): kind for kind in MessageKind}
_KIND_BYTES: dict[MessageKind, bytes] = {kind: code for code, kind in _KINDS.items()}
_MAX_NODE_NAMES = 1024
ALIVE_MS = 5000
"""A node that has not renewed its liveness key for this long no longer counts as following its rooms."""


class BusUnavailable(LinkUnavailable):
    """Redis cannot be reached right now."""


@dataclass(frozen=True, slots=True)
class Append:
    """A document message for a room's stream (`command`: its XADD); `done` learns whether the stream
    has it."""

    command: tuple[str | bytes | int, ...]
    done: Done | None

    def completed(self, result: Any) -> None:
        if self.done is not None:
            self.done(not isinstance(result, Exception))

    def failed(self) -> None:
        if self.done is not None:
            self.done(False)


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An awareness message for the room's channel: `<node>\\0<kind><payload>`."""

    channel: str
    data: bytes

    @property
    def command(self) -> tuple[str | bytes | int, ...]:
        return ("PUBLISH", self.channel, self.data)

    def completed(self, result: Any) -> None:
        """Best effort: nobody waits for it."""

    def failed(self) -> None:
        """Best effort: nobody waits for it."""


class RedisBus:
    """The shared log of the realtime nodes (see module doc), a client of `link`."""

    def __init__(
        self,
        link: RedisLink,
        *,
        node_id: str,
        prefix: str = "pocdojo",
        maxlen: int = 10_000,
        queue_limit: int = 100_000,
        block_ms: int = 200,
    ) -> None:
        self._link = link
        self._node = node_id
        self._node_bytes = node_id.encode()
        self._prefix = prefix
        self._maxlen = maxlen
        self._block_ms = block_ms
        self._writer = link.command_writer("bus", limit=queue_limit, batch=512)
        self._followed: dict[str, str] = {}
        self._nodes: dict[bytes, str] = {}  # decoded node names, so that a read does not decode each
        self._listener: BusListener | None = None
        self._changed = asyncio.Event()
        self._context_fields = {name.encode(): name for name in context_fields()}
        link.on_check(self._on_check)
        link.on_connected(self._on_connected)
        link.on_close(self._on_close)
        link.run("bus-reader", self._read)

    async def start(self) -> None:
        """On a link that is already running: check now, so that this node counts as alive (it answers
        fences) from the start rather than from the link's next periodic check."""
        if self._link.connected:
            await self._link.check()

    # -- crdt.Bus -------------------------------------------------------------------------------------
    @property
    def node_id(self) -> str:
        return self._node

    @property
    def connected(self) -> bool:
        return self._link.connected

    def set_listener(self, listener: BusListener) -> None:
        self._listener = listener

    def _stream(self, room: str) -> str:
        return f"{self._prefix}:doc:{room}"

    def _holders(self, room: str) -> str:
        return f"{self._prefix}:holders:{room}"

    def _alive(self, node: str) -> str:
        return f"{self._prefix}:alive:{node}"

    def _channel(self, room: str) -> str:
        return f"{self._prefix}:aw:{room}"

    async def peers(self, room: str) -> set[str]:
        """The other live nodes following `room` (entries of dead nodes are removed). Raises
        `BusUnavailable`."""
        client = self._link.client
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
        except DOWN as exc:
            self._link.lost(exc)
            raise BusUnavailable("redis is unreachable") from exc
        return {n for n, live in zip(others, alive, strict=True) if live}

    async def follow(self, room: str) -> list[BusMessage]:
        if not self._link.connected:
            self._followed.setdefault(room, "0-0")
            await self._subscribe(room)  # registers the channel for the reconnection, then raises
            raise BusUnavailable("redis is unreachable")
        client = self._link.client
        try:
            entries: Any = await client.xrange(self._stream(room), "-", "+")
            await self._subscribe(room)
            await client.hset(self._holders(room), self._node, b"1")
        except DOWN as exc:
            self._followed.setdefault(room, "0-0")
            self._link.lost(exc)
            raise BusUnavailable("redis is unreachable") from exc
        except BusUnavailable:
            self._followed.setdefault(room, "0-0")
            raise
        self._followed[room] = entries[-1][0].decode() if entries else "0-0"
        self._changed.set()
        return [m for m in (self._decode(entry, fields) for entry, fields in entries) if m is not None]

    async def _subscribe(self, room: str) -> None:
        try:
            await self._link.subscribe(self._channel(room), lambda data: self._on_awareness(room, data))
        except LinkUnavailable as exc:
            raise BusUnavailable("redis is unreachable") from exc

    async def unfollow(self, room: str) -> None:
        self._followed.pop(room, None)
        self._link.unsubscribe(self._channel(room))
        if self._link.connected:
            try:
                await self._link.client.hdel(self._holders(room), self._node)
            except DOWN as exc:
                self._link.lost(exc)

    def append(self, room: str, message: BusMessage, done: Done | None = None) -> None:
        command: tuple[str | bytes | int, ...] = (
            "XADD",
            self._stream(room),
            "MAXLEN",
            "~",
            self._maxlen,
            "*",
            b"n",
            self._node_bytes,
            b"k",
            _KIND_BYTES[message.kind],
            b"p",
            message.payload,
        )
        if tracing_enabled():
            for name, value in trace_context().items():
                command += (name.encode(), value.encode())
        self._put(Append(command, done))

    def broadcast(self, room: str, message: BusMessage) -> None:
        data = self._node_bytes + b"\x00" + message.kind.value.encode() + message.payload
        self._put(Broadcast(self._channel(room), data))

    def _put(self, op: Append | Broadcast) -> None:
        try:
            self._writer.put(op)
        except LinkOverloaded:
            log.warning("redis bus: outgoing queue full; dropping a message (the room will resync)")
            op.failed()
        except LinkUnavailable:
            op.failed()

    async def ping(self) -> None:
        """Readiness: raise unless Redis answers now."""
        await self._link.ping()

    # -- link hooks ---------------------------------------------------------------------------------------
    async def _on_check(self, client: aioredis.Redis, reconnecting: bool) -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(self._alive(self._node), b"1", px=ALIVE_MS)
            if reconnecting:  # the server may have lost our entries
                for room in self._followed:
                    pipe.hset(self._holders(room), self._node, b"1")
            await pipe.execute()

    def _on_connected(self, event: Connected) -> None:
        self._changed.set()
        if not event.resumed:
            return
        if event.restarted:
            # The streams were lost with the server: read new ones from their start.
            for room in self._followed:
                self._followed[room] = "0-0"
        # Messages may have been missed either way (pub/sub, failed appends): resync.
        if self._listener is not None:
            self._listener.on_gap(None)

    async def _on_close(self, client: aioredis.Redis) -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.delete(self._alive(self._node))
            for room in self._followed:
                pipe.hdel(self._holders(room), self._node)
            await pipe.execute()

    # -- internals -----------------------------------------------------------------------------------------
    def _decode(self, entry: bytes, fields: dict[bytes, bytes] | list[bytes]) -> BusMessage | None:
        """A stream entry (its fields as redis-py's callbacks give them, or as the raw flat list)."""
        try:
            fields = _field_map(fields)
            # A stream entry's ID starts with the server's time in milliseconds: when the log took it.
            sent_at = int(entry.partition(b"-")[0]) / 1000
            node = fields[b"n"]
            return BusMessage(
                self._nodes.get(node) or self._node_name(node), _KINDS[fields[b"k"]], fields[b"p"], sent_at
            )
        except (KeyError, ValueError, UnicodeDecodeError, TypeError):
            log.warning("redis bus: ignoring a malformed stream entry")
            return None

    def _node_name(self, node: bytes) -> str:
        name = node.decode()
        if len(self._nodes) < _MAX_NODE_NAMES:
            self._nodes[node] = name
        return name

    async def _read(self) -> None:
        prefix = len(self._prefix) + len(":doc:")
        while True:
            if not self._link.connected or not self._followed:
                self._changed.clear()
                await self._changed.wait()
                continue
            rooms = list(self._followed.items())
            try:
                response: Any = await self._link.raw_command(
                    "XREAD",
                    "COUNT",
                    1000,
                    "BLOCK",
                    self._block_ms,
                    "STREAMS",
                    *(self._stream(room) for room, _ in rooms),
                    *(last for _, last in rooms),
                )
            except DOWN as exc:
                self._link.lost(exc)
                continue
            except RedisError:
                log.exception("redis bus: XREAD failed")
                await asyncio.sleep(0.5)
                continue
            if not response:
                continue
            # RESP3 answers a map (key → entries), RESP2 a list of [key, entries].
            streams = response.items() if isinstance(response, dict) else response
            for key, entries in streams:
                room = (key.decode() if isinstance(key, bytes) else key)[prefix:]
                if room not in self._followed or not entries:
                    continue
                self._followed[room] = entries[-1][0].decode()
                if self._listener is None:
                    continue
                if tracing_enabled():
                    self._deliver_traced(room, entries)
                    continue
                messages = [m for m in (self._decode(entry, fields) for entry, fields in entries) if m is not None]
                if messages:
                    self._deliver(room, messages)

    def _deliver_traced(self, room: str, entries: list[tuple[bytes, dict[bytes, bytes] | list[bytes]]]) -> None:
        """Deliver `entries` in order; each one another node appended with a trace context is delivered
        alone, under a span continuing that trace."""
        run: list[BusMessage] = []
        for entry, raw in entries:
            fields = _field_map(raw)
            message = self._decode(entry, fields)
            if message is None:
                continue
            carried = self._carried(fields) if message.node != self._node else None
            if not carried:
                run.append(message)
                continue
            if run:
                self._deliver(room, run)
                run = []
            with apply_span(room, self._node, message.node, carried) as span:
                span.set_attribute("pocdojo.collab.update_bytes", len(message.payload))
                self._deliver(room, [message])
        if run:
            self._deliver(room, run)

    def _carried(self, fields: dict[bytes, bytes]) -> dict[str, str]:
        """The trace context an entry carries (empty if none)."""
        carried: dict[str, str] = {}
        for field, name in self._context_fields.items():
            value = fields.get(field)
            if value is not None:
                try:
                    carried[name] = value.decode("ascii")
                except UnicodeDecodeError:
                    log.warning("redis bus: ignoring a malformed %s field", name)
        return carried

    def _on_awareness(self, room: str, data: bytes) -> None:
        node, sep, rest = data.partition(b"\x00")
        if not sep or not rest or room not in self._followed or self._listener is None:
            return
        try:
            parsed = BusMessage(node.decode(), MessageKind(rest[:1].decode()), rest[1:])
        except (ValueError, UnicodeDecodeError):
            log.warning("redis bus: ignoring a malformed awareness message")
            return
        self._deliver(room, [parsed])

    def _deliver(self, room: str, messages: list[BusMessage]) -> None:
        assert self._listener is not None
        try:
            self._listener.on_messages(room, messages)
        except Exception:
            log.exception("redis bus: handling messages of room %r failed", room)


def _field_map(fields: dict[bytes, bytes] | list[bytes]) -> dict[bytes, bytes]:
    """A stream entry's fields as a map: the raw reply (hiredis, no callbacks) is a flat list."""
    if isinstance(fields, list):
        pairs = iter(fields)
        return dict(zip(pairs, pairs, strict=False))
    return fields
