"""`crdt.Bus` over a `RedisLink`: one Stream per document (replayable), pub/sub for awareness.

- `append` runs one script (`APPEND_SCRIPT`): `XADD pocdojo:doc:<room>` (trimmed approximately to
  `maxlen` entries), then `PUBLISH pocdojo:log:v2:<room>` of the new entry with the ID of the entry
  before it. The channel's name carries the message format's version: nodes of two versions (during a
  rolling deploy) do not misread each other's messages; they read each other's entries from the
  stream, at the next health check at the latest. It is an `Append` sent by the link's command
  writer (every append made during one turn of the event loop goes out in one write);
  acknowledgements are reported in order, so the fan-out gate can release a change to this node's
  clients once Redis has it.
- Reading is pushed, not polled: a node follows a room by subscribing its log channel, and delivers a
  published entry at once when it names, as the entry before it, the last entry this node has. Anything
  else (a message lost with a dropped connection, an entry written without its message, e.g. by an
  older node or by hand) breaks that chain, and the room catches up from its stream (`XRANGE` after
  the last entry it has, in order) before taking messages again: a dropped connection or a slow
  reader resumes where it stopped instead of losing entries. At every health check of the link, each
  room's last stream entry is compared with the last one delivered, so an entry without a message
  is read within a check even when nothing follows it. A node thus sends nothing per entry it reads,
  and a burst of entries costs one socket read. The usual message (another node's change: fields `n`,
  `k` = update, `p`, no trace context) is read from its head line's lengths and handed to the
  listener's `on_update` alone; every other one goes through `on_messages`.
- Scripts run atomically in Redis, so the messages of a room come in stream order. Appends and
  catch-up reads use the link's raw command connection and messages its raw subscriber (replies parsed
  by hiredis). Entries are decoded by field name, so fields added later (or unknown ones) do not break
  reading.
- Awareness goes over `PUBLISH pocdojo:aw:<room>` (a `Broadcast`, best effort by design).
- With tracing on, an entry appended under a span carries that span's context as more fields
  (`traceparent`, `tracestate`), and reading another node's entry that has them applies it under a span
  that continues the trace (`dojo.collab_tracing`). Entries without them (tracing off, an older node)
  read as before.
- Which nodes follow a room (they answer its fences, `crdt.fanout`) is a hash per room,
  `pocdojo:holders:<room>` (node → 1), written on follow and removed on unfollow; a node counts while
  its key `pocdojo:alive:<node>` lives (`ALIVE_MS`, renewed at every health check of the link), so a
  dead node's entries are ignored, then removed. The hash itself expires (`HOLDERS_TTL_MS`) unless a
  node following the room renews it at its health checks, so the rooms of nodes that all died do not
  leave their hash behind.
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
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from crdt import BusListener, BusMessage, MessageKind
from crdt.fanout import Done
from dojo.collab_tracing import apply_span
from runtime.redis_link import DOWN, Connected, LinkOverloaded, LinkUnavailable, RedisLink
from runtime.tracing import context_fields, trace_context, tracing_enabled

log = logging.getLogger("dojo.redis_bus")
_KINDS: dict[bytes, MessageKind] = {kind.value.encode(): kind for kind in MessageKind}
_KIND_BYTES: dict[MessageKind, bytes] = {kind: code for code, kind in _KINDS.items()}
_MAX_NODE_NAMES = 1024
_UPDATE = _KIND_BYTES[MessageKind.UPDATE]
_USUAL_KIND = b"k" + _UPDATE + b"p"  # the usual message between its node and its payload (`_usual_update`)
ALIVE_MS = 5000
"""A node that has not renewed its liveness key for this long no longer counts as following its rooms."""
HOLDERS_TTL_MS = 60_000
"""A room's holders hash expires this long after the last node following it renewed it (each node renews
the hashes of its rooms when it follows one and at its link's health checks, every
`HOLDERS_RENEW_SECONDS`): when every node of a room died without unfollowing, the hash goes instead of
staying in Redis for ever."""
HOLDERS_RENEW_SECONDS = HOLDERS_TTL_MS / 4000
"""How often a node renews its rooms' holders hashes (at the first health check after this long)."""
CATCH_UP_COUNT = 1000
"""Entries per `XRANGE` when a room catches up from its stream."""

LOG_FORMAT = "v2"
"""The version of the log messages' format (`APPEND_SCRIPT`), part of their channel's name."""
APPEND_SCRIPT = b"""
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if #last > 0 then prev = last[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
local head = {prev, id}
for i = 3, #ARGV do head[#head + 1] = #ARGV[i] end
redis.call('PUBLISH', ARGV[2], table.concat(head, ' ') .. '\\n' .. table.concat(ARGV, '', 3))
return id
"""
"""KEYS: the stream; ARGV: maxlen, the log channel, then the entry's fields and values. Publishes the
entry as a header line (`<previous entry's ID> <entry's ID> <length of each field and value>...`) and
the fields and values back to back. Returns the entry's ID."""
APPEND_SHA = hashlib.sha1(APPEND_SCRIPT, usedforsecurity=False).hexdigest()


class BusUnavailable(LinkUnavailable):
    """Redis cannot be reached right now."""


@dataclass(slots=True)
class _Followed:
    """Where this node is in a room's log: `last` is the ID of the last entry it delivered; while
    `catching` (loading, or catching up), messages are not delivered but the newest one's ID is kept in
    `beyond`, so that the catch-up goes on until it has it."""

    last: bytes = b"0-0"
    catching: bool = True
    beyond: bytes | None = None


@dataclass(frozen=True, slots=True)
class Append:
    """A document message for a room's stream (`command`: its XADD); `done` learns whether the stream
    has it."""

    command: tuple[str | bytes | int, ...]
    done: Done | None
    bus: RedisBus

    def completed(self, result: Any) -> None:
        if isinstance(result, ResponseError) and str(result).startswith("NOSCRIPT"):
            self.bus.script_missing(result)
        if self.done is not None:
            self.done(not isinstance(result, Exception))

    def failed(self) -> None:
        if self.done is not None:
            self.done(False)


@dataclass(frozen=True, slots=True)
class LoadScript:
    """`SCRIPT LOAD` of `APPEND_SCRIPT`, sent before the first append on a connection (commands on it
    run in order, so the appends after it find the script)."""

    command: tuple[str | bytes | int, ...] = ("SCRIPT", "LOAD", APPEND_SCRIPT)

    def completed(self, result: Any) -> None:
        if isinstance(result, ResponseError):  # a lost connection is the link's business
            log.error("redis bus: loading the append script failed: %s", result)

    def failed(self) -> None:
        """The appends after it fail too, and are reported."""


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
        on_catch_up: Callable[[], None] | None = None,
    ) -> None:
        self._link = link
        self._node = node_id
        self._node_bytes = node_id.encode()
        # How a log message of this node's own change starts: the lengths of its first fields (node,
        # kind) and those fields (`APPEND_SCRIPT`), so that `_on_entry` skips it without reading it.
        self._own_lengths = [b"1", b"%d" % len(self._node_bytes), b"1", b"1"]
        self._own_update = b"n" + self._node_bytes + b"k" + _UPDATE
        self._prefix = prefix
        self._maxlen = maxlen
        self._writer = link.command_writer("bus", limit=queue_limit, batch=512)
        self._followed: dict[str, _Followed] = {}
        self._nodes: dict[bytes, str] = {}  # decoded node names, so that a read does not decode each
        self._listener: BusListener | None = None
        self._behind: dict[str, None] = {}  # rooms to catch up, in the order they fell behind
        self._script_sent = False
        self._on_catch_up = on_catch_up  # told each time a room starts catching up (a metric)
        self._changed = asyncio.Event()
        self._holders_renewed = 0.0  # monotonic time of the last renewal of the holders hashes' expiry
        self._context_fields = {name.encode(): name for name in context_fields()}
        link.on_check(self._on_check)
        link.on_connected(self._on_connected)
        link.on_close(self._on_close)
        link.run("bus-catch-up", self._catch_up)

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

    def _log_channel(self, room: str) -> str:
        return f"{self._prefix}:log:{LOG_FORMAT}:{room}"

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
        # Subscribed before the stream is read, so that no entry falls between the two; messages that
        # come meanwhile are held back (`catching`) and caught up after the backlog if it lacks them.
        followed = self._followed[room] = _Followed()
        try:
            await self._subscribe(room)  # registers the channels for the reconnection, or raises
            entries: Any = await self._link.raw_command("XRANGE", self._stream(room), "-", "+")
            async with self._link.client.pipeline(transaction=False) as pipe:
                pipe.hset(self._holders(room), self._node, b"1")
                pipe.pexpire(self._holders(room), HOLDERS_TTL_MS)
                await pipe.execute()
        except DOWN as exc:
            self._link.lost(exc)
            self._fell_behind(room)
            raise BusUnavailable("redis is unreachable") from exc
        except BusUnavailable:
            self._fell_behind(room)
            raise
        if entries:
            followed.last = entries[-1][0]
        self._caught_up(room, followed)
        return [m for m in (self._decode(entry, fields) for entry, fields in entries) if m is not None]

    async def _subscribe(self, room: str) -> None:
        """Subscribe the room's channels; each is registered (made again at the reconnection) even when
        Redis is away, which raises `BusUnavailable` after both."""
        unavailable: LinkUnavailable | None = None
        for channel, handler in (
            (self._log_channel(room), functools.partial(self._on_entry, room)),
            (self._channel(room), functools.partial(self._on_awareness, room)),
        ):
            try:
                await self._link.subscribe(channel, handler)
            except LinkUnavailable as exc:
                unavailable = exc
        if unavailable is not None:
            raise BusUnavailable("redis is unreachable") from unavailable

    async def unfollow(self, room: str) -> None:
        self._followed.pop(room, None)
        self._behind.pop(room, None)
        self._link.unsubscribe(self._log_channel(room))
        self._link.unsubscribe(self._channel(room))
        if self._link.connected:
            try:
                await self._link.client.hdel(self._holders(room), self._node)
            except DOWN as exc:
                self._link.lost(exc)

    def append(self, room: str, message: BusMessage, done: Done | None = None) -> None:
        command: tuple[str | bytes | int, ...] = (
            "EVALSHA",
            APPEND_SHA,
            1,
            self._stream(room),
            self._maxlen,
            self._log_channel(room),
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
        if not self._script_sent:
            self._script_sent = True
            self._put(LoadScript())
        self._put(Append(command, done, self))

    def broadcast(self, room: str, message: BusMessage) -> None:
        data = self._node_bytes + b"\x00" + message.kind.value.encode() + message.payload
        self._put(Broadcast(self._channel(room), data))

    def script_missing(self, error: ResponseError) -> None:
        """Redis lost the append script (flushed, or another server behind the same address without the
        connection dropping): the link reconnects and the room resynchronizes (its append failed)."""
        self._script_sent = False
        self._link.lost(error)

    def _put(self, op: Append | Broadcast | LoadScript) -> None:
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
        conn = self._link.command_connection
        if reconnecting and conn is not None:
            # A new connection, perhaps to a restarted server without the script: load it before the
            # writer sends anything on it (it sends only once the link is connected, after this check).
            load = LoadScript()
            conn.send([load.command], [load.completed])
            self._script_sent = True
        self._check_tails()
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(self._alive(self._node), b"1", px=ALIVE_MS)
            renew = reconnecting or time.monotonic() - self._holders_renewed >= HOLDERS_RENEW_SECONDS
            for room in self._followed:
                if reconnecting:  # the server may have lost our entries
                    pipe.hset(self._holders(room), self._node, b"1")
                if renew:
                    pipe.pexpire(self._holders(room), HOLDERS_TTL_MS)
            await pipe.execute()
        if renew:
            self._holders_renewed = time.monotonic()

    def _on_connected(self, event: Connected) -> None:
        self._changed.set()
        if not event.resumed:
            return
        for room, followed in self._followed.items():
            if event.restarted:
                followed.last = b"0-0"  # the streams were lost with the server: read new ones from their start
            self._fell_behind(room)  # messages were missed meanwhile: read them from the stream
        # Appends may have failed meanwhile too: resync.
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
            mapped = _field_map(fields)
            node, kind, payload = mapped[b"n"], mapped[b"k"], mapped[b"p"]
        except (KeyError, TypeError):
            log.warning("redis bus: ignoring a malformed stream entry")
            return None
        return self._message(entry, node, kind, payload)

    def _message(self, entry: bytes, node: bytes, kind: bytes, payload: bytes) -> BusMessage | None:
        try:
            # A stream entry's ID starts with the server's time in milliseconds: when the log took it.
            sent_at = int(entry.partition(b"-")[0]) / 1000
            return BusMessage(self._nodes.get(node) or self._node_name(node), _KINDS[kind], payload, sent_at)
        except (KeyError, ValueError, UnicodeDecodeError):
            log.warning("redis bus: ignoring a malformed stream entry")
            return None

    def _node_name(self, node: bytes) -> str:
        name = node.decode()
        if len(self._nodes) < _MAX_NODE_NAMES:
            self._nodes[node] = name
        return name

    def _on_entry(self, room: str, data: bytes) -> None:
        """A message of a room's log channel: deliver it if it follows the last entry delivered, else
        catch up from the stream. The head line is read first: this node's own entries (a third of
        them on three nodes) are skipped without reading their fields."""
        followed = self._followed.get(room)
        if followed is None:
            return
        head, newline, body = data.partition(b"\n")
        items = head.split(b" ")
        if not newline or len(items) < 2:
            self._malformed(room)
            return
        previous, entry = items[0], items[1]
        if followed.catching:
            followed.beyond = entry
            return
        if previous != followed.last:
            try:
                later = _after(entry, followed.last)
            except ValueError:
                self._malformed(room)
                return
            if not later:
                return  # delivered already (by a catch-up)
            followed.beyond = entry
            self._fell_behind(room)
            return
        ms, dash, seq = entry.partition(b"-")
        if not (dash and ms.isdigit() and seq.isdigit()):  # an ID this node could not read the stream after
            self._malformed(room)
            return
        if items[2:6] == self._own_lengths and body.startswith(self._own_update):
            followed.last = entry
            return  # this node's own change, as it appended it: its listener has it already
        usual = _usual_update(items, body)
        if usual is not None:  # a change, no trace context
            followed.last = entry
            self._deliver_update(room, usual[0], usual[1], int(ms) / 1000)
            return
        try:
            fields = _split_fields(items[2:], body)
        except ValueError:
            self._malformed(room)
            return
        followed.last = entry
        if len(fields) == 6 and fields[0] == b"n" and fields[2] == b"k" and fields[4] == b"p":
            message = self._message(entry, fields[1], fields[3], fields[5])
            if message is not None and self._listener is not None:
                self._deliver(room, [message])
            return
        self._deliver_entries(room, [(entry, fields)])

    def _malformed(self, room: str) -> None:
        """A log message this node cannot read: read the room's stream instead (it has the entries as
        they were written)."""
        log.warning("redis bus: a malformed log message of room %r; reading the stream", room)
        self._fell_behind(room)

    def _check_tails(self) -> None:
        """Ask for each room's last stream entry; a room whose last entry was not delivered here
        catches up (the replies come on the command connection, without waiting for them here)."""
        conn = self._link.command_connection
        rooms = [room for room, followed in self._followed.items() if not followed.catching]
        if conn is None or not rooms:
            return
        conn.send(
            [("XREVRANGE", self._stream(room), "+", "-", "COUNT", 1) for room in rooms],
            [functools.partial(self._on_tail, room) for room in rooms],
        )

    def _on_tail(self, room: str, reply: Any) -> None:
        followed = self._followed.get(room)
        if isinstance(reply, Exception) or not reply or followed is None or followed.catching:
            return  # a lost connection is handled by the link; an empty stream has nothing to read
        try:
            behind = _after(reply[0][0], followed.last)
        except (ValueError, IndexError, TypeError):
            log.warning("redis bus: an unexpected reply for the tail of room %r", room)
            return
        if behind:
            self._fell_behind(room)

    def _fell_behind(self, room: str) -> None:
        followed = self._followed.get(room)
        if followed is None:
            return
        if not followed.catching and self._on_catch_up is not None:
            self._on_catch_up()
        followed.catching = True
        self._behind[room] = None
        self._changed.set()

    def _caught_up(self, room: str, followed: _Followed) -> None:
        """A room's stream was read up to `followed.last`: take messages again, or read on if one
        came meanwhile for a later entry."""
        beyond, followed.beyond = followed.beyond, None
        if beyond is not None and _after(beyond, followed.last):
            self._fell_behind(room)
            return
        followed.catching = False
        self._behind.pop(room, None)

    async def _catch_up(self) -> None:
        """Read the stream of every room that fell behind, from its last delivered entry, in order."""
        while True:
            if not self._link.connected or not self._behind:
                self._changed.clear()
                await self._changed.wait()
                continue
            room = next(iter(self._behind))
            followed = self._followed.get(room)
            if followed is None:
                self._behind.pop(room, None)
                continue
            start = followed.last
            try:
                entries: Any = await self._link.raw_command(
                    "XRANGE", self._stream(room), b"(" + start, "+", "COUNT", CATCH_UP_COUNT
                )
            except DOWN as exc:
                self._link.lost(exc)
                continue
            except RedisError:
                log.exception("redis bus: reading the stream of room %r failed", room)
                await asyncio.sleep(0.5)
                continue
            if self._followed.get(room) is not followed or followed.last != start:
                continue  # unfollowed, or reset by a reconnection meanwhile: read again
            if entries:
                followed.last = entries[-1][0]
                self._deliver_entries(room, entries)
            if len(entries) < CATCH_UP_COUNT:
                self._caught_up(room, followed)

    def _deliver_entries(self, room: str, entries: list[Any]) -> None:
        """Entries of a room's stream, in order: `(ID, fields)` with the fields as a flat list."""
        if self._listener is None:
            return
        if tracing_enabled():
            self._deliver_traced(room, entries)
            return
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

    def _deliver_update(self, room: str, node: bytes, payload: bytes, sent_at: float) -> None:
        """One change of another node, handed to the listener without a message list around it."""
        listener = self._listener
        if listener is None:
            return
        try:
            name = self._nodes.get(node) or self._node_name(node)
        except UnicodeDecodeError:
            log.warning("redis bus: ignoring a malformed stream entry")
            return
        try:
            listener.on_update(room, name, payload, sent_at)
        except Exception:
            log.exception("redis bus: handling messages of room %r failed", room)

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


def _usual_update(items: list[bytes], body: bytes) -> tuple[bytes, bytes] | None:
    """The node and payload of the usual log message — fields `n`, `k` (an update) and `p`, nothing
    else — read with the head line's lengths (`items`: the head line split) without splitting every
    field; None for any other message (including one whose lengths do not add up)."""
    if len(items) != 8 or items[2] != b"1" or items[4] != b"1" or items[5] != b"1" or items[6] != b"1":
        return None
    node_length, payload_length = items[3], items[7]
    if not (node_length.isdigit() and payload_length.isdigit()):
        return None
    kind_at = int(node_length) + 1  # after `n` and the node
    if len(body) != kind_at + 3 + int(payload_length) or body[:1] != b"n" or body[kind_at : kind_at + 3] != _USUAL_KIND:
        return None
    return body[1:kind_at], body[kind_at + 3 :]


def _split_fields(lengths: list[bytes], body: bytes) -> list[bytes]:
    """A log message's fields and values (see `APPEND_SCRIPT`) from their lengths (the head line's
    items after the two IDs) and the body. Raises `ValueError` if the lengths do not add up."""
    fields: list[bytes] = []
    at = 0
    for length in lengths:
        stop = at + int(length)
        fields.append(body[at:stop])
        at = stop
    if at != len(body):
        raise ValueError("the lengths do not add up to the message")
    return fields


def _after(entry: bytes, other: bytes) -> bool:
    """Whether stream entry ID `entry` comes after `other` (IDs are `<milliseconds>-<sequence>`)."""
    ms, _, seq = entry.partition(b"-")
    other_ms, _, other_seq = other.partition(b"-")
    return (int(ms), int(seq or 0)) > (int(other_ms), int(other_seq or 0))
