"""Where documents are kept between loads: the :class:`DocumentStore` protocol and an in-memory store.

A stored document is a log: an optional snapshot followed by the updates appended since, in order.
Appending is cheap and safe to repeat (applying an update twice changes nothing); compaction merges
the log into one snapshot so that loading stays fast and storage small (a real editing trace's
update log is ~46× the size of the merged document).

:class:`MemoryStore` is for tests and single-process development; the PostgreSQL store lives with
the service that owns the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .errors import CrdtError
from .updates import merge_updates

__all__ = ["DocumentStore", "MemoryStore", "StoreError", "StoreUnavailable"]


class StoreError(CrdtError):
    """A document store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now: the caller may retry later."""


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
    """A :class:`DocumentStore` in a dict, for tests and single-process development. Nothing in it
    awaits, so no two operations interleave. (Tests inject faults with a subclass of their own.)"""

    def __init__(self) -> None:
        self._logs: dict[str, list[bytes]] = {}

    def log(self, name: str) -> list[bytes]:
        """A copy of the stored log of ``name`` (for tests)."""
        return list(self._logs.get(name, ()))

    async def load(self, name: str) -> list[bytes]:
        return list(self._logs.get(name, ()))

    async def append(self, name: str, updates: Sequence[bytes]) -> None:
        if updates:
            self._logs.setdefault(name, []).extend(updates)

    async def compact(self, name: str) -> bool:
        log = self._logs.get(name)
        if log is not None and len(log) >= 2:
            log[:] = [merge_updates(log)]
        return True
