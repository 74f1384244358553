"""A sans-IO awareness table for one room: who is present and what their states are.

Theory of operation (the rules of y-protocols' ``awareness.js``, which every client also applies):

* Each awareness client ID has a ``clock``. An entry is accepted when its clock is newer than the one
  we know, or when it has the *same* clock, says ``null`` and we still hold a state for that ID
  (that is how a server announces that a client left without knowing the client's next clock).
* A ``null`` state removes the client; we keep its clock as a tombstone so older entries that arrive
  later can't bring it back. Tombstones are bounded (oldest forgotten first).
* A client's very first entry with clock 0 is not accepted, exactly as y-protocols does: clients would
  ignore it too, and the table must agree with them.
* Entries that are accepted are returned so the room can broadcast them to every connection, the
  sender included (the v3 client treats silence as a dead socket, and the renewal every 15 s is
  accepted even when the state is unchanged).

On top of that, the table tracks which connection *owns* each client ID (the last connection whose
non-null state for it was accepted), so that :meth:`AwarenessTable.remove_connection` can announce
every ID of a closed connection as ``null``. It uses the clock we already hold — not clock + 1: a
reconnecting y-websocket client re-announces its state with its unchanged clock, which is ignored
either way, but its next renewal (clock + 1) is accepted at once, where a bumped tombstone would make
everyone ignore it too and hide the client for another 15 s. This is also what the Node reference
server does.

Bounds: a connection may own at most ``max_clients_per_connection`` IDs and a state may be at most
``max_state_bytes`` of UTF-8; breaking either raises :class:`~crdt.errors.AwarenessLimitExceeded`
and leaves the table unchanged. States must be JSON (checked with
:func:`~crdt.protocol.parse_awareness_state`), else :class:`~crdt.errors.InvalidAwarenessState`,
also with the table unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import AwarenessLimitExceeded
from .protocol import AwarenessEntry, encode_awareness, parse_awareness_state

__all__ = ["AwarenessTable"]

K = TypeVar("K", bound=Hashable)

_NULL = "null"


@dataclass(slots=True)
class _Client(Generic[K]):
    clock: int
    state: str | None  # None: tombstone (the client left)
    owner: K | None
    updated_at: float


class AwarenessTable(Generic[K]):
    """The awareness states of one room, keyed by client ID, with per-connection ownership.

    ``K`` is whatever the room uses to identify a connection (it only needs to be hashable).
    ``clock`` is the time source for :meth:`remove_outdated` (monotonic seconds).
    """

    def __init__(
        self,
        *,
        max_clients_per_connection: int = 4,
        max_state_bytes: int = 16 * 1024,
        max_tombstones: int = 10_000,
        outdated_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_clients_per_connection < 1 or max_state_bytes < 4 or max_tombstones < 0:
            raise ValueError("awareness bounds must be positive")
        self._max_clients = max_clients_per_connection
        self._max_state_bytes = max_state_bytes
        self._max_tombstones = max_tombstones
        self._outdated_after = outdated_after
        self._now = clock
        self._present: dict[int, _Client[K]] = {}
        # Insertion-ordered so the oldest tombstone is evicted first.
        self._tombstones: dict[int, _Client[K]] = {}
        self._owned: dict[K, set[int]] = {}

    def __len__(self) -> int:
        """The number of clients with a state."""
        return len(self._present)

    @property
    def states(self) -> Mapping[int, str]:
        """A copy of the present states: client ID → raw JSON text."""
        return {cid: c.state for cid, c in self._present.items() if c.state is not None}

    def clock_of(self, client_id: int) -> int | None:
        """The clock we hold for ``client_id`` (present or left), or None if we never heard of it."""
        client = self._present.get(client_id) or self._tombstones.get(client_id)
        return None if client is None else client.clock

    def clients_of(self, conn_key: K) -> frozenset[int]:
        """The client IDs whose state ``conn_key`` currently owns."""
        return frozenset(self._owned.get(conn_key, ()))

    def _check_state(self, state: str) -> bool:
        """Validate one state; return True if it is a removal."""
        if len(state) > self._max_state_bytes or (
            len(state) * 4 > self._max_state_bytes
            and len(state.encode("utf-8", "surrogatepass")) > self._max_state_bytes
        ):
            raise AwarenessLimitExceeded(f"awareness state larger than {self._max_state_bytes} bytes")
        return parse_awareness_state(state) is None

    def apply(self, conn_key: K | None, entries: Iterable[AwarenessEntry]) -> tuple[AwarenessEntry, ...]:
        """Apply entries received from ``conn_key``; return the accepted ones, to broadcast.

        ``conn_key=None`` applies entries that no local connection owns (e.g. relayed from another
        node): they follow the clock rules but are not removed by :meth:`remove_connection`.
        A returned removal always carries the canonical state ``"null"``. The whole batch is
        validated first: on any error nothing is applied.
        """
        # Plan against an overlay so that duplicates inside one batch follow the sequential rules and
        # a failure leaves the table untouched.
        overlay: dict[int, tuple[int, bool]] = {}  # client id -> (clock, present) after this batch
        plan: list[AwarenessEntry] = []
        for entry in entries:
            removal = self._check_state(entry.state)
            if entry.client_id in overlay:
                clock, present = overlay[entry.client_id]
            else:
                client = self._present.get(entry.client_id) or self._tombstones.get(entry.client_id)
                clock = 0 if client is None else client.clock
                present = client is not None and client.state is not None
            if clock < entry.clock or (clock == entry.clock and removal and present):
                overlay[entry.client_id] = (entry.clock, not removal)
                plan.append(entry if not removal else AwarenessEntry(entry.client_id, entry.clock, _NULL))
        if conn_key is not None:
            self._check_ownership_bound(conn_key, plan)
        now = self._now()
        accepted: list[AwarenessEntry] = []
        for entry in plan:
            # A stranger's removal is remembered (its clock) but there is nothing to tell anyone.
            was_known = entry.client_id in self._present or entry.client_id in self._tombstones
            self._commit(conn_key, entry, now)
            if was_known or entry.state != _NULL:
                accepted.append(entry)
        return tuple(accepted)

    def _check_ownership_bound(self, conn_key: K, plan: list[AwarenessEntry]) -> None:
        owned = set(self._owned.get(conn_key, ()))
        for entry in plan:
            if entry.state == _NULL:
                owned.discard(entry.client_id)
            else:
                owned.add(entry.client_id)
        if len(owned) > self._max_clients:
            raise AwarenessLimitExceeded(
                f"a connection may own at most {self._max_clients} awareness client IDs, not {len(owned)}"
            )

    def _disown(self, client: _Client[K], client_id: int) -> None:
        if client.owner is not None:
            ids = self._owned.get(client.owner)
            if ids is not None:
                ids.discard(client_id)
                if not ids:
                    del self._owned[client.owner]
            client.owner = None

    def _commit(self, conn_key: K | None, entry: AwarenessEntry, now: float) -> None:
        cid = entry.client_id
        client = self._present.pop(cid, None) or self._tombstones.pop(cid, None)
        if client is None:
            client = _Client(entry.clock, None, None, now)
        self._disown(client, cid)
        client.clock = entry.clock
        client.updated_at = now
        if entry.state == _NULL:
            client.state = None
            self._bury(cid, client)
        else:
            client.state = entry.state
            self._present[cid] = client
            if conn_key is not None:
                client.owner = conn_key
                self._owned.setdefault(conn_key, set()).add(cid)

    def _bury(self, client_id: int, client: _Client[K]) -> None:
        self._tombstones[client_id] = client
        while len(self._tombstones) > self._max_tombstones:
            del self._tombstones[next(iter(self._tombstones))]

    def _remove(self, client_ids: Iterable[int]) -> bytes | None:
        removed: list[AwarenessEntry] = []
        for cid in client_ids:
            client = self._present.pop(cid, None)
            if client is None:
                continue
            self._disown(client, cid)
            client.state = None
            self._bury(cid, client)
            removed.append(AwarenessEntry(cid, client.clock, _NULL))
        return encode_awareness(removed) if removed else None

    def remove_connection(self, conn_key: K) -> bytes | None:
        """Forget a closed connection's client IDs.

        Returns the awareness frame announcing their ``null`` states (same clock, see the module
        docstring) for the room to broadcast, or None if the connection owned nothing.
        """
        return self._remove(sorted(self._owned.get(conn_key, ())))

    def remove_outdated(self) -> bytes | None:
        """Remove states not renewed for ``outdated_after`` seconds (y-protocols uses 30 s).

        Returns the awareness frame of their ``null`` states to broadcast, or None. Live v3 clients
        renew every 15 s, so this only catches clients relayed from elsewhere that vanished.
        """
        limit = self._now() - self._outdated_after
        return self._remove([cid for cid, c in self._present.items() if c.updated_at <= limit])

    def snapshot(self) -> bytes | None:
        """The awareness frame of every present state (sent to a joining connection), or None."""
        if not self._present:
            return None
        return encode_awareness(
            AwarenessEntry(cid, c.clock, c.state) for cid, c in self._present.items() if c.state is not None
        )
