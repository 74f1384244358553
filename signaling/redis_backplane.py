"""The cluster backplane over Redis: a registry hash per room, a heartbeat per node, pub/sub per room.

Keys (all under the hash tag `{sig}`, so the scripts touch one slot even on a clustered Redis):

- `pocdojo:{sig}:room:<room>` — hash: peer id → `PeerInfo` JSON (with its node). Expires when no
  node refreshes it.
- `pocdojo:{sig}:nodes` — hash: node id → the time (ms, Redis clock) its heartbeat lapses.
- channel `pocdojo:sig:room:<room>` — the room's events (joined/left/state/relay), JSON with their
  origin node; nodes with peers in the room subscribe to it.

Joining is one Lua script: it drops the entries of nodes whose heartbeat lapsed (reporting them, so
`peer-left` goes out), counts the live peers and registers the new one only below the cap — the cap
is cluster-wide and race-free. Every `heartbeat` seconds each node refreshes its own heartbeat and,
per room it serves, runs the same reaping, re-registers its peers if they went missing (Redis
restarted, or the node was cut off long enough to be reaped) and reconciles its view of the room
with the registry (pub/sub is at-most-once). One writer task sends everything in order, pipelined;
the link's listener delivers the room channels; a heartbeat task queues the beat and the syncs.
Connection, health, reconnection and the ordered close belong to the `RedisLink` this backplane is
a client of (`runtime.redis_link`). Nothing blocks the event loop while Redis is away: joins are
refused (1013), relays across nodes answer `unavailable`, and calls in progress keep working peer
to peer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio.client import Pipeline

from runtime.redis_link import LinkOverloaded, LinkUnavailable, RedisLink

from . import metrics
from .backplane import BackplaneListener, RoomEvent
from .errors import BackplaneUnavailable, RelayUnavailable, RoomFull
from .peer import PeerInfo

log = logging.getLogger("signaling.redis")
UNAVAILABLE = "the signaling registry (Redis) is unreachable; retry shortly"

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
_REAP = """
local function reap(room, nodes, now)
  local entries = redis.call('HGETALL', room)
  local live, reaped = {}, {}
  for i = 1, #entries, 2 do
    local ok, entry = pcall(cjson.decode, entries[i + 1])
    local alive = false
    if ok and type(entry) == 'table' and type(entry['node']) == 'string' then
      local expiry = redis.call('HGET', nodes, entry['node'])
      if expiry then
        expiry = tonumber(expiry)
        alive = expiry ~= nil and expiry > now
      end
    end
    if alive then
      live[#live + 1] = entries[i + 1]
    else
      redis.call('HDEL', room, entries[i])
      reaped[#reaped + 1] = entries[i + 1]
    end
  end
  return live, reaped
end
"""
# KEYS: room, nodes. ARGV: node, node_ttl_ms, room_ttl_ms, peer_id, entry, limit.
JOIN_LUA = (
    _REAP
    + _NOW
    + """
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
local live, reaped = reap(KEYS[1], KEYS[2], now)
if #live >= tonumber(ARGV[6]) then
  return {0, live, reaped}
end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, live, reaped}
"""
)
# KEYS: room, nodes. ARGV: node, node_ttl_ms, room_ttl_ms, JSON list of the ids of the node's peers that
# may be registered (its peers and those joining), then peer_id, entry pairs of the node's peers.
SYNC_LUA = (
    _REAP
    + _NOW
    + """
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
local live, reaped = reap(KEYS[1], KEYS[2], now)
local keep = {}
for _, id in ipairs(cjson.decode(ARGV[4])) do
  keep[id] = true
end
local current, stale = {}, {}
for _, value in ipairs(live) do
  local entry = cjson.decode(value)
  if entry['node'] == ARGV[1] and not keep[entry['peer_id']] then
    redis.call('HDEL', KEYS[1], entry['peer_id'])
    stale[#stale + 1] = value
  else
    current[#current + 1] = value
  end
end
local added = {}
for i = 5, #ARGV, 2 do
  if redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    added[#added + 1] = ARGV[i + 1]
  end
end
if #ARGV >= 5 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {current, reaped, added, stale}
"""
)
# KEYS: nodes. ARGV: node, node_ttl_ms. Also forgets nodes dead for over an hour.
BEAT_LUA = (
    _NOW
    + """
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local expiry = tonumber(all[i + 1])
  if expiry == nil or expiry < now - 3600000 then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return 1
"""
)

JOIN_TIMEOUT_SECONDS = 5.0
Script = Any
"""A registered Lua script (redis-py's `AsyncScript`): called with `keys`, `args` and `client`."""


@dataclass(frozen=True, slots=True)
class Publish:
    """A room event for the room's channel."""

    channel: str
    data: bytes

    async def queue(self, pipe: Pipeline) -> None:
        pipe.publish(self.channel, self.data)

    def completed(self, result: Any) -> None:
        if isinstance(result, Exception):
            log.warning("signaling: Redis publish failed: %s", result)

    def failed(self) -> None:
        """Relays were already answered; registry changes are redone by the heartbeat."""


@dataclass(frozen=True, slots=True)
class SetPeer:
    """Register (or update) a peer in the room's registry."""

    key: str
    peer_id: str
    entry: bytes

    async def queue(self, pipe: Pipeline) -> None:
        pipe.hset(self.key, self.peer_id, self.entry)

    def completed(self, result: Any) -> None:
        if isinstance(result, Exception):
            log.warning("signaling: Redis hset failed: %s", result)

    def failed(self) -> None:
        """Redone by the heartbeat's sync."""


@dataclass(frozen=True, slots=True)
class RemovePeer:
    """Remove a peer from the room's registry."""

    key: str
    peer_id: str

    async def queue(self, pipe: Pipeline) -> None:
        pipe.hdel(self.key, self.peer_id)

    def completed(self, result: Any) -> None:
        if isinstance(result, Exception):
            log.warning("signaling: Redis hdel failed: %s", result)

    def failed(self) -> None:
        """Redone by the heartbeat's sync (it removes this node's stale peers)."""


@dataclass(frozen=True, slots=True)
class Join:
    """Admit a peer below the cap (`JOIN_LUA`); `result` gets `[admitted, live, reaped]`."""

    script: Script
    keys: list[str]
    args: list[Any]
    result: asyncio.Future[Any]

    async def queue(self, pipe: Pipeline) -> None:
        # With a pipeline the script call only queues EVALSHA (redis-py loads it on execute).
        await self.script(keys=self.keys, args=self.args, client=pipe)

    def completed(self, result: Any) -> None:
        if self.result.done():
            return
        if isinstance(result, Exception):
            self.result.set_exception(BackplaneUnavailable(f"the signaling registry failed: {result}"))
        else:
            self.result.set_result(result)

    def failed(self) -> None:
        if not self.result.done():
            self.result.set_exception(BackplaneUnavailable("the signaling registry (Redis) is unreachable"))


@dataclass(frozen=True, slots=True)
class Beat:
    """Refresh this node's heartbeat (`BEAT_LUA`)."""

    script: Script
    keys: list[str]
    args: list[Any]

    async def queue(self, pipe: Pipeline) -> None:
        await self.script(keys=self.keys, args=self.args, client=pipe)

    def completed(self, result: Any) -> None:
        if isinstance(result, Exception):
            log.warning("signaling: Redis beat failed: %s", result)

    def failed(self) -> None:
        """The next heartbeat tries again."""


@dataclass(frozen=True, slots=True)
class Sync:
    """Reap and reconcile one room (`SYNC_LUA`); `synced` gets `[current, reaped, added, stale]`."""

    room: str
    script: Script
    keys: list[str]
    args: list[Any]
    synced: Callable[[str, Any], None]

    async def queue(self, pipe: Pipeline) -> None:
        await self.script(keys=self.keys, args=self.args, client=pipe)

    def completed(self, result: Any) -> None:
        if isinstance(result, Exception):
            log.warning("signaling: Redis sync failed: %s", result)
        else:
            self.synced(self.room, result)

    def failed(self) -> None:
        """The next heartbeat tries again."""


Op = Publish | SetPeer | RemovePeer | Join | Beat | Sync


class RedisBackplane:
    """`Backplane` over a `RedisLink` (see module doc); an async context manager that runs the heartbeat
    and, on exit, sends what is queued and deregisters this node (the link itself is closed by its owner)."""

    def __init__(
        self,
        link: RedisLink,
        *,
        node_id: str,
        prefix: str = "pocdojo",
        heartbeat_seconds: float = 1.0,
        node_ttl_seconds: float = 4.0,
        queue_limit: int = 10_000,
        drain_seconds: float = 2.0,
    ) -> None:
        if node_ttl_seconds <= 2 * heartbeat_seconds:
            raise ValueError("the node TTL must exceed two heartbeats")
        self.node_id = node_id
        self._link = link
        self._prefix = prefix
        self._heartbeat = heartbeat_seconds
        self._drain_seconds = drain_seconds
        self._node_ttl_ms = int(node_ttl_seconds * 1000)
        self._room_ttl_ms = max(60_000, 10 * self._node_ttl_ms)
        self._writer = link.writer("signaling", limit=queue_limit, batch=256)
        self._watched: set[str] = set()
        self._listener: BackplaneListener | None = None
        self._stopping = asyncio.Event()
        self._scripts: dict[str, Script] = {}

    # -- names -----------------------------------------------------------------------------------------
    def _room_key(self, room: str) -> str:
        return f"{self._prefix}:{{sig}}:room:{room}"

    @property
    def _nodes_key(self) -> str:
        return f"{self._prefix}:{{sig}}:nodes"

    def _channel(self, room: str) -> str:
        return f"{self._prefix}:sig:room:{room}"

    @property
    def connected(self) -> bool:
        return self._link.connected

    # -- Backplane ---------------------------------------------------------------------------------------
    def set_listener(self, listener: BackplaneListener) -> None:
        self._listener = listener

    async def watch(self, room: str) -> None:
        self._watched.add(room)
        try:
            await self._link.subscribe(self._channel(room), lambda data: self._on_message(room, data))
        except LinkUnavailable as exc:
            raise BackplaneUnavailable(UNAVAILABLE) from exc

    def unwatch(self, room: str) -> None:
        self._watched.discard(room)
        self._link.unsubscribe(self._channel(room))

    async def join(self, room: str, peer: PeerInfo, limit: int) -> list[PeerInfo]:
        # Through the writer, in order with the heartbeat's syncs: a sync queued before this join
        # cannot drop the new entry as stale, one queued after it knows the peer is joining.
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        args = [self.node_id, self._node_ttl_ms, self._room_ttl_ms, peer.peer_id, peer.to_json(), limit]
        try:
            self._writer.put(Join(self._scripts["join"], [self._room_key(room), self._nodes_key], args, done))
            result = await asyncio.wait_for(done, JOIN_TIMEOUT_SECONDS)
        except (LinkUnavailable, LinkOverloaded, TimeoutError) as exc:
            raise BackplaneUnavailable(UNAVAILABLE) from exc
        admitted, live, reaped = int(result[0]), self._infos(result[1]), self._infos(result[2])
        self._reaped(room, reaped)
        if not admitted:
            raise RoomFull(f"room is full ({limit} peers)")
        return live

    def leave(self, room: str, peer: PeerInfo) -> None:
        self._enqueue(RemovePeer(self._room_key(room), peer.peer_id), required=False)

    def update(self, room: str, peer: PeerInfo) -> None:
        self._enqueue(SetPeer(self._room_key(room), peer.peer_id, peer.to_json()), required=False)

    def publish(self, room: str, event: RoomEvent) -> None:
        self._enqueue(Publish(self._channel(room), event.encode()), required=True)

    def _enqueue(self, op: Op, *, required: bool) -> None:
        """Queue an operation for the writer. When Redis is away a registry write is skipped (the
        heartbeat re-registers what is missing); a publish raises `RelayUnavailable`."""
        try:
            self._writer.put(op)
        except LinkOverloaded as exc:
            log.warning("signaling: the Redis queue is full; refusing %s", type(op).__name__)
            if required:
                raise RelayUnavailable("the signaling bus is overloaded; retry") from exc
        except LinkUnavailable as exc:
            if required:
                raise RelayUnavailable(
                    "the peer is on another node and the signaling bus (Redis) is unreachable"
                ) from exc

    async def ping(self) -> None:
        try:
            await self._link.ping()
        except LinkUnavailable as exc:
            raise BackplaneUnavailable("redis is unreachable") from exc

    # -- lifecycle --------------------------------------------------------------------------------------
    async def __aenter__(self) -> RedisBackplane:
        client = self._link.client
        self._scripts = {
            "join": client.register_script(JOIN_LUA),
            "sync": client.register_script(SYNC_LUA),
            "beat": client.register_script(BEAT_LUA),
        }
        self._link.run("signaling-heartbeat", self._beat_loop)
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Ordered: stop the heartbeat, let queued writes (the last peers' removals) go out briefly,
        # then forget this node (so others reap anything left at once).
        self._stopping.set()
        await self._writer.drain(self._drain_seconds)
        try:
            await self._link.call(lambda client: client.hdel(self._nodes_key, self.node_id))
        except LinkUnavailable as error:
            log.warning("signaling: could not deregister this node (%s)", error)

    # -- internals ---------------------------------------------------------------------------------------
    @staticmethod
    def _infos(entries: Any) -> list[PeerInfo]:
        return [p for p in (PeerInfo.from_json(e) for e in entries or []) if p is not None]

    async def _beat_loop(self) -> None:
        """The heartbeat: refresh this node, reap and reconcile the rooms it serves."""
        while not self._stopping.is_set():
            if self._link.connected:
                self._queue_heartbeat()
            try:
                await asyncio.wait_for(self._stopping.wait(), self._heartbeat if self._link.connected else 0.2)
            except TimeoutError:
                log.debug("signaling: heartbeat")

    def _queue_heartbeat(self) -> None:
        listener = self._listener
        nodes = self._nodes_key
        ops: list[Op] = [Beat(self._scripts["beat"], [nodes], [self.node_id, self._node_ttl_ms])]
        for room in sorted(self._watched):
            peers = listener.local_infos(room) if listener is not None else []
            keep = sorted(listener.local_peer_ids(room)) if listener is not None else []
            args: list[Any] = [self.node_id, self._node_ttl_ms, self._room_ttl_ms, orjson.dumps(keep)]
            for peer in peers:
                args += [peer.peer_id, peer.to_json()]
            ops.append(Sync(room, self._scripts["sync"], [self._room_key(room), nodes], args, self._synced))
        for op in ops:
            try:
                self._writer.put(op)
            except LinkUnavailable:  # overloaded, or Redis went away meanwhile
                log.warning("signaling: the Redis queue is full or unreachable; skipping a heartbeat")
                return

    def _synced(self, room: str, result: Any) -> None:
        live, reaped, added = self._infos(result[0]), self._infos(result[1]), self._infos(result[2])
        for stale in self._infos(result[3]):
            # A peer of ours that left while Redis was away: its removal never reached the registry.
            log.info("signaling: removed stale peer %s of room %s", stale.peer_id, room)
        self._reaped(room, reaped)
        for peer in added:
            # This node's peer had vanished from the registry (Redis restarted, or this node was
            # cut off and reaped): announce it again.
            log.info("signaling: re-registered peer %s of room %s", peer.peer_id, room)
            self._send(room, RoomEvent("joined", self.node_id, peer))
        listener = self._listener
        if listener is not None and room in self._watched:
            try:
                listener.on_registry(room, live + added)
            except Exception:
                log.exception("signaling: reconciling room %r failed", room)

    def _reaped(self, room: str, reaped: list[PeerInfo]) -> None:
        """Peers of dead nodes found (and removed) here: tell this node's peers and the others."""
        for ghost in reaped:
            metrics.GHOSTS.inc()
            log.info("signaling: removed peer %s of lost node %s from room %s", ghost.peer_id, ghost.node, room)
            event = RoomEvent("left", self.node_id, ghost, reason="node-lost")
            self._notify(room, event)
            self._send(room, event)

    def _send(self, room: str, event: RoomEvent) -> None:
        try:
            self.publish(room, event)
        except RelayUnavailable as exc:
            log.warning("signaling: could not publish a %s event: %s", event.kind, exc)

    def _notify(self, room: str, event: RoomEvent) -> None:
        if self._listener is None:
            return
        try:
            self._listener.on_event(room, event)
        except Exception:
            log.exception("signaling: handling a %s event of room %r failed", event.kind, room)

    def _on_message(self, room: str, data: bytes) -> None:
        if room not in self._watched or self._listener is None:
            return
        event = RoomEvent.decode(data)
        if event is None or event.origin == self.node_id:
            return  # our own events were applied when they happened
        self._notify(room, event)
