"""The collab websocket's fast path: uvicorn's sans-IO protocol that a room can drive directly.

Theory of operation. The ASGI app authenticates and accepts a collab connection as usual; if the
server runs this protocol class (`ws=CollabWebSocketProtocol`), the scope carries the extension
`pocdojo.fastpath`, and the app *attaches* the connection to a room and returns. From then on:

- incoming binary frames go straight from `data_received` to `Room.receive` — no receive queue, no
  task per connection, no ASGI message dicts;
- outgoing messages are written as pre-built WebSocket frames (`Outbound.frame()`, built once per
  broadcast and shared by every connection) straight to the transport;
- a connection whose unsent backlog exceeds the limit is closed (1013) and, if it still does not
  read, aborted — it never stalls the room, and it reconnects and resyncs;
- whichever way the connection ends (our close, the peer's close, a lost socket, a keepalive
  timeout, an oversized frame), the room hears `leave` exactly once.

`FastChannel`, the room's view of the connection (`crdt.Channel`), is a two-slot object over the
protocol, which keeps idle connections small.
Servers that run another protocol class still work: the app then uses the ASGI adapter in
`dojo.collab_ws`, which is slower but behaves the same.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from crdt.channel import SLOW_CLIENT_REASON, CloseCode, Outbound
from dojo.limits import TokenBucket

FASTPATH_EXTENSION = "pocdojo.fastpath"
log = logging.getLogger("dojo.fastpath")
_keys = itertools.count(1)
_ABNORMAL_CLOSURE = 1006  # RFC 6455: the connection ended without a close frame (never sent on the wire)

_DETACHED_SCOPE: dict[str, Any] = {"type": "websocket", "extensions": {}, "path": "/v1/collab", "query_string": b""}


class _NullQueue:
    """Stands in for the ASGI receive queue of an attached connection (nothing reads it)."""

    def put_nowait(self, item: object) -> None:
        return None

    def empty(self) -> bool:
        return True


class _NullEvent:
    """Stands in for the writable event of an attached connection (nothing waits on it)."""

    def set(self) -> None:
        return None

    def clear(self) -> None:
        return None


_NULL_QUEUE = _NullQueue()
_NULL_EVENT = _NullEvent()

FrameHandler = Callable[["FastChannel", bytes], None]
LeaveHandler = Callable[["FastChannel"], None]


class FastChannel:
    """`crdt.Channel` for a fast-path connection."""

    __slots__ = ("_proto", "key")

    def __init__(self, proto: CollabWebSocketProtocol, key: int) -> None:
        self._proto = proto
        self.key = key

    def send(self, message: Outbound) -> None:
        self._proto.write_message(message)

    def close(self, code: int, reason: str = "") -> None:
        self._proto.close_channel(code, reason)

    @property
    def closed(self) -> bool:
        return self._proto.channel_closed

    @property
    def close_code(self) -> int | None:
        """How the connection ended: the close code either side sent first, 1006 if it was lost
        without one, None while it is open."""
        return self._proto.ended[0]

    @property
    def close_reason(self) -> str:
        return self._proto.ended[1]


class CollabWebSocketProtocol(WebSocketsSansIOProtocol):
    """A uvicorn websocket protocol whose connections can be handed to a room (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = FastChannel(self, next(_keys))
        self.max_backlog = 4 * 1024 * 1024
        self._attached = False
        self._on_frame: FrameHandler | None = None
        self._on_leave: LeaveHandler | None = None
        self._early: list[bytes | None] | None = None
        self._channel_closed = False
        self._ended: tuple[int | None, str] = (None, "")
        self._left = False
        self.bucket: TokenBucket | None = None

    # -- the extension the app sees -----------------------------------------------------------------
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][FASTPATH_EXTENSION] = self

    def attach(self, *, max_backlog: int, bucket: TokenBucket | None) -> FastChannel:
        """Take the connection over from ASGI (after `websocket.accept`). Frames that arrive before
        `start` are held back, in order."""
        if self._attached:
            raise RuntimeError("connection already attached")
        self._attached = True
        self.max_backlog = max_backlog
        self.bucket = bucket
        self._early = []
        # Messages the ASGI layer already queued (a fast client's first frames) move to us.
        while not self.queue.empty():
            message = self.queue.get_nowait()
            if message["type"] == "websocket.receive":
                self._early.append(message.get("bytes"))
            elif message["type"] == "websocket.disconnect":
                self._left = True  # gone before it was attached: nothing to leave
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        return self.channel

    def start(self, on_frame: FrameHandler, on_leave: LeaveHandler) -> None:
        """Deliver frames to `on_frame` from now on (held-back ones first); `on_leave` is called once
        when the connection ends."""
        self._on_frame = on_frame
        self._on_leave = on_leave
        early, self._early = self._early or [], None
        if self.disconnected or self._channel_closed:
            self._leave()
            return
        for data in early:
            if self.channel_closed:  # a held-back frame may have closed it
                break
            self._dispatch(data)
        if self.read_paused and not self.channel_closed:
            self.read_paused = False
            self.transport.resume_reading()
        self._shed_handshake_state()

    def _shed_handshake_state(self) -> None:
        """Drop what only the handshake and the ASGI app needed (headers, request and response
        objects, the scope): an idle collab connection should cost as little memory as possible."""
        self.scope = _DETACHED_SCOPE  # type: ignore[assignment]
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]
        self.frames = []
        # The ASGI receive queue and the writable event serve only ASGI sends and receives, which an
        # attached connection no longer makes; uvicorn still notifies them, so shared sinks remain.
        self.queue = _NULL_QUEUE  # type: ignore[assignment]
        self.writable = _NULL_EVENT  # type: ignore[assignment]

    # -- what FastChannel does ----------------------------------------------------------------------------
    @property
    def channel_closed(self) -> bool:
        return self._channel_closed

    @property
    def ended(self) -> tuple[int | None, str]:
        """The close code and reason the connection ended with (see `FastChannel.close_code`)."""
        return self._ended

    def _end(self, code: int, reason: str) -> None:
        if self._ended[0] is None:
            self._ended = (code, reason)

    def write_message(self, message: Outbound) -> None:
        if self._channel_closed or self.close_sent or self.disconnected:
            return
        transport = self.transport
        transport.write(message.frame())
        if transport.get_write_buffer_size() > self.max_backlog:
            self.close_channel(CloseCode.TRY_AGAIN_LATER, SLOW_CLIENT_REASON)

    def close_channel(self, code: int, reason: str = "") -> None:
        if self._channel_closed:
            return
        self._channel_closed = True
        self._end(code, reason)
        if not self.close_sent and not self.disconnected and not self.transport.is_closing():
            self.conn.send_close(code, reason[:120])
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            # A peer that does not answer the close (or does not read at all) is cut off.
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)
        self._leave()

    # -- incoming frames ----------------------------------------------------------------------------------
    def send_receive_event_to_app(self) -> None:
        if not self._attached:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent or self._channel_closed:
            return
        frame = None if self.curr_msg_data_type == "text" else bytes(data)
        if self._early is not None:
            self._early.append(frame)
            return
        self._dispatch(frame)

    def _dispatch(self, data: bytes | None) -> None:
        if data is None:
            self.close_channel(CloseCode.UNSUPPORTED_DATA, "text frames are not part of the protocol; send binary")
            return
        bucket = self.bucket
        if bucket is not None and not bucket.allow():
            self.close_channel(CloseCode.TRY_AGAIN_LATER, "message rate limit exceeded")
            return
        handler = self._on_frame
        assert handler is not None
        try:
            handler(self.channel, data)
        except Exception:
            log.exception("collab frame handler failed", extra={"connection": self.channel.key})
            self.close_channel(CloseCode.INTERNAL_ERROR, "internal error")

    # -- the end of a connection, whichever way it comes ------------------------------------------------
    def _leave(self) -> None:
        if self._left or self._on_leave is None:
            return
        self._left = True
        on_leave, self._on_leave, self._on_frame = self._on_leave, None, None
        try:
            on_leave(self.channel)
        except Exception:
            log.exception("collab leave handler failed", extra={"connection": self.channel.key})

    def shutdown(self) -> None:
        # The server is draining (SIGTERM): tell attached clients to go elsewhere (1001), then let
        # the close handshake (or its timer) end the connection.
        if self._attached and not self._channel_closed and not self.close_sent:
            self.close_channel(CloseCode.GOING_AWAY, "server shutting down")
            return
        super().shutdown()

    def handle_close(self, event: Any) -> None:
        received = self.conn.close_rcvd
        self._end(*((received.code, received.reason) if received is not None else (CloseCode.NORMAL, "")))
        super().handle_close(event)
        if self._attached:
            self._channel_closed = True
            self._leave()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(_ABNORMAL_CLOSURE, "connection lost")
        super().connection_lost(exc)
        if self._attached:
            self._channel_closed = True
            self._leave()

    def handle_events(self) -> None:
        # An oversized frame makes websockets fail the connection with 1009; make sure the room hears it.
        super().handle_events()
        if self._attached and self.conn.close_sent is not None and not self._channel_closed:
            self._end(self.conn.close_sent.code, self.conn.close_sent.reason)
            self._channel_closed = True
            self._leave()

    async def run_asgi(self) -> None:
        # As uvicorn's, except that an app returning after `attach` leaves the connection open:
        # the room owns it now.
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            result = None
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
            result = None
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
        if result is not None:
            self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self._attached and not self.disconnected:
            return
        if self.close_timer is None:
            self.transport.close()
