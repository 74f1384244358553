"""The rooms of one process: loading them once, unloading them when idle, shutting down in order.

Each room name has at most one *slot* whose :class:`RoomState` changes only in
:meth:`_Slot.to`, along the edges of ``_TRANSITIONS``::

    (absent) ──use──▶ LOADING ──loaded, in use──▶ ACTIVE ◀──use── IDLE ◀──unused── ACTIVE
                         │  └──loaded, unused──▶ IDLE ──idle timer──▶ UNLOADING
                         └──on_load failed──▶ FAILED (slot removed: the next use loads again)
    UNLOADING ──use──▶ ACTIVE          (the room never left memory: nothing is lost)
    UNLOADING ──before_unload raised──▶ IDLE (the unload is retried after the idle delay)
    UNLOADING ──hooks done, still unused──▶ UNLOADED (slot removed)
    any live state ──close()──▶ CLOSED

"Use" is a join or a server operation (:meth:`RoomManager.apply_server_update`,
:meth:`RoomManager.read_state`); a slot is *in use* while it has connections or operations in
flight. Loading is single-flight: everyone who uses a LOADING slot awaits the same load task, so
concurrent joins of a cold room cause one ``on_load`` chain and all get their step1 after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from enum import Enum
from types import MappingProxyType, TracebackType
from typing import Final, Self

from .awareness import AwarenessTable
from .channel import Channel, CloseCode, Origin, ServerOrigin, StorageOrigin
from .errors import CrdtError
from .extensions import Fence, RoomExtension, order_extensions
from .room import DEFAULT_MAX_DOCUMENT_BYTES, Room
from .tasks import LocalTasks, TaskHost

__all__ = ["InvalidRoomTransition", "RoomManager", "RoomManagerClosed", "RoomState"]

logger = logging.getLogger("crdt.manager")

_STORAGE: Final = StorageOrigin()
_SERVER: Final = ServerOrigin()


class RoomManagerClosed(CrdtError):
    """The room manager is not running (not started yet, shutting down, or closed)."""


class InvalidRoomTransition(CrdtError):
    """A room slot was asked to move along an edge its state machine does not have (a bug)."""


class RoomState(Enum):
    """The life of one room in this process (see the module docstring)."""

    LOADING = "loading"
    ACTIVE = "active"
    IDLE = "idle"
    UNLOADING = "unloading"
    UNLOADED = "unloaded"
    FAILED = "failed"
    CLOSED = "closed"


_TRANSITIONS: Final[Mapping[RoomState, frozenset[RoomState]]] = {
    RoomState.LOADING: frozenset({RoomState.ACTIVE, RoomState.IDLE, RoomState.FAILED, RoomState.CLOSED}),
    RoomState.ACTIVE: frozenset({RoomState.IDLE, RoomState.CLOSED}),
    RoomState.IDLE: frozenset({RoomState.ACTIVE, RoomState.UNLOADING, RoomState.CLOSED}),
    RoomState.UNLOADING: frozenset({RoomState.ACTIVE, RoomState.IDLE, RoomState.UNLOADED, RoomState.CLOSED}),
    RoomState.UNLOADED: frozenset(),
    RoomState.FAILED: frozenset(),
    RoomState.CLOSED: frozenset(),
}


class _Slot:
    """One room name's entry in the manager."""

    __slots__ = ("loading", "name", "room", "state", "timer", "unloading", "users")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = RoomState.LOADING
        self.room: Room | None = None
        self.loading: asyncio.Task[Room] | None = None
        self.unloading: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.users = 0  # operations in flight (joins, server updates, reads)

    def to(self, new: RoomState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise InvalidRoomTransition(f"room {self.name!r} is {self.state.value}; it cannot become {new.value}")
        self.state = new

    @property
    def in_use(self) -> bool:
        return self.users > 0 or (self.room is not None and bool(self.room.channels))

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _Running(Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSING = "closing"
    CLOSED = "closed"


class RoomManager:
    """Every room of this process, with its extensions' hooks; an async context manager.

    ``async with RoomManager([...]) as rooms:`` starts the awareness sweep; leaving the block is
    :meth:`close`. Timeouts bound each load (``load_timeout``), each unload's hooks
    (``hook_timeout``) and each shutdown step (``shutdown_timeout``).
    """

    def __init__(
        self,
        extensions: Iterable[RoomExtension] = (),
        *,
        idle_unload_seconds: float = 30.0,
        awareness_sweep_seconds: float = 15.0,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        awareness_max_clients_per_connection: int = 4,
        awareness_max_state_bytes: int = 16 * 1024,
        awareness_outdated_after: float = 30.0,
        load_timeout: float = 30.0,
        hook_timeout: float = 30.0,
        shutdown_timeout: float = 10.0,
        tasks: TaskHost | None = None,
    ) -> None:
        if min(idle_unload_seconds, load_timeout, hook_timeout, shutdown_timeout) < 0 or awareness_sweep_seconds <= 0:
            raise ValueError("delays and timeouts must be positive")
        self._extensions = order_extensions(extensions)
        self._idle = idle_unload_seconds
        self._sweep_every = awareness_sweep_seconds
        self._max_document_bytes = max_document_bytes
        self._awareness_limits = (awareness_max_clients_per_connection, awareness_max_state_bytes)
        self._awareness_outdated_after = awareness_outdated_after
        self._load_timeout = load_timeout
        self._hook_timeout = hook_timeout
        self._shutdown_timeout = shutdown_timeout
        self._slots: dict[str, _Slot] = {}
        self._tasks: set[asyncio.Task[Room] | asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._host: TaskHost = tasks if tasks is not None else LocalTasks()
        self._running = _Running.NEW
        self._closed = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._running is not _Running.NEW:
            raise RoomManagerClosed(f"the room manager is {self._running.value}; it cannot start again")
        self._running = _Running.RUNNING
        self._sweeper = self._host.start("crdt-awareness-sweep", self._sweep_awareness)
        try:
            for ext in self._extensions:
                await ext.on_start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- public surface ---------------------------------------------------------------------

    @property
    def rooms(self) -> Mapping[str, Room]:
        """The rooms in memory right now (a read-only snapshot)."""
        return MappingProxyType({name: slot.room for name, slot in self._slots.items() if slot.room is not None})

    def get(self, name: str) -> Room | None:
        """The room called ``name`` if it is in memory and loaded, else None."""
        slot = self._slots.get(name)
        return None if slot is None else slot.room

    def state_of(self, name: str) -> RoomState | None:
        """The state of room ``name``, or None if this process does not hold it."""
        slot = self._slots.get(name)
        return None if slot is None else slot.state

    async def join(self, name: str, channel: Channel, *, readonly: bool = False) -> Room:
        """Add ``channel`` to room ``name`` (read-only: its document updates are dropped; see
        :meth:`Room.set_readonly`), loading the room first if needed (then the channel gets its
        step1). Raises whatever loading raised (the transport closes with INTERNAL_ERROR), or
        :class:`RoomManagerClosed`."""
        async with self._use(name) as room:
            room.add(channel, readonly=readonly)
            return room

    def leave(self, room: Room, channel: Channel, code: int | None = None, reason: str = "") -> None:
        """Remove ``channel`` from ``room`` (``code``/``reason``: how it ended, see :meth:`Room.remove`);
        an unused room is unloaded after the idle delay."""
        room.remove(channel, code, reason)
        slot = self._slots.get(room.name)
        if slot is not None and slot.room is room:
            self._settle(slot)

    async def apply_server_update(self, name: str, update: bytes, origin: Origin = _SERVER) -> None:
        """Apply a server-side update to room ``name`` (loading it if needed) and broadcast it.

        Raises :class:`~crdt.errors.UpdateRejected` / :class:`~crdt.errors.DocumentTooLarge`.
        """
        async with self._use(name) as room:
            room.apply_server_update(update, origin)

    async def read_state(self, name: str) -> bytes:
        """The whole document of room ``name`` as this node holds it now, as one update (loading it
        if needed)."""
        async with self._use(name) as room:
            return room.state_update()

    async def read_settled_state(self, name: str) -> bytes:
        """The whole document of room ``name`` holding every change accepted before this call on any
        node (the extensions' :meth:`~crdt.extensions.RoomExtension.settle` wait for the other nodes'
        changes), as one update. Without cross-node extensions, the same as :meth:`read_state`."""
        return await self._fence(name, seal=False)

    async def seal(self, name: str) -> bytes:
        """Make room ``name``'s document final on every node and return it, as one update.

        The room here is sealed at once (:meth:`Room.seal`: no connection's or server change is
        accepted from now on), then the extensions seal the other nodes' copies and wait for what
        those accepted before their seal. So the result holds every change accepted anywhere before
        the seal, and nothing is accepted after it. Idempotent: sealing again returns the same document.
        """
        return await self._fence(name, seal=True)

    async def _fence(self, name: str, *, seal: bool) -> bytes:
        async with self._use(name) as room:
            if seal:
                room.seal()
            fence = Fence(room, seal)
            for ext in self._extensions:
                await ext.settle(fence)
            return room.state_update()

    async def close(self, code: int = CloseCode.GOING_AWAY, reason: str = "server shutting down") -> None:
        """Ordered shutdown: close every connection with ``code``, stop the timers and cancel loads
        in progress, let unloads in progress finish (bounded), run the extensions' ``on_shutdown``
        (each bounded), then cancel whatever is left."""
        if self._running is _Running.CLOSING:
            await self._closed.wait()
            return
        if self._running is _Running.CLOSED:
            return
        self._running = _Running.CLOSING
        for slot in list(self._slots.values()):
            if slot.room is not None:
                for channel in slot.room.channels:
                    try:
                        channel.close(code, reason)
                    except Exception:
                        logger.exception("room %r: closing connection %s raised", slot.name, channel.key)
        if self._sweeper is not None:
            self._sweeper.cancel()
        for slot in self._slots.values():
            slot.cancel_timer()
            if slot.loading is not None:
                slot.loading.cancel()  # nobody will be let in: its waiters get RoomManagerClosed
        # Unloads in progress are flushing: let them finish (bounded) before on_shutdown.
        unloads = [slot.unloading for slot in self._slots.values() if slot.unloading is not None]
        if unloads:
            _, late = await asyncio.wait(unloads, timeout=self._shutdown_timeout)
            if late:
                logger.warning("%d room unloads still running after %.1f s", len(late), self._shutdown_timeout)
        for ext in self._extensions:
            try:
                async with asyncio.timeout(self._shutdown_timeout):
                    await ext.on_shutdown()
            except TimeoutError:
                logger.error("%s.on_shutdown did not finish within %.1f s", type(ext).__name__, self._shutdown_timeout)
            except Exception:
                logger.exception("%s.on_shutdown failed", type(ext).__name__)
        await self._cancel_remaining()
        for slot in self._slots.values():
            slot.to(RoomState.CLOSED)
        self._slots.clear()
        self._running = _Running.CLOSED
        self._closed.set()

    # -- using a room -----------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._running is not _Running.RUNNING:
            raise RoomManagerClosed(f"the room manager is {self._running.value}")

    @asynccontextmanager
    async def _use(self, name: str) -> AsyncIterator[Room]:
        """Hold room ``name`` loaded and in memory for the duration of the block."""
        self._check_running()
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = _Slot(name)
            task = asyncio.get_running_loop().create_task(self._load(slot), name=f"crdt-load:{name}")
            task.add_done_callback(_retrieve)
            slot.loading = task
            self._track(task)
        slot.users += 1
        self._wake(slot)
        try:
            room = slot.room
            if room is None:
                assert slot.loading is not None
                room = await self._await_load(slot.loading)
            self._check_running()
            yield room
        finally:
            slot.users -= 1
            self._settle(slot)

    @staticmethod
    async def _await_load(task: asyncio.Task[Room]) -> Room:
        try:
            # Shielded: a waiter that gives up (its client left) must not cancel everyone's load.
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                raise RoomManagerClosed("the room manager shut down while the room was loading") from None
            raise

    async def _load(self, slot: _Slot) -> Room:
        room = Room(
            slot.name,
            extensions=self._extensions,
            max_document_bytes=self._max_document_bytes,
            awareness=AwarenessTable(
                max_clients_per_connection=self._awareness_limits[0],
                max_state_bytes=self._awareness_limits[1],
                outdated_after=self._awareness_outdated_after,
            ),
        )
        try:
            async with asyncio.timeout(self._load_timeout):
                for ext in self._extensions:
                    for update in await ext.on_load(slot.name):
                        room.apply_server_update(update, _STORAGE)
                for ext in self._extensions:
                    await ext.on_loaded(room)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                logger.warning("room %r: loading failed", slot.name, exc_info=True)
            slot.to(RoomState.FAILED)
            if self._slots.get(slot.name) is slot:
                del self._slots[slot.name]
            raise
        slot.room = room
        slot.loading = None
        if slot.in_use:
            slot.to(RoomState.ACTIVE)
        else:
            slot.to(RoomState.IDLE)
            self._arm_unload(slot)
        return room

    def _wake(self, slot: _Slot) -> None:
        """A use begins: an idle or unloading room becomes active again."""
        if slot.state is RoomState.IDLE:
            slot.cancel_timer()
            slot.to(RoomState.ACTIVE)
        elif slot.state is RoomState.UNLOADING:
            slot.to(RoomState.ACTIVE)  # the unload task sees this and keeps the room

    def _settle(self, slot: _Slot) -> None:
        """A use or a connection ended: an active room nobody uses becomes idle."""
        if slot.state is RoomState.ACTIVE and not slot.in_use and self._running is _Running.RUNNING:
            slot.to(RoomState.IDLE)
            self._arm_unload(slot)

    # -- unloading --------------------------------------------------------------------------

    def _arm_unload(self, slot: _Slot) -> None:
        slot.cancel_timer()
        slot.timer = asyncio.get_running_loop().call_later(self._idle, self._unload_due, slot)

    def _unload_due(self, slot: _Slot) -> None:
        slot.timer = None
        if slot.state is not RoomState.IDLE or self._slots.get(slot.name) is not slot:
            return
        if slot.unloading is not None:  # an earlier attempt is still running its hooks
            self._arm_unload(slot)
            return
        slot.to(RoomState.UNLOADING)
        task = asyncio.get_running_loop().create_task(self._unload(slot), name=f"crdt-unload:{slot.name}")
        slot.unloading = task
        self._track(task)

    async def _unload(self, slot: _Slot) -> None:
        room = slot.room
        assert room is not None
        room.integrate()  # relayed changes of other nodes reach the hooks (and storage) before it leaves
        try:
            async with asyncio.timeout(self._hook_timeout):
                for ext in self._extensions:
                    await ext.before_unload(room)
        except Exception:
            logger.warning(
                "room %r: kept in memory, an extension's before_unload failed; retrying in %.1f s",
                slot.name,
                self._idle,
                exc_info=True,
            )
            if slot.state is RoomState.UNLOADING:
                slot.to(RoomState.IDLE)
                self._arm_unload(slot)
            return
        finally:
            slot.unloading = None
        # Any use during the hooks moved the slot out of UNLOADING: then the room stays.
        if slot.state is RoomState.UNLOADING and self._slots.get(slot.name) is slot:
            slot.to(RoomState.UNLOADED)
            del self._slots[slot.name]
            for ext in self._extensions:
                try:
                    await ext.on_unloaded(slot.name)
                except Exception:
                    logger.exception("room %r: %s.on_unloaded failed", slot.name, type(ext).__name__)

    # -- awareness --------------------------------------------------------------------------

    async def _sweep_awareness(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            for slot in list(self._slots.values()):
                if slot.room is not None:
                    try:
                        slot.room.sweep_awareness()
                    except Exception:
                        logger.exception("room %r: awareness sweep failed", slot.name)

    # -- bookkeeping ------------------------------------------------------------------------

    def _track(self, task: asyncio.Task[Room] | asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_remaining(self) -> None:
        tasks: list[asyncio.Task[Room] | asyncio.Task[None]] = [*self._tasks]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                continue
            except Exception:
                # Already reported where it happened (load failures, unload hooks); keep a trace.
                logger.debug("task %s ended with an error during shutdown", task.get_name(), exc_info=True)


def _retrieve(task: asyncio.Task[Room]) -> None:
    """Mark a load's outcome as seen: its waiters (if any) got it, and `_load` logged failures."""
    if not task.cancelled():
        task.exception()
