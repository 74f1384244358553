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
a listener task reads the room channels; a monitor task runs the heartbeat and reconnects. Nothing
blocks the event loop while Redis is away: joins are refused (1013), relays across nodes answer
`unavailable`, and calls in progress keep working peer to peer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import metrics
from .backplane import BackplaneListener, RoomEvent
from .errors import BackplaneUnavailable, RelayUnavailable, RoomFull
from .peer import PeerInfo

log = logging.getLogger("signaling.redis")
# A lost or reset connection as redis-py reports it; under uvloop also a bare RuntimeError when
# writing to a transport closed underneath it.
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError, RuntimeError)

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

OpKind = Literal["join", "publish", "hset", "hdel", "sync", "beat"]
JOIN_TIMEOUT_SECONDS = 5.0


@dataclass
class _Op:
    kind: OpKind
    room: str = ""
    data: bytes = b""
    peer_id: str = ""
    peers: list[PeerInfo] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    limit: int = 0
    result: asyncio.Future[Any] | None = None


class RedisBackplane:
    """`Backplane` over Redis (see module doc); an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        node_id: str,
        prefix: str = "pocdojo",
        heartbeat_seconds: float = 1.0,
        node_ttl_seconds: float = 4.0,
        queue_limit: int = 10_000,
    ) -> None:
        if node_ttl_seconds <= 2 * heartbeat_seconds:
            raise ValueError("the node TTL must exceed two heartbeats")
        self.node_id = node_id
        self._url = url
        self._prefix = prefix
        self._heartbeat = heartbeat_seconds
        self._node_ttl_ms = int(node_ttl_seconds * 1000)
        self._room_ttl_ms = max(60_000, 10 * self._node_ttl_ms)
        self._queue: asyncio.Queue[_Op] = asyncio.Queue(queue_limit)
        self._watched: set[str] = set()
        self._listener: BackplaneListener | None = None
        self._connected = False
        self._down = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._scripts: dict[str, Any] = {}

    # -- names -----------------------------------------------------------------------------------------
    def _room_key(self, room: str) -> str:
        return f"{self._prefix}:{{sig}}:room:{room}"

    @property
    def _nodes_key(self) -> str:
        return f"{self._prefix}:{{sig}}:nodes"

    def _channel(self, room: str) -> str:
        return f"{self._prefix}:sig:room:{room}"

    @property
    def _node_channel(self) -> str:
        return f"{self._prefix}:sig:node:{self.node_id}"

    @property
    def connected(self) -> bool:
        return self._connected

    # -- Backplane ---------------------------------------------------------------------------------------
    def set_listener(self, listener: BackplaneListener) -> None:
        self._listener = listener

    async def watch(self, room: str) -> None:
        self._watched.add(room)
        if not self._connected:
            raise BackplaneUnavailable("the signaling registry (Redis) is unreachable; retry shortly")
        try:
            await self._pubsub.subscribe(self._channel(room))
        except _DOWN as exc:
            self._lost(exc)
            raise BackplaneUnavailable("the signaling registry (Redis) is unreachable; retry shortly") from exc

    def unwatch(self, room: str) -> None:
        self._watched.discard(room)
        if self._connected:
            task = asyncio.get_running_loop().create_task(self._unsubscribe(room), name="signal-unsubscribe")
            task.add_done_callback(self._tasks_done)

    async def _unsubscribe(self, room: str) -> None:
        if room in self._watched:  # watched again meanwhile
            return
        try:
            await self._pubsub.unsubscribe(self._channel(room))
        except _DOWN as exc:
            self._lost(exc)

    @staticmethod
    def _tasks_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("signaling: unsubscribing failed", exc_info=task.exception())

    async def join(self, room: str, peer: PeerInfo, limit: int) -> list[PeerInfo]:
        # Through the writer, in order with the heartbeat's syncs: a sync queued before this join
        # cannot drop the new entry as stale, one queued after it knows the peer is joining.
        unavailable = "the signaling registry (Redis) is unreachable; retry shortly"
        if not self._connected:
            raise BackplaneUnavailable(unavailable)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Op("join", room, peer.to_json(), peer.peer_id, limit=limit, result=done))
            result = await asyncio.wait_for(done, JOIN_TIMEOUT_SECONDS)
        except (asyncio.QueueFull, TimeoutError) as exc:
            raise BackplaneUnavailable(unavailable) from exc
        admitted, live, reaped = int(result[0]), self._infos(result[1]), self._infos(result[2])
        self._reaped(room, reaped)
        if not admitted:
            raise RoomFull(f"room is full ({limit} peers)")
        return live

    def leave(self, room: str, peer: PeerInfo) -> None:
        self._enqueue(_Op("hdel", room, peer_id=peer.peer_id), required=False)

    def update(self, room: str, peer: PeerInfo) -> None:
        self._enqueue(_Op("hset", room, peer.to_json(), peer.peer_id), required=False)

    def publish(self, room: str, event: RoomEvent) -> None:
        self._enqueue(_Op("publish", room, event.encode()), required=True)

    def _enqueue(self, op: _Op, *, required: bool) -> None:
        """Queue an operation for the writer. When Redis is away a registry write is skipped (the
        heartbeat re-registers what is missing); a publish raises `RelayUnavailable`."""
        if not self._connected:
            if required:
                raise RelayUnavailable("the peer is on another node and the signaling bus (Redis) is unreachable")
            return
        try:
            self._queue.put_nowait(op)
        except asyncio.QueueFull as exc:
            log.warning("signaling: the Redis queue is full; refusing %s", op.kind)
            if required:
                raise RelayUnavailable("the signaling bus is overloaded; retry") from exc

    async def ping(self) -> None:
        if not self._connected or self._client is None:
            raise BackplaneUnavailable("redis is unreachable")
        await self._client.ping()

    # -- lifecycle --------------------------------------------------------------------------------------
    async def __aenter__(self) -> RedisBackplane:
        self._client = aioredis.Redis.from_url(
            self._url,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=0,
            retry_on_timeout=False,
        )
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._scripts = {
            "join": self._client.register_script(JOIN_LUA),
            "sync": self._client.register_script(SYNC_LUA),
            "beat": self._client.register_script(BEAT_LUA),
        }
        await self._check()
        loop = asyncio.get_running_loop()
        for name, job in (("writer", self._write), ("listener", self._listen), ("monitor", self._monitor)):
            self._tasks.append(loop.create_task(self._supervise(name, job), name=f"signal-redis-{name}"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Ordered: let queued writes (the last peers' removals) go out briefly, forget this node
        # (so others reap anything left at once), then stop the tasks and close the connections.
        try:
            async with asyncio.timeout(2.0):
                while not self._queue.empty() and self._connected:  # noqa: ASYNC110 - a queue has no drained event
                    await asyncio.sleep(0.01)
        except TimeoutError:
            log.warning("signaling: %d Redis operations not sent at shutdown", self._queue.qsize())
        if self._connected and self._client is not None:
            try:
                await self._client.hdel(self._nodes_key, self.node_id)
            except _DOWN as error:
                log.warning("signaling: could not deregister this node (%s)", type(error).__name__)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                log.debug("signaling task %s stopped", task.get_name())
        self._tasks.clear()
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._client is not None:
            await self._client.aclose()

    async def _supervise(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run a loop forever: an unexpected error is logged, the connection treated as lost, and
        the loop starts again — it never dies silently."""
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("signaling: the Redis %s loop failed; restarting it", name)
                self._lost(exc)
                await asyncio.sleep(0.2)

    # -- internals ---------------------------------------------------------------------------------------
    @staticmethod
    def _infos(entries: Any) -> list[PeerInfo]:
        return [p for p in (PeerInfo.from_json(e) for e in entries or []) if p is not None]

    def _lost(self, exc: BaseException) -> None:
        if self._connected:
            log.warning("signaling: Redis connection lost (%s); calls continue peer to peer", type(exc).__name__)
        self._connected = False
        self._down.set()

    async def _check(self) -> None:
        """Ping Redis; on (re)connection resubscribe to the node's and the watched rooms' channels."""
        if self._client is None:
            return
        try:
            await self._client.ping()
            await self._pubsub.subscribe(self._node_channel, *(self._channel(r) for r in self._watched))
        except _DOWN as exc:
            self._lost(exc)
            return
        if not self._connected:
            log.info("signaling: connected to Redis")
        self._connected = True
        self._down.clear()

    async def _monitor(self) -> None:
        """The heartbeat: refresh this node, reap and reconcile the rooms it serves; reconnect."""
        while True:
            if self._connected:
                self._queue_heartbeat()
                try:
                    await asyncio.wait_for(self._down.wait(), self._heartbeat)
                except TimeoutError:
                    log.debug("signaling: heartbeat")
            else:
                await self._check()
                if not self._connected:
                    await asyncio.sleep(0.2)

    def _queue_heartbeat(self) -> None:
        listener = self._listener
        ops = [_Op("beat")]
        for room in sorted(self._watched):
            peers = listener.local_infos(room) if listener is not None else []
            keep = sorted(listener.local_peer_ids(room)) if listener is not None else []
            ops.append(_Op("sync", room, peers=peers, keep=keep))
        for op in ops:
            try:
                self._queue.put_nowait(op)
            except asyncio.QueueFull:
                log.warning("signaling: the Redis queue is full; skipping a heartbeat")
                return

    async def _write(self) -> None:
        client = self._client
        assert client is not None
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < 256 and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if not self._connected:
                self._fail(batch)  # registry writes are redone by the heartbeat; relays already answered
                continue
            pipe = client.pipeline(transaction=False)
            try:
                for op in batch:
                    await self._add(pipe, op)
                results = await pipe.execute(raise_on_error=False)
            except _DOWN as exc:
                self._lost(exc)
                self._fail(batch)
                continue
            except BaseException:
                self._fail(batch)
                raise
            for op, result in zip(batch, results, strict=True):
                if op.result is not None:
                    if isinstance(result, Exception):
                        op.result.set_exception(BackplaneUnavailable(f"the signaling registry failed: {result}"))
                    elif not op.result.done():
                        op.result.set_result(result)
                elif isinstance(result, Exception):
                    log.warning("signaling: Redis %s failed: %s", op.kind, result)
                elif op.kind == "sync":
                    self._synced(op, result)

    @staticmethod
    def _fail(batch: list[_Op]) -> None:
        for op in batch:
            if op.result is not None and not op.result.done():
                op.result.set_exception(BackplaneUnavailable("the signaling registry (Redis) is unreachable"))

    async def _add(self, pipe: Any, op: _Op) -> None:
        if op.kind == "publish":
            pipe.publish(self._channel(op.room), op.data)
        elif op.kind == "hset":
            pipe.hset(self._room_key(op.room), op.peer_id, op.data)
        elif op.kind == "hdel":
            pipe.hdel(self._room_key(op.room), op.peer_id)
        elif op.kind == "join":
            await self._scripts["join"](
                keys=[self._room_key(op.room), self._nodes_key],
                args=[self.node_id, self._node_ttl_ms, self._room_ttl_ms, op.peer_id, op.data, op.limit],
                client=pipe,
            )
        elif op.kind == "beat":
            # With a pipeline the script call only queues EVALSHA (redis-py loads it on execute).
            await self._scripts["beat"](keys=[self._nodes_key], args=[self.node_id, self._node_ttl_ms], client=pipe)
        else:
            args: list[Any] = [self.node_id, self._node_ttl_ms, self._room_ttl_ms, orjson.dumps(op.keep)]
            for peer in op.peers:
                args += [peer.peer_id, peer.to_json()]
            await self._scripts["sync"](keys=[self._room_key(op.room), self._nodes_key], args=args, client=pipe)

    def _synced(self, op: _Op, result: Any) -> None:
        live, reaped, added = self._infos(result[0]), self._infos(result[1]), self._infos(result[2])
        for stale in self._infos(result[3]):
            # A peer of ours that left while Redis was away: its removal never reached the registry.
            log.info("signaling: removed stale peer %s of room %s", stale.peer_id, op.room)
        self._reaped(op.room, reaped)
        for peer in added:
            # This node's peer had vanished from the registry (Redis restarted, or this node was
            # cut off and reaped): announce it again.
            log.info("signaling: re-registered peer %s of room %s", peer.peer_id, op.room)
            self._send(op.room, RoomEvent("joined", self.node_id, peer))
        listener = self._listener
        if listener is not None and op.room in self._watched:
            try:
                listener.on_registry(op.room, live + added)
            except Exception:
                log.exception("signaling: reconciling room %r failed", op.room)

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

    async def _listen(self) -> None:
        prefix = len(self._channel(""))
        while True:
            if not self._connected:
                await asyncio.sleep(0.1)
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except _DOWN as exc:
                self._lost(exc)
                await asyncio.sleep(0.1)
                continue
            except RedisError:
                log.exception("signaling: reading pub/sub failed")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel: bytes = message["channel"]
            room = channel.decode()[prefix:]
            if room not in self._watched or self._listener is None:
                continue
            event = RoomEvent.decode(message["data"])
            if event is None or event.origin == self.node_id:
                continue  # our own events were applied when they happened
            self._notify(room, event)
