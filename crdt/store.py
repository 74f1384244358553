"""Where documents are kept between loads: the :class:`DocumentStore` protocol and an in-memory store.

A stored document is a log: an optional snapshot followed by the updates appended since, in order.
Appending is cheap and safe to repeat (applying an update twice changes nothing); compaction merges
the log into one snapshot so that loading stays fast and storage small (a real editing trace's
update log is ~46× the size of the merged document).

:class:`MemoryStore` is for tests and single-process development; the PostgreSQL store lives with
the service that owns the schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from .errors import CrdtError
from .updates import merge_updates

__all__ = ["DocumentStore", "MemoryStore", "StoreError", "StoreUnavailable"]


class StoreError(CrdtError):
    """A document store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now (what :class:`MemoryStore` raises when told to fail)."""


class DocumentStore(Protocol):
    """Durable storage of documents as update logs, keyed by room name."""

    async def load(self, name: str) -> list[bytes]:
        """The stored updates of ``name``, snapshot first, then the logged updates in the order
        they were appended; an empty list for a document never stored."""
        ...

    async def append(self, name: str, updates: Sequence[bytes]) -> None:
        """Append ``updates`` (in order) to the log of ``name``, atomically: all or none."""
        ...

    async def compact(self, name: str) -> bool:
        """Merge the stored log of ``name`` into one snapshot, keeping updates appended meanwhile.

        Returns False, without waiting, when another process is compacting the same document.
        """
        ...


class MemoryStore:
    """A :class:`DocumentStore` in a dict, with failure injection for tests.

    * ``failing = True`` makes every operation raise :class:`StoreUnavailable` until reset;
      :meth:`fail_next` makes only the next ``n`` operations of the given kinds fail.
    * ``delay`` (seconds) is awaited at the start of every operation, to simulate a slow store.
    * ``operations`` counts the calls of each kind ("load", "append", "compact"), failed ones included.
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.failing = False
        self.operations: dict[str, int] = {"load": 0, "append": 0, "compact": 0}
        self._logs: dict[str, list[bytes]] = {}
        self._fail_next: dict[str, int] = {}
        self._compacting: set[str] = set()

    def fail_next(self, n: int = 1, *, operations: Sequence[str] = ("append",)) -> None:
        """Make the next ``n`` calls of each of ``operations`` raise :class:`StoreUnavailable`."""
        for op in operations:
            if op not in self.operations:
                raise ValueError(f"unknown store operation {op!r}")
            self._fail_next[op] = n

    def log(self, name: str) -> list[bytes]:
        """A copy of the stored log of ``name`` (for tests), without counting as an operation."""
        return list(self._logs.get(name, ()))

    async def _enter(self, op: str) -> None:
        self.operations[op] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            raise StoreUnavailable(f"memory store: {op} failing on purpose")
        left = self._fail_next.get(op, 0)
        if left:
            self._fail_next[op] = left - 1
            raise StoreUnavailable(f"memory store: {op} failing on purpose ({left - 1} more to fail)")

    async def load(self, name: str) -> list[bytes]:
        await self._enter("load")
        return list(self._logs.get(name, ()))

    async def append(self, name: str, updates: Sequence[bytes]) -> None:
        await self._enter("append")
        if updates:
            self._logs.setdefault(name, []).extend(updates)

    async def compact(self, name: str) -> bool:
        if name in self._compacting:
            return False
        self._compacting.add(name)
        try:
            await self._enter("compact")
            log = self._logs.get(name)
            if log is None or len(log) < 2:
                return True
            log[:] = [merge_updates(log)]  # nothing here awaits: no append can interleave
            return True
        finally:
            self._compacting.discard(name)
