"""Periodic reconciliation of loaded rooms with the store (for clusters).

Why: a node cut off from the shared log keeps serving its clients and stores their edits; if it then
dies before the log comes back, those edits exist only in the store, while other nodes keep the room
loaded and never read the store again. Every `interval` seconds each loaded room re-reads the store
and applies what it holds (with `StorageOrigin`: delivered to the room's clients, not stored again,
not republished — every node reconciles on its own). Updates are idempotent, so applying what the
room already has changes nothing.
"""

from __future__ import annotations

import asyncio
import logging

from .channel import StorageOrigin
from .errors import CrdtError
from .extensions import RoomExtension
from .room import Room
from .store import DocumentStore
from .tasks import LocalTasks, TaskHost

__all__ = ["StoreReconciler"]

logger = logging.getLogger("crdt.reconcile")
_STORAGE = StorageOrigin()


class StoreReconciler(RoomExtension):
    """Re-applies each loaded room's stored state every `interval` seconds."""

    priority = 50

    def __init__(self, store: DocumentStore, *, interval: float = 30.0, tasks: TaskHost | None = None) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._store = store
        self._interval = interval
        self._rooms: dict[str, Room] = {}
        self._task: asyncio.Task[None] | None = None
        self._host: TaskHost = tasks if tasks is not None else LocalTasks()

    async def on_start(self) -> None:
        if self._task is None:
            self._task = self._host.start("crdt-reconcile", self._run)

    async def on_loaded(self, room: Room) -> None:
        self._rooms[room.name] = room

    async def on_unloaded(self, room_name: str) -> None:
        self._rooms.pop(room_name, None)

    async def on_shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                logger.debug("store reconciliation stopped")
            self._task = None

    async def reconcile(self, room: Room) -> None:
        """Apply the stored state of one room now."""
        for update in await self._store.load(room.name):
            try:
                room.apply_server_update(update, _STORAGE)
            except CrdtError as exc:
                logger.warning("room %r: a stored update was refused during reconciliation: %s", room.name, exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for name, room in list(self._rooms.items()):
                if self._rooms.get(name) is not room:
                    continue
                try:
                    await self.reconcile(room)
                except Exception:
                    logger.warning(
                        "room %r: reconciliation with the store failed; retrying next round", name, exc_info=True
                    )
