"""Extension points of the room engine: hooks that each take one payload object.

Persistence, cross-node fan-out, metrics… are each one :class:`RoomExtension` subclass in one
module, not branches inside the room. The :class:`~crdt.manager.RoomManager` runs the hooks of its
extensions in priority order (highest :attr:`RoomExtension.priority` first, then in the order given).

Every change to a document — from a client, the server itself, the store or another node — reaches
:meth:`RoomExtension.on_change` as a :class:`ChangeEvent` whose ``origin`` says where it came from,
so that an extension can ignore what it produced itself (persistence skips
:class:`~crdt.channel.StorageOrigin`, a Redis fan-out skips :class:`~crdt.channel.RemoteOrigin`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .channel import Channel, Origin

if TYPE_CHECKING:
    from .room import Room

__all__ = [
    "AwarenessEvent",
    "ChangeEvent",
    "Disconnect",
    "Fence",
    "ProposedChange",
    "ReadOnlyWrite",
    "RoomExtension",
    "order_extensions",
]


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A change that was applied to ``room``'s document and already broadcast to its connections.

    ``update`` is the *effective* change (what the CRDT engine integrated, as one encoded update),
    not necessarily the bytes that were received: a duplicate changes nothing and raises no event.
    """

    room: Room
    update: bytes
    origin: Origin


@dataclass(frozen=True, slots=True)
class ProposedChange:
    """An update about to be applied to ``room``'s document (it passed validation and the size
    limit); :meth:`RoomExtension.admit` may still refuse it. Not asked for ``StorageOrigin`` and
    ``RemoteOrigin`` changes: what is stored is always loaded, and another node already admitted
    what it relays."""

    room: Room
    update: bytes
    origin: Origin

    def added_bytes(self) -> int:
        """The size of what ``update`` adds to the document (exact, but costs a diff: call it only
        when ``len(update)`` is not good enough). 0 when it adds nothing (a duplicate); raises
        :class:`~crdt.errors.UpdateRejected` for an update the engine cannot read."""
        return self.room.added_bytes(self.update)


@dataclass(frozen=True, slots=True)
class AwarenessEvent:
    """Awareness entries accepted by ``room`` and already broadcast to its connections.

    ``message`` is the encoded awareness message (one y-websocket frame, ``decode_message`` reads
    it back). ``origin`` is the connection that sent it or left, :class:`~crdt.channel.RemoteOrigin`
    for entries relayed from another node, or :class:`~crdt.channel.ServerOrigin` for states the
    server timed out.
    """

    room: Room
    message: bytes
    origin: Origin


@dataclass(frozen=True, slots=True)
class ReadOnlyWrite:
    """A document update (sync step2 or update) from a read-only ``channel`` was dropped: it reached no
    one and changed nothing. The connection stays open; an extension may tell the client why (the
    y-websocket auth message, ``encode_permission_denied``)."""

    room: Room
    channel: Channel


@dataclass(frozen=True, slots=True)
class Disconnect:
    """``channel`` left ``room``. ``code`` and ``reason`` say how the connection ended, as its transport
    knows it: the close code either side sent, 1006 for a connection lost without one, None if the
    transport cannot tell."""

    room: Room
    channel: Channel
    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Fence:
    """A read of ``room``'s whole state that must hold every change accepted anywhere before it (on
    every node, not just this one). With ``seal``, ``room`` is already sealed here, and every other
    copy of the document must be sealed too: no node accepts a change after the fence."""

    room: Room
    seal: bool


class RoomExtension:
    """Base class of room extensions: every hook is a no-op until overridden.

    The synchronous hooks (:meth:`on_change`, :meth:`on_awareness`) run on the hot path, inside the
    room's message handling: they must not block (schedule work instead). An exception raised by a
    hook is logged by the room and does not stop the other extensions — the change has already
    happened; it cannot be refused any more.
    """

    priority: int = 100
    """Hooks of extensions with a higher priority run first."""

    async def on_start(self) -> None:
        """The manager is starting (``async with RoomManager(...)``), before any room loads: start
        background loops here. Raising stops the start (the extensions already started are shut down)."""

    async def on_load(self, room_name: str) -> Sequence[bytes]:
        """Return updates to apply (with ``StorageOrigin``) before anyone in the room is answered.

        Called once per load of the room; every extension may contribute. Raising fails the load:
        every connection waiting for the room gets the exception and the next join tries again.
        """
        return ()

    async def on_loaded(self, room: Room) -> None:
        """The room's stored state is applied; nobody has been answered yet. An extension may
        apply more (e.g. updates other nodes accepted but have not stored) or install a delivery
        gate (:meth:`Room.set_gate`). Raising fails the load, like :meth:`on_load`."""

    def admit(self, change: ProposedChange) -> None:
        """Refuse ``change`` by raising a :class:`~crdt.errors.LimitExceeded` (e.g.
        :class:`~crdt.errors.QuotaExceeded`): the document stays unchanged and a connection that
        sent it is closed with the matching code. Runs on the hot path before every client and
        server change, and only for extensions that override it: keep it cheap and synchronous."""

    def on_change(self, event: ChangeEvent) -> None:
        """A change was applied and broadcast (any origin, including ``StorageOrigin``)."""

    def on_awareness(self, event: AwarenessEvent) -> None:
        """Awareness entries were accepted and broadcast."""

    def on_readonly_write(self, event: ReadOnlyWrite) -> None:
        """A read-only connection's document update was dropped (called for every dropped frame, and only
        for extensions that override it: keep it cheap)."""

    def on_disconnect(self, event: Disconnect) -> None:
        """A connection left the room (called only for extensions that override it: keep it cheap)."""

    async def settle(self, fence: Fence) -> None:
        """Return once ``fence.room`` holds every change accepted anywhere before the fence (e.g.
        another node's edits still on their way); with ``fence.seal``, seal the other copies too.
        Called by :meth:`~crdt.manager.RoomManager.read_settled_state` and
        :meth:`~crdt.manager.RoomManager.seal`, in priority order; it should be bounded in time."""

    async def before_unload(self, room: Room) -> None:
        """The room has been idle and is about to be dropped from memory (e.g. flush it now).

        Raising keeps the room loaded; unloading is tried again later.
        """

    async def on_unloaded(self, room_name: str) -> None:
        """The room was dropped from memory (e.g. stop following it across nodes)."""

    async def on_shutdown(self) -> None:
        """The manager is shutting down, after every connection was closed (e.g. flush everything)."""


def order_extensions(extensions: Iterable[RoomExtension]) -> tuple[RoomExtension, ...]:
    """The extensions in the order their hooks run: highest priority first, stable otherwise."""
    return tuple(sorted(extensions, key=lambda ext: -ext.priority))
