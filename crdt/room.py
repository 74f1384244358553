"""One collaborative document in memory: a pycrdt ``Doc``, its awareness table and its connections.

Theory of operation:

* :meth:`Room.receive` handles one client frame synchronously: decode, then answer the sender
  (step1 → step2, query-awareness → snapshot) or change the room and broadcast. Anything the room
  refuses closes *that* connection with a :class:`~crdt.channel.CloseCode`; the document is never
  changed by a refused frame.
* Every document change, whatever its origin (client, server, store, another node), goes through
  one path, :meth:`Room._change`: size check → apply → broadcast → ``on_change`` hooks.
* **Only effective changes are broadcast and reported.** The room observes its ``Doc`` and
  broadcasts the update pycrdt reports for the transaction, so a duplicate (a reconnecting client
  re-sending what we have) costs no broadcast and no storage, and a client's step2 — possibly its
  whole document — goes out as an update carrying only what was new, like the Node server's doc
  ``update`` events. When the effective update is the received one (the common case: a fresh
  keystroke), the received frame itself is broadcast, with no re-encoding. ``bench/room_micro.py``
  measures the observer at ~1 µs per update, i.e. ~0.005 µs per delivery in a 200-client room.
  pycrdt's ``TransactionEvent`` carries no origin, so the room tags origins at the call site.
* **Changes of other nodes are relayed first and integrated in batches** (:meth:`Room.relay`): another
  node already accepted and validated them, so the room hands them to its connections at once and
  applies them to its own copy of the document a moment later (``INTEGRATE_SECONDS``), all those that
  came meanwhile in one transaction, or before anything reads the document or makes a change that may
  depend on them, whichever comes first. A change may depend on a relayed one only if it carries that
  one's client ID, as encoded (a byte search: :func:`~crdt.updates.struct_client`); a change that does
  not is applied without them, since a change applied before what it builds on would wait, pending,
  and never be broadcast. Integrating before every local change made runs of one or two changes
  (three nodes, 50 clients: ~1.4). What a reader sees is thus always current; what a node spends per
  remote change is a frame, not a transaction. Large ones (a resynchronizing node's whole state) are
  applied at once instead, so that connections receive only what they change.
* A broadcast encodes its message once into an :class:`~crdt.channel.Outbound` and hands that same
  object to every channel in a plain loop. Channels must not raise; one that does is logged and
  closed, and the loop goes on.
* The document size is tracked approximately (loaded size + effective update bytes, an
  over-estimate in practice since updates merge and deleted content is garbage-collected); the
  exact encoded size is computed only when the estimate reaches the limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

import pycrdt
from pycrdt import Doc, TransactionEvent

from .awareness import AwarenessTable
from .channel import (
    Channel,
    CloseCode,
    ConnectionOrigin,
    Origin,
    Outbound,
    ReadControl,
    RemoteOrigin,
    ServerOrigin,
    StorageOrigin,
)
from .engine import engine_errors
from .errors import (
    AwarenessLimitExceeded,
    DocumentTooLarge,
    InvalidAwarenessState,
    InvalidStateVector,
    Overloaded,
    ProtocolError,
    QuotaExceeded,
    RoomSealed,
    UpdateRejected,
)
from .extensions import AwarenessEvent, ChangeEvent, Disconnect, ProposedChange, ReadOnlyWrite, RoomExtension
from .protocol import (
    AwarenessEntry,
    AwarenessMessage,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    encode_awareness,
    encode_sync_step1,
    encode_sync_step2,
    encode_sync_update,
)
from .sync import apply_update, apply_updates
from .updates import check_state_vector, check_update, state_vector_clocks, struct_client, update_goes_beyond

__all__ = ["DEFAULT_MAX_DOCUMENT_BYTES", "DeliveryGate", "Room", "RoomStats"]

logger = logging.getLogger("crdt.room")

DEFAULT_MAX_DOCUMENT_BYTES: Final = 8 * 1024 * 1024
"""Default limit on a document's encoded size (its whole-document step2 must fit in one frame)."""
INTEGRATE_SECONDS: Final = 0.05
"""How long a relayed change of another node may wait before it is integrated (see `Room.relay`)."""
MAX_RELAYED: Final = 256
"""Relayed changes waiting to be integrated past which they are integrated at once."""
RELAY_MAX_BYTES: Final = 4096
"""Changes of other nodes larger than this are applied at once rather than relayed (see `Room.relay`)."""
DEPENDENCY_SCAN_BYTES: Final = 1024
"""Changes larger than this integrate the relayed ones before they apply, without looking for a
dependency on them (see `Room._depends_on_relayed`)."""

_MAX_REASON_CHARS: Final = 100  # a WebSocket close reason is at most 123 bytes of UTF-8
_OUTDATED_ORIGIN: Final = ServerOrigin("awareness-timeout")
_EMPTY_AWARENESS: Final = encode_awareness(())
_NOTHING: Final = b"\x00\x00"  # the empty update: no structs, no deletions


class RoomStats:
    """Counters of one room, for metrics and tests."""

    __slots__ = (
        "broadcasts",
        "bytes_in",
        "bytes_out",
        "changes",
        "deliveries",
        "readonly_dropped",
        "refused",
        "send_failures",
        "updates_in",
        "updates_out",
    )

    def __init__(self) -> None:
        self.changes = 0  # effective document changes applied
        self.broadcasts = 0  # messages broadcast to the whole room
        self.deliveries = 0  # messages handed to channels by broadcasts
        self.bytes_in = 0  # bytes of the frames received from connections
        self.bytes_out = 0  # bytes of the messages handed to connections (broadcasts and replies)
        self.updates_in = 0  # document updates (sync step2 / update) received from connections
        self.updates_out = 0  # document changes handed to connections (one per connection reached)
        self.readonly_dropped = 0  # document updates dropped because their connection is read-only
        self.refused = 0  # connections closed for what they sent
        self.send_failures = 0  # channels whose send raised

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"RoomStats({fields})"


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"


class DeliveryGate(Protocol):
    """Decides when a room's document changes reach its connections (see :meth:`Room.set_gate`)."""

    def submit(self, room: Room, update: bytes, out: Outbound | None, origin: Origin) -> None:
        """A change was applied. ``out`` is the message for the room's connections (None when it has
        none); the gate must pass it to :meth:`Room.deliver`, in submission order, now or later."""
        ...


class Room:
    """One document and the connections editing it, under an opaque ``name``.

    ``extensions`` are called in the order given (see :func:`~crdt.extensions.order_extensions`).
    ``max_document_bytes`` bounds the encoded document for every origin except the store (a stored
    document is always loaded, even if the limit was lowered since).
    """

    def __init__(
        self,
        name: str,
        *,
        extensions: Iterable[RoomExtension] = (),
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        awareness: AwarenessTable[int] | None = None,
    ) -> None:
        if max_document_bytes < 2:
            raise ValueError("max_document_bytes must be at least 2")
        self._name = name
        self._extensions = tuple(extensions)
        self._admitters = tuple(ext for ext in self._extensions if type(ext).admit is not RoomExtension.admit)
        self._readonly_listeners = tuple(
            ext for ext in self._extensions if type(ext).on_readonly_write is not RoomExtension.on_readonly_write
        )
        self._disconnect_listeners = tuple(
            ext for ext in self._extensions if type(ext).on_disconnect is not RoomExtension.on_disconnect
        )
        self._max_bytes = max_document_bytes
        self._awareness: AwarenessTable[int] = awareness if awareness is not None else AwarenessTable()
        self._doc: Doc[Any] = Doc()
        # Transaction events of the change being applied (at most one per apply).
        self._events: list[TransactionEvent] = []
        self._doc.observe(self._events.append)
        self._size = 2  # approximate encoded size; an empty document encodes to 2 bytes
        self._encoded: bytes | None = None  # the whole document as one update, until the next change
        self._channels: dict[int, Channel] = {}
        self._readonly: set[int] = set()  # keys of the connections whose document updates are dropped
        self._sealed = False
        # What broadcasts iterate: rebuilt on add/remove, so a channel that leaves (or is removed)
        # while a broadcast runs cannot disturb the loop, and broadcasting allocates nothing.
        self._fanout: tuple[Channel, ...] = ()
        self.stats = RoomStats()
        self._gate: DeliveryGate | None = None
        self._reading_paused = False
        # Changes of other nodes relayed to the connections and not integrated yet (see `relay`).
        self._relayed: list[tuple[bytes, RemoteOrigin]] = []
        self._relayed_clients: set[bytes] = set()  # their clients, encoded (`struct_client`)
        self._relayed_opaque = False  # one of them is not one client's: every change waits for them
        self._integration: asyncio.TimerHandle | None = None

    # -- read-only surface ------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The room's key, as given by the caller (already namespaced by tenant)."""
        return self._name

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The live connections of the room."""
        return self._fanout

    @property
    def awareness_states(self) -> Mapping[int, str]:
        """A copy of the present awareness states (client ID → JSON text)."""
        return self._awareness.states

    @property
    def awareness_foreign_dropped(self) -> int:
        """Awareness entries dropped because another connection or node owns their client ID."""
        return self._awareness.foreign_dropped

    @property
    def sealed(self) -> bool:
        """True once :meth:`seal` was called: the document is final."""
        return self._sealed

    def is_readonly(self, channel: Channel) -> bool:
        """Whether the room drops ``channel``'s document updates (its own rights, or a sealed room)."""
        return self._sealed or channel.key in self._readonly

    @property
    def approximate_size(self) -> int:
        """The tracked estimate of the encoded document size, in bytes (an over-estimate)."""
        return self._size

    def state_update(self) -> bytes:
        """The whole document as one update (encoded at most once per change: encoding a large
        document costs the event loop tens of milliseconds, and repeated reads cost nothing)."""
        self.integrate()
        encoded = self._encoded
        if encoded is None:
            encoded = self._encoded = self._doc.get_update()
        return encoded

    def state_vector(self) -> bytes:
        """The document's state vector."""
        self.integrate()
        return self._doc.get_state()

    def __repr__(self) -> str:
        return f"Room({self._name!r}, {len(self._fanout)} channels)"

    # -- connections ------------------------------------------------------------------------

    def add(self, channel: Channel, *, readonly: bool = False) -> None:
        """Register ``channel`` (read-only: the room drops its document updates) and greet it: the
        server's step1, then the awareness of everyone present (if anyone). Call only once the
        document is loaded."""
        key = channel.key
        if key in self._channels:
            raise ValueError(f"room {self._name!r} already has a channel with key {key}")
        self._channels[key] = channel
        if readonly:
            self._readonly.add(key)
        self._fanout = (*self._fanout, channel)
        if self._reading_paused and isinstance(channel, ReadControl):
            channel.pause_reading()
        self._send(channel, Outbound(encode_sync_step1(self.state_vector())))
        snapshot = self._awareness.snapshot()
        if snapshot is not None:
            self._send(channel, Outbound(snapshot))

    def remove(self, channel: Channel, code: int | None = None, reason: str = "") -> None:
        """Unregister ``channel`` and broadcast the removal of the awareness states it owned.
        ``code`` and ``reason`` say how the connection ended, as its transport knows it (the close
        code either side sent, 1006 for a lost connection, None if unknown); extensions hear them
        (:meth:`~crdt.extensions.RoomExtension.on_disconnect`)."""
        key = channel.key
        if self._channels.get(key) is not channel:
            return
        del self._channels[key]
        self._readonly.discard(key)
        self._fanout = tuple(self._channels.values())
        message = self._awareness.remove_connection(key)
        if message is not None:
            self._announce(message, ConnectionOrigin(key))
        if self._disconnect_listeners:
            event = Disconnect(self, channel, code, reason)
            for ext in self._disconnect_listeners:
                try:
                    ext.on_disconnect(event)
                except Exception:
                    logger.exception("room %r: %s.on_disconnect failed", self._name, type(ext).__name__)

    def set_readonly(self, channel: Channel, readonly: bool) -> bool:
        """Change ``channel``'s rights: read-only (its document updates are dropped from its next
        frame on) or editor. Returns True if they changed.

        A connection that becomes an editor again is resynchronized: the room sends it the server's
        step1, so it answers with everything the room lacks — the updates dropped while it was
        read-only, which its later updates depend on (the client cannot know they were dropped).
        Raises ``ValueError`` for a channel that is not in the room.
        """
        key = channel.key
        if self._channels.get(key) is not channel:
            raise ValueError(f"connection {key} is not in room {self._name!r}")
        if readonly == (key in self._readonly):
            return False
        if readonly:
            self._readonly.add(key)
        else:
            self._readonly.discard(key)
            if not self._sealed:
                self._send(channel, Outbound(encode_sync_step1(self.state_vector())))
        return True

    def seal(self) -> None:
        """Make the document final: from now on the room drops every connection's document updates
        (as for read-only connections) and refuses server changes with
        :class:`~crdt.errors.RoomSealed`. Changes from the store and from other nodes still apply:
        they were accepted before the seal (see :meth:`~crdt.manager.RoomManager.seal`). Idempotent."""
        self._sealed = True

    # -- client frames ----------------------------------------------------------------------

    def receive(self, channel: Channel, data: bytes) -> None:
        """Handle one frame from ``channel`` (synchronously; replies and broadcasts are queued).

        Frames from a channel that is not (or no longer) in the room are ignored: a frame that
        raced with the connection's removal must not resurrect its awareness states.
        """
        if self._channels.get(channel.key) is not channel:
            logger.debug("room %r: ignoring a frame from connection %s, not in the room", self._name, channel.key)
            return
        self.stats.bytes_in += len(data)
        try:
            msg = decode_message(data)
        except ProtocolError as exc:
            self._refuse(channel, CloseCode.BAD_MESSAGE, exc)
            return
        if isinstance(msg, SyncUpdate | SyncStep2):
            self.stats.updates_in += 1
            if self._sealed or channel.key in self._readonly:
                self.stats.readonly_dropped += 1
                for ext in self._readonly_listeners:
                    try:
                        ext.on_readonly_write(ReadOnlyWrite(self, channel))
                    except Exception:
                        logger.exception("room %r: %s.on_readonly_write failed", self._name, type(ext).__name__)
                return
            try:
                # A SyncUpdate frame is already the update message to broadcast, if it all takes effect.
                self._change(msg.update, ConnectionOrigin(channel.key), data if isinstance(msg, SyncUpdate) else None)
            except UpdateRejected as exc:
                self._refuse(channel, CloseCode.UPDATE_REJECTED, exc)
            except DocumentTooLarge as exc:
                self._refuse(channel, CloseCode.DOCUMENT_TOO_LARGE, exc)
            except QuotaExceeded as exc:
                self._refuse(channel, CloseCode.QUOTA_EXCEEDED, exc)
            except Overloaded as exc:
                # Refused, not dropped: the client reconnects with backoff and its step2 carries it again.
                self._refuse(channel, CloseCode.TRY_AGAIN_LATER, exc)
        elif isinstance(msg, AwarenessMessage):
            try:
                accepted = self._awareness.apply(channel.key, msg.entries)
            except (AwarenessLimitExceeded, InvalidAwarenessState) as exc:
                self._refuse(channel, CloseCode.BAD_MESSAGE, exc)
                return
            if accepted:
                # Relay the received frame when every entry passed unchanged (the usual case).
                message = data if accepted == msg.entries else encode_awareness(accepted)
                self._announce(message, ConnectionOrigin(channel.key))
        elif isinstance(msg, SyncStep1):
            try:
                check_state_vector(msg.state_vector)
                self.integrate()
                with engine_errors("the CRDT engine refused the state vector", InvalidStateVector):
                    missing = self._doc.get_update(msg.state_vector)
            except InvalidStateVector as exc:
                self._refuse(channel, CloseCode.BAD_MESSAGE, exc)
                return
            self._send(channel, Outbound(encode_sync_step2(missing)))
        elif isinstance(msg, QueryAwareness):
            snapshot = self._awareness.snapshot()
            self._send(channel, Outbound(snapshot if snapshot is not None else _EMPTY_AWARENESS))
        else:
            self._refuse(channel, CloseCode.BAD_MESSAGE, ProtocolError(f"clients may not send {type(msg).__name__}"))

    # -- changes from elsewhere -------------------------------------------------------------

    def apply_server_update(self, update: bytes, origin: Origin) -> None:
        """Apply an update that did not come from one of this room's connections.

        Same validation, broadcast and hooks as a client update. Raises
        :class:`~crdt.errors.UpdateRejected` or :class:`~crdt.errors.DocumentTooLarge` (document
        unchanged) instead of closing anything, and :class:`~crdt.errors.RoomSealed` for a server
        change to a sealed room. ``StorageOrigin`` updates skip the size limit.
        """
        if self._sealed and not isinstance(origin, StorageOrigin | RemoteOrigin):
            raise RoomSealed(f"room {self._name!r} is sealed: its document is final")
        self._change(update, origin, None)

    def relay(self, update: bytes, origin: RemoteOrigin) -> None:
        """A change another node accepted (and validated): hand it to this room's connections now (through
        the gate, in order with the others) and integrate it into this node's document in a batch, within
        ``INTEGRATE_SECONDS`` or before anything reads or changes the document (see module doc). Over
        ``RELAY_MAX_BYTES`` it is applied at once, like :meth:`apply_server_update`. Raises
        :class:`~crdt.errors.UpdateRejected` for an update that cannot be read (nothing is relayed)."""
        if len(update) > RELAY_MAX_BYTES:
            self._change(update, origin, None)
            return
        check_update(update)
        relayed = self._relayed
        relayed.append((update, origin))
        client = struct_client(update)
        if client is None:
            self._relayed_opaque = True
        elif client:
            self._relayed_clients.add(client)
        if len(relayed) >= MAX_RELAYED:
            self.integrate()
        elif self._integration is None:
            try:
                self._integration = asyncio.get_running_loop().call_later(INTEGRATE_SECONDS, self._integrate_due)
            except RuntimeError:  # no event loop (a synchronous caller): integrate now
                self.integrate()
        gate = self._gate
        if gate is not None:
            gate.submit(self, update, Outbound(encode_sync_update(update)) if self._fanout else None, origin)
        elif self._fanout:
            self._broadcast(Outbound(encode_sync_update(update)), update=True)

    def integrate(self) -> None:
        """Apply the relayed changes not integrated yet, in order, in one transaction; their
        ``on_change`` hooks run now, once, with the changes' ``RemoteOrigin`` (changes of several nodes:
        their names joined by commas, in order of appearance). Called before every read of the document
        and before a change that may depend on them (see :meth:`_change`). (A batch's timer is left to
        run out when something integrates earlier: a timer per batch is then made at most every
        ``INTEGRATE_SECONDS``, not once per local change.)"""
        relayed = self._relayed
        if not relayed:
            return
        self._relayed = []
        self._relayed_clients.clear()
        self._relayed_opaque = False
        origin = relayed[0][1]
        if any(o.node != origin.node for _, o in relayed):
            origin = RemoteOrigin(",".join(dict.fromkeys(o.node for _, o in relayed)))
        self._integrate_run([update for update, _ in relayed], origin)

    def _depends_on_relayed(self, update: bytes) -> bool:
        """Whether ``update`` may refer to an item of a relayed change not integrated yet: it carries the
        encoded client ID of one (a cheap, conservative test: see :func:`~crdt.updates.struct_client`)."""
        if self._relayed_opaque or len(update) > DEPENDENCY_SCAN_BYTES:
            return True
        return any(client in update for client in self._relayed_clients)

    def _integrate_due(self) -> None:
        self._integration = None
        self.integrate()

    def _integrate_run(self, updates: list[bytes], origin: RemoteOrigin) -> None:
        events = self._events
        self._encoded = None
        try:
            for exc in apply_updates(self._doc, updates, origin):
                logger.warning("room %r: the engine refused a change of node %s: %s", self._name, origin.node, exc)
            if not events:
                return  # duplicates, or changes waiting for missing dependencies
            effective = events[0].update if len(events) == 1 else pycrdt.merge_updates(*(e.update for e in events))
        finally:
            events.clear()
        self._size += len(effective)
        self.stats.changes += 1
        self._changed(effective, origin)

    def apply_awareness(self, entries: Iterable[AwarenessEntry], origin: RemoteOrigin) -> None:
        """Apply awareness entries relayed from another node (``origin.node``).

        Accepted entries are broadcast and reported; entries for client IDs that a connection of
        this room or another node owns are dropped (see :mod:`crdt.awareness`). Raises
        :class:`~crdt.errors.AwarenessLimitExceeded` / :class:`~crdt.errors.InvalidAwarenessState`
        with the table unchanged.
        """
        accepted = self._awareness.apply_remote(origin.node, entries)
        if accepted:
            self._announce(encode_awareness(accepted), origin)

    def sweep_awareness(self) -> bool:
        """Remove awareness states not renewed in time and broadcast their removal; True if any."""
        message = self._awareness.remove_outdated()
        if message is None:
            return False
        self._announce(message, _OUTDATED_ORIGIN)
        return True

    # -- the one change path ----------------------------------------------------------------

    def _change(self, update: bytes, origin: Origin, frame: bytes | None) -> None:
        """Apply ``update``; broadcast and report what it changed. ``frame``, when given, is an
        encoded update message carrying exactly ``update``."""
        check_update(update)
        if self._relayed and self._depends_on_relayed(update):
            self.integrate()
        if type(origin) is not StorageOrigin:
            self._check_size(update)
            if self._admitters and type(origin) is not RemoteOrigin:
                proposed = ProposedChange(self, update, origin)
                for ext in self._admitters:
                    ext.admit(proposed)
        events = self._events
        refused: UpdateRejected | None = None
        self._encoded = None  # even if nothing takes effect: the engine may keep the update as pending
        try:
            try:
                apply_update(self._doc, update, origin)
            except UpdateRejected as exc:
                if not events:
                    raise  # refused before anything was integrated: the document is unchanged
                # The engine integrated part of the update before refusing the rest (see
                # crdt.sync): that part is in the document now, so it goes out and is stored like
                # any change (replicas stay equal), and then the sender is refused.
                refused = exc
            if not events:
                return  # a duplicate, or only changes waiting for missing dependencies
            effective = events[0].update if len(events) == 1 else pycrdt.merge_updates(*(e.update for e in events))
        finally:
            events.clear()
        self._size += len(effective)
        self.stats.changes += 1
        gate = self._gate
        if gate is not None:
            out = None
            if self._fanout:
                out = Outbound(frame if frame is not None and effective == update else encode_sync_update(effective))
            gate.submit(self, effective, out, origin)
        elif self._fanout:
            self._broadcast(
                Outbound(frame if frame is not None and effective == update else encode_sync_update(effective)),
                update=True,
            )
        self._changed(effective, origin)
        if refused is not None:
            raise refused

    def _changed(self, effective: bytes, origin: Origin) -> None:
        if self._extensions:
            event = ChangeEvent(self, effective, origin)
            for ext in self._extensions:
                try:
                    ext.on_change(event)
                except Exception:
                    logger.exception("room %r: %s.on_change failed", self._name, type(ext).__name__)

    def _check_size(self, update: bytes) -> None:
        incoming = len(update)
        if self._size + incoming <= self._max_bytes:
            return
        # Near the limit: measure instead of estimating, and count only what the update adds.
        exact = len(self.state_update())
        self._size = exact
        if exact + incoming <= self._max_bytes:
            return
        if exact + self.added_bytes(update) > self._max_bytes:
            raise DocumentTooLarge(f"the document ({exact} bytes) would grow past its limit of {self._max_bytes} bytes")

    def added_bytes(self, update: bytes) -> int:
        """The size of what ``update`` would add to the document: 0 for nothing new (raises
        :class:`~crdt.errors.UpdateRejected` for an update the engine cannot read)."""
        with engine_errors("the CRDT engine refused the update"):
            new_part = pycrdt.get_update(update, self.state_vector())
        return 0 if new_part == _NOTHING else len(new_part)

    def _announce(self, message: bytes, origin: Origin) -> None:
        """Broadcast an awareness message and report it to the extensions."""
        if self._fanout:
            self._broadcast(Outbound(message))
        if self._extensions:
            event = AwarenessEvent(self, message, origin)
            for ext in self._extensions:
                try:
                    ext.on_awareness(event)
                except Exception:
                    logger.exception("room %r: %s.on_awareness failed", self._name, type(ext).__name__)

    # -- delivery ---------------------------------------------------------------------------

    def missing_for(self, state_vector: bytes) -> bytes | None:
        """The update a peer at ``state_vector`` lacks, or None if it lacks nothing that we know
        (raises :class:`~crdt.errors.InvalidStateVector` for a malformed vector)."""
        check_state_vector(state_vector)
        self.integrate()
        try:
            with engine_errors("the CRDT engine refused the state vector", InvalidStateVector):
                diff = self._doc.get_update(state_vector)
            clocks = state_vector_clocks(state_vector)
        except ProtocolError as exc:
            raise InvalidStateVector(str(exc)) from exc
        return diff if update_goes_beyond(diff, clocks) else None

    @property
    def reading_paused(self) -> bool:
        """True between :meth:`pause_reading` and :meth:`resume_reading`."""
        return self._reading_paused

    def pause_reading(self) -> None:
        """Stop reading from the room's connections (those whose transport can: see
        :class:`~crdt.channel.ReadControl`), connections that join meanwhile included, until
        :meth:`resume_reading`: backpressure for a gate whose held changes back up. Idempotent."""
        if self._reading_paused:
            return
        self._reading_paused = True
        for channel in self._fanout:
            if isinstance(channel, ReadControl):
                channel.pause_reading()

    def resume_reading(self) -> None:
        """Read from the room's connections again. Idempotent."""
        if not self._reading_paused:
            return
        self._reading_paused = False
        for channel in self._fanout:
            if isinstance(channel, ReadControl):
                channel.resume_reading()

    def set_gate(self, gate: DeliveryGate | None) -> None:
        """Route every document change through ``gate`` instead of broadcasting it at once (the
        cross-node extension holds changes until they are durable in the shared log)."""
        self._gate = gate

    def deliver(self, out: Outbound) -> None:
        """Broadcast a change a gate released (to the connections present now)."""
        if self._fanout:
            self._broadcast(out, update=True)

    def _broadcast(self, out: Outbound, *, update: bool = False) -> None:
        fanout = self._fanout
        for channel in fanout:
            try:
                channel.send(out)
            except Exception:
                logger.exception("room %r: send to connection %s raised; closing it", self._name, channel.key)
                self._send_failed(channel)
        stats = self.stats
        reached = len(fanout)
        stats.broadcasts += 1
        stats.deliveries += reached
        stats.bytes_out += len(out) * reached
        if update:
            stats.updates_out += reached

    def _send(self, channel: Channel, out: Outbound) -> None:
        self.stats.bytes_out += len(out)
        try:
            channel.send(out)
        except Exception:
            logger.exception("room %r: send to connection %s raised; closing it", self._name, channel.key)
            self._send_failed(channel)

    def _send_failed(self, channel: Channel) -> None:
        self.stats.send_failures += 1
        try:
            channel.close(CloseCode.INTERNAL_ERROR, "send failed")
        except Exception:
            logger.exception("room %r: closing connection %s raised too", self._name, channel.key)

    def _refuse(self, channel: Channel, code: CloseCode, exc: BaseException) -> None:
        self.stats.refused += 1
        reason = _short(exc)
        logger.info("room %r: closing connection %s with %s: %s", self._name, channel.key, code.name, reason)
        try:
            channel.close(code, reason)
        except Exception:
            logger.exception("room %r: closing connection %s raised", self._name, channel.key)
