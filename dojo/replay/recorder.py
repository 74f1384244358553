"""Recording a dojo's history: one room extension, one ordered writer per node.

Theory of operation.
- When a room loads, the recorder asks PostgreSQL whether the room is a dojo of its tenant and
  whether the tenant records history (`dojo.tenant_settings`, re-read every `refresh_seconds`).
- Every change a *client of this node* made (``ConnectionOrigin``) or the HTTP document API applied
  here (``ServerOrigin``) is queued with this node's time and its author: the user of the connection
  (``author_of``, from the dojo's live connections) or of the API call. Changes relayed from other
  nodes (``RemoteOrigin``) and loaded from storage are not: the node that accepted an update from its
  client records it, so each update is recorded exactly once across the cluster.
- One writer task drains the queue in order, in batches (one transaction per tenant), retrying
  with backoff while PostgreSQL fails. The queue is bounded (``max_queue``): while it is full the
  recorder refuses new edits to recorded rooms (``admit`` raises ``Overloaded``: the socket closes
  1013, the client reconnects and its step2 carries the edit again) rather than drop history.
- After writing, a dojo that got ``checkpoint_updates`` updates or ``checkpoint_seconds`` since its
  last checkpoint gets a new one (``HistoryStore.build_checkpoint``).
The history tables are apart from the compacted collab store, so compaction never touches them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crdt import ChangeEvent, ConnectionOrigin, Overloaded, ProposedChange, RoomExtension, ServerOrigin
from dojo.docstore import BadRoomKey, RoomKey
from dojo.replay.store import HistoryRow, HistoryStore
from dojo.room_names import RoomNameError, parse_dojo_id
from runtime.supervisor import Policy, Supervisor

__all__ = ["AuthorOf", "HistoryRecorder"]

log = logging.getLogger("dojo.history")

AuthorOf = Callable[[str, int], str | None]
"""(room key, connection key) → the user id of that open connection, None if unknown."""

_HTTP_PREFIX = "http:"  # `ServerOrigin(f"http:{user}")`: the document API's changes (dojo.collab_api)


@dataclass(slots=True)
class _Target:
    tenant_id: uuid.UUID
    dojo_id: uuid.UUID


@dataclass(slots=True)
class _Flag:
    enabled: bool
    read_at: float
    refreshing: asyncio.Task[None] | None = None


@dataclass(slots=True)
class _Progress:
    """Updates written for one dojo since its last checkpoint (by this node)."""

    count: int = 0
    since: float = 0.0
    last_at: datetime | None = None


class HistoryRecorder(RoomExtension):
    priority = 950  # refuses (overload) before the quota counts the change

    def __init__(
        self,
        store: HistoryStore,
        author_of: AuthorOf,
        *,
        max_queue: int = 10_000,
        batch: int = 500,
        checkpoint_updates: int = 500,
        checkpoint_seconds: float = 60.0,
        refresh_seconds: float = 10.0,
    ) -> None:
        if min(max_queue, batch, checkpoint_updates) < 1 or min(checkpoint_seconds, refresh_seconds) <= 0:
            raise ValueError("history recorder bounds must be positive")
        self._store = store
        self._author_of = author_of
        self.max_queue = max_queue
        self._batch = batch
        self._checkpoint_updates = checkpoint_updates
        self._checkpoint_seconds = checkpoint_seconds
        self._refresh = refresh_seconds
        self._targets: dict[str, _Target] = {}
        self._flags: dict[uuid.UUID, _Flag] = {}
        self._queue: deque[tuple[uuid.UUID, HistoryRow]] = deque()
        self._inflight = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_at = datetime.min.replace(tzinfo=UTC)
        self._progress: dict[tuple[uuid.UUID, uuid.UUID], _Progress] = {}
        self._supervisor = Supervisor("dojo-history")
        self.written = 0
        self.refused = 0

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def on_start(self) -> None:
        self._supervisor.start("history-writer", self._write_loop, policy=Policy.RESTART)

    async def on_shutdown(self) -> None:
        try:
            await asyncio.wait_for(self.drained(), timeout=5.0)
        except TimeoutError:
            log.error("history: %d updates not written at shutdown", len(self._queue) + self._inflight)
        finally:
            for flag in self._flags.values():
                if flag.refreshing is not None:
                    flag.refreshing.cancel()
            await self._supervisor.aclose()

    async def drained(self) -> None:
        """Return once everything queued so far is written."""
        while self._queue or self._inflight:
            self._idle.clear()
            await self._idle.wait()

    @property
    def backlog(self) -> int:
        return len(self._queue) + self._inflight

    # -- which rooms are recorded --------------------------------------------------------------------------
    async def on_load(self, room_name: str) -> Sequence[bytes]:
        try:
            key = RoomKey.parse(room_name)
            dojo_id = parse_dojo_id(key.room)
        except (BadRoomKey, RoomNameError):
            return ()
        if dojo_id is None or not await self._store.is_dojo(key.tenant_id, dojo_id):
            return ()
        await self._read_flag(key.tenant_id)
        self._targets[room_name] = _Target(key.tenant_id, dojo_id)
        return ()

    async def on_unloaded(self, room_name: str) -> None:
        self._targets.pop(room_name, None)

    def set_enabled(self, tenant_id: uuid.UUID, enabled: bool) -> None:
        """The tenant's setting changed on this node (other nodes read it within ``refresh_seconds``)."""
        self._flags[tenant_id] = _Flag(enabled, asyncio.get_running_loop().time())

    async def _read_flag(self, tenant_id: uuid.UUID) -> None:
        read_at = asyncio.get_running_loop().time()
        enabled = await self._store.enabled(tenant_id)
        flag = self._flags.get(tenant_id)
        if flag is None or read_at >= flag.read_at:
            self._flags[tenant_id] = _Flag(enabled, read_at, None if flag is None else flag.refreshing)

    def _recording(self, target: _Target) -> bool:
        flag = self._flags.get(target.tenant_id)
        if flag is None:
            return True  # cannot happen once on_load ran; recording is the default
        if flag.refreshing is None and asyncio.get_running_loop().time() - flag.read_at > self._refresh:
            task = asyncio.get_running_loop().create_task(self._read_flag(target.tenant_id))
            flag.refreshing = task
            task.add_done_callback(lambda done: self._flag_read(target.tenant_id, done))
        return flag.enabled

    def _flag_read(self, tenant_id: uuid.UUID, task: asyncio.Task[None]) -> None:
        flag = self._flags.get(tenant_id)
        if flag is not None and flag.refreshing is task:
            flag.refreshing = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("history: reading tenant %s's setting failed", tenant_id, exc_info=task.exception())

    # -- the hot path --------------------------------------------------------------------------------------
    def admit(self, change: ProposedChange) -> None:
        if change.room.name in self._targets and self.backlog >= self.max_queue:
            self.refused += 1
            raise Overloaded(f"the dojo history writer is behind ({self.backlog} updates queued)")

    def on_change(self, event: ChangeEvent) -> None:
        origin = event.origin
        if not isinstance(origin, ConnectionOrigin | ServerOrigin):
            return
        target = self._targets.get(event.room.name)
        if target is None or not self._recording(target):
            return
        if isinstance(origin, ConnectionOrigin):
            author = self._author_of(event.room.name, origin.key)
        else:
            author = origin.reason[len(_HTTP_PREFIX) :] if origin.reason.startswith(_HTTP_PREFIX) else None
        now = datetime.now(UTC)
        self._last_at = at = now if now > self._last_at else self._last_at + timedelta(microseconds=1)
        user = _uuid_or_none(author)
        self._queue.append((target.tenant_id, HistoryRow(target.dojo_id, at, user, event.update)))
        self._wake.set()

    # -- the writer ----------------------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        delay = 0.0
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
            batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            self._inflight = len(batch)
            try:
                await self._write(batch)
            except Exception:
                # Nothing is dropped: the batch goes back to the front, in order, and is retried.
                self._queue.extendleft(reversed(batch))
                self._inflight = 0
                delay = min(5.0, max(0.05, delay * 2))
                log.warning("history: writing %d updates failed; retrying in %.2f s", len(batch), delay, exc_info=True)
                await asyncio.sleep(delay)
                continue
            delay = 0.0
            self._inflight = 0
            self.written += len(batch)
            await self._checkpoint(batch)

    async def _write(self, batch: list[tuple[uuid.UUID, HistoryRow]]) -> None:
        by_tenant: dict[uuid.UUID, list[HistoryRow]] = {}
        for tenant, row in batch:
            by_tenant.setdefault(tenant, []).append(row)
        for tenant, rows in by_tenant.items():
            await self._store.append(tenant, rows)

    async def _checkpoint(self, batch: list[tuple[uuid.UUID, HistoryRow]]) -> None:
        now = asyncio.get_running_loop().time()
        touched: set[tuple[uuid.UUID, uuid.UUID]] = set()
        for tenant, row in batch:
            key = (tenant, row.dojo_id)
            progress = self._progress.get(key)
            if progress is None:
                progress = self._progress[key] = _Progress(since=now)
            progress.count += 1
            progress.last_at = row.at
            touched.add(key)
        for key in touched:
            progress = self._progress[key]
            if progress.count < self._checkpoint_updates and now - progress.since < self._checkpoint_seconds:
                continue
            assert progress.last_at is not None
            try:
                await self._store.build_checkpoint(key[0], key[1], progress.last_at)
            except Exception:
                log.warning("history: checkpoint of dojo %s failed; tried again later", key[1], exc_info=True)
                continue
            del self._progress[key]


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
