"""Clients that edit a room continuously and record what they made and what servers echoed.

Every edit inserts one unique *token*, ``<NN.NNNN>`` (client number, sequence number), so the final
document can be checked token by token: each must be present exactly once.

- :class:`Editor` is a Python y-websocket client (pycrdt) that reconnects like the y-websocket
  provider: it keeps its document across connections, sends its state vector on connect and
  answers the server's step1 with what the server lacks (edits made while it was disconnected
  included). Given several URLs it moves to the next one after a failed or lost connection (a
  client-side balancer, so that clients of a killed node reach the others). ``reconnect=False``
  makes a client that dies with its connection (a phone app killed with the node it used).
- :class:`JsEditor` drives a real Node y-websocket client (``tests/js/client.mjs``); its tokens are
  inserted at index 0 (a token boundary, so tokens are never split).

**"Saw echoed", precisely.** An :class:`Editor` records every token found in the update frames
(sync step2 and update) it receives from a server: its own tokens among them are the edits *its
author saw echoed back by a server*. Yjs encodes inserted strings verbatim, and tokens are only ever
inserted at token boundaries, so a token is in a frame exactly when the frame carries that insert,
however the server merged or re-encoded it. A Node client cannot tell its echo from its own edit
(the echo changes nothing in its Y.Doc), so for Node authors we use what the server delivered to the
other connections: the fan-out gate releases a change to *every* connection of the node at once —
author and observers in the same broadcast — and only once the shared log has it. A Node author's
token is therefore counted as echoed once any :class:`Editor` received it from a server (the
:attr:`Editor.seen` sets), which is exactly "its echo was sent" when an observer shares its node
(every node has Editors in these tests) and implies durability in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from pycrdt import Doc, Text, TransactionEvent
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

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
from tests.jsclient import JsClient

TOKEN = re.compile(r"<\d{2}\.\d{4}>")
TOKEN_BYTES = re.compile(rb"<\d{2}\.\d{4}>")


def token(client: int, seq: int) -> str:
    return f"<{client:02d}.{seq:04d}>"


def tokens_in(text: str) -> Counter[str]:
    return Counter(TOKEN.findall(text))


def check_document(text: str, expected: Iterable[str]) -> list[str]:
    """Problems with ``text``: expected tokens missing, tokens present more than once, or stray
    characters (anything that is not a token)."""
    found = tokens_in(text)
    problems = []
    missing = sorted(set(expected) - set(found))
    if missing:
        problems.append(f"{len(missing)} tokens missing, e.g. {missing[:10]}")
    doubles = sorted(t for t, n in found.items() if n > 1)
    if doubles:
        problems.append(f"{len(doubles)} tokens present more than once, e.g. {doubles[:10]}")
    rest = TOKEN.sub("", text)
    if rest:
        problems.append(f"{len(rest)} characters outside tokens: {rest[:80]!r}")
    return problems


class Editor:
    """A reconnecting Python y-websocket client that edits with tokens (see the module doc)."""

    def __init__(
        self,
        number: int,
        urls: Sequence[str],
        *,
        reconnect: bool = True,
        home: str = "",
        backoff: float = 0.05,
        max_backoff: float = 1.0,
    ) -> None:
        if not urls:
            raise ValueError("at least one URL")
        self.number = number
        self.urls = list(urls)
        self.reconnect = reconnect
        self.home = home
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get("text", type=Text)
        self.made: list[str] = []
        self.made_at: dict[str, float] = {}  # token -> loop time it was made
        self.seen: set[str] = set()  # tokens found in update frames received from servers
        self.connections = 0  # successful connections so far
        self.connected_urls: list[str] = []
        self.errors: list[str] = []
        self.awareness_frames = 0
        self.ws: ClientConnection | None = None
        self.synced = asyncio.Event()  # the current connection received its step2
        self.dead = asyncio.Event()  # a reconnect=False client lost its connection
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._remote = False
        self._pending: list[bytes] = []
        self._subscription = self.doc.observe(self._on_transaction)
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"editor-{self.number}")

    async def aclose(self) -> None:
        self._stopping = True
        ws = self.ws
        if ws is not None:
            await ws.close()
        if self._task is not None:
            await self._task

    @property
    def url(self) -> str | None:
        """The URL of the current connection (None while disconnected)."""
        return self.connected_urls[-1] if self.ws is not None and self.connected_urls else None

    @property
    def echoed(self) -> set[str]:
        return {t for t in self.made if t in self.seen}

    def made_since(self, moment: float) -> set[str]:
        """Tokens made at or after loop time ``moment``."""
        return {t for t, at in self.made_at.items() if at >= moment}

    def __repr__(self) -> str:
        return f"Editor({self.number}, home={self.home}, connections={self.connections}, url={self.url})"

    # -- editing --------------------------------------------------------------------------------
    def _on_transaction(self, event: TransactionEvent) -> None:
        if not self._remote:
            self._pending.append(event.update)

    async def insert_token(self) -> str:
        """Append a new token to the text and send the edit if connected (else it goes out with
        the next connection's sync)."""
        new = token(self.number, len(self.made))
        self.made.append(new)
        self.made_at[new] = asyncio.get_running_loop().time()
        self.text.insert(len(self.text), new)
        updates, self._pending = self._pending, []
        ws = self.ws
        if ws is not None:
            for update in updates:
                try:
                    await ws.send(encode_sync_update(update))
                except ConnectionClosed:
                    break  # the reader notices; the edit is sent with the next sync
        return new

    # -- the connection loop ------------------------------------------------------------------------
    async def _run(self) -> None:
        index = 0
        failures = 0
        while not self._stopping:
            url = self.urls[index % len(self.urls)]
            try:
                async with connect(
                    url, compression=None, max_size=None, open_timeout=5, close_timeout=2, ping_interval=None
                ) as ws:
                    self.ws = ws
                    self.connections += 1
                    self.connected_urls.append(url)
                    failures = 0
                    self._pending.clear()  # the sync below carries anything not sent yet
                    await ws.send(encode_sync_step1(self.doc.get_state()))
                    async for frame in ws:
                        assert isinstance(frame, bytes)
                        await self._receive(ws, frame)
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                self.errors.append(f"{url.split('?')[0]}: {type(exc).__name__}: {exc}")
            finally:
                self.ws = None
                self.synced.clear()
            if self._stopping:
                return
            if not self.reconnect:
                self.dead.set()
                return
            index += 1  # this node failed us: try the next one
            failures += 1
            delay = min(self._max_backoff, self._backoff * 2 ** min(failures - 1, 5))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _receive(self, ws: ClientConnection, frame: bytes) -> None:
        message = decode_message(frame)
        if isinstance(message, SyncStep1):
            await ws.send(encode_sync_step2(self.doc.get_update(message.state_vector)))
        elif isinstance(message, SyncStep2 | SyncUpdate):
            for found in TOKEN_BYTES.findall(frame):
                self.seen.add(found.decode())
            self._remote = True
            try:
                self.doc.apply_update(message.update)
            finally:
                self._remote = False
            if isinstance(message, SyncStep2):
                self.synced.set()
        elif isinstance(message, AwarenessMessage):
            self.awareness_frames += 1


class JsEditor:
    """A Node y-websocket client editing with tokens (inserted at index 0)."""

    def __init__(self, number: int, client: JsClient, home: str = "") -> None:
        self.number = number
        self.client = client
        self.home = home
        self.made: list[str] = []

    async def insert_token(self) -> str:
        new = token(self.number, len(self.made))
        self.made.append(new)
        await self.client.insert(0, new)
        return new

    def __repr__(self) -> str:
        return f"JsEditor({self.number}, home={self.home})"


AnyEditor = Editor | JsEditor


async def edit_continuously(
    editors: Sequence[AnyEditor], until: float, *, interval: float = 0.08, jitter: float = 0.5
) -> None:
    """Every editor inserts a token every ``interval`` seconds (± ``jitter``·interval) until the
    loop time ``until``. Editors that died (``reconnect=False`` and disconnected) stop."""
    loop = asyncio.get_running_loop()

    async def one(editor: AnyEditor) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        while loop.time() < until:
            if isinstance(editor, Editor) and editor.dead.is_set():
                return
            await editor.insert_token()
            await asyncio.sleep(interval * random.uniform(1 - jitter, 1 + jitter))

    await asyncio.gather(*(one(e) for e in editors))


def acknowledged(editors: Sequence[AnyEditor]) -> set[str]:
    """Tokens whose author saw them echoed (see the module doc for Node authors)."""
    py = [e for e in editors if isinstance(e, Editor)]
    seen_anywhere = set().union(*(e.seen for e in py)) if py else set()
    out: set[str] = set()
    for editor in editors:
        if isinstance(editor, Editor):
            out |= editor.echoed
        else:
            out |= {t for t in editor.made if t in seen_anywhere}
    return out


async def texts(editors: Sequence[AnyEditor]) -> list[str]:
    """Every editor's current text."""
    out = []
    for editor in editors:
        out.append(str(editor.text) if isinstance(editor, Editor) else await editor.client.get_text())
    return out


@contextlib.asynccontextmanager
async def running(editors: Sequence[Editor]) -> Any:
    """Start ``editors`` and close them all on the way out."""
    for editor in editors:
        editor.start()
    try:
        yield editors
    finally:
        await asyncio.gather(*(e.aclose() for e in editors))
