"""Load-generator worker for ``collab_load.py``: many light y-websocket clients in one asyncio process.

Theory of operation
-------------------
Each client is a minimal RFC 6455 client written on ``asyncio.Protocol`` (HTTP/1.1 upgrade, no
extensions, so no permessage-deflate; masked client frames; ping → pong; close → close). A general
WebSocket library spends most of a saturated benchmark's client CPU on per-frame objects and tasks; this
one parses the server's (unmasked) frames straight out of the bytes ``data_received`` gets, so the
generator stays far from being the bottleneck (its own CPU is measured and reported anyway).

Protocol per client: on open it sends sync step1 (its state vector); it answers the server's step1 with
step2 and counts itself synced when the server's step2 arrives. Editors own a ``pycrdt.Doc`` (distinct
client id) and append a marker string to the shared ``Text`` ``"t"``; each transaction's update goes out
as one ``[0, 2, varUint8Array(update)]`` frame.

Latency: the inserted text *is* the measurement marker, ``[`` + 4 hex digits (sender tag) + 12 hex digits
(``time.monotonic_ns() // 1000`` when the edit was made, just before it is sent) + ``]``, 18 characters.
Yjs stores inserted strings verbatim in an update, so a receiver finds the marker in the raw frame with
one regex scan, however the server re-encodes or merges updates, and no dictionary of send times is
shared between processes: CLOCK_MONOTONIC is one clock for every process on the host.

A worker is driven by ``collab_load.py`` over a ``multiprocessing`` pipe: one command dict in, one reply
dict out (``{"error": traceback}`` if a command raised).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import os
import random
import re
import threading
import time
import traceback
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, cast
from urllib.parse import urlsplit

from pycrdt import Doc, Text, TransactionEvent
from websockets.speedups import apply_mask

from crdt import (
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    encode_sync_step1,
    encode_sync_step2,
    encode_sync_update,
)

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MARKER = re.compile(rb"\[([0-9a-f]{4})([0-9a-f]{12})\]")
TRACE_SENTINEL = b"collab-load-trace-end"
EMPTY_STATE_VECTOR = b"\x00"
EMPTY_UPDATE = b"\x00\x00"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeError(Exception):
    """The server did not upgrade the connection to a WebSocket."""


def frame_head(opcode: int, n: int) -> bytes:
    """The head of a masked client frame (FIN set) of ``n`` payload bytes, without its masking key."""
    if n < 126:
        return bytes((0x80 | opcode, 0x80 | n))
    if n < 65536:
        return bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    return bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (FIN set) carrying ``payload``."""
    key = random.getrandbits(32).to_bytes(4, "big")
    return frame_head(opcode, len(payload)) + key + apply_mask(payload, key)


@dataclass
class Stats:
    """Counters shared by every client of one worker. Times are ``time.monotonic_ns()``."""

    window_start: int = 0
    window_end: int = 0
    rx_updates: int = 0
    rx_window: int = 0
    rx_unmarked_window: int = 0
    tx_updates: int = 0
    tx_window: int = 0
    tx_late_max_ns: int = 0
    last_rx_ns: int = 0
    latencies_us: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    disconnects: list[str] = field(default_factory=list)

    def reset_window(self, start: int, end: int) -> None:
        self.window_start, self.window_end = start, end
        self.rx_window = self.rx_unmarked_window = self.tx_window = 0
        self.tx_late_max_ns = 0
        self.latencies_us = array("q")


def _future() -> asyncio.Future[None]:
    """A future that may end in an exception nobody awaits (a client that dies while idle): its error is
    recorded in ``Stats.disconnects``, so asyncio need not log "exception was never retrieved"."""
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())
    return fut


class Client(asyncio.Protocol):
    """One y-websocket connection. ``role`` is ``edit``, ``idle``, ``trace-writer`` or ``trace-reader``."""

    def __init__(self, stats: Stats, url: str, tag: int, client_id: int, role: str) -> None:
        self.stats = stats
        self.url = url
        self.tag = tag
        self.role = role
        self.transport: asyncio.Transport | None = None
        self.opened = _future()
        self.synced = _future()
        self.closed = False
        self.upgraded = False
        self._key = base64.b64encode(os.urandom(16))
        self._buf = b""
        self._need = 0
        self._fragments: list[bytes] | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self.doc: Doc[Any] | None = None
        self.text: Text | None = None
        self._last_update = b""
        if role == "edit":
            self.doc = Doc(client_id=client_id)
            self.text = self.doc.get("t", type=Text)
            self.doc.observe(self._on_doc_update)
        self.collected: list[bytes] | None = [] if role == "trace-reader" else None
        self.sentinel_ns = 0
        self.sentinel_seen = _future() if role == "trace-reader" else None

    # --- transport callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        parts = urlsplit(self.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
            "User-Agent: pocdojo-collab-load\r\n\r\n"
        )
        self.transport.write(request.encode("ascii"))

    def connection_lost(self, exc: Exception | None) -> None:
        was_closed = self.closed
        self.closed = True
        self._writable.set()
        reason = f"connection lost ({exc!r})" if exc else "connection closed by server"
        for fut in (self.opened, self.synced, self.sentinel_seen):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError(reason))
        if not was_closed:
            self.stats.disconnects.append(reason)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        if self._buf:
            data = self._buf + data
            if len(data) < self._need:
                self._buf = data
                return
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._buf = data
                return
            if not self._check_upgrade(data[:end]):
                return
            data = data[end + 4 :]
        self._buf = b""
        self._need = 0
        now = time.monotonic_ns()
        n = len(data)
        pos = 0
        while n - pos >= 2:
            b0 = data[pos]
            length = data[pos + 1]
            if length & 0x80:
                self._fail("server sent a masked frame")
                return
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > n:
                self._need = end - pos
                break
            payload = data[pos + head : end]
            pos = end
            opcode = b0 & 0x0F
            if opcode == OP_BINARY and b0 & 0x80:
                self._on_message(payload, now)
            elif opcode in (OP_BINARY, OP_CONT, OP_TEXT):
                self._on_fragment(b0, opcode, payload, now)
            elif opcode == OP_PING:
                self._write(mask_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self._on_close(payload)
                return
        if pos < n:
            self._buf = data[pos:]

    # --- frames and messages --------------------------------------------------------------------
    def _check_upgrade(self, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            self._fail(f"upgrade refused: {lines[0]!r}")
            return False
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        expected = base64.b64encode(hashlib.sha1(self._key + WS_GUID).digest()).decode()  # noqa: S324 (RFC 6455)
        if headers.get("sec-websocket-accept") != expected:
            self._fail("bad Sec-WebSocket-Accept")
            return False
        if headers.get("sec-websocket-extensions"):
            self._fail(f"server negotiated extensions we did not offer: {headers['sec-websocket-extensions']}")
            return False
        self.upgraded = True
        if not self.opened.done():
            self.opened.set_result(None)
        sv = self.doc.get_state() if self.doc is not None else EMPTY_STATE_VECTOR
        self.send_payload(encode_sync_step1(sv))
        return True

    def _on_fragment(self, b0: int, opcode: int, payload: bytes, now: int) -> None:
        if opcode != OP_CONT:
            if opcode == OP_TEXT:
                self._fail("server sent a text frame")
                return
            self._fragments = [payload]
        elif self._fragments is None:
            self._fail("continuation frame without a first fragment")
            return
        else:
            self._fragments.append(payload)
        if b0 & 0x80:
            whole = b"".join(self._fragments)
            self._fragments = None
            self._on_message(whole, now)

    def _on_close(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        if not self.closed:
            self.stats.disconnects.append(f"server closed with {code} {payload[2:].decode('utf-8', 'replace')}")
            self.closed = True
            self._write(mask_frame(OP_CLOSE, payload[:2]))
        if self.transport is not None:
            self.transport.close()

    def _on_message(self, payload: bytes, now: int) -> None:
        kind = payload[0]
        if kind == 0 and len(payload) > 1:
            sub = payload[1]
            if sub == 2:
                self._on_update(payload, now)
            elif sub == 0:
                msg = decode_message(payload)
                assert isinstance(msg, SyncStep1)
                update = self.doc.get_update(msg.state_vector) if self.doc is not None else EMPTY_UPDATE
                self.send_payload(encode_sync_step2(update))
            elif sub == 1:
                if self.collected is not None:
                    self.collected.append(payload)
                if not self.synced.done():
                    self.synced.set_result(None)
        elif kind == 2:
            self._fail(f"permission denied: {payload[2:]!r}")

    def _on_update(self, payload: bytes, now: int) -> None:
        st = self.stats
        st.rx_updates += 1
        st.last_rx_ns = now
        if self.collected is not None:
            self.collected.append(payload)
            if self.sentinel_seen is not None and not self.sentinel_seen.done() and TRACE_SENTINEL in payload:
                self.sentinel_ns = now
                self.sentinel_seen.set_result(None)
            return
        if st.window_start <= now < st.window_end:
            st.rx_window += 1
            now_us = now // 1000
            marked = False
            for m in MARKER.finditer(payload):
                marked = True
                if int(m[1], 16) != self.tag:
                    st.latencies_us.append(now_us - int(m[2], 16))
            if not marked:
                st.rx_unmarked_window += 1

    def _fail(self, reason: str) -> None:
        for fut in (self.opened, self.synced):
            if not fut.done():
                fut.set_exception(HandshakeError(reason))
        if not self.closed:
            self.stats.disconnects.append(reason)
            self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # --- sending --------------------------------------------------------------------------------
    def send_payload(self, payload: bytes) -> None:
        self._write(mask_frame(OP_BINARY, payload))

    def _on_doc_update(self, event: TransactionEvent) -> None:
        self._last_update = event.update

    def send_edit(self) -> None:
        """Append one marker (tag + send time) to the shared text and send that transaction's update."""
        assert self.text is not None
        marker = f"[{self.tag:04x}{time.monotonic_ns() // 1000:012x}]"
        self.text += marker
        self.send_payload(encode_sync_update(self._last_update))

    async def write_all(self, chunks: list[bytes]) -> None:
        """Write pre-framed bytes as fast as the transport's flow control allows."""
        for chunk in chunks:
            if self.closed or self.transport is None:
                raise ConnectionError("connection closed while writing")
            self.transport.write(chunk)
            if not self._writable.is_set():
                await self._writable.wait()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.upgraded:
                self._write(mask_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        if self.transport is not None:
            self.transport.close()


class Worker:
    """Holds this process's clients and executes the orchestrator's commands."""

    def __init__(self) -> None:
        self.stats = Stats()
        self.clients: dict[int, Client] = {}
        self.trace_chunks: list[bytes] = []

    async def connect(self, specs: list[dict[str, Any]], concurrency: int, limit_s: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one(spec: dict[str, Any]) -> None:
            async with sem:
                parts = urlsplit(spec["url"])
                client = Client(self.stats, spec["url"], spec["tag"], spec["client_id"], spec["role"])
                self.clients[spec["key"]] = client
                try:
                    async with asyncio.timeout(limit_s):
                        await loop.create_connection(lambda: client, parts.hostname, parts.port)
                        await client.opened
                        await client.synced
                except (OSError, HandshakeError, TimeoutError) as exc:
                    failures.append(f"{spec['url']}: {exc!r}")
                    client.close()
                    del self.clients[spec["key"]]

        started = time.monotonic()
        await asyncio.gather(*(one(s) for s in specs))
        return {
            "connected": len(specs) - len(failures),
            "failures": failures[:20],
            "n_failures": len(failures),
            "seconds": time.monotonic() - started,
        }

    async def load(self, rate: float, t_start: int, t0: int, t1: int) -> dict[str, Any]:
        """Editors send ``rate`` edits/s each from ``t_start`` to ``t1``; counts only inside ``[t0, t1)``."""
        st = self.stats
        st.reset_window(t0, t1)
        editors = [c for c in self.clients.values() if c.role == "edit"]
        period = int(1e9 / rate)
        heap = [
            (t_start + (i * period) // max(1, len(editors)) + random.randrange(period // 10 + 1), i)
            for i in range(len(editors))
        ]
        heapq.heapify(heap)
        cpu0 = time.process_time()
        while heap:
            now = time.monotonic_ns()
            if now >= t1:
                break
            while heap and heap[0][0] <= now:
                due, i = heapq.heappop(heap)
                client = editors[i]
                if client.closed:
                    continue
                client.send_edit()
                st.tx_updates += 1
                if due >= t0:
                    st.tx_window += 1
                    st.tx_late_max_ns = max(st.tx_late_max_ns, now - due)
                heapq.heappush(heap, (due + period, i))
            if heap:
                await asyncio.sleep(max(0.0, (heap[0][0] - time.monotonic_ns()) / 1e9))
        rest = t1 - time.monotonic_ns()
        if rest > 0:
            await asyncio.sleep(rest / 1e9)
        lat = st.latencies_us
        return {
            "tx_window": st.tx_window,
            "rx_window": st.rx_window,
            "rx_unmarked_window": st.rx_unmarked_window,
            "tx_late_max_ms": st.tx_late_max_ns / 1e6,
            "latencies_us": lat.tobytes(),
            "cpu_seconds": time.process_time() - cpu0,
            "open_clients": sum(not c.closed for c in self.clients.values()),
            "disconnects": st.disconnects[:20],
            "n_disconnects": len(st.disconnects),
        }

    async def quiesce(self, quiet: float, limit_s: float) -> dict[str, Any]:
        """Wait until no update arrived for ``quiet`` seconds (the server drained its backlog)."""
        start = time.monotonic_ns()
        deadline = start + int(limit_s * 1e9)
        while True:
            now = time.monotonic_ns()
            if now - max(self.stats.last_rx_ns, start) >= quiet * 1e9:
                return {"drained": True, "seconds": (now - start) / 1e9}
            if now >= deadline:
                return {"drained": False, "seconds": (now - start) / 1e9}
            await asyncio.sleep(0.05)

    def trace_prepare(self, path: str, frames_per_chunk: int) -> dict[str, Any]:
        from trace_cache import read_frames

        frames = [mask_frame(OP_BINARY, p) for p in read_frames(path)]
        self.trace_chunks = [
            b"".join(frames[i : i + frames_per_chunk]) for i in range(0, len(frames), frames_per_chunk)
        ]
        return {"frames": len(frames), "bytes": sum(map(len, self.trace_chunks))}

    async def trace_write(self) -> dict[str, Any]:
        (writer,) = [c for c in self.clients.values() if c.role == "trace-writer"]
        cpu0 = time.process_time()
        t_first = time.monotonic_ns()
        await writer.write_all(self.trace_chunks)
        t_last = time.monotonic_ns()
        return {"t_first_ns": t_first, "t_last_write_ns": t_last, "cpu_seconds": time.process_time() - cpu0}

    async def trace_receive(self, limit_s: float, stall_s: float, expected_sha256: str) -> dict[str, Any]:
        """Wait for the sentinel; give up after ``limit_s``, or after ``stall_s`` without any update."""
        (reader,) = [c for c in self.clients.values() if c.role == "trace-reader"]
        assert reader.sentinel_seen is not None and reader.collected is not None
        cpu0 = time.process_time()
        start = time.monotonic_ns()
        outcome = "complete"
        while not reader.sentinel_seen.done():
            now = time.monotonic_ns()
            if now - start > limit_s * 1e9:
                outcome = f"timed out after {limit_s:.0f} s"
                break
            if now - max(start, self.stats.last_rx_ns) > stall_s * 1e9:
                outcome = f"stalled: no update for {stall_s:.0f} s"
                break
            await asyncio.sleep(0.05)
        if reader.sentinel_seen.done():
            reader.sentinel_seen.result()  # raises if the connection died first
        complete = outcome == "complete"
        cpu = time.process_time() - cpu0
        doc: Doc[Any] = Doc()
        for payload in reader.collected:
            msg = decode_message(payload)
            assert isinstance(msg, SyncStep2 | SyncUpdate), msg
            doc.apply_update(msg.update)
        text = str(doc.get("text", type=Text))
        return {
            "complete": complete,
            "outcome": outcome,
            "t_sentinel_ns": reader.sentinel_ns,
            "frames": len(reader.collected),
            "text_matches": hashlib.sha256(text.encode()).hexdigest() == expected_sha256,
            "text_len": len(text),
            "cpu_seconds": cpu,
            "disconnects": self.stats.disconnects[:20],
        }

    def close_all(self) -> dict[str, Any]:
        n = len(self.clients)
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        self.trace_chunks = []
        self.stats = Stats()
        return {"closed": n}

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        if op == "connect":
            return await self.connect(cmd["clients"], cmd["concurrency"], cmd["timeout"])
        if op == "load":
            return await self.load(cmd["rate"], cmd["t_start"], cmd["t0"], cmd["t1"])
        if op == "quiesce":
            return await self.quiesce(cmd["quiet"], cmd["timeout"])
        if op == "trace_prepare":
            return self.trace_prepare(cmd["path"], cmd["frames_per_chunk"])
        if op == "trace_write":
            return await self.trace_write()
        if op == "trace_receive":
            return await self.trace_receive(cmd["timeout"], cmd["stall"], cmd["expected_sha256"])
        if op == "close":
            result = self.close_all()
            await asyncio.sleep(0.2)  # let the close frames go out
            return result
        raise ValueError(f"unknown command {op!r}")


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def read_commands() -> None:
        # A blocking reader thread: the pipe must stay in blocking mode (an event-loop reader would make
        # it non-blocking, and large commands would then fail half-read).
        while True:
            try:
                cmd = conn.recv()
            except EOFError:
                loop.call_soon_threadsafe(inbox.put_nowait, None)
                return
            loop.call_soon_threadsafe(inbox.put_nowait, cmd)
            if cmd.get("op") == "exit":
                return

    threading.Thread(target=read_commands, name="commands", daemon=True).start()
    worker = Worker()
    while (cmd := await inbox.get()) is not None:
        if cmd["op"] == "exit":
            worker.close_all()
            conn.send({"ok": True})
            return
        try:
            reply = await worker.handle(cmd)
        except Exception:
            reply = {"error": traceback.format_exc()}
        conn.send(reply)
    worker.close_all()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def worker_main(conn: Connection) -> None:
    """Entry point of a worker process (``multiprocessing`` spawn target)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(conn))
