"""The per-tenant document storage quota, as one room extension.

Theory of operation. PostgreSQL keeps each tenant's stored bytes (`crdt.tenant_usage`, maintained by
triggers in the same transaction as every store write). This node holds, per tenant, the last figure
it read plus the bytes it admitted since; a change from a client or the server API is admitted while
that sum plus the change stays within ``quota_bytes``, and refused otherwise with
:class:`~crdt.errors.QuotaExceeded` (the socket closes with 4402, the HTTP API answers 413) — the
document is left unchanged, so nothing stored is lost. Near the quota the change is measured exactly
(what it adds to the document), so a reconnecting client's duplicate step2 still passes.

The figure is re-read when a room of the tenant loads and, in the background, when it is older than
``refresh_seconds``. The slack, documented: other nodes' writes since the last read, and this node's
writes between a refresh and their storage (≤ the persistence delay), are not counted, so a tenant may
exceed the quota by what it writes within about ``refresh_seconds``. Updates relayed from other nodes
and loaded from the store are never refused (they are already accepted).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from crdt import ProposedChange, QuotaExceeded, RoomExtension
from dojo.docstore import BadRoomKey, RoomKey

log = logging.getLogger("dojo.quota")

UsageReader = Callable[[uuid.UUID], Awaitable[int]]


@dataclass(slots=True)
class _Figure:
    stored: int  # bytes stored, as last read
    read_at: float  # loop time of that read
    admitted: int = 0  # bytes admitted on this node since
    refreshing: asyncio.Task[None] | None = None


class StorageQuota(RoomExtension):
    """Refuses changes that would take a tenant's stored documents past ``quota_bytes``."""

    priority = 900  # before persistence stores anything and fan-out relays it

    def __init__(self, usage_of: UsageReader, *, quota_bytes: int, refresh_seconds: float) -> None:
        if quota_bytes < 1 or refresh_seconds <= 0:
            raise ValueError("quota_bytes and refresh_seconds must be positive")
        self._usage_of = usage_of
        self.quota_bytes = quota_bytes
        self._refresh = refresh_seconds
        self._figures: dict[uuid.UUID, _Figure] = {}
        self._tenants: dict[str, uuid.UUID] = {}  # room name -> tenant, parsed once per loaded room

    def usage(self, tenant_id: uuid.UUID) -> int | None:
        """This node's estimate of the tenant's stored bytes (None if it holds no figure)."""
        figure = self._figures.get(tenant_id)
        return None if figure is None else figure.stored + figure.admitted

    async def on_load(self, room_name: str) -> Sequence[bytes]:
        tenant = self._tenant_of(room_name)
        figure = self._figures.get(tenant)
        if figure is None or self._stale(figure):
            await self._read(tenant)
        return ()

    async def on_unloaded(self, room_name: str) -> None:
        self._tenants.pop(room_name, None)

    async def on_shutdown(self) -> None:
        tasks = [f.refreshing for f in self._figures.values() if f.refreshing is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                continue

    def admit(self, change: ProposedChange) -> None:
        tenant = self._tenant_of(change.room.name)
        figure = self._figures.get(tenant)
        if figure is None:  # loaded before the quota knew it (cannot happen once on_load ran): read now
            self._schedule(tenant, None)
            return
        size = len(change.update)
        used = figure.stored + figure.admitted
        if used + size > self.quota_bytes:
            size = change.added_bytes()
            if size and used + size > self.quota_bytes:
                raise QuotaExceeded(
                    f"the tenant's document storage quota ({self.quota_bytes} bytes) is used up ({used} bytes stored)"
                )
        figure.admitted += size
        if self._stale(figure):
            self._schedule(tenant, figure)

    # -- the stored figure ---------------------------------------------------------------------------------

    def _tenant_of(self, room_name: str) -> uuid.UUID:
        tenant = self._tenants.get(room_name)
        if tenant is None:
            try:
                tenant = RoomKey.parse(room_name).tenant_id
            except BadRoomKey as exc:
                raise QuotaExceeded(f"room {room_name!r} belongs to no tenant") from exc
            self._tenants[room_name] = tenant
        return tenant

    def _stale(self, figure: _Figure) -> bool:
        return asyncio.get_running_loop().time() - figure.read_at > self._refresh

    async def _read(self, tenant: uuid.UUID) -> None:
        figure = self._figures.get(tenant)
        admitted_before = 0 if figure is None else figure.admitted
        read_at = asyncio.get_running_loop().time()
        stored = await self._usage_of(tenant)
        figure = self._figures.get(tenant)
        if figure is None:
            self._figures[tenant] = _Figure(stored, read_at)
        elif read_at >= figure.read_at:
            # What was admitted before this read started is (but for the last unsaved seconds) in `stored`.
            figure.stored, figure.read_at = stored, read_at
            figure.admitted = max(0, figure.admitted - admitted_before)

    def _schedule(self, tenant: uuid.UUID, figure: _Figure | None) -> None:
        if figure is not None and figure.refreshing is not None:
            return
        task = asyncio.get_running_loop().create_task(self._read(tenant), name=f"quota-refresh:{tenant}")
        if figure is not None:
            figure.refreshing = task
        task.add_done_callback(lambda done: self._refreshed(tenant, done))

    def _refreshed(self, tenant: uuid.UUID, task: asyncio.Task[None]) -> None:
        figure = self._figures.get(tenant)
        if figure is not None and figure.refreshing is task:
            figure.refreshing = None
        if not task.cancelled() and task.exception() is not None:
            # The last figure stays in force; the next stale admission tries again.
            log.warning("reading the storage usage of tenant %s failed", tenant, exc_info=task.exception())
