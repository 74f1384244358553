"""The videos' rows (`media.videos`, under row-level security): what `/v1/videos` and the workers read and
write. The same rules as the reports' (`media.repository`): a run owns a video through the run token it
sets when it starts, every later write of that run is conditional on that token and on the video still
running, so a cancelled or superseded run writes nothing more and a video is `done` at most once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg

from media.repository import Stage, Status
from runtime.db import Database

EXTENSIONS = {"video": "mp4", "thumbnail": "jpg", "captions": "vtt"}
CONTENT_TYPES = {"video": "video/mp4", "thumbnail": "image/jpeg", "captions": "text/vtt; charset=utf-8"}
VideoKind = Literal["year-in-review", "dojo-replay"]


@dataclass(frozen=True, slots=True)
class Video:
    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    status: Status
    stage: Stage
    progress: int
    error: str | None
    period: str | None
    """Year videos: `last-12-months` or a year; None for a dojo replay (as `period_start`, `period_end`)."""
    period_start: datetime | None
    period_end: datetime | None
    resolution: str
    locale: str
    header: dict[str, Any]
    export_id: str | None
    export_secret: str | None
    export_expires_at: datetime | None
    poc_count: int | None
    object_prefix: str | None
    duration_seconds: float | None
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
    kind: VideoKind
    dojo_id: uuid.UUID | None
    """Dojo replays: the dojo replayed, and at which `speed`."""
    speed: float | None
    grant_id: str | None
    """Dojo replays: the dojo service's history grant the worker reads the history with (`grant_secret`,
    kept while queued or running, like `export_secret`), until `grant_expires_at`."""
    grant_secret: str | None = field(repr=False)
    grant_expires_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Video:
        return cls(**dict(row.items()))

    @property
    def prefix(self) -> str:
        """Where its objects go: `videos/{tenant}/{user}/{id}` + `.mp4`, `.jpg`, `.vtt`."""
        return f"videos/{self.tenant_id}/{self.user_id}/{self.id}"

    def keys(self) -> dict[str, str]:
        """The object key of each file (`video`, `thumbnail`, `captions`)."""
        return {part: f"{self.prefix}.{ext}" for part, ext in EXTENSIONS.items()}

    def filename(self, part: str) -> str:
        """The name a download of `part` is saved under."""
        name = "replay" if self.kind == "dojo-replay" else "video"
        return f"{name}-{self.created_at:%Y%m%d-%H%M%S}-{str(self.id)[:8]}.{EXTENSIONS[part]}"


class VideoRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the API ------------------------------------------------------------------------------------
    async def find_idempotent(self, tenant_id: str, user_id: str, key: str) -> Video | None:
        rows = await self.db.tenant_fetch(
            tenant_id,
            "SELECT * FROM media.videos WHERE tenant_id = $1::uuid AND user_id = $2 AND idempotency_key = $3",
            uuid.UUID(user_id),
            key,
        )
        return Video.from_row(rows[0]) if rows else None

    async def count_active(self, tenant_id: str, user_id: str) -> int:
        rows = await self.db.tenant_fetch(
            tenant_id,
            "SELECT count(*) AS n FROM media.videos WHERE tenant_id = $1::uuid AND user_id = $2"
            " AND status IN ('queued', 'running')",
            uuid.UUID(user_id),
        )
        return int(rows[0]["n"])

    async def insert(
        self, tenant_id: str, user_id: str, values: dict[str, Any], *, max_active: int
    ) -> tuple[Video | None, Video | None]:
        """Insert a queued video unless the user already has `max_active` active ones or the idempotency key
        is taken: (the new video, None), (None, the video holding the key) or (None, None) over the limit.
        One user's inserts are serialized (a transaction-level advisory lock)."""
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('media.videos.insert'), hashtext($1))", user_id)
            key = values.get("idempotency_key")
            if key is not None:
                existing = await conn.fetchrow(
                    "SELECT * FROM media.videos WHERE user_id = $1 AND idempotency_key = $2", uuid.UUID(user_id), key
                )
                if existing is not None:
                    return None, Video.from_row(existing)
            active = await conn.fetchval(
                "SELECT count(*) FROM media.videos WHERE user_id = $1 AND status IN ('queued', 'running')",
                uuid.UUID(user_id),
            )
            if active >= max_active:
                return None, None
            names = ["id", "tenant_id", "user_id", *values]
            params = [uuid.uuid4(), uuid.UUID(tenant_id), uuid.UUID(user_id), *values.values()]
            placeholders = ", ".join(f"${i}" for i in range(1, len(params) + 1))
            row = await conn.fetchrow(
                f"INSERT INTO media.videos ({', '.join(names)}) VALUES ({placeholders}) RETURNING *",  # noqa: S608
                *params,
            )
            assert row is not None
            return Video.from_row(row), None

    async def set_job(self, tenant_id: str, video_id: uuid.UUID, job_id: int) -> None:
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute("UPDATE media.videos SET job_id = $2 WHERE id = $1", video_id, job_id)

    async def get(self, tenant_id: str, video_id: uuid.UUID) -> Video | None:
        rows = await self.db.tenant_fetch(
            tenant_id, "SELECT * FROM media.videos WHERE tenant_id = $1::uuid AND id = $2", video_id
        )
        return Video.from_row(rows[0]) if rows else None

    async def page(
        self,
        tenant_id: str,
        user_id: str | None,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        kind: VideoKind | None = None,
    ) -> list[Video]:
        """Newest first; `user_id` None: every video of the tenant (administrators); `kind`: only those."""
        clauses = ["tenant_id = $1::uuid"]
        args: list[Any] = []
        if user_id is not None:
            args.append(uuid.UUID(user_id))
            clauses.append(f"user_id = ${len(args) + 1}")
        if kind is not None:
            args.append(kind)
            clauses.append(f"kind = ${len(args) + 1}")
        if after is not None:
            args.extend(after)
            clauses.append(f"(created_at, id) < (${len(args)}, ${len(args) + 1})")
        args.append(limit)
        query = (
            f"SELECT * FROM media.videos WHERE {' AND '.join(clauses)}"  # noqa: S608 - fixed fragments
            f" ORDER BY created_at DESC, id DESC LIMIT ${len(args) + 1}"
        )
        rows = await self.db.tenant_fetch(tenant_id, query, *args)
        return [Video.from_row(row) for row in rows]

    async def cancel(self, tenant_id: str, video_id: uuid.UUID) -> Video | None:
        """Mark an active video cancelled and forget its export's secret; returns the video as it was (with the
        secret, to delete the export), None when it is not active (any more)."""
        async with self.db.tenant_tx(tenant_id) as conn:
            before = await conn.fetchrow(
                "SELECT * FROM media.videos WHERE id = $1 AND status IN ('queued', 'running') FOR UPDATE", video_id
            )
            if before is None:
                return None
            await conn.execute(
                "UPDATE media.videos SET status = 'cancelled', error = NULL, export_secret = NULL,"
                " grant_secret = NULL, finished_at = now(), updated_at = now() WHERE id = $1",
                video_id,
            )
        return Video.from_row(before)

    async def delete(self, tenant_id: str, video_id: uuid.UUID) -> Video | None:
        """Delete a finished (done, failed or cancelled) video's row; None when it is not finished."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "DELETE FROM media.videos WHERE id = $1 AND status NOT IN ('queued', 'running') RETURNING *",
                video_id,
            )
        return Video.from_row(row) if row else None

    async def fail_unqueued(self, tenant_id: str, video_id: uuid.UUID, error: str) -> None:
        async with self.db.tenant_tx(tenant_id) as conn:
            await conn.execute(
                "UPDATE media.videos SET status = 'failed', error = $2, grant_secret = NULL, finished_at = now(),"
                " updated_at = now() WHERE id = $1 AND status = 'queued'",
                video_id,
                error,
            )

    # -- the workers --------------------------------------------------------------------------------
    async def start_run(self, tenant_id: str, video_id: uuid.UUID, token: uuid.UUID) -> Video | None:
        """Take the video for a new run (stage `reading`); None when it is no longer active."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "UPDATE media.videos SET status = 'running', stage = 'reading', progress = 0, run_token = $2,"
                " attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()"
                " WHERE id = $1 AND status IN ('queued', 'running') RETURNING *",
                video_id,
                token,
            )
        return Video.from_row(row) if row else None

    async def progress(self, tenant_id: str, video_id: uuid.UUID, token: uuid.UUID, stage: Stage, value: int) -> bool:
        """Record a run's stage and progress; False when the run no longer owns a running video."""
        return await self._owned(
            tenant_id, "stage = $3, progress = $4", video_id, token, stage, max(0, min(100, value))
        )

    async def finish(
        self,
        tenant_id: str,
        video_id: uuid.UUID,
        token: uuid.UUID,
        *,
        prefix: str,
        duration: float,
        size: int,
        pocs: int,
    ) -> bool:
        """The one `done` transition: only the run owning a running video makes it."""
        return await self._owned(
            tenant_id,
            "status = 'done', stage = 'done', progress = 100, object_prefix = $3, duration_seconds = $4,"
            " size_bytes = $5, poc_count = $6, error = NULL, export_secret = NULL, grant_secret = NULL,"
            " finished_at = now()",
            video_id,
            token,
            prefix,
            duration,
            size,
            pocs,
        )

    async def fail(self, tenant_id: str, video_id: uuid.UUID, token: uuid.UUID, error: str, *, final: bool) -> bool:
        """A run failed: `final` makes the video `failed` (its export's secret forgotten: the run deletes the
        export), else it waits in the queue for its retry."""
        if final:
            assignments = (
                "status = 'failed', error = $3, export_secret = NULL, grant_secret = NULL, finished_at = now()"
            )
        else:
            assignments = "status = 'queued', stage = 'queued', progress = 0, error = $3"
        return await self._owned(tenant_id, assignments, video_id, token, error)

    async def _owned(self, tenant_id: str, assignments: str, video_id: uuid.UUID, token: uuid.UUID, *args: Any) -> bool:
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                f"UPDATE media.videos SET {assignments}, updated_at = now()"  # noqa: S608 - fixed fragments
                " WHERE id = $1 AND run_token = $2 AND status = 'running' RETURNING id",
                video_id,
                token,
                *args,
            )
        return row is not None
