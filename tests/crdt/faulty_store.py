"""A document store that fails, slows down and counts on command: fault injection for tests, kept out of
the production :class:`crdt.MemoryStore` it wraps."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from crdt import MemoryStore, StoreUnavailable

OPERATIONS = ("load", "append", "compact")


class FaultyStore(MemoryStore):
    """A :class:`MemoryStore` with failure injection.

    * ``failing = True`` makes every operation raise :class:`StoreUnavailable` until reset;
      :meth:`fail_next` makes only the next ``n`` operations of the given kinds fail.
    * ``delay`` (seconds) is awaited at the start of every operation, to simulate a slow store; while one
      compaction of a document waits, another one of the same document returns False at once, as the
      PostgreSQL store's advisory lock does.
    * ``operations`` counts the calls of each kind, failed ones included.
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.failing = False
        self.operations: dict[str, int] = dict.fromkeys(OPERATIONS, 0)
        self._fail_next: dict[str, int] = {}
        self._compacting: set[str] = set()

    def fail_next(self, n: int = 1, *, operations: Sequence[str] = ("append",)) -> None:
        """Make the next ``n`` calls of each of ``operations`` raise :class:`StoreUnavailable`."""
        for op in operations:
            if op not in self.operations:
                raise ValueError(f"unknown store operation {op!r}")
            self._fail_next[op] = n

    async def _enter(self, op: str) -> None:
        self.operations[op] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            raise StoreUnavailable(f"faulty store: {op} failing on purpose")
        left = self._fail_next.get(op, 0)
        if left:
            self._fail_next[op] = left - 1
            raise StoreUnavailable(f"faulty store: {op} failing on purpose ({left - 1} more to fail)")

    async def load(self, name: str) -> list[bytes]:
        await self._enter("load")
        return await super().load(name)

    async def append(self, name: str, updates: Sequence[bytes]) -> None:
        await self._enter("append")
        await super().append(name, updates)

    async def compact(self, name: str) -> bool:
        if name in self._compacting:
            return False
        self._compacting.add(name)
        try:
            await self._enter("compact")
            return await super().compact(name)
        finally:
            self._compacting.discard(name)
