"""The history tables (`dojo.history_*`, `dojo.tenant_settings`): every read and write replay makes.

Ordering. A dojo's history is its updates ordered by `(at, seq)`: `at` is the accepting node's time,
`seq` the insertion order. A checkpoint at instant C holds exactly the updates with `at <= C`: it is
built under a per-dojo transaction lock that every append also takes, and an append carrying an
update older than a checkpoint (a node whose writer was held up, e.g. by a database outage) deletes
the checkpoints it would falsify in the same transaction, so no replay ever skips an update.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dojo.replay.engine import Checkpoint, LoggedUpdate, Replayer
from dojo.replay.repair import client_owners, missing_parts
from runtime.db import Connection, Database

__all__ = ["CheckpointInfo", "DriverChange", "HistoryRow", "HistoryStore", "record_driver_change"]

_LOCK = "SELECT pg_advisory_xact_lock(hashtext('dojo.history'), hashtext($1::text))"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One update to record."""

    dojo_id: uuid.UUID
    at: datetime
    user_id: uuid.UUID | None
    update: bytes


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class DriverChange:
    at: datetime
    driver_id: str | None
    navigator_id: str | None


async def record_driver_change(
    conn: Connection, tenant_id: str, dojo_id: uuid.UUID, driver_id: str | None, navigator_id: str | None
) -> None:
    """Note, in the caller's transaction, that the randori driver changed."""
    await conn.execute(
        "INSERT INTO dojo.history_drivers (tenant_id, dojo_id, driver_id, navigator_id) VALUES ($1, $2, $3, $4)",
        uuid.UUID(tenant_id),
        dojo_id,
        uuid.UUID(driver_id) if driver_id else None,
        uuid.UUID(navigator_id) if navigator_id else None,
    )


def _logged(row: Any) -> LoggedUpdate:
    user = row["user_id"]
    return LoggedUpdate(row["seq"], row["at"], None if user is None else str(user), bytes(row["update"]))


class HistoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the tenant setting --------------------------------------------------------------------------------
    async def enabled(self, tenant_id: uuid.UUID) -> bool:
        """Whether the tenant records dojo history (on unless an administrator turned it off)."""
        async with self.db.tenant_tx(tenant_id) as conn:
            value = await conn.fetchval(
                "SELECT history_enabled FROM dojo.tenant_settings WHERE tenant_id = $1", tenant_id
            )
        return True if value is None else bool(value)

    async def set_enabled(self, tenant_id: uuid.UUID, enabled: bool) -> None:
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute(
                """INSERT INTO dojo.tenant_settings AS s (tenant_id, history_enabled) VALUES ($1, $2)
                   ON CONFLICT (tenant_id) DO UPDATE SET
                       history_enabled = EXCLUDED.history_enabled,
                       history_resumed_at = CASE
                           WHEN NOT EXCLUDED.history_enabled THEN NULL
                           WHEN NOT s.history_enabled THEN now()
                           ELSE s.history_resumed_at END,
                       updated_at = now()""",
                tenant_id,
                enabled,
            )

    async def on_since(self, tenant_id: uuid.UUID, since: datetime) -> bool:
        """Whether the tenant's history is on and has not been off at any moment since ``since``
        (`history_resumed_at`, migration 0003: when it was last turned back on)."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT history_enabled, history_resumed_at FROM dojo.tenant_settings WHERE tenant_id = $1",
                tenant_id,
            )
        if row is None:
            return True
        resumed: datetime | None = row["history_resumed_at"]
        return bool(row["history_enabled"]) and (resumed is None or resumed <= since)

    async def is_dojo(self, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> bool:
        async with self.db.tenant_tx(tenant_id) as conn:
            found = await conn.fetchval(
                "SELECT 1 FROM dojo.sessions WHERE tenant_id = $1 AND id = $2", tenant_id, dojo_id
            )
        return found is not None

    # -- writing -------------------------------------------------------------------------------------------
    async def append(self, tenant_id: uuid.UUID, rows: Sequence[HistoryRow]) -> None:
        """Insert ``rows`` (in order) in one transaction; drop the checkpoints they would falsify."""
        if not rows:
            return
        oldest: dict[uuid.UUID, datetime] = {}
        for row in rows:
            if row.dojo_id not in oldest or row.at < oldest[row.dojo_id]:
                oldest[row.dojo_id] = row.at
        async with self.db.tenant_tx(tenant_id) as conn:
            for dojo_id in sorted(oldest):  # one lock order: no deadlock between nodes
                await conn.execute(_LOCK, str(dojo_id))
            await conn.execute(
                """INSERT INTO dojo.history_updates (tenant_id, dojo_id, at, user_id, update)
                   SELECT $1, d, a, u, b FROM unnest($2::uuid[], $3::timestamptz[], $4::uuid[], $5::bytea[])
                        WITH ORDINALITY AS t(d, a, u, b, n) ORDER BY n""",
                tenant_id,
                [r.dojo_id for r in rows],
                [r.at for r in rows],
                [r.user_id for r in rows],
                [r.update for r in rows],
            )
            await conn.execute(
                """DELETE FROM dojo.history_checkpoints c USING unnest($2::uuid[], $3::timestamptz[]) AS o(d, a)
                   WHERE c.tenant_id = $1 AND c.dojo_id = o.d AND c.at >= o.a""",
                tenant_id,
                list(oldest),
                list(oldest.values()),
            )

    async def build_checkpoint(self, tenant_id: uuid.UUID, dojo_id: uuid.UUID, cut: datetime) -> CheckpointInfo | None:
        """Write the checkpoint of every update with ``at <= cut`` (from the previous checkpoint on);
        None when nothing happened since the previous one."""
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute(_LOCK, str(dojo_id))
            base = await self._checkpoint_row(conn, tenant_id, dojo_id, cut)
            rows = await conn.fetch(
                """SELECT seq, at, user_id, update FROM dojo.history_updates
                   WHERE tenant_id = $1 AND dojo_id = $2 AND at > $3 AND at <= $4 ORDER BY at, seq""",
                tenant_id,
                dojo_id,
                base[0] if base else datetime.min.replace(tzinfo=cut.tzinfo),
                cut,
            )
            if not rows:
                return None
            updates = [_logged(r) for r in rows]
            checkpoint = await asyncio.to_thread(_advance, base[2] if base else None, updates)
            seq = max(max(u.seq for u in updates), base[1] if base else 0)
            await conn.execute(
                """INSERT INTO dojo.history_checkpoints (tenant_id, dojo_id, at, seq, updates, state, blame)
                   VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING""",
                tenant_id,
                dojo_id,
                cut,
                seq,
                len(updates),
                checkpoint.state,
                json.dumps(checkpoint.blame),
            )
        return CheckpointInfo(cut, seq)

    # -- reading -------------------------------------------------------------------------------------------
    @staticmethod
    async def _checkpoint_row(
        conn: Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, at: datetime | None
    ) -> tuple[datetime, int, Checkpoint] | None:
        row = await conn.fetchrow(
            """SELECT at, seq, state, blame FROM dojo.history_checkpoints
               WHERE tenant_id = $1 AND dojo_id = $2 AND ($3::timestamptz IS NULL OR at <= $3)
               ORDER BY at DESC LIMIT 1""",
            tenant_id,
            dojo_id,
            at,
        )
        if row is None:
            return None
        blame = row["blame"]
        return (
            row["at"],
            row["seq"],
            Checkpoint(bytes(row["state"]), json.loads(blame) if isinstance(blame, str) else blame),
        )

    async def since_checkpoint(
        self, tenant_id: uuid.UUID, dojo_id: uuid.UUID, at: datetime | None, *, through: datetime | None = None
    ) -> tuple[Checkpoint | None, int, list[LoggedUpdate]]:
        """The nearest checkpoint at or before ``at`` (None: the latest), its seq, and the updates after
        it up to ``through`` (default ``at``; None: all), read in one snapshot."""
        until = at if through is None else through
        async with self.db.tenant_tx(tenant_id, isolation="repeatable_read") as conn:
            base = await self._checkpoint_row(conn, tenant_id, dojo_id, at)
            rows = await conn.fetch(
                """SELECT seq, at, user_id, update FROM dojo.history_updates
                   WHERE tenant_id = $1 AND dojo_id = $2 AND ($3::timestamptz IS NULL OR at > $3)
                     AND ($4::timestamptz IS NULL OR at <= $4)
                   ORDER BY at, seq""",
                tenant_id,
                dojo_id,
                base[0] if base else None,
                until,
            )
        return (base[2] if base else None), (base[1] if base else 0), [_logged(r) for r in rows]

    async def replayer_at(
        self, tenant_id: uuid.UUID, dojo_id: uuid.UUID, bound: datetime | None, *, blame: bool
    ) -> tuple[Replayer, int]:
        """The document at ``bound`` (None: everything recorded) rebuilt from the nearest checkpoint in a
        worker thread (the event loop keeps serving sockets), and the last seq it holds."""
        checkpoint, seq, updates = await self.since_checkpoint(tenant_id, dojo_id, bound)
        replayer = await asyncio.to_thread(_rebuild, checkpoint, updates, blame)
        return replayer, max([seq, *(u.seq for u in updates)])

    async def record_missing(self, tenant_id: uuid.UUID, dojo_id: uuid.UUID, final_state: bytes, at: datetime) -> int:
        """Record at ``at`` what ``final_state`` (the sealed document) holds beyond the history, attributed
        by Yjs client id (`dojo.replay.repair`); the number of updates recorded."""
        replayer, _ = await self.replayer_at(tenant_id, dojo_id, None, blame=False)
        parts = missing_parts(final_state, replayer.state_vector())
        if not parts:
            return 0
        owners = client_owners(await self.updates(tenant_id, dojo_id))
        rows = []
        for i, (client, update) in enumerate(parts):
            owner = owners.get(client) if client is not None else None
            rows.append(
                HistoryRow(dojo_id, at + timedelta(microseconds=i), uuid.UUID(owner) if owner else None, update)
            )
        await self.append(tenant_id, rows)
        return len(rows)

    async def updates(
        self, tenant_id: uuid.UUID, dojo_id: uuid.UUID, *, after: datetime | None = None, until: datetime | None = None
    ) -> list[LoggedUpdate]:
        """The dojo's recorded updates with ``after < at <= until`` (each bound optional), in history order."""
        async with self.db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                """SELECT seq, at, user_id, update FROM dojo.history_updates
                   WHERE tenant_id = $1 AND dojo_id = $2 AND ($3::timestamptz IS NULL OR at > $3)
                     AND ($4::timestamptz IS NULL OR at <= $4)
                   ORDER BY at, seq""",
                tenant_id,
                dojo_id,
                after,
                until,
            )
        return [_logged(r) for r in rows]

    async def checkpoints(self, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> list[CheckpointInfo]:
        async with self.db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                """SELECT at, seq FROM dojo.history_checkpoints WHERE tenant_id = $1 AND dojo_id = $2
                   ORDER BY at""",
                tenant_id,
                dojo_id,
            )
        return [CheckpointInfo(r["at"], r["seq"]) for r in rows]

    async def drivers(self, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> list[DriverChange]:
        async with self.db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                """SELECT at, driver_id::text, navigator_id::text FROM dojo.history_drivers
                   WHERE tenant_id = $1 AND dojo_id = $2 ORDER BY at, id""",
                tenant_id,
                dojo_id,
            )
        return [DriverChange(r["at"], r["driver_id"], r["navigator_id"]) for r in rows]

    async def chat(self, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> list[dict[str, Any]]:
        """The dojo's chat messages, oldest first: {id, user_id, text, sent_at (a datetime)}."""
        async with self.db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                """SELECT id, user_id, body, sent_at FROM dojo.chat_messages
                   WHERE tenant_id = $1 AND dojo_id = $2 ORDER BY sent_at, id""",
                tenant_id,
                dojo_id,
            )
        return [
            {"id": str(r["id"]), "user_id": str(r["user_id"]), "text": r["body"], "sent_at": r["sent_at"]} for r in rows
        ]

    async def stored_bytes(self, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> tuple[int, int]:
        """(bytes of updates, bytes of checkpoints) the dojo's history occupies (for the bench)."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                """SELECT (SELECT coalesce(sum(octet_length(update)), 0) FROM dojo.history_updates
                           WHERE tenant_id = $1 AND dojo_id = $2) AS updates,
                          (SELECT coalesce(sum(octet_length(state) + octet_length(blame::text)), 0)
                           FROM dojo.history_checkpoints WHERE tenant_id = $1 AND dojo_id = $2) AS checkpoints""",
                tenant_id,
                dojo_id,
            )
        assert row is not None
        return int(row["updates"]), int(row["checkpoints"])


def _rebuild(checkpoint: Checkpoint | None, updates: Sequence[LoggedUpdate], blame: bool) -> Replayer:
    replayer = Replayer.from_checkpoint(checkpoint, blame=blame) if checkpoint else Replayer(blame=blame)
    replayer.apply_all(updates)
    return replayer


def _advance(base: Checkpoint | None, updates: Sequence[LoggedUpdate]) -> Checkpoint:
    replayer = Replayer.from_checkpoint(base) if base is not None else Replayer()
    replayer.apply_all(updates)
    return replayer.checkpoint()
