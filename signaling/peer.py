"""A peer: what the registry knows of it (`PeerInfo`) and, for peers of this node, the connection
(`Peer`: a bounded outgoing queue drained by one writer task over any `Socket`)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from . import metrics
from .errors import PeerGone
from .status import Close

log = logging.getLogger("signaling.peer")

_SENT_TYPES = frozenset(
    {
        "welcome",
        "peer-joined",
        "peer-left",
        "peer-state",
        "offer",
        "answer",
        "candidate",
        "ice-servers",
        "pong",
        "error",
        "dojo",
        "chat",
    }
)


@dataclass(frozen=True)
class PeerInfo:
    """A peer as every node sees it (stored in the cluster registry)."""

    peer_id: str
    user_id: str
    node: str
    audio: bool = False
    video: bool = False

    def public(self) -> dict[str, Any]:
        """The peer as clients see it (no node names)."""
        return {"peer_id": self.peer_id, "user_id": self.user_id, "audio": self.audio, "video": self.video}

    def to_json(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> PeerInfo | None:
        """None (logged) for an entry that is not a peer: the registry is shared, never trusted blindly."""
        try:
            raw = orjson.loads(data)
            return cls(
                peer_id=str(raw["peer_id"]),
                user_id=str(raw["user_id"]),
                node=str(raw["node"]),
                audio=bool(raw.get("audio", False)),
                video=bool(raw.get("video", False)),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.warning("signaling: ignoring a malformed registry entry (%s)", type(exc).__name__)
            return None


class Socket(Protocol):
    """The transport under a peer. Both methods raise `PeerGone` when the connection is gone."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class Peer:
    """A peer connected to this node.

    `send_json` and `close` never block: messages go to a bounded queue that `run` writes out; a
    peer whose queue overflows is closed (1013) instead of stalling anyone. This is the object the
    dojo service gets from `SignalHub.local_peers` to push its own events.
    """

    def __init__(self, info: PeerInfo, room: str, *, max_backlog_messages: int, max_backlog_bytes: int) -> None:
        self.info = info
        self.room = room
        self.known: set[str] = set()
        """Peers this client has been told about (welcome list, peer-joined), so that an event that
        arrives twice (pub/sub and a reconciliation) is announced once."""
        self.said_leave = False
        self._max_messages = max_backlog_messages
        self._max_bytes = max_backlog_bytes
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._close: tuple[int, str] | None = None
        self._closed = False
        self._done = asyncio.Event()

    @property
    def peer_id(self) -> str:
        return self.info.peer_id

    @property
    def user_id(self) -> str:
        return self.info.user_id

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_code(self) -> int | None:
        """The code the server closed this peer with; None while open or when the client ended it."""
        return None if self._close is None else self._close[0]

    @property
    def close_reason(self) -> str:
        return "" if self._close is None else self._close[1]

    def send_json(self, message: Mapping[str, Any]) -> None:
        """Queue one message (a JSON object with a `type`) for this client."""
        if self._closed:
            return
        text = orjson.dumps(message).decode()
        self._queue.append(text)
        self._queued_bytes += len(text)
        kind = message.get("type")
        metrics.SENT.labels(kind if kind in _SENT_TYPES else "other").inc()
        if len(self._queue) > self._max_messages or self._queued_bytes > self._max_bytes:
            self.close(Close.TRY_AGAIN_LATER, "client is not reading fast enough")
            return
        self._wakeup.set()

    def close(self, code: int, reason: str) -> None:
        """Close the connection with `code` after the messages already queued."""
        if self._closed:
            return
        self._closed = True
        self._close = (int(code), reason[:120])
        self._wakeup.set()

    def finish(self) -> None:
        """The connection ended from the other side: stop the writer without a close frame."""
        self._closed = True
        self._wakeup.set()

    async def wait_done(self) -> None:
        await self._done.wait()

    async def run(self, socket: Socket) -> None:
        """Write queued messages until the peer is closed (then send the close frame, if any)."""
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue:
                    text = self._queue.popleft()
                    self._queued_bytes -= len(text)
                    await socket.send_text(text)
                if self._closed:
                    if self._close is not None:
                        await socket.close(*self._close)
                    return
        except PeerGone:
            log.debug("signaling writer stopped: the connection is gone", extra={"peer": self.peer_id})
            self._closed = True
        finally:
            self._queue.clear()
            self._done.set()
