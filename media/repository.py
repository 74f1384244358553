"""The reports' rows (`media.reports`, under row-level security): what the API and the workers read and write.

A job run owns a report through a *run token* it sets when it starts (`start_run`); every later write of
that run (`progress`, `finish`, `fail`) is conditional on the token and on the report still running. So a
run that was cancelled, or superseded by another worker after its own worker was presumed dead, can write
nothing more, and a report makes one `done` transition at most.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from runtime.db import Connection, Database

Status = Literal["queued", "running", "done", "failed", "cancelled"]
Stage = Literal["queued", "reading", "rendering", "uploading", "done"]
ACTIVE: tuple[Status, ...] = ("queued", "running")


@dataclass(frozen=True, slots=True)
class Report:
    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    status: Status
    stage: Stage
    progress: int
    error: str | None
    format: str
    locale: str
    title: str | None
    bom: bool
    filters: dict[str, Any]
    header: dict[str, Any]
    export_id: str | None
    export_secret: str | None
    export_expires_at: datetime | None
    row_count: int | None
    object_key: str | None
    size_bytes: int | None
    job_id: int | None
    attempts: int
    run_token: uuid.UUID | None
    idempotency_key: str | None
    request_hash: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Report:
        return cls(**dict(row.items()))

    @property
    def extension(self) -> str:
        return self.format

    @property
    def filename(self) -> str:
        """The name a download is saved under."""
        return f"report-{self.created_at:%Y%m%d-%H%M%S}-{str(self.id)[:8]}.{self.format}"


_COLUMNS = "*"


class ReportRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the API ------------------------------------------------------------------------------------
    async def find_idempotent(self, tenant_id: str, user_id: str, key: str) -> Report | None:
        rows = await self.db.tenant_fetch(
            tenant_id,
            "SELECT * FROM media.reports WHERE tenant_id = $1::uuid AND user_id = $2 AND idempotency_key = $3",
            uuid.UUID(user_id),
            key,
        )
        return Report.from_row(rows[0]) if rows else None

    async def count_active(self, tenant_id: str, user_id: str) -> int:
        rows = await self.db.tenant_fetch(
            tenant_id,
            "SELECT count(*) AS n FROM media.reports WHERE tenant_id = $1::uuid AND user_id = $2"
            " AND status IN ('queued', 'running')",
            uuid.UUID(user_id),
        )
        return int(rows[0]["n"])

    async def insert(
        self, tenant_id: str, user_id: str, values: dict[str, Any], *, max_active: int
    ) -> tuple[Report | None, Report | None]:
        """Insert a queued report unless the user already has `max_active` active ones or the idempotency
        key is taken. Returns (the new report, None), (None, the report holding the key) or (None, None)
        when over the limit. One user's inserts are serialized (a transaction-level advisory lock), so
        parallel requests cannot pass the limit together."""
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('media.reports.insert'), hashtext($1))", user_id)
            key = values.get("idempotency_key")
            if key is not None:
                existing = await conn.fetchrow(
                    "SELECT * FROM media.reports WHERE user_id = $1 AND idempotency_key = $2", uuid.UUID(user_id), key
                )
                if existing is not None:
                    return None, Report.from_row(existing)
            active = await conn.fetchval(
                "SELECT count(*) FROM media.reports WHERE user_id = $1 AND status IN ('queued', 'running')",
                uuid.UUID(user_id),
            )
            if active >= max_active:
                return None, None
            names = ["id", "tenant_id", "user_id", *values]
            params = [uuid.uuid4(), uuid.UUID(tenant_id), uuid.UUID(user_id), *values.values()]
            placeholders = ", ".join(f"${i}" for i in range(1, len(params) + 1))
            row = await conn.fetchrow(
                f"INSERT INTO media.reports ({', '.join(names)}) VALUES ({placeholders}) RETURNING *",  # noqa: S608
                *params,
            )
            assert row is not None
            return Report.from_row(row), None

    async def set_job(self, tenant_id: str, report_id: uuid.UUID, job_id: int) -> None:
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute("UPDATE media.reports SET job_id = $2 WHERE id = $1", report_id, job_id)

    async def get(self, tenant_id: str, report_id: uuid.UUID) -> Report | None:
        rows = await self.db.tenant_fetch(
            tenant_id, "SELECT * FROM media.reports WHERE tenant_id = $1::uuid AND id = $2", report_id
        )
        return Report.from_row(rows[0]) if rows else None

    async def page(
        self, tenant_id: str, user_id: str | None, *, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[Report]:
        """Newest first; `user_id` None: every report of the tenant (administrators)."""
        clauses = ["tenant_id = $1::uuid"]
        args: list[Any] = []
        if user_id is not None:
            args.append(uuid.UUID(user_id))
            clauses.append(f"user_id = ${len(args) + 1}")
        if after is not None:
            args.extend(after)
            clauses.append(f"(created_at, id) < (${len(args)}, ${len(args) + 1})")
        args.append(limit)
        query = (
            f"SELECT * FROM media.reports WHERE {' AND '.join(clauses)}"  # noqa: S608 - fixed fragments
            f" ORDER BY created_at DESC, id DESC LIMIT ${len(args) + 1}"
        )
        rows = await self.db.tenant_fetch(tenant_id, query, *args)
        return [Report.from_row(row) for row in rows]

    async def cancel(self, tenant_id: str, report_id: uuid.UUID) -> Report | None:
        """Mark an active report cancelled and forget its export's secret; returns the report as it was (with
        the secret, to delete the export), None when it is not active (any more)."""
        async with self.db.tenant_tx(tenant_id) as conn:
            before = await conn.fetchrow(
                "SELECT * FROM media.reports WHERE id = $1 AND status IN ('queued', 'running') FOR UPDATE", report_id
            )
            if before is None:
                return None
            await conn.execute(
                "UPDATE media.reports SET status = 'cancelled', error = NULL, export_secret = NULL,"
                " finished_at = now(), updated_at = now() WHERE id = $1",
                report_id,
            )
        return Report.from_row(before)

    async def delete(self, tenant_id: str, report_id: uuid.UUID) -> Report | None:
        """Delete a finished (done, failed or cancelled) report's row; None when it is not finished."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "DELETE FROM media.reports WHERE id = $1 AND status NOT IN ('queued', 'running') RETURNING *",
                report_id,
            )
        return Report.from_row(row) if row else None

    async def fail_unqueued(self, tenant_id: str, report_id: uuid.UUID, error: str) -> None:
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute(
                "UPDATE media.reports SET status = 'failed', error = $2, finished_at = now(), updated_at = now()"
                " WHERE id = $1 AND status = 'queued'",
                report_id,
                error,
            )

    # -- the workers --------------------------------------------------------------------------------
    async def start_run(self, tenant_id: str, report_id: uuid.UUID, token: uuid.UUID) -> Report | None:
        """Take the report for a new run (stage `reading`); None when it is no longer active."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "UPDATE media.reports SET status = 'running', stage = 'reading', progress = 0, run_token = $2,"
                " attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()"
                " WHERE id = $1 AND status IN ('queued', 'running') RETURNING *",
                report_id,
                token,
            )
        return Report.from_row(row) if row else None

    async def progress(self, tenant_id: str, report_id: uuid.UUID, token: uuid.UUID, stage: Stage, value: int) -> bool:
        """Record a run's stage and progress; False when the run no longer owns a running report."""
        return await self._owned_update(
            tenant_id,
            "stage = $3, progress = $4",
            report_id,
            token,
            stage,
            max(0, min(100, value)),
        )

    async def finish(
        self, tenant_id: str, report_id: uuid.UUID, token: uuid.UUID, *, key: str, size: int, rows: int
    ) -> bool:
        """The one `done` transition: only the run owning a running report makes it."""
        return await self._owned_update(
            tenant_id,
            "status = 'done', stage = 'done', progress = 100, object_key = $3, size_bytes = $4, row_count = $5,"
            " error = NULL, export_secret = NULL, finished_at = now()",
            report_id,
            token,
            key,
            size,
            rows,
        )

    async def fail(self, tenant_id: str, report_id: uuid.UUID, token: uuid.UUID, error: str, *, final: bool) -> bool:
        """A run failed: `final` makes the report `failed` (its export's secret forgotten: the run deletes the
        export), else it waits in the queue for its retry."""
        if final:
            assignments = "status = 'failed', error = $3, export_secret = NULL, finished_at = now()"
        else:
            assignments = "status = 'queued', stage = 'queued', progress = 0, error = $3"
        return await self._owned_update(tenant_id, assignments, report_id, token, error)

    async def _owned_update(
        self, tenant_id: str, assignments: str, report_id: uuid.UUID, token: uuid.UUID, *args: Any
    ) -> bool:
        async with self.db.tenant_tx(tenant_id) as conn:
            return await _owned(conn, assignments, report_id, token, *args)


async def _owned(conn: Connection, assignments: str, report_id: uuid.UUID, token: uuid.UUID, *args: Any) -> bool:
    row = await conn.fetchrow(
        f"UPDATE media.reports SET {assignments}, updated_at = now()"  # noqa: S608 - fixed fragments
        " WHERE id = $1 AND run_token = $2 AND status = 'running' RETURNING id",
        report_id,
        token,
        *args,
    )
    return row is not None
