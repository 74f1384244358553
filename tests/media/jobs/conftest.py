"""Fixtures for the media jobs tests: identity, the POC service and the media API served together on one
port (as `pocdojo dev` serves them), media workers run in the test's process (`worker`) or as their own
processes (`tests/media/jobs/worker_process.py`), the local object store under a fresh directory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from deploy.local import DatabaseUrls, Dispatcher
from deploy.services import SERVICES
from identity.app import create_app as create_identity_app
from media.app import create_app as create_media_app
from media.report_job import ProgressHook
from media.storage.base import ObjectStore
from media.worker import MediaWorker, build_store
from poc_api.app import create_app as create_poc_app
from runtime.settings import Settings
from tests.conftest import serve_app, wait_until
from tests.identity.harness import Account, IdentityHarness
from tests.poc.conftest import PocHarness, poc_fields

TEST_MEDIA_SETTINGS: dict[str, Any] = {
    "media_worker_heartbeat_seconds": 0.2,
    "media_worker_stalled_seconds": 1.0,
    "media_worker_shutdown_seconds": 5.0,
    "media_job_retry_base_seconds": 1,
    "media_job_max_attempts": 3,
}


@dataclass
class MediaHarness:
    base: str
    http: httpx.AsyncClient
    settings: Settings
    database: DatabaseUrls
    identity: IdentityHarness
    pocs: PocHarness
    media_app: FastAPI
    objects: Path
    """The local object store's root."""

    async def tenant(self) -> Account:
        return await self.identity.create_tenant()

    async def member(self, admin: Account, name: str = "member") -> Account:
        return await self.pocs.member(admin, name)

    async def catalogue(self, account: Account, n: int) -> None:
        for i in range(n):
            await self.pocs.create(account, **poc_fields(i, name=f"Integração São Paulo {i:04d}"))

    async def request(
        self, account: Account, body: dict[str, Any] | None = None, *, key: str | None = None
    ) -> httpx.Response:
        headers = dict(account.auth)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post("/v1/reports", json=body or {"format": "csv", "locale": "en"}, headers=headers)

    async def create(self, account: Account, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.request(account, body)
        assert response.status_code == 202, response.text
        report: dict[str, Any] = response.json()
        return report

    async def get(self, account: Account, report_id: str, **params: Any) -> dict[str, Any]:
        response = await self.http.get(f"/v1/reports/{report_id}", params=params, headers=account.auth)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    async def follow(self, account: Account, report_id: str, *statuses: str, within: float = 30) -> dict[str, Any]:
        """Follow the report with long-polls until its status is one of `statuses`."""
        latest: dict[str, Any] = {}

        async def reached() -> bool:
            latest.update(await self.get(account, report_id, wait=5))
            return latest["status"] in statuses

        await wait_until(reached, within=within, interval=0)
        return latest

    def object_path(self, report: dict[str, Any], account: Account, user_id: str) -> Path:
        return self.objects / "reports" / account.tenant_id / user_id / f"{report['id']}.{report['format']}"

    async def export(self, report_id: str) -> tuple[str, str | None]:
        """The report's export id and the secret the row still holds (the capability to read its POCs)."""
        conn = await asyncpg.connect(self.database.admin)
        try:
            row = await conn.fetchrow(
                "SELECT export_id, export_secret FROM media.reports WHERE id = $1", uuid.UUID(report_id)
            )
        finally:
            await conn.close()
        assert row is not None
        return str(row["export_id"]), row["export_secret"]

    async def export_items(self, export_id: str, secret: str) -> int:
        """The status of reading an export's items from the POC service with its secret."""
        response = await self.http.get(f"/v1/pocs/exports/{export_id}/items", headers={"Export-Secret": secret})
        return response.status_code

    async def job_id(self, report_id: str) -> int:
        conn = await asyncpg.connect(self.database.admin)
        try:
            job_id = await conn.fetchval("SELECT job_id FROM media.reports WHERE id = $1", uuid.UUID(report_id))
        finally:
            await conn.close()
        assert job_id is not None
        return int(job_id)

    async def job_status(self, report_id: str) -> str:
        job_id = await self.job_id(report_id)
        conn = await asyncpg.connect(self.database.admin)
        try:
            return str(await conn.fetchval("SELECT status FROM media.procrastinate_jobs WHERE id = $1", job_id))
        finally:
            await conn.close()


@asynccontextmanager
async def media_harness(
    make_settings: Callable[..., Settings], database: DatabaseUrls, state_dir: Path, **overrides: Any
) -> AsyncIterator[MediaHarness]:
    holder: dict[str, Any] = {}

    def factory(base: str) -> Any:
        settings = make_settings(public_url=base, **{**TEST_MEDIA_SETTINGS, **media_overrides(state_dir), **overrides})
        holder["settings"] = settings
        holder["poc"] = create_poc_app(settings)
        holder["media"] = create_media_app(settings)
        return Dispatcher(
            [
                (SERVICES["identity"].path_prefixes, create_identity_app(settings)),
                (SERVICES["poc"].path_prefixes, holder["poc"]),
                (SERVICES["media"].path_prefixes, holder["media"]),
            ]
        )

    async with serve_app(factory) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        settings = holder["settings"]
        identity = IdentityHarness(base, http, settings)
        pocs = PocHarness(base, http, settings, database, identity, holder["poc"])
        yield MediaHarness(base, http, settings, database, identity, pocs, holder["media"], state_dir / "objects")


def media_overrides(state_dir: Path) -> dict[str, Any]:
    """Settings of the local object store under `state_dir` (the keys and secrets stay the session's)."""
    return {"media_local_root": state_dir / "objects"}


@pytest.fixture
async def media(
    make_settings: Callable[..., Settings], database: DatabaseUrls, tmp_path: Path
) -> AsyncIterator[MediaHarness]:
    async with media_harness(make_settings, database, tmp_path) as harness:
        yield harness


@asynccontextmanager
async def worker(
    settings: Settings,
    *,
    on_progress: ProgressHook | None = None,
    store: Callable[[Settings], ObjectStore] = build_store,
    **overrides: Any,
) -> AsyncIterator[MediaWorker]:
    """A media worker in this process (`store`: its object store), stopped (ordered shutdown) at the end."""
    process = MediaWorker(settings.model_copy(update=overrides), on_progress=on_progress, store=store)
    stop = asyncio.Event()
    task = asyncio.create_task(process.run(stop))
    started = asyncio.create_task(process.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        started.cancel()
        task.result()
    try:
        yield process
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
