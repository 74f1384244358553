"""Fixtures and helpers for the `/v1/videos` tests: the media harness of the reports' job tests (identity, the
POC service and the media API on one port; real PostgreSQL; the local object store), the real worker and the
real ffmpeg. Videos are kept short: a couple of POCs, 720p."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from media.repository import Stage
from tests.conftest import wait_until
from tests.identity.harness import Account
from tests.media.jobs.conftest import MediaHarness, media
from tests.poc.conftest import poc_fields, subject

__all__ = ["media"]  # the harness fixture, shared with the reports' job tests

VIDEO = {"resolution": "720p", "locale": "en"}
PARTS = {"video": "mp4", "thumbnail": "jpg", "captions": "vtt"}


async def ask(
    media: MediaHarness, account: Account, body: dict[str, Any] | None = None, *, key: str | None = None
) -> httpx.Response:
    headers = dict(account.auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await media.http.post("/v1/videos", json=VIDEO if body is None else body, headers=headers)


async def create(media: MediaHarness, account: Account, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await ask(media, account, body)
    assert response.status_code == 202, response.text
    video: dict[str, Any] = response.json()
    return video


async def get(media: MediaHarness, account: Account, video_id: str, **params: Any) -> dict[str, Any]:
    response = await media.http.get(f"/v1/videos/{video_id}", params=params, headers=account.auth)
    assert response.status_code == 200, response.text
    video: dict[str, Any] = response.json()
    return video


async def follow(
    media: MediaHarness, account: Account, video_id: str, *statuses: str, within: float = 60
) -> dict[str, Any]:
    """Follow the video with long-polls until its status is one of `statuses`."""
    latest: dict[str, Any] = {}

    async def reached() -> bool:
        latest.update(await get(media, account, video_id, wait=5))
        return latest["status"] in statuses

    await wait_until(reached, within=within, interval=0)
    return latest


async def catalogue(media: MediaHarness, account: Account, n: int) -> None:
    for i in range(n):
        await media.pocs.create(account, **poc_fields(i, name=f"Integração São Paulo {i}"))


def object_paths(media: MediaHarness, account: Account, video_id: str) -> dict[str, Path]:
    folder = media.objects / "videos" / account.tenant_id / subject(account)
    return {part: folder / f"{video_id}.{ext}" for part, ext in PARTS.items()}


async def job_status(media: MediaHarness, video_id: str) -> str:
    conn = await asyncpg.connect(media.database.admin)
    try:
        job_id = await conn.fetchval("SELECT job_id FROM media.videos WHERE id = $1", uuid.UUID(video_id))
        return str(await conn.fetchval("SELECT status FROM media.procrastinate_jobs WHERE id = $1", job_id))
    finally:
        await conn.close()


async def export_of(media: MediaHarness, video_id: str) -> tuple[str, str | None]:
    """The video's export id and the secret it still keeps (None once forgotten)."""
    conn = await asyncpg.connect(media.database.admin)
    try:
        row = await conn.fetchrow(
            "SELECT export_id, export_secret FROM media.videos WHERE id = $1", uuid.UUID(video_id)
        )
    finally:
        await conn.close()
    assert row is not None
    return row["export_id"], row["export_secret"]


async def job_events(media: MediaHarness, video_id: str) -> list[str]:
    """The job's state transitions (`scheduled` left out: a time, not a state)."""
    conn = await asyncpg.connect(media.database.admin)
    try:
        rows = await conn.fetch(
            "SELECT e.type::text AS type FROM media.procrastinate_events e JOIN media.videos v ON v.job_id = e.job_id"
            " WHERE v.id = $1 ORDER BY e.id",
            uuid.UUID(video_id),
        )
    finally:
        await conn.close()
    return [row["type"] for row in rows if row["type"] != "scheduled"]


ENCODING_FROM = 15
"""A video's progress from which ffmpeg is encoding: the rendering band starts at 10 and the cards' drawing
is the renderer's first 5 % (`media.video_job._RENDERING`, `media.video.render._DRAWING_SHARE`)."""


def encoding(stage: Stage, value: int) -> bool:
    return stage == "rendering" and value >= ENCODING_FROM
