"""A sans-IO awareness table for one room: who is present, what their states are, and who may change them.

Theory of operation (the rules of y-protocols' ``awareness.js``, which every client also applies):

* Each awareness client ID has a ``clock``. An entry is accepted when its clock is newer than the one
  we know, or when it has the *same* clock, says ``null`` and we still hold a state for that ID
  (that is how a server announces that a client left without knowing the client's next clock).
* A ``null`` state removes the client; we keep its clock as a tombstone so older entries that arrive
  later can't bring it back. Unowned tombstones are bounded (oldest forgotten first).
* A client's very first entry with clock 0 is not accepted, exactly as y-protocols does: clients would
  ignore it too, and the table must agree with them.
* Entries that are accepted are returned so the room can broadcast them to every connection, the
  sender included (the v3 client treats silence as a dead socket, and the renewal every 15 s is
  accepted even when the state is unchanged).

**Ownership.** Clients trust whatever the server relays, so the server decides who may speak for a
client ID. The first connection whose non-null state for an ID is accepted *owns* it, and keeps it
while it is connected — also after it set its own state to ``null``. Entries for that ID from any
other connection are dropped: a new state, a ``null``, a higher clock. A y-websocket client echoes
every awareness change it hears (same clock), so foreign entries are normal; only those the clock
rules would have accepted — attempts to *change* someone else's presence — are counted in
:attr:`AwarenessTable.foreign_dropped` (and logged once per connection). When the owner disconnects,
:meth:`AwarenessTable.remove_connection` announces its IDs as ``null`` at the clock we hold (not
clock + 1: a reconnecting y-websocket client re-announces its state at its unchanged clock, which
is ignored either way, but its next renewal — clock + 1, at most 15 s later, or at once when the
client hears its own ``null`` — is accepted and owned by the new connection; a bumped tombstone
would hide it for another 15 s. The Node reference server does the same) and releases them.

**Other nodes.** Entries relayed from another node (:meth:`AwarenessTable.apply_remote`) were
checked by that node against its own connections. Here the ID is owned by that *node* until the node
relays its ``null`` or the entry times out (:meth:`AwarenessTable.remove_outdated`); entries for it
from a third node, and remote entries for an ID one of *our* connections owns, are dropped — so a
connection on another node cannot change what this node's clients show for someone else.

**Clocks.** A client's clock starts at 0 and grows by one per local change, so no real client gets
anywhere near ``max_clock`` (2**32 by default: 27 years of ten changes per second). A larger clock
is refused at its sender (:class:`~crdt.errors.AwarenessClockOutOfRange`, the room closes it with
4400): a clock near 2**53 made the client that owns the ID overflow lib0's integers on its next
change. From another node such an entry is dropped, not the whole batch.

Bounds: a connection may own at most ``max_clients_per_connection`` IDs and a state may be at most
``max_state_bytes`` of UTF-8; breaking either raises :class:`~crdt.errors.AwarenessLimitExceeded`
and leaves the table unchanged. States must be JSON (checked with
:func:`~crdt.protocol.parse_awareness_state`), else :class:`~crdt.errors.InvalidAwarenessState`,
also with the table unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from .errors import AwarenessClockOutOfRange, AwarenessLimitExceeded
from .protocol import AwarenessEntry, encode_awareness, parse_awareness_state

__all__ = ["DEFAULT_MAX_AWARENESS_CLOCK", "AwarenessTable"]

K = TypeVar("K", bound=Hashable)

logger = logging.getLogger("crdt.awareness")

DEFAULT_MAX_AWARENESS_CLOCK: Final = 2**32
"""The highest awareness clock accepted (far beyond any real client, far below 2**53)."""

_NULL = "null"


@dataclass(slots=True)
class _Client(Generic[K]):
    clock: int
    state: str | None  # None: the client left (or was never seen with a state)
    owner: K | None  # the local connection that introduced it
    node: str | None  # or the other node that relayed it
    updated_at: float

    @property
    def claimed(self) -> bool:
        return self.owner is not None or self.node is not None


class AwarenessTable(Generic[K]):
    """The awareness states of one room, keyed by client ID, with ownership (see the module doc).

    ``K`` is whatever the room uses to identify a connection (it only needs to be hashable).
    ``clock`` is the time source for :meth:`remove_outdated` (monotonic seconds).
    """

    def __init__(
        self,
        *,
        max_clients_per_connection: int = 4,
        max_state_bytes: int = 16 * 1024,
        max_tombstones: int = 10_000,
        max_clock: int = DEFAULT_MAX_AWARENESS_CLOCK,
        outdated_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_clients_per_connection < 1 or max_state_bytes < 4 or max_tombstones < 0 or max_clock < 1:
            raise ValueError("awareness bounds must be positive")
        self._max_clients = max_clients_per_connection
        self._max_state_bytes = max_state_bytes
        self._max_tombstones = max_tombstones
        self._max_clock = max_clock
        self._outdated_after = outdated_after
        self._now = clock
        # Clients with a state or an owner; the rest (unowned tombstones) live in ``_tombstones``,
        # insertion-ordered so the oldest is evicted first.
        self._clients: dict[int, _Client[K]] = {}
        self._tombstones: dict[int, _Client[K]] = {}
        self._owned: dict[K, set[int]] = {}
        self._reported: set[K] = set()
        self.foreign_dropped = 0
        """Entries dropped because another connection or node owns their client ID."""

    def __len__(self) -> int:
        """The number of clients with a state."""
        return sum(1 for c in self._clients.values() if c.state is not None)

    @property
    def states(self) -> Mapping[int, str]:
        """A copy of the present states: client ID → raw JSON text."""
        return {cid: c.state for cid, c in self._clients.items() if c.state is not None}

    def clock_of(self, client_id: int) -> int | None:
        """The clock we hold for ``client_id`` (present or left), or None if we never heard of it."""
        client = self._lookup(client_id)
        return None if client is None else client.clock

    def clients_of(self, conn_key: K) -> frozenset[int]:
        """The client IDs ``conn_key`` owns (with a state or not)."""
        return frozenset(self._owned.get(conn_key, ()))

    def owner_of(self, client_id: int) -> K | str | None:
        """The connection (or, for IDs relayed from another node, the node) owning ``client_id``."""
        client = self._clients.get(client_id)
        if client is None:
            return None
        return client.owner if client.owner is not None else client.node

    def _lookup(self, client_id: int) -> _Client[K] | None:
        return self._clients.get(client_id) or self._tombstones.get(client_id)

    def _check_state(self, state: str) -> bool:
        """Validate one state; return True if it is a removal."""
        if len(state) > self._max_state_bytes or (
            len(state) * 4 > self._max_state_bytes
            and len(state.encode("utf-8", "surrogatepass")) > self._max_state_bytes
        ):
            raise AwarenessLimitExceeded(f"awareness state larger than {self._max_state_bytes} bytes")
        return parse_awareness_state(state) is None

    # -- entries from this node's connections ------------------------------------------------

    def apply(self, conn_key: K, entries: Iterable[AwarenessEntry]) -> tuple[AwarenessEntry, ...]:
        """Apply entries received from the connection ``conn_key``; return the accepted ones, to broadcast.

        Entries for client IDs another connection or node owns are dropped. A returned removal
        always carries the canonical state ``"null"``. The whole batch is validated first: on any
        error (:class:`~crdt.errors.AwarenessLimitExceeded`, its subclass
        :class:`~crdt.errors.AwarenessClockOutOfRange`, :class:`~crdt.errors.InvalidAwarenessState`)
        nothing is applied.
        """
        entries = tuple(entries)
        for entry in entries:
            if entry.clock > self._max_clock:
                raise AwarenessClockOutOfRange(
                    f"awareness clock {entry.clock} of client {entry.client_id} is beyond {self._max_clock}:"
                    " no client counts that far"
                )
        plan, foreign = self._plan(
            entries, lambda client: client.owner == conn_key and client.node is None, release_on_null=False
        )
        claims = {e.client_id for e in plan if e.state != _NULL}
        owned = self._owned.get(conn_key, set())
        if len(owned | claims) > self._max_clients:
            raise AwarenessLimitExceeded(
                f"a connection may own at most {self._max_clients} awareness client IDs, not {len(owned | claims)}"
            )
        if foreign:
            self.foreign_dropped += foreign
            if conn_key not in self._reported:
                self._reported.add(conn_key)
                logger.info(
                    "awareness: dropped %d entries from connection %s for client IDs it does not own",
                    foreign,
                    conn_key,
                )
        return self._commit(plan, conn_key, None)

    # -- entries relayed by other nodes --------------------------------------------------------

    def apply_remote(self, node: str, entries: Iterable[AwarenessEntry]) -> tuple[AwarenessEntry, ...]:
        """Apply entries relayed from the node ``node``; return the accepted ones, to broadcast here.

        That node checked ownership for its own connections; here, entries for an ID one of our
        connections owns, or another node owns, are dropped, and so is an entry whose clock is
        beyond the bound (the rest of the batch still applies). States are validated as for
        :meth:`apply` (the whole batch is refused on an invalid one).
        """
        kept: list[AwarenessEntry] = []
        for entry in entries:
            if entry.clock > self._max_clock:
                logger.warning(
                    "awareness: dropped client %d's clock %d relayed by node %s", entry.client_id, entry.clock, node
                )
                self.foreign_dropped += 1
            else:
                kept.append(entry)
        plan, foreign = self._plan(
            kept, lambda client: client.owner is None and client.node == node, release_on_null=True
        )
        if foreign:
            self.foreign_dropped += foreign
            logger.debug(
                "awareness: dropped %d entries relayed by node %s for client IDs owned elsewhere", foreign, node
            )
        return self._commit(plan, None, node)

    # -- the shared planning and commit ---------------------------------------------------------

    def _plan(
        self, entries: Iterable[AwarenessEntry], is_ours: Callable[[_Client[K]], bool], *, release_on_null: bool
    ) -> tuple[list[AwarenessEntry], int]:
        """The entries that pass the clock rules and ownership, in order, and how many were foreign.

        Planned against an overlay so that duplicates inside one batch follow the sequential rules
        and a validation failure leaves the table untouched.
        """
        # client id -> (clock, present, claimed, ours) as the batch leaves it so far
        overlay: dict[int, tuple[int, bool, bool, bool]] = {}
        plan: list[AwarenessEntry] = []
        foreign = 0
        for entry in entries:
            removal = self._check_state(entry.state)
            cid = entry.client_id
            if cid in overlay:
                clock, present, claimed, ours = overlay[cid]
            else:
                client = self._lookup(cid)
                clock = 0 if client is None else client.clock
                present = client is not None and client.state is not None
                claimed = client is not None and client.claimed
                ours = client is not None and is_ours(client)
            if not (clock < entry.clock or (clock == entry.clock and removal and present)):
                continue  # old news, or an echo: ignored by every client too
            if claimed and not ours:
                foreign += 1
                continue
            if not removal:
                overlay[cid] = (entry.clock, True, True, True)
            else:
                # A connection keeps its IDs after its own null; a node's null releases the ID.
                still = claimed and not release_on_null
                overlay[cid] = (entry.clock, False, still, still)
            plan.append(entry if not removal else AwarenessEntry(cid, entry.clock, _NULL))
        return plan, foreign

    def _commit(self, plan: list[AwarenessEntry], conn_key: K | None, node: str | None) -> tuple[AwarenessEntry, ...]:
        now = self._now()
        accepted: list[AwarenessEntry] = []
        for entry in plan:
            cid = entry.client_id
            client = self._clients.pop(cid, None) or self._tombstones.pop(cid, None)
            was_known = client is not None
            if client is None:
                client = _Client(entry.clock, None, None, None, now)
            client.clock = entry.clock
            client.updated_at = now
            if entry.state == _NULL:
                client.state = None
                if node is not None:
                    client.node = None  # the owning node says its client left: released
            else:
                client.state = entry.state
                if conn_key is not None and client.owner is None:
                    client.owner = conn_key
                    self._owned.setdefault(conn_key, set()).add(cid)
                elif node is not None:
                    client.node = node
            self._place(cid, client)
            # A stranger's removal is remembered (its clock) but there is nothing to tell anyone.
            if was_known or entry.state != _NULL:
                accepted.append(entry)
        return tuple(accepted)

    def _place(self, client_id: int, client: _Client[K]) -> None:
        if client.state is not None or client.claimed:
            self._clients[client_id] = client
            return
        self._tombstones[client_id] = client
        while len(self._tombstones) > self._max_tombstones:
            del self._tombstones[next(iter(self._tombstones))]

    # -- removals ------------------------------------------------------------------------------

    def _remove(self, client_ids: Iterable[int], *, release: bool) -> list[AwarenessEntry]:
        """Clear these clients' states; with ``release``, also drop their local ownership."""
        removed: list[AwarenessEntry] = []
        for cid in client_ids:
            client = self._clients.pop(cid, None)
            if client is None:
                continue
            if client.state is not None:
                removed.append(AwarenessEntry(cid, client.clock, _NULL))
                client.state = None
            client.node = None
            if release and client.owner is not None:
                ids = self._owned.get(client.owner)
                if ids is not None:
                    ids.discard(cid)
                    if not ids:
                        del self._owned[client.owner]
                client.owner = None
            self._place(cid, client)
        return removed

    def remove_connection(self, conn_key: K) -> bytes | None:
        """Forget a closed connection and release its client IDs.

        Returns the awareness frame announcing the ``null`` states of those that still had one
        (same clock, see the module docstring) for the room to broadcast, or None.
        """
        self._reported.discard(conn_key)
        removed = self._remove(sorted(self._owned.get(conn_key, ())), release=True)
        return encode_awareness(removed) if removed else None

    def remove_outdated(self) -> bytes | None:
        """Remove states not renewed for ``outdated_after`` seconds (y-protocols uses 30 s).

        Returns the awareness frame of their ``null`` states to broadcast, or None. IDs relayed by
        another node are released; a local connection keeps its IDs while connected (its client
        answers its own ``null`` by re-announcing itself). Live v3 clients renew every 15 s, so this
        mostly catches clients relayed from a node that vanished.
        """
        limit = self._now() - self._outdated_after
        stale = [cid for cid, c in self._clients.items() if c.state is not None and c.updated_at <= limit]
        removed = self._remove(stale, release=False)
        return encode_awareness(removed) if removed else None

    def snapshot(self) -> bytes | None:
        """The awareness frame of every present state (sent to a joining connection), or None."""
        present = [AwarenessEntry(cid, c.clock, c.state) for cid, c in self._clients.items() if c.state is not None]
        return encode_awareness(present) if present else None
