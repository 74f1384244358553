"""A cap on the websocket connections one user holds on this node (collab and signaling together).

Each admitted connection holds a :class:`Lease` until it ends; one more than ``limit`` is refused
with close code 4429. The count is per node: behind a load balancer that spreads connections, a user
may hold up to ``limit`` on each node (a cluster-wide count would need a Redis round trip per
connect and a lease that outlives a dead node; the per-node cap already bounds what one user can
cost any node).
"""

from __future__ import annotations

from crdt.channel import CloseCode
from dojo.access import Connecting, Refused


class Lease:
    """One admitted connection's place in its user's count; :meth:`release` it once it ends
    (releasing again does nothing)."""

    __slots__ = ("_key", "_owner")

    def __init__(self, owner: UserConnections, key: tuple[str, str]) -> None:
        self._owner: UserConnections | None = owner
        self._key = key

    def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._release(self._key)


class UserConnections:
    """Counts live websocket connections per (tenant, user) on this node."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the per-user connection limit must be at least 1")
        self.limit = limit
        self._counts: dict[tuple[str, str], int] = {}

    def count(self, tenant_id: str, user_id: str) -> int:
        return self._counts.get((tenant_id, user_id), 0)

    def acquire(self, who: Connecting) -> Lease:
        """A place for one more connection of ``who``, or ``Refused(TOO_MANY_CONNECTIONS)``."""
        key = (who.tenant_id, who.user_id)
        held = self._counts.get(key, 0)
        if held >= self.limit:
            raise Refused(
                CloseCode.TOO_MANY_CONNECTIONS,
                f"too many connections: at most {self.limit} per user; close another tab or device",
            )
        self._counts[key] = held + 1
        return Lease(self, key)

    def _release(self, key: tuple[str, str]) -> None:
        held = self._counts.get(key, 0) - 1
        if held > 0:
            self._counts[key] = held
        else:
            self._counts.pop(key, None)
