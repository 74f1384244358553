"""The fast path's connection state machine: the table alone, then a real connection walking it.

The connection tests run `CollabWebSocketProtocol` under a real uvicorn server (its documented `ws=`
option) with a tiny ASGI app in place of the collab endpoint, and a real `websockets` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from crdt.channel import Outbound
from dojo.fastpath import FASTPATH_EXTENSION, FRAMES_PER_SLICE, READ_BYTES, CollabWebSocketProtocol, FastChannel
from dojo.fastpath_states import ConnState, IllegalTransition, advance, allowed
from tests.conftest import ServeApp, wait_until

S = ConnState
LEGAL = {
    (S.CONNECTING, S.HANDSHAKE),
    (S.CONNECTING, S.CLOSED),
    (S.HANDSHAKE, S.OPEN),
    (S.HANDSHAKE, S.CLOSED),
    (S.OPEN, S.ATTACHED),
    (S.OPEN, S.CLOSING),
    (S.OPEN, S.CLOSED),
    (S.ATTACHED, S.LIVE),
    (S.ATTACHED, S.CLOSING),
    (S.ATTACHED, S.CLOSED),
    (S.LIVE, S.CLOSING),
    (S.LIVE, S.CLOSED),
    (S.CLOSING, S.CLOSED),
}


def test_the_table_allows_exactly_the_documented_moves_and_refuses_the_rest() -> None:
    for current, target in itertools.product(ConnState, repeat=2):
        if (current, target) in LEGAL:
            assert allowed(current, target)
            assert advance(current, target) is target
        else:
            assert not allowed(current, target)
            with pytest.raises(IllegalTransition) as refused:
                advance(current, target)
            assert (refused.value.current, refused.value.target) == (current, target)
            assert current.value in str(refused.value) and target.value in str(refused.value)


class Probe:
    """An ASGI app that walks each fast-path connection through the states and records what happened."""

    def __init__(self, *, wait_before_attach: bool = False) -> None:
        self.wait_before_attach = wait_before_attach
        self.go = asyncio.Event()
        self.refused: list[IllegalTransition] = []
        self.states: list[ConnState] = []
        self.left: list[tuple[int | None, str]] = []
        self.proto: CollabWebSocketProtocol | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        proto = scope["extensions"][FASTPATH_EXTENSION]
        assert isinstance(proto, CollabWebSocketProtocol)
        self.proto = proto
        assert (await receive())["type"] == "websocket.connect"
        self.states.append(proto.state)
        try:
            proto.attach(max_backlog=1 << 20, bucket=None)  # not accepted yet
        except IllegalTransition as exc:
            self.refused.append(exc)
        await send({"type": "websocket.accept"})
        self.states.append(proto.state)
        if self.wait_before_attach:
            await self.go.wait()
        proto.attach(max_backlog=1 << 20, bucket=None)
        self.states.append(proto.state)
        if proto.state is ConnState.ATTACHED:
            try:
                proto.attach(max_backlog=1 << 20, bucket=None)  # twice
            except IllegalTransition as exc:
                self.refused.append(exc)

        def echo(channel: FastChannel, data: bytes) -> None:
            channel.send(Outbound(data))

        def leave(channel: FastChannel) -> None:
            self.left.append((channel.close_code, channel.close_reason))

        proto.start(echo, leave)
        self.states.append(proto.state)


async def test_a_connection_walks_handshake_open_attached_live_closed_and_refuses_illegal_moves(
    serve: ServeApp,
) -> None:
    probe = Probe()
    async with serve(lambda base: probe, ws=CollabWebSocketProtocol) as base:
        async with connect(base.replace("http", "ws") + "/x") as client:
            await client.send(b"\x00\x01")
            assert await client.recv() == b"\x00\x01"  # frames reach the room, messages the socket
            assert probe.proto is not None and probe.proto.state is ConnState.LIVE
            await client.close(code=1000, reason="bye")

        async def left() -> bool:
            return bool(probe.left)

        await wait_until(left)
        assert probe.states == [S.HANDSHAKE, S.OPEN, S.ATTACHED, S.LIVE]
        assert [(e.current, e.target) for e in probe.refused] == [(S.HANDSHAKE, S.ATTACHED), (S.ATTACHED, S.ATTACHED)]
        assert probe.left == [(1000, "bye")]
        assert probe.proto.state is ConnState.CLOSED
        probe.proto.close_channel(1011, "late")  # nothing to close any more, and nothing heard twice
        assert probe.left == [(1000, "bye")]
        assert probe.proto.channel.closed


async def test_a_connection_that_ended_before_the_room_started_it_reports_its_end_once(serve: ServeApp) -> None:
    probe = Probe(wait_before_attach=True)
    async with serve(lambda base: probe, ws=CollabWebSocketProtocol) as base:
        async with connect(base.replace("http", "ws") + "/x") as client:
            await client.close(code=1000, reason="gone early")
        await client.wait_closed()

        async def ended() -> bool:
            return probe.proto is not None and probe.proto.channel.close_code is not None

        await wait_until(ended)
        probe.go.set()

        async def left() -> bool:
            return bool(probe.left)

        await wait_until(left)
        assert probe.left == [(1000, "gone early")]
        assert probe.states == [S.HANDSHAKE, S.OPEN, S.CLOSED, S.CLOSED]  # never LIVE


async def test_a_peer_that_answers_every_ping_outlives_the_pong_deadline(serve: ServeApp) -> None:
    """Keepalive: each answered ping clears its pong deadline, so a live peer is never cut (1011)."""
    probe = Probe()
    async with serve(
        lambda base: probe, ws=CollabWebSocketProtocol, ws_ping_interval=0.02, ws_ping_timeout=0.2
    ) as base:
        url = base.replace("http", "ws") + "/x"
        reader, writer = await asyncio.open_connection(*url[5:].split("/")[0].split(":"))
        client = ClientProtocol(parse_uri(url))  # websockets' sans-IO client: it answers pings itself
        client.send_request(client.connect())
        pings = 0
        try:
            while pings < 20:  # 20 pings take at least 0.4 s: twice the pong deadline
                writer.write(b"".join(client.data_to_send()))
                data = await asyncio.wait_for(reader.read(65536), 5)
                assert data, f"the server closed the connection after {pings} pings: {probe.left}"
                client.receive_data(data)
                for event in client.events_received():
                    if isinstance(event, Frame):
                        assert event.opcode is not Opcode.CLOSE, f"closed after {pings} pings: {probe.left}"
                        pings += event.opcode is Opcode.PING
            assert probe.left == []
            assert probe.proto is not None and probe.proto.state is ConnState.LIVE
        finally:
            writer.close()


class RawPeer:
    """A websocket client over a bare socket (websockets' sans-IO client) that decides whether its
    pongs go out: it answers the server's pings itself, and `answer_pings=False` drops those answers."""

    def __init__(self, url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.client = ClientProtocol(parse_uri(url))
        self.client.send_request(self.client.connect())
        self.answer_pings = True
        self.pings = 0
        self.received: list[bytes] = []  # binary messages, in order
        self.closed_with: Frame | None = None

    @classmethod
    async def open(cls, base: str) -> RawPeer:
        url = base.replace("http", "ws") + "/x"
        host, port = url[5:].split("/")[0].split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        peer = cls(url, reader, writer)
        peer.flush()
        return peer

    def flush(self) -> None:
        self.writer.write(b"".join(self.client.data_to_send()))

    def send(self, data: bytes) -> None:
        self.client.send_binary(data)
        self.flush()

    async def read_once(self) -> bool:
        """Read what the server sent (pings counted, a close kept); False once the stream ended."""
        data = await asyncio.wait_for(self.reader.read(65536), 5)
        if not data:
            return False
        self.client.receive_data(data)
        for event in self.client.events_received():
            if isinstance(event, Frame):
                self.pings += event.opcode is Opcode.PING
                if event.opcode is Opcode.BINARY:
                    self.received.append(bytes(event.data))
                if event.opcode is Opcode.CLOSE:
                    self.closed_with = event
        answers = self.client.data_to_send()
        if self.answer_pings:
            self.writer.write(b"".join(answers))
        return True

    async def read_until(self, done: Any) -> None:
        while not done():
            assert await self.read_once(), "the server ended the stream"


async def test_a_peer_that_never_answers_a_ping_is_cut_with_1011(serve: ServeApp) -> None:
    probe = Probe()
    async with serve(
        lambda base: probe, ws=CollabWebSocketProtocol, ws_ping_interval=0.02, ws_ping_timeout=0.1
    ) as base:
        peer = await RawPeer.open(base)
        peer.answer_pings = False
        try:
            while await peer.read_once():
                pass
            assert peer.pings == 1  # no second ping: the first one's deadline ended the connection
            assert probe.left == [(1011, "keepalive ping timeout")]
        finally:
            peer.writer.close()


@contextlib.asynccontextmanager
async def live_raw_peer(
    serve: ServeApp, ping_timeout: float
) -> AsyncIterator[tuple[RawPeer, CollabWebSocketProtocol, Probe]]:
    """A `RawPeer` on a LIVE fast-path connection of a server that pings every 20 ms."""
    probe = Probe()
    async with serve(
        lambda base: probe, ws=CollabWebSocketProtocol, ws_ping_interval=0.02, ws_ping_timeout=ping_timeout
    ) as base:
        peer = await RawPeer.open(base)
        try:
            await peer.read_until(lambda: probe.proto is not None and probe.proto.state is ConnState.LIVE)
            assert probe.proto is not None
            yield peer, probe.proto, probe
        finally:
            peer.writer.close()


async def test_a_peer_that_keeps_sending_is_not_cut_for_a_late_pong_and_is_once_it_falls_silent(
    serve: ServeApp,
) -> None:
    """Under load its pong can sit unread behind its frames: bytes from the peer renew the deadline."""
    async with live_raw_peer(serve, 0.1) as (peer, proto, probe):
        peer.answer_pings = False
        await peer.read_until(lambda: peer.pings >= 1)
        first_deadline = proto._ping_timer
        renewals = 0
        while renewals < 3:  # three deadlines pass while the peer sends (and never answers)
            peer.send(b"\x07")
            await peer.read_once()  # the echo
            if proto._ping_timer is not first_deadline:
                renewals += 1
                first_deadline = proto._ping_timer
        assert proto.state is ConnState.LIVE and probe.left == []
        while await peer.read_once():  # silent now: cut at the next deadline
            pass
        assert probe.left == [(1011, "keepalive ping timeout")]


async def test_a_connection_its_room_paused_is_not_cut_for_a_pong_it_cannot_read(serve: ServeApp) -> None:
    """Backpressure keeps the answered ping's pong unread in the socket: the deadline starts again
    instead of cutting the peer, and once reading resumes the pong is read and pings go on."""
    async with live_raw_peer(serve, 0.05) as (peer, proto, probe):
        proto.channel.pause_reading()
        await peer.read_until(lambda: peer.pings >= 1)  # answered; the pong waits unread
        pings = peer.pings
        for _ in range(3):  # three pong deadlines pass while paused, each one renewed
            seen = proto._ping_timer
            await wait_until(lambda seen=seen: proto._ping_timer is not seen, what="the pong deadline renewed")
        assert proto.state is ConnState.LIVE and probe.left == []
        proto.channel.resume_reading()
        await peer.read_until(lambda: peer.pings > pings)  # the pong was read: the next ping came
        assert proto.state is ConnState.LIVE and probe.left == []


async def test_a_room_pause_since_the_ping_renews_the_deadline_once_even_if_the_socket_was_not_read(
    serve: ServeApp,
) -> None:
    """Under load a room can resume and pause again before a socket's turn to be read: the pong still
    waits unread, so a deadline after such a pause renews; one after a quiet stretch cuts."""
    async with live_raw_peer(serve, 0.1) as (peer, proto, probe):
        proto.transport.pause_reading()  # this socket's turn never comes (the event loop's level)
        await peer.read_until(lambda: peer.pings >= 1)  # answered; the pong stays unread
        proto.channel.pause_reading()
        proto.channel.resume_reading()  # the room paused and resumed; the socket was not read
        proto.transport.pause_reading()
        pending = proto._ping_timer
        await wait_until(lambda: proto._ping_timer is not pending, what="the first deadline passed")
        assert proto.state is ConnState.LIVE and probe.left == []  # renewed, not cut
        await wait_until(lambda: bool(probe.left), what="the peer cut at the next deadline")
        assert probe.left == [(1011, "keepalive ping timeout")]


async def test_a_socket_its_room_resumed_is_read_once_before_a_new_pause_stops_it(serve: ServeApp) -> None:
    """Fair backpressure: a room that resumes and pauses again before a socket's turn came still lets
    that socket be read once (else the first sockets read would pause the room every time, and the
    others' frames would wait indefinitely); a socket read since the resume stops at once."""
    probe = Probe()
    async with (
        serve(lambda base: probe, ws=CollabWebSocketProtocol) as base,
        connect(base.replace("http", "ws") + "/x") as client,
    ):
        await client.send(b"\x00")
        assert await client.recv() == b"\x00"
        proto = probe.proto
        assert proto is not None and proto.state is ConnState.LIVE
        proto.channel.pause_reading()
        assert not proto.transport.is_reading()  # not resumed by the room since its last read
        await client.send(b"\x01")  # waits in the socket
        proto.channel.resume_reading()
        proto.channel.pause_reading()  # paused again before this socket's turn came
        assert proto.transport.is_reading()
        assert await client.recv() == b"\x01"  # its turn: read and echoed
        assert not proto.transport.is_reading()  # and then stopped
        await client.send(b"\x02")
        proto.channel.resume_reading()
        assert await client.recv() == b"\x02"
        proto.channel.pause_reading()
        proto.channel.resume_reading()  # a pause and a resume before the turn: it simply reads on
        assert proto.transport.is_reading()
        await client.send(b"\x03")
        assert await client.recv() == b"\x03"
        assert proto.transport.is_reading()


async def test_a_paused_connection_stops_reading_and_resumes_without_losing_a_frame(serve: ServeApp) -> None:
    """Backpressure (`crdt.ReadControl`): while the room pauses it, the transport reads nothing;
    resumed, every frame sent meanwhile reaches the room, in order."""
    probe = Probe()
    async with serve(lambda base: probe, ws=CollabWebSocketProtocol) as base:
        async with connect(base.replace("http", "ws") + "/x") as client:
            await client.send(b"\x00")
            assert await client.recv() == b"\x00"
            proto = probe.proto
            assert proto is not None and proto.state is ConnState.LIVE
            proto.channel.pause_reading()
            assert not proto.transport.is_reading()
            for i in range(1, 6):
                await client.send(bytes([i]))
            proto.channel.resume_reading()
            assert proto.transport.is_reading()
            assert [await client.recv() for _ in range(5)] == [bytes([i]) for i in range(1, 6)]
            # A connection closed while paused still reads the peer's answer to its close frame.
            proto.channel.pause_reading()
            proto.close_channel(1013, "bye")
            await client.wait_closed()

        async def left() -> bool:
            return bool(probe.left)

        await wait_until(left)
        assert probe.left == [(1013, "bye")]


def burst(peer: RawPeer, count: int) -> list[bytes]:
    """`count` messages in one write (one read on the server's side); returns their payloads."""
    payloads = [index.to_bytes(2, "big") for index in range(count)]
    for payload in payloads:
        peer.client.send_binary(payload)
    peer.flush()
    return payloads


def spy_on_frames(proto: CollabWebSocketProtocol, at: dict[int, Any]) -> list[bytes]:
    """Record the frames the room gets; `at[i]()` runs as frame `i` (from 1) reaches it."""
    handled: list[bytes] = []
    handler = proto._on_frame
    assert handler is not None

    def spy(channel: FastChannel, data: bytes) -> None:
        handled.append(data)
        if len(handled) in at:
            at[len(handled)]()
        handler(channel, data)

    proto._on_frame = spy
    return handled


async def test_a_read_of_many_frames_is_handled_in_slices_with_the_loop_served_between(serve: ServeApp) -> None:
    """An overloaded node reads thousands of frames at once from each socket; handled in one go they
    starved its timers and its Redis link. Now the loop serves others between slices, the socket is
    not read meanwhile, every frame is handled in order, and reading resumes after the last."""
    count = 3 * FRAMES_PER_SLICE + 5
    async with live_raw_peer(serve, 5.0) as (peer, proto, _):
        loop = asyncio.get_running_loop()
        served_after: list[int] = []  # frames handled when a callback queued at the first frame ran
        reading_in_second_slice: list[bool] = []
        handled = spy_on_frames(
            proto,
            {
                1: lambda: loop.call_soon(lambda: served_after.append(len(handled))),
                FRAMES_PER_SLICE + 1: lambda: reading_in_second_slice.append(proto.transport.is_reading()),
            },
        )
        payloads = burst(peer, count)
        await peer.read_until(lambda: len(peer.received) >= count)
        assert handled == payloads and peer.received == payloads
        assert served_after == [FRAMES_PER_SLICE]  # before the second slice, not after the whole read
        assert reading_in_second_slice == [False]
        assert proto.transport.is_reading()
        peer.send(b"\xff\xff")
        await peer.read_until(lambda: peer.received[-1] == b"\xff\xff")


async def test_a_read_takes_at_most_read_bytes_so_few_parsed_frames_wait_and_none_is_lost(serve: ServeApp) -> None:
    """A read's bytes are parsed into frames at once, and the frames wait until handled: with reads of
    256 KiB an overloaded node held thousands per connection. A read now takes at most `READ_BYTES`;
    the rest waits in the socket, every frame still reaches the room, in order."""
    frame_bytes = 2 + 4 + 2  # head, masking key, a 2-byte payload
    count = 8 * READ_BYTES // frame_bytes
    async with live_raw_peer(serve, 5.0) as (peer, proto, _):
        waiting: list[int] = []  # parsed frames not handled yet, as each frame reaches the room
        handled = spy_on_frames(proto, {i: lambda: waiting.append(len(proto._backlog or ())) for i in range(1, count)})
        payloads = burst(peer, count)
        await peer.read_until(lambda: len(peer.received) >= count)
        assert handled == payloads and peer.received == payloads
        assert 0 < max(waiting) < READ_BYTES // frame_bytes


async def test_a_message_larger_than_a_read_arrives_whole(serve: ServeApp) -> None:
    async with live_raw_peer(serve, 5.0) as (peer, _, _):
        big = bytes(range(256)) * (40 * READ_BYTES // 256)  # 40 reads
        peer.send(big)
        peer.send(b"\xff\xff")
        await peer.read_until(lambda: len(peer.received) >= 2)
        assert peer.received == [big, b"\xff\xff"]


async def test_a_room_pause_during_the_slices_holds_after_them_until_the_room_resumes(serve: ServeApp) -> None:
    count = 2 * FRAMES_PER_SLICE + 1
    async with live_raw_peer(serve, 5.0) as (peer, proto, _):
        resumes: list[bool] = []
        spy_on_frames(
            proto,
            {
                FRAMES_PER_SLICE + 1: proto.channel.pause_reading,  # the room's gate fills up
                FRAMES_PER_SLICE + 2: lambda: (proto.channel.resume_reading(), resumes.append(True)),
                FRAMES_PER_SLICE + 3: proto.channel.pause_reading,  # and again, before the socket's turn
            },
        )
        payloads = burst(peer, count)
        await peer.read_until(lambda: len(peer.received) >= count)
        assert peer.received == payloads and resumes == [True]
        assert not proto.transport.is_reading()  # the room's last word was a pause
        proto.channel.resume_reading()
        assert proto.transport.is_reading()
        peer.send(b"\xff\xff")
        await peer.read_until(lambda: peer.received[-1] == b"\xff\xff")


async def test_frames_read_before_the_socket_was_lost_all_reach_the_room_before_it_hears_leave(
    serve: ServeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that sends its last edits and exits resets the socket if our broadcasts sit unread in
    it. Frames already read (the backlog of a sliced read) must still reach the room, in order, before
    `leave`; what the room sends back meanwhile is dropped without an error."""
    count = 3 * FRAMES_PER_SLICE + 5
    async with live_raw_peer(serve, 5.0) as (peer, proto, probe):
        events: list[str] = []
        # Lost at the end of the first slice: `connection_lost` runs before the next slice would.
        handled = spy_on_frames(proto, {FRAMES_PER_SLICE: proto.transport.abort})
        on_leave = proto._on_leave
        assert on_leave is not None

        def leave(channel: FastChannel) -> None:
            events.append(f"leave after {len(handled)}")
            on_leave(channel)

        proto._on_leave = leave
        payloads = burst(peer, count)

        async def left() -> bool:
            return bool(probe.left)

        await wait_until(left)
        assert handled == payloads
        assert events == [f"leave after {count}"]
        assert probe.left == [(1006, "connection lost")]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
