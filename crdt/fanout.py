"""Cross-node fan-out: rooms of the same document on several nodes kept in sync through a shared,
replayable log (a `Bus`; the Redis Streams implementation lives with the service).

Theory of operation:
- Every change accepted on this node (from a connection or the server) is appended to the room's
  log, and its delivery to this node's connections — the author's echo included — is held by a
  delivery gate until the log has it. So an edit its author saw echoed is already in the shared
  log: a node that dies next loses nothing. If the log is unreachable the gate lets changes through
  at once (availability first) and the room is marked for resynchronization.
- Changes read from the log are applied with `RemoteOrigin(node)`: they are delivered at once and
  never published again. With a `Keeper` (the persistence extension, told not to store remote
  changes) each change has one writer, its author; the others store it only when its author may not:
  what a loading node finds in the log beyond its store is kept at once, and when an author of
  changes applied here is no longer a live peer (checked every ``owner_check_seconds``), the room's
  whole state is kept. An author that died before storing thus loses nothing: the log and the
  survivors' memory hold its changes, and a survivor stores them.
- Backpressure: while more than ``max_held`` of a room's changes wait in its gate (the log is slow to
  acknowledge), the room stops reading its connections (TCP then slows the senders), and reads again
  once no more than half of that wait. Past saturation a node thus accepts edits only as fast as the
  log takes them, instead of queueing ever more: throughput levels off instead of falling.
- Awareness travels best-effort (pub/sub): a lost presence update is renewed by the client within
  15 s, and removals of closed connections are sent like any other.
- Continuity is checked, not assumed. When the bus reports a gap (a reconnect, a restarted log
  server, a trimmed log), every room publishes its full state and a sync request carrying its state
  vector; each other node answers a request with exactly the updates the requester lacks. A periodic
  anti-entropy round (state vectors only) catches anything else. CRDT updates are idempotent, so
  over-sending is safe and convergence follows.
- Settled reads and seals are fences in the log (:meth:`FanoutExtension.settle`). The node that
  reads appends a FENCE entry and waits for every other live node following the room to answer with
  a FENCE_ACK. A node answers when its log reader reaches the fence — after sealing its own copy if
  the fence seals — and its answer goes through the same ordered writer as its changes, so every
  change it accepted before answering precedes the answer in the log. The reader has applied
  everything before the last answer by the time it reads it: then its copy holds every change
  accepted anywhere before the fence, and after a sealing fence no copy accepts anything more. A node
  that does not answer within ``fence_timeout`` (dead, cut off) is logged and left out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Protocol

from .channel import Origin, Outbound, RemoteOrigin, StorageOrigin
from .errors import CrdtError, ProtocolError
from .extensions import AwarenessEvent, Fence, RoomExtension
from .protocol import AwarenessMessage, decode_message
from .room import Room
from .tasks import LocalTasks, TaskHost

__all__ = ["Bus", "BusListener", "BusMessage", "FanoutExtension", "FanoutObserver", "Keeper", "MessageKind"]

logger = logging.getLogger("crdt.fanout")


class MessageKind(Enum):
    UPDATE = "u"  # a Yjs update (in the log)
    SYNC_REQUEST = "s"  # a state vector: "send me what I lack" (in the log)
    AWARENESS = "a"  # an awareness message body (pub/sub, best effort)
    FENCE = "f"  # a settled read or a seal: a flag byte (1 = seal) and a token (in the log)
    FENCE_ACK = "k"  # a node's answer to a fence: its token (in the log)


@dataclass(frozen=True, slots=True)
class BusMessage:
    node: str
    kind: MessageKind
    payload: bytes
    sent_at: float | None = None
    """When the log took it (Unix time, from the log's clock), if the bus knows."""


class FanoutObserver(Protocol):
    """Told how the cross-node path is doing (e.g. metrics). Called on the event loop: must not
    block or raise."""

    def on_bus_lag(self, seconds: float) -> None:
        """Changes from another node were applied ``seconds`` after the log took the newest of them."""
        ...

    def on_bus_gap(self, rooms: int) -> None:
        """Continuity was lost for ``rooms`` rooms: they will be resynchronized."""
        ...


class Keeper(Protocol):
    """Stores updates this node did not author (e.g. :class:`~crdt.persistence.PersistenceExtension`
    with ``store_remote=False``)."""

    def keep(self, name: str, update: bytes) -> None:
        """Save ``update`` to room ``name`` (in the background, retried until stored)."""
        ...


class BusListener(Protocol):
    def on_messages(self, room: str, messages: Sequence[BusMessage]) -> None:
        """Messages of a followed room, in log order (awareness: in arrival order)."""
        ...

    def on_update(self, room: str, node: str, update: bytes, sent_at: float | None) -> None:
        """One UPDATE message of a followed room: what ``on_messages`` does with a list of that one
        message (the usual entry of the log, handed over without a list and a message around it)."""
        ...

    def on_gap(self, rooms: Sequence[str] | None) -> None:
        """Continuity was lost for these rooms (None: every followed room)."""
        ...


Done = Callable[[bool], None]


class Bus(Protocol):
    """A shared, replayable log per room plus best-effort broadcast, across nodes."""

    @property
    def node_id(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    def set_listener(self, listener: BusListener) -> None: ...

    async def follow(self, room: str) -> list[BusMessage]:
        """Start receiving the room's messages; returns what its log holds now (possibly empty)."""
        ...

    async def unfollow(self, room: str) -> None: ...

    async def peers(self, room: str) -> set[str]:
        """The other live nodes following the room (those that answer a fence)."""
        ...

    def append(self, room: str, message: BusMessage, done: Done | None = None) -> None:
        """Append to the room's log without blocking; `done(True)` once it is stored there,
        `done(False)` if it could not be (calls happen in append order)."""
        ...

    def broadcast(self, room: str, message: BusMessage) -> None:
        """Best-effort delivery to the other nodes following the room."""
        ...


class _Gate:
    """Holds one room's changes until the log has them; releases them in order.

    `held` keeps `[message, waiting]` pairs in change order: local changes wait for their append to
    be acknowledged, remote ones only for what is ahead of them.
    """

    __slots__ = ("ext", "held", "high", "low")

    def __init__(self, ext: FanoutExtension, max_held: int) -> None:
        self.ext = ext
        self.held: deque[list[object]] = deque()
        self.high = max_held
        self.low = max_held // 2

    def submit(self, room: Room, update: bytes, out: Outbound | None, origin: Origin) -> None:
        bus = self.ext.bus
        local = not isinstance(origin, RemoteOrigin | StorageOrigin)
        if local and not bus.connected:
            self.ext.mark_gap(room.name)
            local = False  # availability first: deliver now, resynchronize later
        if not local:
            if self.held:
                self.held.append([out, False])
            elif out is not None:
                room.deliver(out)
            return
        held = self.held
        held.append([out, True])
        if len(held) > self.high and not room.reading_paused:
            room.pause_reading()
        bus.append(
            room.name, BusMessage(bus.node_id, MessageKind.UPDATE, update), functools.partial(self._release, room)
        )

    def _release(self, room: Room, durable: bool) -> None:
        if not durable:
            self.ext.mark_gap(room.name)
        held = self.held
        for entry in held:  # acknowledgements arrive in append order: the first waiting one is done
            if entry[1]:
                entry[1] = False
                break
        while held and not held[0][1]:
            out = held.popleft()[0]
            if isinstance(out, Outbound):
                room.deliver(out)
        if room.reading_paused and len(held) <= self.low:
            room.resume_reading()

    def flush(self, room: Room) -> None:
        while self.held:
            out = self.held.popleft()[0]
            if isinstance(out, Outbound):
                room.deliver(out)
        room.resume_reading()


_MAX_ORIGINS: Final = 1024
_SEAL: Final = b"\x01"
_READ: Final = b"\x00"


@dataclass(eq=False, slots=True)
class _FenceWait:
    """A fence this node appended: the nodes whose answer it still waits for (itself included: its
    own reader must reach the fence too)."""

    room: str
    waiting: set[str]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class FanoutExtension(RoomExtension, BusListener):
    """Keeps this node's rooms in sync with the same rooms on other nodes (see module doc)."""

    priority = 500

    def __init__(
        self,
        bus: Bus,
        *,
        anti_entropy_seconds: float = 10.0,
        fence_timeout: float = 10.0,
        observer: FanoutObserver | None = None,
        keeper: Keeper | None = None,
        owner_check_seconds: float = 2.0,
        max_held: int = 256,
        tasks: TaskHost | None = None,
    ) -> None:
        if fence_timeout <= 0 or owner_check_seconds <= 0 or max_held < 1:
            raise ValueError("fence_timeout, owner_check_seconds and max_held must be positive")
        self.bus = bus
        self._max_held = max_held
        self._keeper = keeper
        self._owner_check_seconds = owner_check_seconds
        # Per room, the other nodes whose changes were applied here: while one is alive it stores them.
        self._authors: dict[str, set[str]] = {}
        self._origins: dict[str, RemoteOrigin] = {}  # one per node, made once (changes of a node share it)
        self._observer = observer
        self._fence_timeout = fence_timeout
        self._fences: dict[bytes, _FenceWait] = {}
        self._fence_count = 0
        self._rooms: dict[str, Room] = {}
        self._gates: dict[str, _Gate] = {}
        self._gaps: set[str] = set()
        self._anti_entropy_seconds = anti_entropy_seconds
        self._task: asyncio.Task[None] | None = None
        self._host: TaskHost = tasks if tasks is not None else LocalTasks()
        self._wakeup = asyncio.Event()
        bus.set_listener(self)

    # -- lifecycle --------------------------------------------------------------------------------
    async def on_start(self) -> None:
        self.start()

    def start(self) -> None:
        if self._task is None:
            self._task = self._host.start("crdt-fanout", self._maintain)

    async def on_loaded(self, room: Room) -> None:
        self.start()
        try:
            backlog = await self.bus.follow(room.name)
        except Exception:
            logger.warning(
                "room %r: the shared log is unreachable; loading from storage only", room.name, exc_info=True
            )
            backlog = []
            self._gaps.add(room.name)
        self._rooms[room.name] = room
        gate = _Gate(self, self._max_held)
        self._gates[room.name] = gate
        room.set_gate(gate)
        # Updates other nodes accepted but may not have stored yet (their authors may be gone).
        before = room.state_vector() if self._keeper is not None else b""
        self._apply(room, [m for m in backlog if m.kind is MessageKind.UPDATE], relay=False)
        if self._keeper is not None:
            beyond = room.missing_for(before)
            if beyond is not None:
                self._keeper.keep(room.name, beyond)
        if any(m.kind is MessageKind.FENCE and m.payload[:1] == _SEAL for m in backlog):
            room.seal()  # sealed while this node did not hold it: it stays final here too
        # The log may have been trimmed past what the store holds yet: ask the nodes that have the
        # room loaded for whatever this node still lacks (they answer with exactly that).
        if self.bus.connected:
            self.bus.append(room.name, BusMessage(self.bus.node_id, MessageKind.SYNC_REQUEST, room.state_vector()))

    async def on_unloaded(self, room_name: str) -> None:
        self._rooms.pop(room_name, None)
        self._gates.pop(room_name, None)
        self._gaps.discard(room_name)
        self._authors.pop(room_name, None)
        await self.bus.unfollow(room_name)

    async def on_shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                logger.debug("fan-out maintenance stopped")
            self._task = None
        for name, gate in list(self._gates.items()):
            room = self._rooms.get(name)
            if room is not None:
                gate.flush(room)

    # -- outgoing -----------------------------------------------------------------------------------
    def on_awareness(self, event: AwarenessEvent) -> None:
        if isinstance(event.origin, RemoteOrigin):
            return
        body = event.message
        self.bus.broadcast(event.room.name, BusMessage(self.bus.node_id, MessageKind.AWARENESS, body))

    def mark_gap(self, room_name: str) -> None:
        if room_name not in self._gaps:
            self._gaps.add(room_name)
            self._wakeup.set()
            self._report_gap(1)

    def _report_gap(self, rooms: int) -> None:
        if self._observer is not None:
            try:
                self._observer.on_bus_gap(rooms)
            except Exception:
                logger.exception("the fan-out observer failed")

    # -- incoming -----------------------------------------------------------------------------------
    def on_messages(self, room: str, messages: Sequence[BusMessage]) -> None:
        target = self._rooms.get(room)
        if target is None:
            return
        own = self.bus.node_id
        updates: list[BusMessage] = []
        for message in messages:
            if message.kind is MessageKind.FENCE or message.kind is MessageKind.FENCE_ACK:
                self._apply(target, updates)
                updates = []
                self._on_fence(target, message)
                continue
            if message.node == own:
                continue
            if message.kind is MessageKind.UPDATE:
                updates.append(message)
            elif message.kind is MessageKind.SYNC_REQUEST:
                self._apply(target, updates)
                updates = []
                self._answer(target, message.payload)
            else:
                self._apply(target, updates)
                updates = []
                self._apply_awareness(target, message)
        if updates:
            self._observe_lag(updates[-1].sent_at)
        self._apply(target, updates)

    def on_update(self, room: str, node: str, update: bytes, sent_at: float | None) -> None:
        target = self._rooms.get(room)
        if target is None or node == self.bus.node_id:
            return
        self._observe_lag(sent_at)
        if self._keeper is not None:
            self._note_authors(room, (node,))
        self._relay(target, node, update)

    def _observe_lag(self, sent_at: float | None) -> None:
        """Tells the observer how long the newest change took on the bus (when it says when it left)."""
        if sent_at is None or self._observer is None:
            return
        try:
            self._observer.on_bus_lag(max(0.0, time.time() - sent_at))
        except Exception:
            logger.exception("the fan-out observer failed")

    def _note_authors(self, room_name: str, nodes: Iterable[str]) -> None:
        """Remembers which nodes changed a room, for the keeper (it stores for authors that died)."""
        authors = self._authors.get(room_name)
        if authors is None:
            authors = self._authors[room_name] = set()
        authors.update(nodes)

    def on_gap(self, rooms: Sequence[str] | None) -> None:
        names = list(self._rooms) if rooms is None else [r for r in rooms if r in self._rooms]
        if names:
            self._gaps.update(names)
            self._wakeup.set()
            self._report_gap(len(names))

    def _apply(self, room: Room, messages: Sequence[BusMessage], *, relay: bool = True) -> None:
        """Changes of other nodes: relayed (delivered now, integrated in a batch, `Room.relay`), or
        applied at once (`relay=False`: a loading room's backlog)."""
        if not messages:
            return
        if self._keeper is not None:
            self._note_authors(room.name, (message.node for message in messages))
        for message in messages:
            if relay:
                self._relay(room, message.node, message.payload)
                continue
            try:
                room.apply_server_update(message.payload, self._origin(message.node))
            except CrdtError as exc:
                logger.warning("room %r: refused an update from node %s: %s", room.name, message.node, exc)

    def _relay(self, room: Room, node: str, update: bytes) -> None:
        try:
            room.relay(update, self._origin(node))
        except CrdtError as exc:
            logger.warning("room %r: refused an update from node %s: %s", room.name, node, exc)

    def _origin(self, node: str) -> RemoteOrigin:
        """The origin of node `node`'s changes (one per node, kept for up to `_MAX_ORIGINS` nodes)."""
        origin = self._origins.get(node)
        if origin is None:
            origin = RemoteOrigin(node)
            if len(self._origins) < _MAX_ORIGINS:
                self._origins[node] = origin
        return origin

    def _apply_awareness(self, room: Room, message: BusMessage) -> None:
        try:
            decoded = decode_message(message.payload)
            if not isinstance(decoded, AwarenessMessage):
                raise ProtocolError("not an awareness message")
            room.apply_awareness(decoded.entries, RemoteOrigin(message.node))
        except CrdtError as exc:
            logger.warning("room %r: refused awareness from node %s: %s", room.name, message.node, exc)

    def _answer(self, room: Room, state_vector: bytes) -> None:
        """Send the requester what it lacks, if it lacks anything we inserted or deleted."""
        try:
            missing = room.missing_for(state_vector)
        except CrdtError as exc:
            logger.warning("room %r: a sync request carried a bad state vector: %s", room.name, exc)
            return
        if missing is not None:
            self.bus.append(room.name, BusMessage(self.bus.node_id, MessageKind.UPDATE, missing))

    # -- fences -----------------------------------------------------------------------------------------
    async def settle(self, fence: Fence) -> None:
        """Wait until ``fence.room`` holds every change accepted on any node before now (see module
        doc); with ``fence.seal``, every node's copy is sealed first. Without the log (unreachable),
        or past ``fence_timeout``, it returns with what it has and logs which nodes are missing."""
        room, bus = fence.room, self.bus
        if self._rooms.get(room.name) is not room:
            return  # not followed (loaded while the manager was closing): nothing to wait for
        if not bus.connected:
            logger.warning("room %r: the shared log is unreachable; read without the other nodes", room.name)
            return
        try:
            peers = await bus.peers(room.name)
        except Exception:
            logger.warning("room %r: the other nodes are unknown; read without them", room.name, exc_info=True)
            return
        # Unique across nodes and across restarts of a node under the same name.
        token = f"{bus.node_id}/{time.time_ns():x}/{self._next_fence()}".encode()
        wait = _FenceWait(room.name, {*peers, bus.node_id})
        self._fences[token] = wait

        def appended(ok: bool) -> None:
            if not ok:
                logger.warning("room %r: the fence did not reach the shared log; read without the others", room.name)
                wait.done.set()

        bus.append(
            room.name, BusMessage(bus.node_id, MessageKind.FENCE, (_SEAL if fence.seal else _READ) + token), appended
        )
        try:
            async with asyncio.timeout(self._fence_timeout):
                await wait.done.wait()
        except TimeoutError:
            logger.warning(
                "room %r: read without node(s) %s: no answer to the fence within %.1f s",
                room.name,
                ", ".join(sorted(wait.waiting)),
                self._fence_timeout,
            )
        finally:
            del self._fences[token]

    def _next_fence(self) -> int:
        self._fence_count += 1
        return self._fence_count

    def _on_fence(self, room: Room, message: BusMessage) -> None:
        """A fence or an answer read from the log, in log order (every update before it is applied)."""
        own = self.bus.node_id
        if message.kind is MessageKind.FENCE_ACK:
            self._answered(message.payload, message.node)
            return
        token = message.payload[1:]
        if message.node == own:
            self._answered(token, own)
            return
        if message.payload[:1] == _SEAL:
            room.seal()
        # Through the ordered writer: after every change this node accepted before now.
        self.bus.append(room.name, BusMessage(own, MessageKind.FENCE_ACK, token))

    def _answered(self, token: bytes, node: str) -> None:
        wait = self._fences.get(token)
        if wait is not None:
            wait.waiting.discard(node)
            if not wait.waiting:
                wait.done.set()

    # -- resynchronization ------------------------------------------------------------------------------
    def _resync(self, name: str) -> None:
        room = self._rooms.get(name)
        if room is None:
            return
        node = self.bus.node_id
        self.bus.append(name, BusMessage(node, MessageKind.UPDATE, room.state_update()))
        self.bus.append(name, BusMessage(node, MessageKind.SYNC_REQUEST, room.state_vector()))

    async def _maintain(self) -> None:
        """Resynchronize rooms with gaps once the bus is back; run anti-entropy rounds."""
        loop = asyncio.get_running_loop()
        next_round = loop.time() + self._anti_entropy_seconds
        next_check = loop.time() + self._owner_check_seconds
        while True:
            timeout = max(0.05, min(next_round, next_check) - loop.time())
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                logger.debug("fan-out: anti-entropy round due")
            self._wakeup.clear()
            if not self.bus.connected:
                await asyncio.sleep(0.1)
                continue
            if self._gaps:
                gaps, self._gaps = self._gaps, set()
                for name in gaps:
                    self._resync(name)
            if self._keeper is not None and loop.time() >= next_check:
                next_check = loop.time() + self._owner_check_seconds
                await self._keep_for_dead_authors(self._keeper)
            if loop.time() >= next_round:
                next_round = loop.time() + self._anti_entropy_seconds
                node = self.bus.node_id
                for name, room in list(self._rooms.items()):
                    self.bus.append(name, BusMessage(node, MessageKind.SYNC_REQUEST, room.state_vector()))

    async def _keep_for_dead_authors(self, keeper: Keeper) -> None:
        """Store the state of each room holding changes of a node that is no longer a live peer (it
        may have died before storing them; if it did store them, storing again is harmless)."""
        for name, authors in list(self._authors.items()):
            room = self._rooms.get(name)
            if room is None or not authors:
                continue
            try:
                live = await self.bus.peers(name)
            except Exception:
                logger.warning("room %r: the live nodes are unknown; checking again later", name, exc_info=True)
                continue
            dead = authors - live
            if dead and self._rooms.get(name) is room:
                left = ", ".join(sorted(dead))
                logger.info("room %r: node(s) %s left; storing the changes they may not have", name, left)
                authors -= dead
                keeper.keep(name, room.state_update())
