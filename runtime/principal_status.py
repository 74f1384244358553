"""What the identity service says about a token's user right now, cached for a few seconds.

A signed access token is a claim about the past: the account existed, held these roles, and signed in
with this refresh-token family when the token was minted. Rights must follow the account as it is
now (a deleted user, a demoted admin, a revoked sign-in). The identity service publishes one narrow,
versioned read interface in its schema for that: the SECURITY DEFINER function
`identity.principal_status_v1(tenant, user, session)` (identity/migrations/0003_principal_status), so no
service reads identity's tables (ARCHITECTURE §1), and every node of every service sees the same
answer — PostgreSQL is the shared truth, nothing to keep in sync between nodes.

`PrincipalStatuses` keeps the answers per (tenant, user, session) for `ttl_seconds`
(`POCDOJO_AUTH_STATUS_TTL_SECONDS`, default 5 s): a request whose answer is cached costs a dict
lookup, a revocation takes effect on every node within the TTL, and on the node that made the change
at once (`forget_user`). Concurrent misses for one key share a single query; failures are not cached;
the memo is bounded (least recently used entries go first).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from runtime.db import Database
from runtime.errors import ServiceUnavailable

__all__ = ["PostgresStatusSource", "PrincipalStatus", "PrincipalStatuses", "StatusSource"]

Key = tuple[str, str, str]
"""(tenant id, user id, session id), canonical UUID strings."""


@dataclass(frozen=True, slots=True)
class PrincipalStatus:
    """The identity service's current answer for one (tenant, user, session)."""

    user_exists: bool
    roles: frozenset[str]
    session_active: bool


class StatusSource(Protocol):
    async def fetch(self, tenant_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID) -> PrincipalStatus:
        """The current status; raises `ServiceUnavailable` when it cannot be read."""
        ...


_STATUS_QUERY = "SELECT user_exists, roles, session_active FROM identity.principal_status_v1($1, $2, $3)"


class PostgresStatusSource:
    """Reads `identity.principal_status_v1` (one statement, one round trip, no tenant context needed)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def fetch(self, tenant_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID) -> PrincipalStatus:
        try:
            row = await self._db.fetchrow_global(_STATUS_QUERY, tenant_id, user_id, session_id)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise ServiceUnavailable("The caller's account cannot be confirmed right now; retry shortly.") from exc
        if row is None or not row["user_exists"]:
            return PrincipalStatus(user_exists=False, roles=frozenset(), session_active=False)
        return PrincipalStatus(
            user_exists=True, roles=frozenset(row["roles"]), session_active=bool(row["session_active"])
        )


@dataclass(slots=True)
class _Entry:
    status: PrincipalStatus
    read_at: float


class PrincipalStatuses:
    """A per-process, bounded, short-lived memo in front of a `StatusSource` (module docstring)."""

    def __init__(
        self,
        source: StatusSource,
        *,
        ttl_seconds: float,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be positive and max_entries at least 1")
        self.ttl_seconds = ttl_seconds
        self._source = source
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._inflight: dict[Key, asyncio.Task[PrincipalStatus]] = {}
        self._forgets = 0  # bumped by forget_user: a read that started before it must not be kept

    async def get(self, tenant_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID) -> PrincipalStatus:
        """The status of (tenant, user, session), at most `ttl_seconds` old."""
        key: Key = (str(tenant_id), str(user_id), str(session_id))
        entry = self._entries.get(key)
        if entry is not None:
            if self._clock() - entry.read_at < self.ttl_seconds:
                self._entries.move_to_end(key)
                return entry.status
            del self._entries[key]
        loop = asyncio.get_running_loop()
        task = self._inflight.get(key)
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(self._read(key, tenant_id, user_id, session_id), name="principal-status")
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: a caller that goes away must not cancel the read other callers wait for.
        return await asyncio.shield(task)

    def forget_user(self, tenant_id: uuid.UUID | str, user_id: uuid.UUID | str) -> None:
        """Drop what this process knows of one account (its roles changed, it was deleted, a sign-in of
        it was revoked): the next request reads the new state. Other processes see it within the TTL."""
        self._forgets += 1
        tenant, user = str(tenant_id), str(user_id)
        for key in [k for k in self._entries if k[0] == tenant and k[1] == user]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    async def _read(self, key: Key, tenant_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID) -> PrincipalStatus:
        started, forgets = self._clock(), self._forgets
        status = await self._source.fetch(tenant_id, user_id, session_id)
        if forgets == self._forgets:
            # Aged from when the read started: the answer may be that old.
            self._entries[key] = _Entry(status, started)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return status

    def _finished(self, key: Key, task: asyncio.Task[PrincipalStatus]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have gone away
