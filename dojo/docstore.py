"""The collaborative documents' store in PostgreSQL (`crdt` schema), per tenant under RLS.

A document is a compacted snapshot (`crdt.documents`) plus the updates stored since
(`crdt.updates`). Rooms are named `<tenant uuid>/<room>`; the tenant part selects the RLS context,
so one tenant's room can never read another's document even with the same room name.

Compaction merges snapshot and log into one snapshot in a single transaction that first takes a
transaction-scoped advisory lock on the document: two processes never compact the same document at
once, and a process that dies mid-way leaves nothing half done (its transaction rolls back). It
deletes exactly the log rows it merged, so updates appended concurrently are never lost.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from crdt import merge_updates
from runtime.db import Database


class BadRoomKey(ValueError):
    """A room key that is not `<tenant uuid>/<room name>`."""


@dataclass(frozen=True)
class RoomKey:
    tenant_id: uuid.UUID
    room: str

    @classmethod
    def parse(cls, key: str) -> RoomKey:
        tenant, sep, room = key.partition("/")
        if not sep or not room:
            raise BadRoomKey(f"not a tenant room key: {key!r}")
        try:
            return cls(uuid.UUID(tenant), room)
        except ValueError as exc:
            raise BadRoomKey(f"not a tenant room key: {key!r}") from exc

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.room}"


def room_key(tenant_id: str | uuid.UUID, room: str) -> str:
    return str(RoomKey(uuid.UUID(str(tenant_id)), room))


class PostgresDocumentStore:
    """`crdt.DocumentStore` over PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, name: str) -> list[bytes]:
        key = RoomKey.parse(name)
        # One consistent snapshot of both tables, so a concurrent compaction cannot make us miss rows.
        async with self.db.tenant_tx(key.tenant_id, isolation="repeatable_read") as conn:
            snapshot = await conn.fetchval(
                "SELECT snapshot FROM crdt.documents WHERE tenant_id = $1 AND name = $2", key.tenant_id, key.room
            )
            rows = await conn.fetch(
                "SELECT data FROM crdt.updates WHERE tenant_id = $1 AND name = $2 ORDER BY seq",
                key.tenant_id,
                key.room,
            )
        updates = [bytes(r["data"]) for r in rows]
        return [bytes(snapshot), *updates] if snapshot is not None else updates

    async def append(self, name: str, updates: Sequence[bytes]) -> None:
        if not updates:
            return
        key = RoomKey.parse(name)
        async with self.db.tenant_tx(key.tenant_id) as conn:
            await conn.execute(
                "INSERT INTO crdt.updates (tenant_id, name, data) SELECT $1, $2, unnest($3::bytea[])",
                key.tenant_id,
                key.room,
                list(updates),
            )

    async def compact(self, name: str) -> bool:
        key = RoomKey.parse(name)
        async with self.db.tenant_tx(key.tenant_id) as conn:
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('crdt.compact'), hashtext($1))", name
            )
            if not locked:
                return False
            snapshot = await conn.fetchval(
                "SELECT snapshot FROM crdt.documents WHERE tenant_id = $1 AND name = $2 FOR UPDATE",
                key.tenant_id,
                key.room,
            )
            rows = await conn.fetch(
                "SELECT seq, data FROM crdt.updates WHERE tenant_id = $1 AND name = $2 ORDER BY seq",
                key.tenant_id,
                key.room,
            )
            if not rows:
                return True
            parts = ([bytes(snapshot)] if snapshot is not None else []) + [bytes(r["data"]) for r in rows]
            merged = await asyncio.to_thread(merge_updates, parts)
            await conn.execute(
                "INSERT INTO crdt.documents AS d (tenant_id, name, snapshot, compactions) VALUES ($1, $2, $3, 1)"
                " ON CONFLICT (tenant_id, name) DO UPDATE SET snapshot = EXCLUDED.snapshot,"
                " compactions = d.compactions + 1, compacted_at = now()",
                key.tenant_id,
                key.room,
                merged,
            )
            await conn.execute(
                "DELETE FROM crdt.updates WHERE tenant_id = $1 AND name = $2 AND seq = ANY($3::bigint[])",
                key.tenant_id,
                key.room,
                [r["seq"] for r in rows],
            )
        return True

    async def tenant_usage(self, tenant_id: uuid.UUID) -> int:
        """Bytes all of a tenant's documents occupy in the store (kept by triggers in
        `crdt.tenant_usage`, in the same transaction as every write)."""
        async with self.db.tenant_tx(tenant_id) as conn:
            total = await conn.fetchval("SELECT stored_bytes FROM crdt.tenant_usage WHERE tenant_id = $1", tenant_id)
        return int(total or 0)

    async def stored_bytes(self, name: str) -> int:
        """Bytes this document occupies in the store (snapshot plus log), for limits and benchmarks."""
        key = RoomKey.parse(name)
        async with self.db.tenant_tx(key.tenant_id) as conn:
            total = await conn.fetchval(
                "SELECT coalesce((SELECT octet_length(snapshot) FROM crdt.documents"
                " WHERE tenant_id = $1 AND name = $2), 0)"
                " + coalesce((SELECT sum(octet_length(data)) FROM crdt.updates WHERE tenant_id = $1 AND name = $2), 0)",
                key.tenant_id,
                key.room,
            )
        return int(total)
