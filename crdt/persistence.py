"""Persistence of rooms as one extension: load from a :class:`~crdt.store.DocumentStore`, save
changes in debounced batches, retry failed saves, compact the stored log in the background.

Theory of operation, per room:

* Every change that did not come from the store is queued in memory. A save of the whole queue is
  due at ``min(first queued + max_delay, last change + debounce)``: a pause in typing saves soon, and
  continuous typing still saves every ``max_delay``. One timer per room; it is re-armed lazily (when
  it fires early it sleeps again), so a keystroke costs no timer churn.
* At most one save per room is in flight. A save appends a *prefix* of the queue and removes it only
  once the store has accepted it, so updates always reach the store in order. A failed save keeps
  everything queued, logs a warning, and is retried with exponential backoff. If a save's outcome is
  unknown (it failed after the store wrote it) the retry appends the same updates twice, which is
  harmless: applying an update twice changes nothing.
* ``before_unload`` saves everything and raises :class:`PersistenceError` if it cannot: a room is
  never dropped from memory with unsaved changes. ``on_load`` returns the stored log — plus anything
  still queued for that name, so a reload can never miss a change that is only in memory.
* After enough updates or bytes were appended since the last compaction (counted from the stored
  log on load, too), ``store.compact`` runs in the background, at most once per room at a time in
  this process; the store itself coordinates with other processes. Failures are logged and retried.
* In a cluster (``store_remote=False``) each change is stored by one writer, the node that accepted
  it; changes from other nodes (``RemoteOrigin``) are applied without being stored. Whoever learns
  that an author died before storing (the cross-node extension) hands the state to :meth:`keep`, and
  a room that applied remote changes saves its whole state once when it unloads, so a change reaches
  the store even if its author never does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from .channel import RemoteOrigin, StorageOrigin
from .errors import CrdtError
from .extensions import ChangeEvent, RoomExtension
from .room import Room
from .store import DocumentStore

__all__ = ["PersistenceError", "PersistenceExtension", "StoreCall", "StoreObserver"]

logger = logging.getLogger("crdt.persistence")

_EARLY: Final = 0.001  # a timer firing this close to its due time counts as on time


class PersistenceError(CrdtError):
    """A room's changes could not be saved (its ``__cause__`` is the store's error)."""


@dataclass(frozen=True, slots=True)
class StoreCall:
    """One call of the document store: which, how long it took (seconds), whether it succeeded, and
    its attempt (1 for a first try; more for a retry of a failed save or compaction)."""

    operation: Literal["load", "append", "compact"]
    seconds: float
    ok: bool
    attempt: int


class StoreObserver(Protocol):
    """Told about every store call (e.g. metrics). Called on the event loop: must not block or raise."""

    def on_store_call(self, call: StoreCall) -> None: ...


@dataclass(eq=False, slots=True)
class _RoomLog:
    """What this process knows about one room's unsaved changes and stored log."""

    name: str
    pending: list[tuple[float, bytes]] = field(default_factory=list)  # (queued at, update), in order
    received: int = 0  # updates ever queued
    saved: int = 0  # updates the store accepted (a prefix of what was queued)
    last_change: float = 0.0
    timer: asyncio.Handle | None = None
    timer_due: float = 0.0  # when `timer` fires (uvloop returns a plain Handle for a past due time)
    flushing: asyncio.Task[bool] | None = None
    failures: int = 0  # consecutive failed saves
    retry_at: float | None = None  # in backoff until then
    last_error: BaseException | None = None
    loaded: bool = True  # False once the room was unloaded; the log is dropped when idle
    appended_updates: int = 0  # stored after the last compaction
    appended_bytes: int = 0
    compacting: asyncio.Task[None] | None = None
    compact_failures: int = 0
    compact_timer: asyncio.TimerHandle | None = None
    remote: bool = False  # applied changes of other nodes (not stored here) since its last full save


class PersistenceExtension(RoomExtension):
    """Loads rooms from ``store`` and saves their changes (see the module docstring).

    Saves are due ``debounce`` seconds after the last change, and at most ``max_delay`` seconds
    after the first unsaved one. Failed saves are retried after ``retry_initial`` seconds, doubling
    up to ``retry_max``. Each ``append`` and ``compact`` call is bounded by ``store_timeout``.
    Compaction starts once ``compact_every_updates`` updates or ``compact_every_bytes`` bytes were
    appended since the last one. With ``store_remote=False`` changes from other nodes are not
    stored (their author stores them; see the module docstring).
    """

    priority = 1000  # save before other extensions run their unload hooks

    def __init__(
        self,
        store: DocumentStore,
        *,
        debounce: float = 0.5,
        max_delay: float = 3.0,
        compact_every_updates: int = 500,
        compact_every_bytes: int = 1024 * 1024,
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        store_timeout: float = 30.0,
        observer: StoreObserver | None = None,
        store_remote: bool = True,
    ) -> None:
        if debounce < 0 or max_delay < 0 or retry_initial <= 0 or retry_max < retry_initial or store_timeout <= 0:
            raise ValueError("persistence delays must be positive, with retry_max >= retry_initial")
        if compact_every_updates < 1 or compact_every_bytes < 1:
            raise ValueError("compaction thresholds must be positive")
        self._store = store
        self._debounce = debounce
        self._max_delay = max_delay
        self._compact_updates = compact_every_updates
        self._compact_bytes = compact_every_bytes
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._store_timeout = store_timeout
        self._observer = observer
        self._store_remote = store_remote
        self._logs: dict[str, _RoomLog] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._shut_down = False

    # -- inspection -------------------------------------------------------------------------

    def pending_count(self, name: str) -> int:
        """How many changes of room ``name`` are not saved yet."""
        log = self._logs.get(name)
        return 0 if log is None else len(log.pending)

    def is_dirty(self, name: str) -> bool:
        """True while room ``name`` has changes that are not saved."""
        return self.pending_count(name) > 0

    def dirty_rooms(self) -> list[str]:
        """The names of every room with unsaved changes."""
        return [name for name, log in self._logs.items() if log.pending]

    # -- hooks ------------------------------------------------------------------------------

    async def on_load(self, room_name: str) -> Sequence[bytes]:
        started = time.perf_counter()
        try:
            stored = await self._store.load(room_name)
        except Exception:
            self._observe("load", started, ok=False, attempt=1)
            raise
        self._observe("load", started, ok=True, attempt=1)
        log = self._logs.get(room_name)
        if log is None:
            log = self._logs[room_name] = _RoomLog(room_name)
        log.loaded = True
        # The stored log after its snapshot counts towards the next compaction.
        log.appended_updates = max(len(stored) - 1, 0)
        log.appended_bytes = sum(len(update) for update in stored[1:])
        self._maybe_compact(log)
        if log.pending:
            return [*stored, *(update for _, update in log.pending)]
        return stored

    def on_change(self, event: ChangeEvent) -> None:
        origin = event.origin
        if type(origin) is StorageOrigin:
            return
        if type(origin) is RemoteOrigin and not self._store_remote:
            self._log_of(event.room.name).remote = True
            return
        self._queue(event.room.name, event.update)

    def keep(self, name: str, update: bytes) -> None:
        """Save ``update`` to room ``name`` like a change made here (e.g. a dead node's changes that
        only this node still holds), on the usual schedule."""
        self._queue(name, update)

    def _log_of(self, name: str) -> _RoomLog:
        log = self._logs.get(name)
        if log is None:
            log = self._logs[name] = _RoomLog(name)
        return log

    def _queue(self, name: str, update: bytes) -> None:
        log = self._log_of(name)
        now = asyncio.get_running_loop().time()
        log.pending.append((now, update))
        log.received += 1
        log.last_change = now
        log.loaded = True  # a change means the room is live, even if an unload was attempted
        if log.flushing is None:
            self._arm(log)

    async def before_unload(self, room: Room) -> None:
        log = self._logs.get(room.name)
        if log is not None and log.remote:
            # Changes of other nodes only this node may hold now (their authors may have died):
            # the whole state, once, before the room leaves memory.
            log.remote = False
            self._queue(room.name, room.state_update())
        await self.flush(room.name)
        log = self._logs.get(room.name)
        if log is not None and not log.pending and log.flushing is None:
            log.loaded = False
            self._forget_if_idle(log)

    async def on_shutdown(self) -> None:
        """Save every room, retrying failed saves until done or cancelled (the caller bounds the
        wait); then stop the background work. Rooms left unsaved are logged as errors."""
        self._shut_down = True
        for log in self._logs.values():
            self._cancel_timers(log)
        try:
            await asyncio.gather(*(self._save_at_shutdown(log) for log in list(self._logs.values()) if log.pending))
        finally:
            for log in self._logs.values():
                if log.pending:
                    logger.error("room %r: %d changes could not be saved before shutdown", log.name, len(log.pending))
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except asyncio.CancelledError:
                    continue
                except Exception:
                    logger.exception("persistence task %s failed during shutdown", task.get_name())

    # -- saving -----------------------------------------------------------------------------

    async def flush(self, name: str) -> None:
        """Save every change of room ``name`` queued so far, now.

        Raises :class:`PersistenceError` if the store refuses (the changes stay queued and the
        usual retries go on).
        """
        log = self._logs.get(name)
        if log is None:
            return
        target = log.received
        while log.saved < target:
            task = log.flushing
            if task is None:
                if log.timer is not None:
                    log.timer.cancel()
                    log.timer = None
                task = self._start_flush(log)
            if not await asyncio.shield(task):
                raise PersistenceError(f"room {name!r}: {len(log.pending)} changes not saved") from log.last_error

    def _due(self, log: _RoomLog) -> float:
        if log.retry_at is not None:
            return log.retry_at
        return min(log.pending[0][0] + self._max_delay, log.last_change + self._debounce)

    def _arm(self, log: _RoomLog) -> None:
        if self._shut_down or not log.pending:
            return
        due = self._due(log)
        timer = log.timer
        if timer is not None:
            if log.timer_due <= due:
                return  # it fires first and re-arms itself
            timer.cancel()
        log.timer_due = due
        log.timer = asyncio.get_running_loop().call_at(due, self._on_timer, log)

    def _on_timer(self, log: _RoomLog) -> None:
        log.timer = None
        if log.flushing is not None or not log.pending or self._logs.get(log.name) is not log:
            return
        if self._due(log) > asyncio.get_running_loop().time() + _EARLY:
            self._arm(log)
        else:
            self._start_flush(log)

    def _start_flush(self, log: _RoomLog) -> asyncio.Task[bool]:
        task = asyncio.get_running_loop().create_task(self._flush(log), name=f"crdt-save:{log.name}")
        log.flushing = task
        self._track(task)
        return task

    async def _flush(self, log: _RoomLog) -> bool:
        batch = [update for _, update in log.pending]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._store_timeout):
                await self._store.append(log.name, batch)
        except Exception as exc:  # a timeout included: the batch may have been stored, retrying is safe
            self._observe("append", started, ok=False, attempt=log.failures + 1)
            log.failures += 1
            log.last_error = exc
            delay = self._backoff(log.failures)
            log.retry_at = asyncio.get_running_loop().time() + delay
            logger.warning(
                "room %r: saving %d changes failed (attempt %d), retrying in %.2f s",
                log.name,
                len(batch),
                log.failures,
                delay,
                exc_info=True,
            )
            return False
        else:
            self._observe("append", started, ok=True, attempt=log.failures + 1)
            del log.pending[: len(batch)]
            log.saved += len(batch)
            log.failures = 0
            log.retry_at = None
            log.last_error = None
            log.appended_updates += len(batch)
            log.appended_bytes += sum(map(len, batch))
            self._maybe_compact(log)
            return True
        finally:
            log.flushing = None
            self._arm(log)

    async def _save_at_shutdown(self, log: _RoomLog) -> None:
        attempt = 0
        while log.pending:
            try:
                await self.flush(log.name)
            except PersistenceError:
                attempt += 1  # the failed save was logged; wait, then try again
                await asyncio.sleep(self._backoff(attempt))

    def _observe(
        self, operation: Literal["load", "append", "compact"], started: float, *, ok: bool, attempt: int
    ) -> None:
        if self._observer is not None:
            try:
                self._observer.on_store_call(StoreCall(operation, time.perf_counter() - started, ok, attempt))
            except Exception:
                logger.exception("the store observer failed")

    def _backoff(self, attempt: int) -> float:
        return float(min(self._retry_initial * 2 ** min(attempt - 1, 30), self._retry_max))

    # -- compaction -------------------------------------------------------------------------

    def _maybe_compact(self, log: _RoomLog) -> None:
        if (
            self._shut_down
            or log.compacting is not None
            or log.compact_timer is not None
            or (log.appended_updates < self._compact_updates and log.appended_bytes < self._compact_bytes)
        ):
            return
        task = asyncio.get_running_loop().create_task(self._compact(log), name=f"crdt-compact:{log.name}")
        log.compacting = task
        self._track(task)

    async def _compact(self, log: _RoomLog) -> None:
        counted_updates, counted_bytes = log.appended_updates, log.appended_bytes
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._store_timeout):
                compacted = await self._store.compact(log.name)
        except Exception:
            self._observe("compact", started, ok=False, attempt=log.compact_failures + 1)
            log.compact_failures += 1
            delay = self._backoff(log.compact_failures)
            logger.warning(
                "room %r: compaction failed (attempt %d), retrying in %.2f s",
                log.name,
                log.compact_failures,
                delay,
                exc_info=True,
            )
            self._retry_compaction(log, delay)
            return
        finally:
            log.compacting = None
        self._observe("compact", started, ok=True, attempt=log.compact_failures + 1)
        if not compacted:
            logger.info("room %r: another process is compacting it; trying again later", log.name)
            self._retry_compaction(log, self._backoff(1))
            return
        log.compact_failures = 0
        # Appends that completed while compacting may or may not be in the snapshot: count them again.
        log.appended_updates = max(log.appended_updates - counted_updates, 0)
        log.appended_bytes = max(log.appended_bytes - counted_bytes, 0)
        self._forget_if_idle(log)

    def _retry_compaction(self, log: _RoomLog, delay: float) -> None:
        if not log.loaded:
            self._forget_if_idle(log)  # the next load counts the stored log again and retries
            return
        if self._shut_down or self._logs.get(log.name) is not log:
            return

        def retry() -> None:
            log.compact_timer = None
            if self._logs.get(log.name) is log:
                self._maybe_compact(log)

        log.compact_timer = asyncio.get_running_loop().call_later(delay, retry)

    # -- bookkeeping ------------------------------------------------------------------------

    def _track(self, task: asyncio.Task[bool] | asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_timers(self, log: _RoomLog) -> None:
        for timer in (log.timer, log.compact_timer):
            if timer is not None:
                timer.cancel()
        log.timer = log.compact_timer = None

    def _forget_if_idle(self, log: _RoomLog) -> None:
        """Drop the state of an unloaded room once nothing about it is pending or running."""
        if (
            not log.loaded
            and not log.pending
            and log.flushing is None
            and log.compacting is None
            and self._logs.get(log.name) is log
        ):
            self._cancel_timers(log)
            del self._logs[log.name]
