"""A small Python y-websocket client over `websockets` and pycrdt, for tests (the third client
next to the Node ones, and a raw socket for sending bad input)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pycrdt import Doc, Text, TransactionEvent
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crdt import (
    AwarenessMessage,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    encode_sync_step1,
    encode_sync_step2,
    encode_sync_update,
)


class PyClient:
    """A y-websocket client with one pycrdt Doc; local edits are sent as sync updates."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get("text", type=Text)
        self.synced = asyncio.Event()
        self.awareness: list[AwarenessMessage] = []
        self.received: list[bytes] = []
        self.close_code: int | None = None
        self.step2_received = 0
        self._step2 = asyncio.Condition()
        self._sends: set[asyncio.Task[None]] = set()
        self._remote = False
        self._subscription = self.doc.observe(self._on_local)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, url: str, headers: Mapping[str, str] | None = None) -> AsyncIterator[PyClient]:
        async with connect(url, additional_headers=dict(headers or {}), compression=None, max_size=None) as ws:
            client = cls(ws)
            await ws.send(encode_sync_step1(client.doc.get_state()))
            try:
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await client._reader

    def _on_local(self, event: TransactionEvent) -> None:
        if self._remote:
            return
        update = event.update
        if update and update != b"\x00\x00":
            task = asyncio.get_running_loop().create_task(self.ws.send(encode_sync_update(update)))
            self._sends.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if not task.cancelled():
            task.exception()  # a send to a closed socket: the reader records the close

    async def round_trip(self, within: float = 5.0) -> None:
        """Send sync step1 and wait for the server's step2 answer. The server handles one connection's
        frames in order and writes to it in order, so afterwards it has processed everything this client
        sent before, and this client has received everything the server sent it before answering."""
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)
        async with asyncio.timeout(within), self._step2:
            seen = self.step2_received
            await self.ws.send(encode_sync_step1(self.doc.get_state()))
            await self._step2.wait_for(lambda: self.step2_received > seen)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                assert isinstance(frame, bytes)
                self.received.append(frame)
                message = decode_message(frame)
                if isinstance(message, SyncStep1):
                    await self.ws.send(encode_sync_step2(self.doc.get_update(message.state_vector)))
                elif isinstance(message, SyncStep2 | SyncUpdate):
                    self._remote = True
                    try:
                        self.doc.apply_update(message.update)
                    finally:
                        self._remote = False
                    if isinstance(message, SyncStep2):
                        self.synced.set()
                        async with self._step2:
                            self.step2_received += 1
                            self._step2.notify_all()
                elif isinstance(message, AwarenessMessage):
                    self.awareness.append(message)
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
        finally:
            if self.close_code is None and self.ws.close_code is not None:
                self.close_code = self.ws.close_code

    async def wait_text(self, expected: str, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.text) != len(expected) or str(self.text) != expected:  # noqa: ASYNC110 - no change signal
                await asyncio.sleep(0.01)

    async def wait_closed(self, within: float = 5.0) -> int | None:
        async with asyncio.timeout(within):
            await asyncio.shield(self._reader)
        return self.close_code


async def closed_with(ws: ClientConnection, within: float = 5.0) -> int | None:
    """Read until the server closes; its close code, or None if it is still open after `within`."""
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
    except TimeoutError:
        return None
