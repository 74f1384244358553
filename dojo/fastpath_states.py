"""The fast-path connection's states, and the only transitions between them.

Theory of operation. A collab connection is first an ordinary ASGI websocket: the request is parsed
(`HANDSHAKE`), the app accepts it (`OPEN`), then either keeps driving it through ASGI or hands it to a
room: `ATTACHED` (frames held back while the room loads) and `LIVE` (frames go to the room). Either
side may end it: we send a close frame and wait for the answer (`CLOSING`), or the peer closes, the
socket is lost or the protocol fails (`CLOSED`). `advance` is the one place a state changes; it refuses
any other move, naming both states, so a wrong sequence fails loudly instead of corrupting a room.
"""

from __future__ import annotations

from enum import Enum


class ConnState(Enum):
    CONNECTING = "connecting"
    """The socket is upgraded; the request is not parsed yet."""
    HANDSHAKE = "handshake"
    """The request is parsed; the ASGI app decides (accept, refuse)."""
    OPEN = "open"
    """Accepted; the ASGI app sends and receives."""
    ATTACHED = "attached"
    """Handed to a room; incoming frames are held back until the room starts it."""
    LIVE = "live"
    """The room drives it: frames go straight to the room, messages straight to the socket."""
    CLOSING = "closing"
    """We sent a close frame; waiting for the peer's (or the timer that cuts it)."""
    CLOSED = "closed"
    """Over: the peer closed, the socket was lost, the protocol failed, or the handshake ended."""


_ALLOWED: dict[ConnState, frozenset[ConnState]] = {
    ConnState.CONNECTING: frozenset({ConnState.HANDSHAKE, ConnState.CLOSED}),
    ConnState.HANDSHAKE: frozenset({ConnState.OPEN, ConnState.CLOSED}),
    ConnState.OPEN: frozenset({ConnState.ATTACHED, ConnState.CLOSING, ConnState.CLOSED}),
    ConnState.ATTACHED: frozenset({ConnState.LIVE, ConnState.CLOSING, ConnState.CLOSED}),
    ConnState.LIVE: frozenset({ConnState.CLOSING, ConnState.CLOSED}),
    ConnState.CLOSING: frozenset({ConnState.CLOSED}),
    ConnState.CLOSED: frozenset(),
}

ROOM_OWNED = frozenset({ConnState.ATTACHED, ConnState.LIVE})
"""States in which a room, not the ASGI app, owns the connection."""

ENDING = frozenset({ConnState.CLOSING, ConnState.CLOSED})
"""States in which nothing more is sent or delivered."""


class FastPathError(Exception):
    """Base of the fast path's errors."""


class IllegalTransition(FastPathError):
    """A connection was asked to move to a state it cannot reach from where it is."""

    def __init__(self, current: ConnState, target: ConnState) -> None:
        super().__init__(f"a {current.value} connection cannot become {target.value}")
        self.current = current
        self.target = target


def allowed(current: ConnState, target: ConnState) -> bool:
    return target in _ALLOWED[current]


def advance(current: ConnState, target: ConnState) -> ConnState:
    """`target`, if the move from `current` is allowed; else `IllegalTransition`."""
    if target not in _ALLOWED[current]:
        raise IllegalTransition(current, target)
    return target
