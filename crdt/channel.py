"""What a room sees of a connection: the `Channel` protocol, prepared outbound messages, origins
and the documented close codes.

Transports (the ASGI websocket adapter, the uvicorn fast-path protocol, a test double) implement
`Channel`; rooms never see Starlette, uvicorn or sockets. A room encodes a message once into an
`Outbound` and hands the same object to every channel; a transport that writes raw WebSocket frames
asks it for `frame()`, built once and shared by every connection (server frames are unmasked, so
the bytes are identical for all).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Protocol, runtime_checkable


class CloseCode(IntEnum):
    """Close codes of the collab websocket (README §Realtime). y-websocket 3.1 reconnects after
    1xxx codes and stops reconnecting after 4400-4499, so 44xx mean "do not come back as you are"."""

    NORMAL = 1000
    GOING_AWAY = 1001  # the node is draining: reconnect (to another node)
    UNSUPPORTED_DATA = 1003  # a text frame: the protocol is binary
    MESSAGE_TOO_BIG = 1009  # a frame over the size limit
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # rate limit exceeded, or the client reads too slowly: reconnect and resync
    BAD_MESSAGE = 4400  # not a y-websocket message (malformed, truncated, unknown type)
    UNAUTHORIZED = 4401  # missing, invalid or expired credentials
    FORBIDDEN = 4403  # authenticated, but not allowed in this room (or removed from it)
    NOT_FOUND = 4404  # the room does not exist or was closed (an ended dojo)
    QUOTA_EXCEEDED = 4402  # the update would take its owner (a tenant) past its storage quota
    DOCUMENT_TOO_LARGE = 4413  # the update would grow the document past its limit
    TOO_MANY_CONNECTIONS = 4429  # the user already holds the most connections allowed on this node
    UPDATE_REJECTED = 4422  # a sync update the CRDT engine cannot apply


SLOW_CLIENT_REASON: Final = "client is not reading fast enough"
"""The close reason (with TRY_AGAIN_LATER) of a connection whose unsent backlog went past its bound."""


def _ws_frame_header(length: int) -> bytes:
    # RFC 6455 §5.2: FIN + binary opcode, unmasked (server to client), then the payload length.
    if length < 126:
        return bytes((0x82, length))
    if length < 1 << 16:
        return bytes((0x82, 126)) + length.to_bytes(2, "big")
    return bytes((0x82, 127)) + length.to_bytes(8, "big")


class Outbound:
    """One encoded y-websocket message on its way to one or many connections."""

    __slots__ = ("_frame", "payload")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self._frame: bytes | None = None

    def frame(self) -> bytes:
        """The complete unmasked binary WebSocket frame carrying `payload` (built once)."""
        frame = self._frame
        if frame is None:
            frame = self._frame = _ws_frame_header(len(self.payload)) + self.payload
        return frame

    def __len__(self) -> int:
        return len(self.payload)

    def __repr__(self) -> str:
        return f"Outbound({len(self.payload)} bytes)"


class Channel(Protocol):
    """A connection as a room sees it. Every method is non-blocking. Its rights (read-only or
    editor) are the room's business: :meth:`~crdt.room.Room.add`, :meth:`~crdt.room.Room.set_readonly`."""

    @property
    def key(self) -> int:
        """Unique among this process's live connections."""
        ...

    def send(self, message: Outbound) -> None:
        """Queue `message`. A channel whose backlog exceeds its bound closes itself with
        TRY_AGAIN_LATER rather than block or drop silently; sending on a closed channel is a no-op."""
        ...

    def close(self, code: int, reason: str = "") -> None:
        """Close the connection (idempotent). The transport then tells the room it left."""
        ...


@runtime_checkable
class ReadControl(Protocol):
    """A channel whose transport can stop reading (TCP flow control then slows its sender). Optional:
    a room pauses the channels that implement it while its changes back up (:meth:`Room.pause_reading`)."""

    def pause_reading(self) -> None:
        """Stop reading frames from the peer until :meth:`resume_reading` (idempotent). A channel not
        read since it was last resumed may read once more first, so that every connection of a room
        that keeps pausing gets its turn."""
        ...

    def resume_reading(self) -> None:
        """Read frames again (idempotent)."""
        ...


@dataclass(frozen=True, slots=True)
class ConnectionOrigin:
    """A change received from a client connection."""

    key: int


@dataclass(frozen=True, slots=True)
class StorageOrigin:
    """State loaded from the document store."""


@dataclass(frozen=True, slots=True)
class ServerOrigin:
    """A change made by the server itself (the HTTP document API, a dojo snapshot...)."""

    reason: str = "server"


@dataclass(frozen=True, slots=True)
class RemoteOrigin:
    """A change received from another node (cross-node fan-out)."""

    node: str


Origin = ConnectionOrigin | StorageOrigin | ServerOrigin | RemoteOrigin
