"""The collab websocket's fast path: our own websocket protocol, which a room can drive directly.

Theory of operation. `CollabWebSocketProtocol` is an `asyncio.BufferedProtocol` that uvicorn runs for websocket
upgrades (`uvicorn.Config(ws=CollabWebSocketProtocol)`, a documented option). It speaks the wire
protocol through `websockets`' public sans-IO `ServerProtocol` (bytes in → events out → bytes) and
serves the ASGI app as any websocket server does. What it needs from uvicorn is that option's
contract: the constructor's `config` (the app and the `ws_*` settings), `server_state` (the sets of
connections and tasks the server drains at shutdown, its default headers), then `connection_made`,
`data_received` with the upgrade request, and `shutdown()` on SIGTERM.

The ASGI app authenticates and accepts a collab connection as usual; the scope carries the extension
`pocdojo.fastpath`, and the app *attaches* the connection to a room and returns. From then on:

- incoming binary frames go straight from `data_received` to `Room.receive` — no receive queue, no
  task per connection, no ASGI message dicts;
- outgoing messages are written as pre-built WebSocket frames (`Outbound.frame()`, built once per
  broadcast and shared by every connection) straight to the transport;
- a connection whose unsent backlog exceeds the limit is closed (1013) and, if it still does not
  read, aborted — it never stalls the room, and it reconnects and resyncs;
- whichever way the connection ends (our close, the peer's close, a lost socket, a keepalive
  timeout, an oversized frame), the room hears `leave` exactly once;
- a room's backpressure pauses reading fairly: a socket the room resumed is read once before a new
  pause stops it, so no connection waits while others' frames keep pausing the room;
- a read takes at most `READ_BYTES` from the socket (the buffered protocol's buffer; uvloop's own reads
  take up to 256 KiB): what a read brings is parsed into frames at once and kept until handled, so
  with large reads an overloaded node held thousands of parsed frames per connection, for seconds;
  the rest now waits in the kernel's socket buffer, as bytes;
- a read is handled in slices of `FRAMES_PER_SLICE` frames, the event loop serving everything else
  between two (the socket is not read meanwhile): an overloaded node's reads hold thousands of frames,
  and handling them at once starved its timers and its Redis link for seconds; the connections with a
  backlog take turns (`dojo.slice_turns`: a few slices per turn of the loop, a read that comes while
  some wait queues behind them); frames read before the socket was lost still reach the room, before
  it hears `leave`;
- keepalive cuts a peer (1011) that sent nothing within the pong deadline; a connection whose reading
  the room paused since the ping, or whose peer sent bytes since then, gets a new deadline instead
  (under load the pong can sit unread behind the peer's frames: that is our backlog, not a dead peer).

The connection's life is one state machine (`dojo.fastpath_states`). `FastChannel`, the room's view
of the connection (`crdt.Channel`), is a two-slot object over the protocol, which keeps idle
connections small. Servers that run another protocol class still work: the app then uses the ASGI
adapter in `dojo.collab_ws`, which is slower but behaves the same.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from crdt.channel import SLOW_CLIENT_REASON, CloseCode, Outbound
from dojo.fastpath_states import ENDING, ROOM_OWNED, ConnState, FastPathError, IllegalTransition, advance
from dojo.limits import TokenBucket
from dojo.slice_turns import turns_of

if TYPE_CHECKING:
    from uvicorn import Config
    from uvicorn.server import ServerState

FASTPATH_EXTENSION = "pocdojo.fastpath"
log = logging.getLogger("dojo.fastpath")
_ws_log = logging.getLogger("dojo.fastpath.ws")
_keys = itertools.count(1)
_ABNORMAL_CLOSURE = 1006  # RFC 6455: the connection ended without a close frame (never sent on the wire)
_SERVICE_RESTART = 1012
CLOSE_TIMEOUT = 10.0
"""Seconds a peer has to answer our close frame before its socket is cut."""
FRAMES_PER_SLICE = 64
"""Events of one read handled before the event loop serves others (`CollabWebSocketProtocol.run_slice`)."""
READ_BYTES = 4096
"""Most bytes one read takes from a socket (about a slice of the usual small update frames)."""


class _ReadBuffer(threading.local):
    """Where a read lands before `buffer_updated` copies it out: one per thread (each event loop reads
    into it and copies out at once, so its connections can share it)."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_BYTES))


_read_buffer = _ReadBuffer()

FrameHandler = Callable[["FastChannel", bytes], None]
LeaveHandler = Callable[["FastChannel"], None]


class ClientDisconnected(FastPathError, OSError):
    """The ASGI app sent on a connection that is gone (Starlette turns an OSError into 1006)."""


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

    def pause_reading(self) -> None:
        """`crdt.ReadControl`: the room's changes back up; stop reading this connection's frames."""
        self._proto.pause_room_reading()

    def resume_reading(self) -> None:
        self._proto.resume_room_reading()

    @property
    def closed(self) -> bool:
        return self._proto.state in ENDING

    @property
    def close_code(self) -> int | None:
        """How the connection ended: the close code either side sent first, 1006 if it was lost
        without one, None while it is open."""
        return self._proto.ended[0]

    @property
    def close_reason(self) -> str:
        return self._proto.ended[1]


class CollabWebSocketProtocol(asyncio.BufferedProtocol):
    """A websocket protocol for uvicorn whose connections can be handed to a room (see module doc)."""

    __slots__ = (  # no per-instance dict: an idle collab connection should cost little memory
        "_app_state",
        "_backlog",
        "_close_timer",
        "_config",
        "_early",
        "_ended",
        "_excused",
        "_flow_paused",
        "_fragments",
        "_fragments_text",
        "_lost",
        "_on_frame",
        "_on_leave",
        "_pause_pending",
        "_ping_interval",
        "_ping_payload",
        "_ping_timeout",
        "_ping_timer",
        "_queue",
        "_read_paused",
        "_response",
        "_server_state",
        "_slicing",
        "_turn_due",
        "_turns",
        "_writable",
        "bucket",
        "channel",
        "conn",
        "loop",
        "max_backlog",
        "scope",
        "state",
        "transport",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self._config: Config | None = config
        self._server_state = server_state
        self._app_state: dict[str, Any] | None = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self._turns = turns_of(self.loop)
        self.state = ConnState.CONNECTING
        self.channel = FastChannel(self, next(_keys))
        self.max_backlog = 4 * 1024 * 1024
        self.bucket: TokenBucket | None = None
        self._ended: tuple[int | None, str] = (None, "")
        self._lost = False  # the transport is gone (`connection_lost`): nothing more is written
        self._on_frame: FrameHandler | None = None
        self._on_leave: LeaveHandler | None = None
        self._early: list[bytes | None] | None = None
        self._fragments: list[bytes] = []
        self._fragments_text = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None
        self._ping_interval = 0.0
        self._ping_timeout: float | None = None
        self._excused = False  # since the last ping: the peer sent bytes, or the room paused our reading
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made
        # ASGI-only state, dropped once a room owns the connection.
        self.scope: dict[str, Any] | None = None
        self._queue: asyncio.Queue[dict[str, Any]] | None = asyncio.Queue()
        self._writable: asyncio.Event | None = asyncio.Event()
        self._writable.set()
        self._read_paused = False  # the ASGI phase's own pausing (one message at a time)
        self._flow_paused = False  # the room's backpressure (applies while LIVE)
        self._turn_due = False  # the room resumed reading and this socket was not read since
        self._pause_pending = False  # paused while its turn was due: the transport stops after one read
        self._backlog: deque[Frame | Request | Response] | None = None  # read events not handled yet (see `run_slice`)
        self._slicing = False  # a slice of the backlog is scheduled; the transport is paused meanwhile
        self._response: Any = None
        extensions: list[ServerExtensionFactory] = []
        if config.ws_per_message_deflate:
            extensions.append(
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
                )
            )
        self.conn = ServerProtocol(extensions=extensions, max_size=config.ws_max_size, logger=_ws_log)

    # -- the state machine ----------------------------------------------------------------------------
    def _to(self, target: ConnState) -> None:
        """Move to `target` (or raise `IllegalTransition`); leaving a room's ownership for an ending
        state tells the room, once."""
        previous = self.state
        self.state = advance(previous, target)
        if target in ENDING and previous not in ENDING:
            self._stop_keepalive()
            if self._queue is not None:
                code, reason = self._ended
                self._queue.put_nowait(
                    {"type": "websocket.disconnect", "code": code or _ABNORMAL_CLOSURE, "reason": reason}
                )
            if previous is ConnState.LIVE:
                if self._flow_paused:  # read the peer's close frame (or the end of the stream)
                    self._flow_paused = self._pause_pending = False
                    self._resume_transport()
                self._leave()

    def _end(self, code: int, reason: str) -> None:
        if self._ended[0] is None:
            self._ended = (code, reason)

    @property
    def ended(self) -> tuple[int | None, str]:
        """The close code and reason the connection ended with (see `FastChannel.close_code`)."""
        return self._ended

    # -- asyncio.BufferedProtocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._server_state.connections.add(self)  # type: ignore[arg-type]  # uvicorn drains this set

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._backlog:
            self._drain_backlog()
        self._end(_ABNORMAL_CLOSURE, "connection lost")
        if self.state is not ConnState.CLOSED:
            self._to(ConnState.CLOSED)
        self._cancel_close_timer()
        self._server_state.connections.discard(self)
        if self._writable is not None:
            self._writable.set()  # a send waiting for the buffer to drain must not wait forever

    def pause_writing(self) -> None:
        if self._writable is not None:
            self._writable.clear()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_read_buffer.view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """The bytes of one read (uvicorn hands the upgrade request over this way, then the transport
        reads through `get_buffer` / `buffer_updated`)."""
        self._excused = True
        self._turn_due = False
        conn = self.conn
        conn.receive_data(data)
        if self.state is ConnState.CONNECTING and conn.handshake_exc is not None:
            self._refuse_bad_request()
            return
        events = conn.events_received()
        if self._slicing or len(events) > FRAMES_PER_SLICE or (events and self._turns.busy()):
            if self._backlog is None:
                self._backlog = deque()
            self._backlog.extend(events)
            if not self._slicing:
                if self._turns.busy():  # others' backlogs first, or this phase's time is spent (`dojo.slice_turns`)
                    self._wait_turn()
                else:
                    self.run_slice()
            return
        for event in events:
            self._handle_event(event)
        self._after_read()

    def _handle_event(self, event: Frame | Request | Response) -> None:
        """A frame or the upgrade request (a server receives no responses)."""
        if isinstance(event, Frame):
            self._handle_frame(event)
        elif isinstance(event, Request):
            self._handle_request(event)

    def run_slice(self) -> None:
        """Handle the next `FRAMES_PER_SLICE` events of a read that brought more, then wait for this
        connection's next turn (`dojo.slice_turns`), the event loop serving everything else meanwhile;
        the transport stays paused until the backlog is handled. A read of 256 KiB can hold thousands of
        edits, and an overloaded node reads such chunks from every socket: handled at once, they made
        loop turns of seconds, during which timers and the Redis link starved (its calls timed out, the
        link dropped, and every room resynchronized — more load, less throughput)."""
        backlog = self._backlog
        if backlog is None or self._closed():
            self._backlog, self._slicing = None, False
            return
        for _ in range(min(FRAMES_PER_SLICE, len(backlog))):
            self._handle_event(backlog.popleft())
            if self._closed():
                break
        if backlog and not self._closed():
            self._flush()
            self._wait_turn()
            return
        self._backlog = None
        if self._slicing:
            self._slicing = False
            if not self._read_paused and not self._flow_paused:
                self._resume_transport()
        self._after_read()

    def _wait_turn(self) -> None:
        """Stop reading the socket until the backlog is handled, and queue for the next slice."""
        if not self._slicing:
            self._slicing = True
            self.transport.pause_reading()
        self._turns.add(self)

    def _drain_backlog(self) -> None:
        """The socket is gone, but the frames of the backlog were read before: the room gets them, at
        once (a client that sends its last edits and exits resets the socket if our broadcasts sit
        unread in it; its edits must not go with it). What the room sends back is dropped."""
        backlog, self._backlog, self._slicing = self._backlog, None, False
        while backlog and not self._closed():
            self._handle_event(backlog.popleft())

    def _closed(self) -> bool:
        return self.state is ConnState.CLOSED

    def _after_read(self) -> None:
        """Once a read's events are handled: what websockets queued goes out, and a room pause that
        waited for this read applies."""
        conn = self.conn
        if conn.close_sent is not None and self.state not in ENDING:
            # websockets failed the connection (an oversized or malformed frame): it queued the
            # close frame and the end of the stream.
            self._end(conn.close_sent.code, conn.close_sent.reason)
            self._to(ConnState.CLOSED)
        self._flush()
        if self._pause_pending:  # the room paused while this read was due: it has had it
            self._pause_pending = False
            if self.state is ConnState.LIVE:
                self.transport.pause_reading()

    def _resume_transport(self) -> None:
        """Read again — unless a slice of the backlog is due, whose end decides (see `run_slice`)."""
        if not self._slicing and not self.transport.is_closing():
            self.transport.resume_reading()

    def _flush(self) -> None:
        for chunk in self.conn.data_to_send():
            if chunk:
                self.transport.write(chunk)
            else:  # websockets' end of stream: a server closes the TCP connection
                self.transport.close()

    # -- the handshake --------------------------------------------------------------------------------
    def _refuse_bad_request(self) -> None:
        output = b"".join(self.conn.data_to_send())  # websockets answers 414/431 itself
        if not output:
            output = self.conn.reject(400, "Failed to open a WebSocket connection: invalid request.\n").serialize()
        self.transport.write(output)
        self.transport.close()
        self._to(ConnState.CLOSED)

    def _handle_request(self, request: Request) -> None:
        response = self.conn.accept(request)
        if response.status_code != 101:
            self.conn.send_response(response)
            self._flush()
            self.transport.close()
            self._to(ConnState.CLOSED)
            return
        self._response = response
        self._to(ConnState.HANDSHAKE)
        self.scope = self._scope(request)
        assert self._queue is not None
        self._queue.put_nowait({"type": "websocket.connect"})
        task = self.loop.create_task(self._run_asgi())
        tasks = self._server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _scope(self, request: Request) -> dict[str, Any]:
        config, transport = self._config, self.transport
        assert config is not None and self._app_state is not None
        raw_path, _, query = request.path.partition("?")
        subprotocols = [
            token.strip() for header in request.headers.get_all("Sec-WebSocket-Protocol") for token in header.split(",")
        ]
        sockname, peername = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
        root = config.root_path
        return {
            "type": "websocket",
            "asgi": {"version": config.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss" if transport.get_extra_info("sslcontext") else "ws",
            "server": tuple(sockname[:2]) if isinstance(sockname, tuple) else None,
            "client": tuple(peername[:2]) if isinstance(peername, tuple) else None,
            "root_path": root,
            "path": root + unquote(raw_path),
            "raw_path": root.encode("ascii") + raw_path.encode("ascii"),
            "query_string": query.encode("ascii"),
            # websockets decodes header values as ISO-8859-1 (documented since 17.0)
            "headers": [(k.lower().encode("ascii"), v.encode("latin-1")) for k, v in request.headers.raw_items()],
            "subprotocols": subprotocols,
            "state": self._app_state.copy(),
            "extensions": {FASTPATH_EXTENSION: self},
        }

    # -- the ASGI app ---------------------------------------------------------------------------------
    async def _run_asgi(self) -> None:
        config = self._config
        assert config is not None and self.scope is not None
        try:
            await config.loaded_app(self.scope, self._receive, self._send)
        except ClientDisconnected:
            log.debug("collab client went away during the ASGI exchange")
        except Exception:
            log.exception("exception in the websocket ASGI application")
            if self.state in ROOM_OWNED:
                self.close_channel(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._config = self._app_state = None
        if self.state is ConnState.HANDSHAKE:
            log.error("the websocket ASGI application ended without accepting or refusing")
            self._send_500()
        elif self.state is ConnState.OPEN:
            self.transport.close()  # the app ended without closing (as uvicorn does)
            self._end(_ABNORMAL_CLOSURE, "")
            self._to(ConnState.CLOSED)

    def _send_500(self) -> None:
        if self.state is ConnState.HANDSHAKE:
            self.conn.send_response(self.conn.reject(500, "Internal Server Error"))
            self._flush()
            self.transport.close()
            self._to(ConnState.CLOSED)

    async def _receive(self) -> dict[str, Any]:
        queue = self._queue
        if queue is None:
            raise FastPathError("the connection belongs to a room; the ASGI app cannot receive from it")
        message = await queue.get()
        if self._read_paused and queue.empty() and self.state not in ROOM_OWNED:
            self._read_paused = False
            self._resume_transport()
        return message

    async def _send(self, message: dict[str, Any]) -> None:
        if self._writable is not None:
            await self._writable.wait()
        kind = message["type"]
        state = self.state
        if state is ConnState.HANDSHAKE:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":  # refused before the upgrade: HTTP 403
                self.conn.send_response(self.conn.reject(403, ""))
                self._flush()
                self.transport.close()
                self._end(_ABNORMAL_CLOSURE, "")
                self._to(ConnState.CLOSED)
            else:
                raise FastPathError(f"expected websocket.accept or websocket.close, got {kind!r}")
        elif state is ConnState.OPEN:
            if kind == "websocket.send":
                if message.get("bytes") is not None:
                    self.conn.send_binary(message["bytes"])
                else:
                    self.conn.send_text(str(message["text"]).encode())
                self._flush()
            elif kind == "websocket.close":
                self._send_close(int(message.get("code") or CloseCode.NORMAL), message.get("reason") or "")
            else:
                raise FastPathError(f"expected websocket.send or websocket.close, got {kind!r}")
        elif state in ENDING:
            raise ClientDisconnected(f"cannot send {kind!r}: the connection is {state.value}")
        else:
            raise IllegalTransition(state, ConnState.OPEN)

    def _accept(self, message: dict[str, Any]) -> None:
        response = self._response
        self._response = None
        headers = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in [*self._server_state.default_headers, *message.get("headers", [])]
        ]
        if message.get("subprotocol"):
            headers.append(("Sec-WebSocket-Protocol", message["subprotocol"]))
        del response.headers["Date"]
        response.headers.update(headers)
        if self.transport.is_closing():
            return
        self.conn.send_response(response)
        self._flush()
        self._to(ConnState.OPEN)
        self._start_keepalive()

    def _send_close(self, code: int, reason: str) -> None:
        """Send a close frame; a peer that does not answer (or does not read at all) is cut off.

        Reading resumes if it was paused (frames held back for the ASGI app or a room that never
        started): the peer's answer must be read for the close handshake to end, else the peer
        waits for the timer, seeing no close at all (y-websocket reports the close only then)."""
        self._end(code, reason)
        self._to(ConnState.CLOSING)
        if self.transport.is_closing():
            return
        self.conn.send_close(code, reason[:120])
        self._flush()
        if self._read_paused:
            self._read_paused = False
            self._resume_transport()
        self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.transport.abort)

    def _cancel_close_timer(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None

    # -- handing the connection to a room ---------------------------------------------------------------
    def attach(self, *, max_backlog: int, bucket: TokenBucket | None) -> FastChannel:
        """Take the connection over from ASGI (after `websocket.accept`). Frames that arrive before
        `start` are held back, in order. A connection that ended meanwhile stays ended: `start`
        then reports its end at once."""
        self.max_backlog = max_backlog
        self.bucket = bucket
        if self.state in ENDING:
            return self.channel
        self._to(ConnState.ATTACHED)
        self._early = []
        queue, self._queue, self._writable = self._queue, None, None
        # Messages the ASGI layer already queued (a fast client's first frames) move to us.
        while queue is not None and not queue.empty():
            message = queue.get_nowait()
            if message["type"] == "websocket.receive":
                self._early.append(message.get("bytes"))
        if not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()
        return self.channel

    def start(self, on_frame: FrameHandler, on_leave: LeaveHandler) -> None:
        """Deliver frames to `on_frame` from now on (held-back ones first); `on_leave` is called once
        when the connection ends — at once if it already has."""
        self._on_frame, self._on_leave = on_frame, on_leave
        early, self._early = self._early or [], None
        self.scope = None  # what only the handshake and the ASGI app needed goes
        if self.state in ENDING:
            self._leave()
            return
        self._to(ConnState.LIVE)
        for data in early:
            if self.state is not ConnState.LIVE:  # a held-back frame may have closed it
                break
            self._dispatch(data)
        if self._read_paused and self.state is ConnState.LIVE:
            self._read_paused = False
            if not self._flow_paused:
                self._resume_transport()

    def pause_room_reading(self) -> None:
        """Backpressure from the room: stop reading while it is LIVE (held until `start` before). A
        socket not read since the room last resumed it is read once more first: otherwise the first
        sockets read after a resume, whose frames pause the room again, would be the only ones ever
        read, and the others' edits would wait (and their pongs: see `_keepalive_timeout`)."""
        if self._flow_paused or self.state in ENDING:
            return
        self._flow_paused = True
        self._excused = True  # a pong may now wait unread (see `_keepalive_timeout`)
        if self.state is ConnState.LIVE:
            if self._turn_due:
                self._pause_pending = True
            else:
                self.transport.pause_reading()

    def resume_room_reading(self) -> None:
        if not self._flow_paused:
            return
        self._flow_paused = False
        if self.state is ConnState.LIVE:
            self._turn_due = True
            if self._pause_pending:
                self._pause_pending = False  # it never stopped reading
            else:
                self._resume_transport()

    def _leave(self) -> None:
        on_leave, self._on_leave, self._on_frame = self._on_leave, None, None
        if on_leave is None:
            return
        try:
            on_leave(self.channel)
        except Exception:
            log.exception("collab leave handler failed", extra={"connection": self.channel.key})

    # -- what FastChannel does ----------------------------------------------------------------------------
    def write_message(self, message: Outbound) -> None:
        if self.state not in ROOM_OWNED or self._lost:
            return
        transport = self.transport
        transport.write(message.frame())
        if transport.get_write_buffer_size() > self.max_backlog:
            self.close_channel(CloseCode.TRY_AGAIN_LATER, SLOW_CLIENT_REASON)

    def close_channel(self, code: int, reason: str = "") -> None:
        if self.state in ENDING:
            return
        self._send_close(code, reason)

    # -- incoming frames ----------------------------------------------------------------------------------
    def _handle_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.BINARY or opcode is Opcode.TEXT:
            self._fragments_text = opcode is Opcode.TEXT
            if frame.fin:
                self._deliver(bytes(frame.data))
            else:
                self._fragments = [bytes(frame.data)]
        elif opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), []
                self._deliver(data)
        elif opcode is Opcode.PONG:
            if self._ping_payload is not None and bytes(frame.data) == self._ping_payload:
                self._ping_payload = None
                if self._ping_timer is not None:  # the pong deadline
                    self._ping_timer.cancel()
                self._schedule_ping()
        elif opcode is Opcode.CLOSE:
            self._handle_close()
        # PING: websockets queued the pong; `data_received` flushes it.

    def _deliver(self, data: bytes) -> None:
        state = self.state
        text = self._fragments_text
        if state is ConnState.LIVE:
            self._dispatch(None if text else data)
        elif state is ConnState.ATTACHED:
            assert self._early is not None
            self._early.append(None if text else data)
        elif state is ConnState.OPEN:
            assert self._queue is not None
            if text:
                try:
                    self._queue.put_nowait({"type": "websocket.receive", "text": data.decode()})
                except UnicodeDecodeError:
                    self.conn.fail(1007, "invalid UTF-8")
                    return
            else:
                self._queue.put_nowait({"type": "websocket.receive", "bytes": data})
            if not self._read_paused:  # one message at a time to the ASGI app
                self._read_paused = True
                self.transport.pause_reading()
        # CLOSING: we are past our close frame, the frame is dropped while we wait for the peer's.

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

    def _handle_close(self) -> None:
        """The peer's close frame: the answer to ours, or its own (websockets queued the echo and the
        end of the stream, which `data_received` flushes)."""
        received = self.conn.close_rcvd
        code, reason = (received.code, received.reason) if received is not None else (CloseCode.NORMAL, "")
        self._end(code, reason)
        self._cancel_close_timer()
        if self.state is not ConnState.CLOSED:
            self._to(ConnState.CLOSED)

    # -- keepalive ----------------------------------------------------------------------------------------
    def _start_keepalive(self) -> None:
        config = self._config
        if config is not None and config.ws_ping_interval and config.ws_ping_interval > 0:
            self._ping_interval = config.ws_ping_interval
            self._ping_timeout = config.ws_ping_timeout
            self._schedule_ping()

    def _schedule_ping(self) -> None:
        if self.state not in ENDING:
            self._ping_timer = self.loop.call_later(self._ping_interval, self._send_ping)

    def _send_ping(self) -> None:
        if self.state in ENDING or self.transport.is_closing():
            return
        self._ping_payload = os.urandom(4)
        self._excused = False
        self.conn.send_ping(self._ping_payload)
        self._flush()
        if self._ping_timeout is None:
            self._schedule_ping()
        else:
            self._ping_timer = self.loop.call_later(self._ping_timeout, self._keepalive_timeout)

    def _keepalive_timeout(self) -> None:
        """The pong deadline passed. The peer is cut (1011) only if it may be gone: not while the room's
        backpressure keeps us from reading, nor if the room paused our reading since the ping (its pong
        may wait unread in the socket: a room resumed and paused again before this socket's turn to be
        read), nor if bytes came from the peer since the ping (a peer that sends is alive; under load
        its pong may sit behind frames we have not read yet). Then the deadline starts again."""
        self._ping_timer = None
        if self.state in ENDING or self._ping_payload is None:
            return
        if self._flow_paused or self._excused:
            self._excused = False
            self._ping_timer = self.loop.call_later(self._ping_timeout or 0.0, self._keepalive_timeout)
            return
        self._end(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        self.conn.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        self._flush()
        self._to(ConnState.CLOSED)

    def _stop_keepalive(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        self._ping_payload = None

    # -- the server is draining (SIGTERM) ---------------------------------------------------------------
    def shutdown(self) -> None:
        state = self.state
        if state in ROOM_OWNED:
            # Tell attached clients to go elsewhere (1001), then let the close handshake (or its
            # timer) end the connection.
            self.close_channel(CloseCode.GOING_AWAY, "server shutting down")
        elif state is ConnState.OPEN:
            self._send_close(_SERVICE_RESTART, "")
        elif state is ConnState.CLOSING:
            self._cancel_close_timer()
            self.transport.close()
        elif state is ConnState.HANDSHAKE:
            self._send_500()
        elif state is ConnState.CONNECTING:
            self.transport.close()
            self._to(ConnState.CLOSED)
