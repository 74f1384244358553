"""A signaling client for tests: a real websocket (the `websockets` library), every server message
checked against the documented server schemas, messages waited for by type."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jsonschema_rs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from signaling import SERVER_SCHEMAS

_VALIDATORS = {name: jsonschema_rs.validator_for(schema) for name, schema in SERVER_SCHEMAS.items()}


class Closed(AssertionError):
    """The connection closed while a message was awaited."""


class SignalClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.received: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self.close_error: ConnectionClosed | None = None
        self._reader = asyncio.create_task(self._read())

    @property
    def peer_id(self) -> str:
        return str(self.welcome["peer_id"])

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, url: str, *, headers: dict[str, str] | None = None, welcome: bool = True
    ) -> AsyncIterator[SignalClient]:
        async with connect(url, additional_headers=headers, max_size=2**24, open_timeout=10) as ws:
            client = cls(ws)
            try:
                if welcome:
                    client.welcome = await client.next("welcome")
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):  # we cancelled it
                    await client._reader

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                validator = _VALIDATORS.get(message.get("type"))
                assert validator is not None, f"undocumented server message: {message}"
                validator.validate(message)
                self.received.append(message)
                await self.inbox.put(message)
        except ConnectionClosed as exc:
            self.close_error = exc
        finally:
            await self.inbox.put(None)

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    async def next(self, *types: str, within: float = 10.0) -> dict[str, Any]:
        """The next message of one of `types` (others are skipped; they stay in `received`)."""
        async with asyncio.timeout(within):
            while True:
                message = await self.inbox.get()
                if message is None:
                    await self.inbox.put(None)
                    raise Closed(
                        f"closed ({self.ws.close_code} {self.ws.close_reason!r}) while waiting for {types}; "
                        f"received {[m['type'] for m in self.received]}"
                    )
                if not types or message["type"] in types:
                    return message

    async def closed(self, within: float = 10.0) -> tuple[int | None, str | None]:
        """Wait until the server closes the connection; (code, reason)."""
        async with asyncio.timeout(within):
            await self._reader_done()
        return self.ws.close_code, self.ws.close_reason

    async def _reader_done(self) -> None:
        await asyncio.shield(self._reader)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["type"] == kind]
