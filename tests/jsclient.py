"""Drive the real Node.js Yjs stack from async Python tests.

* :class:`JsClient` runs ``tests/js/client.mjs`` (a y-websocket 3.x ``WebsocketProvider``) as a
  subprocess and exposes its JSON-line commands as typed methods.
* :class:`ReferenceServer` runs the Node reference server ``@y/websocket-server`` on a free
  127.0.0.1 port, to compare our server with.

Both need ``node`` on PATH and ``npm ci --prefix tests/js`` to have been run (the Makefile does it).

    async with ReferenceServer.start() as server, JsClient.start(server.url, "room") as client:
        await client.wait_synced()
        await client.insert(0, "hi")
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, Self

from runtime.ports import free_port

JS_DIR = Path(__file__).resolve().parent / "js"
CLIENT_SCRIPT = JS_DIR / "client.mjs"
REPLAY_SCRIPT = JS_DIR / "replay_concurrent.mjs"
REFERENCE_SERVER_SCRIPT = JS_DIR / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"

Event = dict[str, Any]


class JsHarnessError(RuntimeError):
    """The Node harness could not be started, or a command failed."""


def node_executable() -> str | None:
    """The path of ``node``, or None if it is not installed."""
    return shutil.which("node")


def require_node() -> str:
    """The path of ``node``; :class:`JsHarnessError` with instructions if something is missing."""
    node = node_executable()
    if node is None:
        raise JsHarnessError("node is not on PATH")
    if not (JS_DIR / "node_modules").is_dir():
        raise JsHarnessError(f"{JS_DIR}/node_modules is missing: run `npm ci --prefix tests/js`")
    return node


class _Process:
    """A child process whose stderr is kept (bounded) for error messages."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.stderr_tail: deque[str] = deque(maxlen=200)
        assert proc.stderr is not None
        self._stderr_task = asyncio.create_task(self._drain(proc.stderr))

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            self.stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    def describe(self) -> str:
        tail = "\n".join(self.stderr_tail)
        return f"{self.name} (exit code {self.proc.returncode}); stderr:\n{tail}"

    async def stop(self, within: float = 3.0, *, graceful: bool = True) -> None:
        """Wait for the process to exit (unless not ``graceful``), then terminate, then kill it."""
        actions = (None, self.proc.terminate, self.proc.kill) if graceful else (self.proc.terminate, self.proc.kill)
        for action in actions:
            if self.proc.returncode is not None:
                break
            if action is not None:
                with contextlib.suppress(ProcessLookupError):  # it exited in between
                    action()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), within)
        await self.proc.wait()
        await self._stderr_task


def _file(file: str | None) -> dict[str, Any]:
    return {} if file is None else {"file": file}


class JsClient:
    """A running ``client.mjs``: one y-websocket ``WebsocketProvider`` with its own ``Y.Doc``.

    Every command waits for its reply (``reply_timeout`` seconds) and raises :class:`JsHarnessError` if the
    client reports a failure. Events (status, synced, awareness, permission denied, closes) are
    recorded in :attr:`events`; :meth:`wait_event` waits for one.
    """

    def __init__(self, process: _Process) -> None:
        self._process = process
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Event]] = {}
        self.events: list[Event] = []
        self._event_added = asyncio.Condition()
        assert process.proc.stdout is not None
        self._reader = asyncio.create_task(self._read(process.proc.stdout))

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        url: str,
        room: str,
        *,
        params: Mapping[str, str] | None = None,
        connect: bool = True,
        max_backoff_ms: int = 2500,
        resync_ms: int = -1,
    ) -> AsyncIterator[Self]:
        """Start a client connected (unless ``connect=False``) to ``url`` + ``/`` + ``room``."""
        node = require_node()
        args = [str(CLIENT_SCRIPT), f"--url={url}", f"--room={room}", f"--params={json.dumps(dict(params or {}))}"]
        args += [f"--max-backoff={max_backoff_ms}", f"--resync={resync_ms}"]
        if not connect:
            args.append("--no-connect")
        proc = await asyncio.create_subprocess_exec(
            node,
            *args,
            cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        client = cls(_Process(proc, f"client.mjs {room}"))
        try:
            yield client
        finally:
            await client.close()

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode("utf-8").strip()
            if not line:
                continue
            try:
                message: Event = json.loads(line)
            except ValueError:
                message = {"event": "unparsable", "line": line}
            if "event" in message or "id" not in message:
                async with self._event_added:
                    self.events.append(message)
                    self._event_added.notify_all()
                continue
            future = self._pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message)
        # The process ended: fail whatever still waits.
        for future in self._pending.values():
            if not future.done():
                future.set_exception(JsHarnessError(f"client exited: {self._process.describe()}"))
        self._pending.clear()
        async with self._event_added:
            self._event_added.notify_all()

    async def request(self, cmd: str, *, reply_timeout: float = 10.0, **args: Any) -> Event:
        """Send one command and return its reply (``ok`` is true); ``args`` become its JSON fields."""
        stdin = self._process.proc.stdin
        if self._reader.done() or stdin is None:
            raise JsHarnessError(f"client is not running: {self._process.describe()}")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        stdin.write((json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode())
        await stdin.drain()
        try:
            reply = await asyncio.wait_for(future, reply_timeout)
        except TimeoutError as exc:
            self._pending.pop(request_id, None)
            raise JsHarnessError(f"{cmd}: no reply within {reply_timeout} s") from exc
        if not reply.get("ok"):
            raise JsHarnessError(f"{cmd} failed: {reply.get('error')}")
        return reply

    async def insert(self, index: int, text: str, *, name: str = "text", file: str | None = None) -> None:
        """Insert ``text`` at ``index`` into the Y.Text ``name`` (or the dojo file ``file``)."""
        await self.request("insert", name=name, index=index, text=text, **_file(file))

    async def delete(self, index: int, length: int, *, name: str = "text", file: str | None = None) -> None:
        """Delete ``length`` characters at ``index`` from the Y.Text ``name`` (or the dojo file ``file``)."""
        await self.request("delete", name=name, index=index, length=length, **_file(file))

    async def get_text(self, *, name: str = "text", file: str | None = None) -> str:
        """The current content of the Y.Text ``name`` (or of the dojo file ``file``; "" if absent)."""
        text: str = (await self.request("get", name=name, **_file(file)))["text"]
        return text

    async def wait_text(self, text: str, *, name: str = "text", file: str | None = None, within: float = 5.0) -> None:
        """Wait until the Y.Text ``name`` (or the dojo file ``file``) equals ``text``."""
        await self.request(
            "waitText", name=name, text=text, timeout=int(within * 1000), reply_timeout=within + 5, **_file(file)
        )

    async def set_awareness(self, state: Any) -> None:
        """Set the local awareness state (any JSON value; None leaves)."""
        await self.request("setAwareness", state=state)

    async def awareness(self) -> dict[int, Any]:
        """The awareness states this client sees, by client ID (its own included)."""
        reply = await self.request("awareness")
        return {int(cid): state for cid, state in reply["states"].items()}

    async def client_id(self) -> int:
        """The Y.Doc client ID (also its awareness client ID)."""
        cid: int = (await self.request("awareness"))["clientId"]
        return cid

    async def wait_synced(self, *, within: float = 5.0) -> None:
        """Wait until the provider has received a sync step2."""
        await self.request("waitSynced", timeout=int(within * 1000), reply_timeout=within + 5)

    async def state_vector(self) -> bytes:
        """The document's encoded state vector."""
        return base64.b64decode((await self.request("stateVector"))["stateVector"])

    async def encode_state(self) -> bytes:
        """The whole document as one update (``Y.encodeStateAsUpdate``)."""
        return base64.b64decode((await self.request("encodeState"))["update"])

    async def status(self) -> tuple[str, bool]:
        """The provider's connection status and whether it is synced."""
        reply = await self.request("status")
        return reply["status"], reply["synced"]

    async def disconnect(self) -> None:
        """Close the socket and stop reconnecting (``provider.disconnect()``)."""
        await self.request("disconnect")

    async def connect(self) -> None:
        """Connect again (``provider.connect()``)."""
        await self.request("connect")

    async def wait_event(self, predicate: Callable[[Event], bool], *, within: float = 5.0) -> Event:
        """Return the first recorded event (past or future) matching ``predicate``."""

        async def find() -> Event:
            async with self._event_added:
                while True:
                    for event in self.events:
                        if predicate(event):
                            return event
                    if self._reader.done():
                        raise JsHarnessError(f"client exited: {self._process.describe()}")
                    await self._event_added.wait()

        try:
            return await asyncio.wait_for(find(), within)
        except TimeoutError as exc:
            raise JsHarnessError(f"no matching event within {within} s; events: {self.events}") from exc

    async def close(self) -> None:
        """Ask the client to leave (it announces its awareness as gone), then reap the process."""
        stdin = self._process.proc.stdin
        if not self._reader.done() and stdin is not None and not stdin.is_closing():
            with contextlib.suppress(JsHarnessError):  # it may die while leaving; stop() reaps it
                await self.request("exit", reply_timeout=3.0)
            stdin.close()
        await self._process.stop()
        await self._reader


class ReferenceServer:
    """The Node reference server (``@y/websocket-server``) listening on 127.0.0.1."""

    def __init__(self, process: _Process, port: int) -> None:
        self._process = process
        self.port = port

    @property
    def url(self) -> str:
        """The ``ws://`` URL to give a ``WebsocketProvider`` (the room is appended to it)."""
        return f"ws://127.0.0.1:{self.port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, *, startup_timeout: float = 10.0) -> AsyncIterator[Self]:
        """Start the server on a free port and wait until it listens."""
        node = require_node()
        port = free_port()
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
        proc = await asyncio.create_subprocess_exec(
            node,
            str(REFERENCE_SERVER_SCRIPT),
            cwd=JS_DIR,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        process = _Process(proc, "@y/websocket-server")
        assert proc.stdout is not None
        stdout_drain: asyncio.Task[None] | None = None
        try:
            # It prints "running at '127.0.0.1' on port N" once listening.
            line = await asyncio.wait_for(proc.stdout.readline(), startup_timeout)
            if b"running at" not in line:
                raise JsHarnessError(f"reference server did not start: {line!r}; {process.describe()}")
            stdout_drain = asyncio.create_task(cls._drain(proc.stdout))
            yield cls(process, port)
        finally:
            await process.stop(graceful=False)
            if stdout_drain is not None:
                await stdout_drain

    @staticmethod
    async def _drain(stream: asyncio.StreamReader) -> None:
        async for _line in stream:
            continue
